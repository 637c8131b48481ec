//! Interop with the seeds' Python services on Apache Kafka: a consumer
//! written against aiokafka the way seed 001 §4.2's
//! `IntelligenceEnrichmentConsumer` is (group, earliest, manual commit) reads
//! the requests archon-tui published (snappy, as seed §3.1 says), and
//! archon-tui's DLQ browser reads records written the way §4.2's
//! `_publish_to_dlq` writes them (no key, no document id of their own, no
//! origin, no service health). tests/services/seed_services.py is the Python.

mod common;

use std::path::Path;

use common::services::{self, Tools};
use common::{broker, flag, isolated, n, run_s, with};

fn seed_services(tools: &Tools, args: &[&str]) -> serde_json::Value {
    services::python_json(tools, "seed_services.py", args)
}

#[test]
fn the_seed_aiokafka_consumer_reads_our_requests_and_commits() {
    let (Some(b), Some(tools)) = (broker(), Tools::or_skip("aiokafka interop")) else {
        return;
    };
    let flags = isolated(&b, "aiokafka");
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 300).unwrap();
    let data = tempfile::tempdir().unwrap();
    // Index and publish only (default compression: snappy).
    let r = run_s(
        data.path(),
        &with(&["ingest", src.path().to_str().unwrap(), "--json"], &flags),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&r.json(), "published"), 300);
    let topic = flag(&flags, "--enrichment-topic");
    let group = format!("{}-python", flag(&flags, "--group-id"));
    let got = seed_services(&tools, &["consume", &b, topic, &group, "300"]);
    assert_eq!(n(&got, "documents"), 300, "{got}");
    for field in [
        "document_id",
        "project_name",
        "content_hash",
        "file_path",
        "correlation_id",
        "retry_count",
    ] {
        assert!(
            got["fields"].as_array().unwrap().iter().any(|f| f == field),
            "seed §3.1 field {field} in what aiokafka read: {got}"
        );
    }
    // Its manual commits, as Kafka's own consumer-group tool sees them.
    let offsets = services::group_offsets(&tools, &b, &group);
    let mine: Vec<_> = offsets.iter().filter(|o| o.topic == topic).collect();
    assert_eq!(mine.len(), 4, "{offsets:?}");
    assert!(mine.iter().all(|o| o.lag == Some(0)), "{offsets:?}");
    assert_eq!(mine.iter().map(|o| o.log_end).sum::<i64>(), 300);
}

