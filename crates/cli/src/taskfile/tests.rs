use super::*;

const GOOD: &str = r#"
task_name: "Price oracle"
task_description: "Fetches prices"
task_executable: dist/main.js
round_time: 20
submission_window: 8
audit_window: 8
minimum_stake_amount: 1.9
total_bounty_amount: 100
bounty_amount_per_round: "0.5"
allowed_failed_distributions: 2
committee_size: 5
unstake_cooldown: 1
missed_list_bps: 250
author: Koii
space: 0.1
"#;

#[test]
fn reference_fields_in_koii_become_exact_roe() {
    let f = parse(GOOD, "task.yml", Path::new("/x")).unwrap();
    assert_eq!(f.params.name, "Price oracle");
    assert_eq!(f.params.minimum_stake, 1_900_000_000);
    assert_eq!(f.params.bounty_per_round, 500_000_000);
    assert_eq!(f.total_bounty, 100_000_000_000);
    assert_eq!(f.params.round_time, 20);
    assert_eq!(f.params.allowed_failed_distributions, 2);
    assert_eq!(f.params.committee_size, 5);
    assert_eq!(f.params.unstake_cooldown, 1);
    assert_eq!(f.params.missed_list_bps, 250);
    assert_eq!(f.params.executable.runtime, "node");
    assert_eq!(f.executable_path, Path::new("/x/dist/main.js"));
    assert_eq!(f.params.metadata, br#"{"author":"Koii"}"#);
    assert_eq!(f.notes.len(), 1, "space is noted as ignored");
}

fn problems(text: &str) -> Vec<String> {
    parse(text, "t.yml", Path::new(".")).unwrap_err().problems
}

/// Issue #10: a task declares the TCP ports its code connects to; nodes show them to
/// their operators (`gradual_node::node::declared_ports` reads them back).
#[test]
fn connect_ports_are_declared_in_the_metadata() {
    let text = format!("{GOOD}\nconnect_ports: [443, 80, 443]\n");
    let f = parse(&text, "task.yml", Path::new("/x")).unwrap();
    assert_eq!(
        f.params.metadata,
        br#"{"author":"Koii","connectPorts":[80,443]}"#
    );
    assert_eq!(
        gradual_node::node::declared_ports(&f.params.metadata),
        vec![80, 443]
    );
    let p = problems(&format!("{GOOD}\nconnect_ports: [0, 70000, web]\n"));
    assert!(
        p.iter().any(|m| m.contains("connect_ports[0] is 0")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|m| m.contains("connect_ports[1] is 70000")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|m| m.contains("connect_ports[2] must be")),
        "{p:?}"
    );
    let p = problems(&format!("{GOOD}\nconnect_ports: 443\n"));
    assert!(p.iter().any(|m| m.contains("list of at most 16")), "{p:?}");
    let p = problems(&format!(
        "{GOOD}\nconnect_ports: [443]\ntask_metadata: free text\n"
    ));
    assert!(p.iter().any(|m| m.contains("give one of them")), "{p:?}");
}

/// Issue #12: a task may be a directory with an entry; the runtime comes from the entry.
#[test]
fn a_directory_task_names_its_entry() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("app")).unwrap();
    std::fs::write(d.path().join("app/main.py"), "print(1)\n").unwrap();
    let dir_task = GOOD.replace("dist/main.js", "app/");
    let f = parse(
        &format!("{dir_task}\ntask_entry: main.py\n"),
        "task.yml",
        d.path(),
    )
    .unwrap();
    assert_eq!(f.params.executable.runtime, "python3@main.py");
    assert_eq!(f.entry.as_deref(), Some("main.py"));
    assert_eq!(f.executable_path, d.path().join("app/"));
    let f = parse(
        &format!("{dir_task}\ntask_entry: bin/task\n"),
        "task.yml",
        d.path(),
    )
    .unwrap();
    assert_eq!(f.params.executable.runtime, "native@bin/task");
    let f = parse(
        &format!("{dir_task}\ntask_entry: run\nruntime: sh\n"),
        "task.yml",
        d.path(),
    )
    .unwrap();
    assert_eq!(f.params.executable.runtime, "sh@run");
    let problems = |text: String| parse(&text, "t.yml", d.path()).unwrap_err().problems;
    let p = problems(dir_task.clone());
    assert!(
        p[0].contains("is a directory: name the file nodes run in it with task_entry"),
        "{p:?}"
    );
    let p = problems(format!("{dir_task}\ntask_entry: ../main.py\n"));
    assert!(
        p[0].starts_with("task_entry: the entry '../main.py'"),
        "{p:?}"
    );
    let p = problems(format!("{dir_task}\ntask_entry: /main.py\n"));
    assert!(p[0].contains("is absolute"), "{p:?}");
    let p = problems(format!(
        "{dir_task}\ntask_entry: main.py\nruntime: python3@x\n"
    ));
    assert!(p[0].contains("must not contain '@'"), "{p:?}");
    let p = problems(format!(
        "{}\ntask_entry: main.py\n",
        GOOD.replace("dist/main.js", "app/main.py")
    ));
    assert!(p[0].starts_with("task_entry is only for"), "{p:?}");
    // A file task is as before: no entry.
    let f = parse(GOOD, "task.yml", d.path()).unwrap();
    assert_eq!(
        (f.params.executable.runtime.as_str(), f.entry),
        ("node", None)
    );
}

