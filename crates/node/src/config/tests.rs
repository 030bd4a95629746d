use super::*;

fn dir_with_key() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    gradual_client::write_keypair_file(
        &d.path().join("k.json"),
        &Keypair::from_seed([3; 32]),
        false,
    )
    .unwrap();
    d
}

const ID: &str = "11111111111111111111111111111111";

/// Issue #10: the `[sandbox]` example of docs/operator-guide.md ("Task confinement"), read
/// from the guide itself, parses to what it says; bad values are refused with a fix.
#[test]
fn the_operator_guide_sandbox_example_parses() {
    let guide = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operator-guide.md"),
    )
    .unwrap();
    let section = &guide[guide.find("### Task confinement").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let d = dir_with_key();
    let text = format!("keypair = \"k.json\"\n{}", example.replace("<task id>", ID));
    let c = NodeConfig::parse(&text, false, d.path(), "node.toml").unwrap();
    assert_eq!(c.sandbox, SandboxConfig::default());
    assert_eq!(c.tasks[0].connect_ports, Some(vec![443]));
    assert_eq!(
        (
            c.tasks[0].limits.max_processes,
            c.tasks[0].limits.max_open_files
        ),
        (256, 1024)
    );
    let bad = format!(
        "keypair = \"k.json\"\n[sandbox]\ntask_user = \"nobody\"\nuid_base = 1000\n\
         [[task]]\nid = \"{ID}\"\nconnect_ports = [0]\nconnect_any_port = true\n"
    );
    let e = NodeConfig::parse(&bad, false, d.path(), "node.toml").unwrap_err();
    let all = e.problems.join("\n");
    for want in [
        "sandbox.task_user = 'nobody'",
        "sandbox.uid_base = 1000: must be between 100000",
        "connect_ports: 0 is not a port",
        "connect_any_port = true with connect_ports",
    ] {
        assert!(all.contains(want), "missing {want:?} in:\n{all}");
    }
}
/// The example of docs/operator-guide.md ("Audit guard"), with a key file and a task id.
#[test]
fn the_operator_guide_audit_guard_example_parses() {
    let d = dir_with_key();
    let text = format!(
        r#"keypair = "k.json"
invalid_share_max_bps = 5000          # 1..=10000; 10000 turns the guard off
on_suspect_audits = "abstain"         # or "abstain-and-unstake"

[[task]]
id = "{ID}"
on_suspect_audits = "abstain-and-unstake"
invalid_share_max_bps = 6000
"#
    );
    let c = NodeConfig::parse(&text, false, d.path(), "node.toml").unwrap();
    assert_eq!(
        c.tasks[0].audit_guard,
        AuditGuard {
            invalid_share_max_bps: 6_000,
            on_suspect: SuspectPolicy::AbstainAndUnstake
        }
    );
}

#[test]
fn audit_guard_keys_are_global_with_a_per_task_override() {
    let d = dir_with_key();
    let id2 = Keypair::from_seed([9; 32]).pubkey().to_base58();
    let text = format!(
        "keypair = \"k.json\"\ninvalid_share_max_bps = 7000\n\
         on_suspect_audits = \"abstain-and-unstake\"\n\
         [[task]]\nid = \"{ID}\"\n\
         [[task]]\nid = \"{id2}\"\non_suspect_audits = \"abstain\"\n\
         invalid_share_max_bps = 10000\n"
    );
    let c = NodeConfig::parse(&text, false, d.path(), "node.toml").unwrap();
    assert_eq!(
        c.tasks[0].audit_guard,
        AuditGuard {
            invalid_share_max_bps: 7_000,
            on_suspect: SuspectPolicy::AbstainAndUnstake
        }
    );
    assert_eq!(c.tasks[1].audit_guard, AuditGuard::OFF);
    let bad = format!(
        "keypair = \"k.json\"\ninvalid_share_max_bps = 0\n[[task]]\nid = \"{ID}\"\n\
         on_suspect_audits = \"unstake\"\ninvalid_share_max_bps = 70000\n"
    );
    let e = NodeConfig::parse(&bad, false, d.path(), "node.toml")
        .unwrap_err()
        .to_string();
    for want in [
        "\n  - invalid_share_max_bps = 0: must be between 1 and 10000",
        "task[0].invalid_share_max_bps = 70000: must be between 1 and 10000",
        "task[0].on_suspect_audits = 'unstake' is not a policy; \
         expected \"abstain\" or \"abstain-and-unstake\"",
    ] {
        assert!(e.contains(want), "missing '{want}' in:\n{e}");
    }
}

