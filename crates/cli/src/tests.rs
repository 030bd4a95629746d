use super::*;
use clap::CommandFactory;

#[test]
fn cli_definition_is_consistent() {
    Cli::command().debug_assert();
}

/// Every command, by its path (`task show`), with its clap definition.
fn all_commands() -> Vec<(String, clap::Command)> {
    fn walk(prefix: &str, c: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
        for sub in c.get_subcommands() {
            let path = format!("{prefix}{}", sub.get_name()).trim().to_string();
            out.push((path.clone(), sub.clone()));
            walk(&format!("{path} "), sub, out);
        }
    }
    let mut out = Vec::new();
    let mut root = Cli::command();
    root.build();
    walk("", &root, &mut out);
    out
}

#[test]
fn help_lists_only_the_shared_flags_a_command_uses_and_describes_every_argument() {
    let commands = all_commands();
    let has = |path: &str, flag: &str| {
        let (_, c) = commands
            .iter()
            .find(|(p, _)| p == path)
            .unwrap_or_else(|| panic!("no command {path}"));
        c.get_arguments().any(|a| a.get_long() == Some(flag))
    };
    for path in [
        "validator",
        "node",
        "devnet",
        "sim",
        "sim sweep",
        "task new",
        "keygen",
    ] {
        assert!(!has(path, "url"), "{path} lists --url");
    }
    for path in [
        "validator",
        "node",
        "devnet",
        "sim",
        "task new",
        "slot",
        "task show",
    ] {
        assert!(!has(path, "keypair"), "{path} lists --keypair");
    }
    for path in ["validator", "node"] {
        assert!(!has(path, "json"), "{path} lists --json");
    }
    for path in [
        "stake",
        "unstake",
        "airdrop",
        "task create",
        "claim",
        "balance",
    ] {
        for flag in ["url", "keypair", "json"] {
            assert!(has(path, flag), "{path} lacks --{flag}");
        }
    }
    assert!(has("keygen", "keypair") && has("task show", "url") && has("sim", "json"));
    for (path, c) in &commands {
        for a in c.get_positionals() {
            assert!(
                a.get_help().is_some_and(|h| !h.to_string().is_empty()),
                "`gradual {path}`: argument <{}> has no description",
                a.get_id()
            );
        }
    }
}