#[test]
fn every_bad_field_is_reported_with_a_fix() {
    let bad = GOOD
        .replace("audit_window: 8", "audit_window: 13")
        .replace("committee_size: 5", "comittee_size: 5")
        .replace(
            "minimum_stake_amount: 1.9",
            "minimum_stake_amount: 1.0000000001",
        )
        .replace("round_time: 20", "round_time: 20\nslash_bps: 10001");
    let p = problems(&bad);
    assert!(
        p.iter().any(|m| m
            == "submission_window (8) + audit_window (13) = 21 exceeds round_time (20); shorten the windows or lengthen the round"),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m == "unknown field 'comittee_size': did you mean 'committee_size'?"),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m
                .starts_with("minimum_stake_amount: '1.0000000001' has more than 9 decimals")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|m| m.starts_with("slash_bps is 10001")),
        "{p:?}"
    );
    assert_eq!(p.len(), 4, "{p:?}");
}

#[test]
fn missing_and_mistyped_fields() {
    let p = problems("task_name: x\nround_time: ten\n");
    assert!(
        p.iter()
            .any(|m| m.starts_with("round_time must be a whole number of slots")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.starts_with("task_executable is missing")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.starts_with("total_bounty_amount is missing")),
        "{p:?}"
    );
    let p = problems(&GOOD.replace(
        "bounty_amount_per_round: \"0.5\"",
        "bounty_amount_per_round: 101",
    ));
    assert!(p[0].contains("could not pay one full round"), "{p:?}");
    let p = problems(&GOOD.replace(
        "task_name: \"Price oracle\"",
        "task_name: \"a name far longer than allowed\"",
    ));
    assert!(
        p[0].starts_with("task_name is 30 bytes, the most is 24"),
        "{p:?}"
    );
    let p = problems(&GOOD.replace("unstake_cooldown: 1", "unstake_cooldown: 0"));
    assert_eq!(
        p,
        vec!["unstake_cooldown is 0, it must be between 1 and 1000 rounds"]
    );
    let p = problems(&GOOD.replace("missed_list_bps: 250", "missed_list_bps: 10001"));
    assert!(p[0].starts_with("missed_list_bps is 10001"), "{p:?}");
    let p = problems(&format!("{GOOD}\ntask_type: KPL\n"));
    assert!(p[0].contains("only KOII tasks"), "{p:?}");
    let p = problems("- a\n- b\n");
    assert!(p[0].starts_with("must be a mapping"), "{p:?}");
    let p = problems(&format!("{GOOD}\ntotal_bounty: 5\n"));
    assert_eq!(
        p,
        vec!["unknown field 'total_bounty': did you mean 'total_bounty_amount'?"]
    );
}