#[test]
fn a_good_file_parses_with_defaults() {
    let d = dir_with_key();
    let text = format!("keypair = \"k.json\"\n[[task]]\nid = \"{ID}\"\nstake = \"2\"\nauto_stake = true\nclaim_at = 0.5\n");
    let c = NodeConfig::parse(&text, false, d.path(), "node.toml").unwrap();
    assert_eq!(c.tasks.len(), 1);
    assert_eq!(c.tasks[0].stake_roe, Some(2_000_000_000));
    assert_eq!(c.tasks[0].claim_at_roe, Some(500_000_000));
    assert_eq!(c.tasks[0].limits, Limits::default());
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.data_dir, d.path().join("node-data"));
    assert_eq!(c.tasks[0].audit_guard, AuditGuard::default());
    // Outbound calls refuse private and loopback addresses unless allowed.
    assert_eq!(c.outbound, OutboundPolicy::default());
}

#[test]
fn outbound_allow_list_parses_strictly() {
    let d = dir_with_key();
    let text = format!("keypair = \"k.json\"\n[[task]]\nid = \"{ID}\"\n[outbound]\nallow_private = true\nallow = [\"10.0.0.0/8\", \"127.0.0.1\", \"::1\"]\n");
    let c = NodeConfig::parse(&text, false, d.path(), "node.toml").unwrap();
    assert!(c.outbound.allow_private);
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    assert_eq!(c.outbound.check(ip("127.0.0.1")), Ok(()));
    assert_eq!(c.outbound.check(ip("::1")), Ok(()));
    assert!(c.outbound.check(ip("127.0.0.2")).is_err());
    // The operator guide's example, as written there.
    let text = format!("keypair = \"k.json\"\n[[task]]\nid = \"{ID}\"\n\n[outbound]\nallow_private = true                  # 10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10\nallow = [\"127.0.0.1\"]                 # anything else, by address or CIDR network (\"fe80::/10\")\n");
    let c = NodeConfig::parse(&text, false, d.path(), "node.toml").unwrap();
    assert_eq!(c.outbound.check(ip("192.168.1.9")), Ok(()));
    assert_eq!(c.outbound.check(ip("127.0.0.1")), Ok(()));
    assert!(c.outbound.check(ip("169.254.169.254")).is_err());
    let text = format!("keypair = \"k.json\"\n[[task]]\nid = \"{ID}\"\n[outbound]\nallow = [\"10.0.0.1/8\", \"localhost\", \"::/200\"]\n");
    let all = NodeConfig::parse(&text, false, d.path(), "node.toml")
        .unwrap_err()
        .to_string();
    for want in [
        "outbound.allow[0] = '10.0.0.1/8': '10.0.0.1/8' has bits set past the /8 prefix; write 10.0.0.0/8",
        "outbound.allow[1] = 'localhost': 'localhost' is not an IPv4 or IPv6 address",
        "outbound.allow[2] = '::/200': prefix '/200' must be a number from 0 to 128",
    ] {
        assert!(all.contains(want), "missing '{want}' in:\n{all}");
    }
    let text =
        format!("keypair = \"k.json\"\n[[task]]\nid = \"{ID}\"\n[outbound]\nallow_privat = true\n");
    let e = NodeConfig::parse(&text, false, d.path(), "node.toml").unwrap_err();
    assert!(
        e.to_string().contains("unknown field `allow_privat`"),
        "{e}"
    );
}

#[test]
fn every_problem_is_reported_with_a_fix() {
    let d = dir_with_key();
    let text = "keypair = \"missing.json\"\nlisten = \"nope\"\npublic_url = \"http://u:p@h\"\n[[task]]\nid = \"zz\"\nstake = \"1.0000000001\"\nauto_stake = true\nadversary = \"evil\"\n[task.limits]\nmemory_mb = 1\n";
    let e = NodeConfig::parse(text, false, d.path(), "node.toml").unwrap_err();
    let all = e.to_string();
    for want in [
        "gradual keygen",
        "listen = 'nope'",
        "public_url = 'http://u:p@h': url must not carry user info",
        "task[0].id = 'zz'",
        "9 decimals",
        "adversary = 'evil'",
        "memory_mb = 1",
    ] {
        assert!(all.contains(want), "missing '{want}' in:\n{all}");
    }
}