#[test]
fn shared_flags_go_before_or_after_the_command_and_after_wins() {
    let no_env = |_: &str| None;
    let task = Hash::domain("t", &[]).to_base58();
    let parse = |args: &[&str]| {
        let mut all = vec!["gradual"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap()
    };
    let s = parse(&["--keypair", "n.json", "stake", &task, "2"]).settings_with_env(no_env);
    assert_eq!(s.keypair, Some(PathBuf::from("n.json")));
    assert_eq!(s.url, DEFAULT_URL);
    assert!(!s.json);
    let s =
        parse(&["stake", &task, "2", "--keypair", "n.json", "--json"]).settings_with_env(no_env);
    assert_eq!(s.keypair, Some(PathBuf::from("n.json")));
    assert!(s.json);
    let s = parse(&["--url", "http://a", "--json", "slot", "--url", "http://b"])
        .settings_with_env(no_env);
    assert_eq!((s.url.as_str(), s.json), ("http://b", true));
    // The environment comes after both flags.
    let env = |k: &str| match k {
        "GRADUAL_URL" => Some("http://env".into()),
        "GRADUAL_KEYPAIR" => Some("env.json".into()),
        _ => None,
    };
    let s = parse(&["balance"]).settings_with_env(env);
    assert_eq!(s.url, "http://env");
    assert_eq!(s.keypair, Some(PathBuf::from("env.json")));
    let s = parse(&["--url", "http://a", "balance"]).settings_with_env(env);
    assert_eq!(s.url, "http://a");
    // keygen's default outfile is --keypair, before or after.
    let s = parse(&["keygen", "--keypair", "k.json"]).settings_with_env(no_env);
    assert_eq!(s.keypair, Some(PathBuf::from("k.json")));
    // Commands that do not use a flag refuse it after them.
    for args in [
        &["keygen", "--url", "http://a"][..],
        &["validator", "--json"],
        &["devnet", "--keypair", "k.json"],
        &["task", "new", "x", "--url", "http://a"],
    ] {
        let mut all = vec!["gradual"];
        all.extend_from_slice(args);
        let e = Cli::try_parse_from(all).unwrap_err();
        assert_eq!(
            e.kind(),
            clap::error::ErrorKind::UnknownArgument,
            "{args:?}"
        );
    }
    let s = Cli::parse_from_args(["gradual", "devnet", "--json", "--rounds", "2"])
        .unwrap()
        .settings_with_env(no_env);
    assert!(s.json);
    let s = parse(&["devnet"]).settings_with_env(no_env);
    assert!(!s.json);
    let s = parse(&["sim", "--json", "--seed", "1"]).settings_with_env(no_env);
    assert!(s.json);
    let s = parse(&["sim", "scale", "--json"]).settings_with_env(no_env);
    assert!(s.json);
    assert!(json_requested(
        ["gradual", "x", "--json"].map(std::ffi::OsString::from)
    ));
    assert!(!json_requested(
        ["gradual", "x", "--", "--json"].map(std::ffi::OsString::from)
    ));
}

#[test]
fn stake_owner_and_url_commands_parse() {
    let task = Hash::domain("t", &[]).to_base58();
    let node = gradual_types::Keypair::from_seed([1; 32])
        .pubkey()
        .to_string();
    let owner = gradual_types::Keypair::from_seed([2; 32]).pubkey();
    let owner_s = owner.to_string();
    let ok = Cli::try_parse_from([
        "gradual",
        "stake",
        &task,
        "2",
        "--node-url",
        "http://10.0.0.1:8080",
        "--owner",
        &owner_s,
    ])
    .unwrap();
    assert!(matches!(ok.command, Command::Stake { owner: Some(o), .. } if o == owner));
    let e = Cli::try_parse_from(["gradual", "stake", &task, "2", "--owner", "nope"]).unwrap_err();
    assert!(e.to_string().contains("expected a base58 address"), "{e}");
    let e =
        Cli::try_parse_from(["gradual", "stake", &task, "2", "--node-url", "ftp://x"]).unwrap_err();
    assert!(e.to_string().contains("http:// or https://"), "{e}");
    let ok = Cli::try_parse_from(["gradual", "set-url", &task, "https://n.example"]).unwrap();
    assert!(
        matches!(&ok.command, Command::SetUrl { node_url, .. } if node_url == "https://n.example")
    );
    // The URL is the node's, never the --url of the validator.
    assert_eq!(ok.settings_with_env(|_| None).url, "http://127.0.0.1:8899");
    let e = Cli::try_parse_from(["gradual", "set-url", &task, "http://u:p@host"]).unwrap_err();
    assert!(e.to_string().contains("user info"), "{e}");
    let ok = Cli::try_parse_from(["gradual", "set-owner", &task, &node, &owner_s]).unwrap();
    assert!(matches!(ok.command, Command::SetOwner { owner: o, .. } if o == owner));
    let e = Cli::try_parse_from(["gradual", "set-owner", &task, &node]).unwrap_err();
    assert!(e.to_string().contains("<OWNER>"), "{e}");
}

#[test]
fn amounts_and_keys_are_checked_at_parse() {
    let e = Cli::try_parse_from(["gradual", "transfer", "abc", "1"]).unwrap_err();
    assert!(e.to_string().contains("expected a base58 address"), "{e}");
    let k = gradual_types::Keypair::from_seed([1; 32])
        .pubkey()
        .to_string();
    let e = Cli::try_parse_from(["gradual", "transfer", &k, "1.0000000001"]).unwrap_err();
    assert!(e.to_string().contains("more than 9 decimals"), "{e}");
    let ok = Cli::try_parse_from(["gradual", "--json", "transfer", &k, "2.5"]).unwrap();
    assert!(ok.settings().json);
    assert!(matches!(
        ok.command,
        Command::Transfer {
            amount: 2_500_000_000,
            ..
        }
    ));
    let e = Cli::try_parse_from(["gradual", "claim"]).unwrap_err();
    assert!(e.to_string().contains("<TASK>"), "{e}");
    let e = Cli::try_parse_from(["gradual", "task", "show", "zz"]).unwrap_err();
    assert!(e.to_string().contains("task id"), "{e}");
}
