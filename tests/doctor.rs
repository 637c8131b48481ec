//! `archon-tui doctor` as an operator runs it, and read-only commands on a
//! data dir that does not exist (issue 31, items 3 and 7).

mod common;

use common::{bolt, broker, flag, isolated, run, run_s, with};

fn finding<'a>(
    report: &'a serde_json::Value,
    level: &str,
    needle: &str,
) -> Option<&'a serde_json::Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["level"] == level && f["what"].as_str().unwrap().contains(needle))
}

#[test]
fn read_only_commands_on_a_missing_data_dir_exit_2_and_create_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("mistyped");
    for args in [
        vec!["status"],
        vec!["dlq", "list"],
        vec!["dlq", "groups"],
        vec!["trace", "x"],
        vec!["history"],
        vec!["audit"],
        vec!["fleet"],
        vec!["offsets"],
        vec!["jobs"],
    ] {
        let r = run(&missing, &args);
        assert_eq!(r.code, 2, "{args:?}: {} {}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("no data dir at") && r.stderr.contains("mistyped"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(!missing.exists(), "{args:?} created {}", missing.display());
    }
    // doctor says the same without failing: the first engine makes it.
    let r = run(&missing, &["doctor", "--json"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert!(
        finding(&r.json(), "ok", "does not exist yet").is_some(),
        "{}",
        r.stdout
    );
    assert!(!missing.exists());
    // And once an engine has run there, the same command reads it.
    std::fs::create_dir(&missing).unwrap();
    let r = run(&missing, &["status", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_fails_on_a_compacted_dlq_names_the_fix_and_passes_once_applied() {
    use rdkafka::admin::{
        AdminClient, AdminOptions, AlterConfig, NewTopic, ResourceSpecifier, TopicReplication,
    };
    use rdkafka::client::DefaultClientContext;
    let Some(b) = broker() else {
        return;
    };
    let flags = isolated(&b, "doctor");
    let dlq = flag(&flags, "--dlq-topic").to_string();
    // A DLQ topic as seed §3.2's own command (or the release before) made it.
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &b)
        .create()
        .unwrap();
    let opts = AdminOptions::new();
    let made = admin
        .create_topics(
            &[NewTopic::new(&dlq, 1, TopicReplication::Fixed(1)).set("cleanup.policy", "compact")],
            &opts,
        )
        .await
        .unwrap();
    assert!(made[0].is_ok(), "{made:?}");
    let mut args = flags.clone();
    if let Some(g) = bolt() {
        args.extend(["--graph-uri".to_string(), g]);
    }
    let data = tempfile::tempdir().unwrap();
    // An engine starts and says it, with the fix (checked in the background
    // of its start: a running engine's log).
    let serve_data = tempfile::tempdir().unwrap();
    let serve = common::serve::Serve::start(serve_data.path(), &args);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let log = std::fs::read_to_string(&serve.log).unwrap_or_default();
        if log.contains("is compacted") && log.contains("cleanup.policy=delete") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the warning at start: {log}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (code, _) = serve.terminate();
    assert_eq!(code, 0);
    let r = run_s(data.path(), &with(&["doctor", "--json"], &args));
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    let report = r.json();
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    let fail = finding(&report, "fail", "keyless").unwrap_or_else(|| panic!("{report}"));
    assert!(
        fail["fix"].as_str().unwrap().contains(&format!(
            "--entity-name {dlq} --add-config cleanup.policy=delete,retention.ms=2592000000"
        )),
        "{fail}"
    );
    assert!(finding(&report, "ok", "reachable").is_some(), "{report}");
    if bolt().is_some() {
        assert!(
            finding(&report, "ok", "constraints and indexes present").is_some(),
            "{report}"
        );
    }
    // The text form names the same fix.
    let r = run_s(data.path(), &with(&["doctor"], &args));
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("FAIL") && r.stdout.contains("fix: kafka-configs.sh"),
        "{}",
        r.stdout
    );
    // Applied (what kafka-configs.sh --add-config does), doctor passes.
    let fix = AlterConfig::new(ResourceSpecifier::Topic(&dlq))
        .set("cleanup.policy", "delete")
        .set("retention.ms", "2592000000");
    let done = admin.alter_configs(&[fix], &opts).await.unwrap();
    assert!(done[0].is_ok(), "{done:?}");
    let r = run_s(data.path(), &with(&["doctor", "--json"], &args));
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert!(finding(&r.json(), "fail", "").is_none(), "{}", r.stdout);
}

#[test]
fn doctor_fails_when_the_pieces_it_is_given_are_down() {
    let data = tempfile::tempdir().unwrap();
    let r = run(
        data.path(),
        &[
            "doctor",
            "--json",
            "--intelligence-url",
            "http://127.0.0.1:9",
            "--graph-uri",
            "bolt://127.0.0.1:9",
        ],
    );
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    let report = r.json();
    for area in ["intelligence", "graph"] {
        assert!(
            report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["area"] == area && f["level"] == "fail" && f["fix"].is_string()),
            "{area}: {report}"
        );
    }
}