#[test]
fn unknown_fields_and_yaml() {
    let d = dir_with_key();
    let e = NodeConfig::parse(
        "keypair = \"k.json\"\nstak = 1\n",
        false,
        d.path(),
        "n.toml",
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown field `stak`"), "{e}");
    let y = format!("keypair: k.json\ntask:\n  - id: \"{ID}\"\n    adversary: garbage\n");
    let c = NodeConfig::parse(&y, true, d.path(), "n.yaml").unwrap();
    assert_eq!(c.tasks[0].env["GRADUAL_ADVERSARY"], "garbage");
    assert_eq!(c.tasks[0].stake_roe, None);
}

/// Issue #12: a config file given by a relative path (`--config node.toml`) with relative
/// paths in it: every path comes out absolute, under the file's directory, so task
/// processes (which run in their own directories) find their executables.
#[test]
fn relative_paths_resolve_against_the_file_and_come_out_absolute() {
    let d = dir_with_key();
    // `d` as seen from the working directory, by a relative path ("../../tmp/...").
    let cwd = std::env::current_dir().unwrap();
    let ups = "../".repeat(cwd.components().count() - 1);
    let rel = Path::new(&ups).join(d.path().strip_prefix("/").unwrap());
    assert!(rel.is_relative());
    let text = format!(
        "keypair = \"k.json\"\ndata_dir = \"node-data\"\n[sandbox]\nread_paths = [\"lib\"]\n\
         [[task]]\nid = \"{ID}\"\n"
    );
    let c = NodeConfig::parse(&text, false, &rel, "node.toml").unwrap();
    for p in [&c.data_dir, &c.keypair_path, &c.sandbox.read_paths[0]] {
        assert!(p.is_absolute(), "{}", p.display());
    }
    let same = |a: &Path, b: &Path| a.canonicalize().unwrap() == b.canonicalize().unwrap();
    assert!(same(&c.keypair_path, &d.path().join("k.json")));
    std::fs::create_dir_all(&c.data_dir).unwrap();
    assert!(same(&c.data_dir, &d.path().join("node-data")));
    // A file in the working directory itself (`--config node.toml`): its parent is "".
    let c = NodeConfig::parse(
        &text.replace("k.json", &d.path().join("k.json").display().to_string()),
        false,
        Path::new(""),
        "node.toml",
    )
    .unwrap();
    assert_eq!(c.data_dir, cwd.join("node-data"));
    // Loading through a relative file path works the same way.
    std::fs::write(d.path().join("node.toml"), &text).unwrap();
    let c = NodeConfig::load(&rel.join("node.toml")).unwrap();
    assert!(c.data_dir.is_absolute() && same(&c.data_dir, &d.path().join("node-data")));
}

/// Issue #12: compounding and leaving on worse terms are per-task policies; restaking
/// needs claiming.
#[test]
fn restake_and_worse_terms_policies_parse() {
    let d = dir_with_key();
    let text = format!(
        "keypair = \"k.json\"\n[[task]]\nid = \"{ID}\"\nclaim_at = \"0.5\"\n\
         restake_rewards = \"10\"\nunstake_on_worse_terms = true\n"
    );
    let c = NodeConfig::parse(&text, false, d.path(), "node.toml").unwrap();
    assert_eq!(c.tasks[0].restake_up_to_roe, Some(10_000_000_000));
    assert!(c.tasks[0].unstake_on_worse_terms);
    let text = format!("keypair = \"k.json\"\n[[task]]\nid = \"{ID}\"\n");
    let c = NodeConfig::parse(&text, false, d.path(), "node.toml").unwrap();
    assert_eq!(c.tasks[0].restake_up_to_roe, None);
    assert!(!c.tasks[0].unstake_on_worse_terms);
    assert_eq!(c.unpaid_rounds_warn, DEFAULT_UNPAID_ROUNDS_WARN);
    let bad = format!(
        "keypair = \"k.json\"\nunpaid_rounds_warn = 3\n[[task]]\nid = \"{ID}\"\nrestake_rewards = \"x\"\n\
         [[task]]\nid = \"{}\"\nrestake_rewards = \"1\"\n",
        Keypair::from_seed([9; 32]).pubkey()
    );
    let all = NodeConfig::parse(&bad, false, d.path(), "node.toml")
        .unwrap_err()
        .to_string();
    for want in [
        "task[0].restake_rewards = 'x'",
        "task[1].restake_rewards needs claim_at",
    ] {
        assert!(all.contains(want), "missing {want:?} in:\n{all}");
    }
}