/// What `dlq list` shows of the 25 seed-style records on `flags`' DLQ topic.
fn check_seed_entries(data: &Path, flags: &[String]) {
    let r = run_s(data, &with(&["dlq", "list", "--json"], flags));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list = r.json();
    let entries = list.as_array().unwrap();
    assert_eq!(entries.len(), 25, "every record is its own entry: {list}");
    let e = entries
        .iter()
        .find(|e| e["document_id"] == "00000000-0000-4000-8000-000000000007")
        .unwrap_or_else(|| panic!("the document id comes from original_message: {list}"));
    assert_eq!(e["error_type"], "RuntimeError", "{e}");
    assert_eq!(e["project"], "seedpy", "{e}");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("returned 500: boom 7"),
        "{e}"
    );
    // One entry in full, as `dlq show` prints it.
    let r = run_s(
        data,
        &with(
            &["dlq", "show", "00000000-0000-4000-8000-000000000007"],
            flags,
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let full = r.json();
    assert_eq!(
        full["message"]["original_message"]["file_path"], "services/seed/module_7.py",
        "{full}"
    );
    assert_eq!(full["message"]["failure_count"], 4, "{full}");
}

/// Seed §3.2 makes the DLQ topic compacted ("latest failure per
/// document_id"), and Kafka refuses keyless records on a compacted topic, so
/// §4.2's keyless `_publish_to_dlq` could not write to it: the seeds
/// disagree. archon-tui creates the DLQ topic `delete` with §3.2's 30 days,
/// so the seed's keyless records land and our browser lists them (before
/// this release they were refused, every one lost).
#[test]
fn the_seed_consumers_keyless_dlq_records_land_on_the_dlq_topic_we_create() {
    let (Some(b), Some(tools)) = (broker(), Tools::or_skip("aiokafka DLQ interop")) else {
        return;
    };
    let flags = isolated(&b, "seeddlq");
    let data = tempfile::tempdir().unwrap();
    // The engine creates its topics.
    let r = run_s(data.path(), &with(&["status", "--json"], &flags));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dlq_topic = flag(&flags, "--dlq-topic");
    let got = seed_services(&tools, &["dlq", &b, dlq_topic, "25", "keyless"]);
    println!("seed §4.2 keyless DLQ records on the DLQ topic archon-tui made: {got}");
    assert_eq!(n(&got, "refused"), 0, "{got}");
    assert_eq!(n(&got, "published"), 25, "{got}");
    check_seed_entries(data.path(), &flags);
    // doctor has nothing to say against the DLQ topic.
    let r = run_s(data.path(), &with(&["doctor", "--json"], &flags));
    assert!(!r.stdout.contains("keyless"), "{}", r.stdout);
}

/// A DLQ topic the seeds' services made themselves (delete policy, keyless
/// records exactly as §4.2 writes them): every record is its own entry.
#[test]
fn our_dlq_browser_reads_keyless_records_of_the_seed_consumer() {
    let (Some(b), Some(tools)) = (broker(), Tools::or_skip("aiokafka DLQ interop")) else {
        return;
    };
    let flags = isolated(&b, "seeddlqkeyless");
    let dlq_topic = flag(&flags, "--dlq-topic");
    // The Python side writes first: the broker creates the topic (delete).
    let got = seed_services(&tools, &["dlq", &b, dlq_topic, "25", "keyless"]);
    assert_eq!(n(&got, "published"), 25, "{got}");
    let data = tempfile::tempdir().unwrap();
    check_seed_entries(data.path(), &flags);
}

/// A seed service in the same consumer group is listed by `fleet` with its
/// client, host, partitions and lag, as not steerable; doctor names it.
#[test]
fn fleet_and_doctor_list_a_seed_member_of_the_group_as_not_steerable() {
    let (Some(b), Some(tools)) = (broker(), Tools::or_skip("aiokafka group member")) else {
        return;
    };
    let flags = isolated(&b, "seedmember");
    let data = tempfile::tempdir().unwrap();
    let r = run_s(data.path(), &with(&["status", "--json"], &flags));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (topic, group) = (
        flag(&flags, "--enrichment-topic"),
        flag(&flags, "--group-id"),
    );
    let mut python = tools
        .python()
        .arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/services/seed_services.py"),
        )
        .args(["member", &b, topic, group, "60"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(45);
    let listed = loop {
        let r = run_s(data.path(), &with(&["fleet", "--json"], &flags));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v = r.json();
        let other = v
            .as_array()
            .unwrap()
            .iter()
            .find(|m| {
                m["steerable"] == false && m["partitions"].as_array().is_some_and(|p| p.len() == 4)
            })
            .cloned();
        if let Some(o) = other {
            break o;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no other member listed: {v}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    println!("fleet --json lists: {listed}");
    assert!(
        listed["client_id"]
            .as_str()
            .unwrap()
            .starts_with("aiokafka"),
        "{listed}"
    );
    assert!(listed["lag"].is_number(), "{listed}");
    let text = run_s(data.path(), &with(&["fleet"], &flags)).stdout;
    assert!(text.contains("not steerable"), "{text}");
    let r = run_s(data.path(), &with(&["doctor"], &flags));
    assert!(
        r.stdout.contains("is not archon-tui: not steerable"),
        "{}",
        r.stdout
    );
    python.kill().ok();
    python.wait().ok();
}
