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

/// The intelligence service of the mixed-fleet test: documents whose id
/// ends in `0` always fail (500), one call in five fails (503) until
/// healed, the rest are analysed. Seed §4.2's requests carry no content.
fn flaky_service() -> (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::net::SocketAddr,
) {
    use axum::extract::State;
    use axum::response::IntoResponse;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let healed = Arc::new(AtomicBool::new(false));
    let state = (healed.clone(), Arc::new(AtomicU64::new(0)));
    async fn process(
        State((healed, calls)): State<(Arc<AtomicBool>, Arc<AtomicU64>)>,
        axum::Json(v): axum::Json<serde_json::Value>,
    ) -> axum::response::Response {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        let id = v["document_id"].as_str().unwrap_or_default();
        if !healed.load(Ordering::SeqCst) {
            if id.ends_with('0') {
                return (
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "broken for this one",
                )
                    .into_response();
            }
            if n % 5 == 0 {
                return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "flaky").into_response();
            }
        }
        axum::Json(archon_tui::backends::intelligence::analyzer::analyze(
            v["content"].as_str().unwrap_or_default(),
            v["language"].as_str(),
        ))
        .into_response()
    }
    let app = axum::Router::new()
        .route("/process/document", axum::routing::post(process))
        .with_state(state);
    (healed, common::service::spawn_router(0, app))
}

/// Seed 001 §4.2's consumer (aiokafka, retries re-queued keyless, DLQ
/// keyless, the graph updated by the neo4j driver) beside an archon-tui
/// engine in one consumer group on the same topics, with a flaky service:
/// every document ends completed in the graph or in the DLQ, counted by the
/// neo4j driver and kcat. Then the DLQ (both kinds of entries) is replayed
/// with the service healed, and every document completes.
#[test]
fn a_seed_consumer_beside_an_engine_in_one_group_loses_nothing() {
    use std::collections::BTreeSet;
    use std::time::{Duration, Instant};
    let (Some(b), Some(g), Some(tools)) = (broker(), common::bolt(), Tools::or_skip("mixed fleet"))
    else {
        return;
    };
    const DOCS: usize = 300;
    let mut flags = isolated(&b, "mixedfleet");
    // aiokafka has no cooperative assignor: a group shared with it needs
    // one both speak (docs/operations.md).
    flags.extend([
        "--graph-uri".to_string(),
        g.clone(),
        "--kafka-option".into(),
        "partition.assignment.strategy=roundrobin".into(),
    ]);
    let (healed, addr) = flaky_service();
    let url = format!("http://{addr}");
    let project = format!("mixed-{}", std::process::id());
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), DOCS).unwrap();
    // The engine first: it makes the topics (the DLQ `delete`).
    let engine_data = tempfile::tempdir().unwrap();
    let serve = common::serve::Serve::start(
        engine_data.path(),
        // The breaker would pause this engine for a minute on a run of
        // failures; this test is about where documents end.
        &with(
            &[
                "--intelligence-url",
                &url,
                "--breaker-failure-threshold",
                "1000",
            ],
            &flags,
        ),
    );
    let (topic, group, dlq, completed) = (
        flag(&flags, "--enrichment-topic").to_string(),
        flag(&flags, "--group-id").to_string(),
        flag(&flags, "--dlq-topic").to_string(),
        flag(&flags, "--completed-topic").to_string(),
    );
    let seed = |idle: &str| {
        tools
            .python()
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/services/seed_services.py"))
            .args([
                "enrich", &b, &topic, &group, &dlq, &completed, &url, &g, idle,
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let python = seed("20");
    // Published from another data dir while both consume.
    let ingest_data = tempfile::tempdir().unwrap();
    let r = run_s(
        ingest_data.path(),
        &with(
            &[
                "ingest",
                src.path().to_str().unwrap(),
                "--project",
                &project,
                "--json",
            ],
            &flags,
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&r.json(), "published"), DOCS as u64);
    let ids_in = |topic: &str| -> BTreeSet<String> {
        services::kcat_values(&b, topic)
            .iter()
            .filter_map(|v| {
                v["document_id"]
                    .as_str()
                    .or_else(|| v["original_message"]["document_id"].as_str())
                    .map(str::to_string)
            })
            .collect()
    };
    let graph = || -> (u64, u64) {
        let rows = services::neo4j_status_rows(&tools, &g, &project);
        let all = rows.iter().map(|r| r.2).sum();
        let completed = rows
            .iter()
            .filter(|r| r.0 == "completed")
            .map(|r| r.2)
            .sum();
        (all, completed)
    };
    let completed_ids = || -> BTreeSet<String> {
        let out = tools
            .python()
            .args([
                "-c",
                "import json,sys\nfrom neo4j import GraphDatabase\nwith GraphDatabase.driver(sys.argv[1], auth=('neo4j','test')) as d:\n r,_,_=d.execute_query(\"MATCH (x:Document {project_name:$p}) RETURN x.entity_id AS id, x.enrichment_status AS s\", p=sys.argv[2])\nprint(json.dumps([[x['id'],x['s']] for x in r]))",
                &g,
                &project,
            ])
            .output()
            .unwrap();
        let rows: Vec<(String, String)> = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        rows.into_iter()
            .filter(|r| r.1 == "completed")
            .map(|r| r.0)
            .collect()
    };
    // Settled: every document completed in the graph or parked in the DLQ.
    let deadline = Instant::now() + Duration::from_secs(240);
    let (done, parked) = loop {
        let done = completed_ids();
        let parked: BTreeSet<String> = ids_in(&dlq).difference(&done).cloned().collect();
        if done.len() + parked.len() >= DOCS {
            break (done, parked);
        }
        assert!(
            Instant::now() < deadline,
            "after 240 s: {} completed, {} in the DLQ of {DOCS}; serve log: {}",
            done.len(),
            parked.len(),
            std::fs::read_to_string(&serve.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    let out = python.wait_with_output().unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "seed consumer: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    println!(
        "mixed fleet: {} completed, {} in the DLQ of {DOCS}; the seed consumer {summary}",
        done.len(),
        parked.len()
    );
    assert_eq!(graph().0, DOCS as u64, "documents in the graph");
    assert!(
        n(&summary, "processed") > 0,
        "the seed consumer took part: {summary}"
    );
    assert!(!parked.is_empty(), "the broken documents are parked");
    // Every completed document has its completed event.
    let announced = ids_in(&completed);
    let missing: Vec<_> = done.difference(&announced).collect();
    assert!(
        missing.is_empty(),
        "completed without an event: {missing:?}"
    );
    // Our browser lists both kinds of entries; replay them with the service
    // healed: either consumer takes them, and every document completes.
    let listed = run_s(
        engine_data.path(),
        &with(&["dlq", "list", "--json", "--limit", "1000"], &flags),
    );
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let listed: BTreeSet<String> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["document_id"].as_str().map(str::to_string))
        .collect();
    // A parked document may have completed since (a re-queued copy taken
    // by the other consumer): its entry is then rightly hidden.
    let done_now = completed_ids();
    let unlisted: Vec<_> = parked
        .difference(&listed)
        .filter(|d| !done_now.contains(*d))
        .collect();
    for m in &unlisted {
        let trace = run_s(engine_data.path(), &with(&["trace", m, "--json"], &flags));
        println!("parked, not listed: {m}: {}", trace.stdout);
    }
    assert!(unlisted.is_empty(), "parked {parked:?}, listed {listed:?}");
    healed.store(true, std::sync::atomic::Ordering::SeqCst);
    let python = seed("8");
    let r = run_s(
        engine_data.path(),
        &with(&["dlq", "replay", "--confirm"], &flags),
    );
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let deadline = Instant::now() + Duration::from_secs(120);
    while completed_ids().len() < DOCS {
        if Instant::now() >= deadline {
            let done = completed_ids();
            let all: BTreeSet<String> = ids_in(&topic).into_iter().collect();
            let missing: Vec<&String> = all.difference(&done).collect();
            let entries = run_s(
                engine_data.path(),
                &with(&["dlq", "list", "--json"], &flags),
            );
            for m in &missing {
                let trace = run_s(engine_data.path(), &with(&["trace", m, "--json"], &flags));
                println!("not completed: {m}: {}", trace.stdout);
            }
            panic!(
                "after the replay {} of {DOCS} completed; missing {missing:?}; DLQ now {}; replay said {}",
                done.len(),
                entries.stdout,
                r.stdout
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let out = python.wait_with_output().unwrap();
    println!(
        "after the replay: all {DOCS} completed; the seed consumer {}",
        String::from_utf8_lossy(&out.stdout).trim()
    );
    let (code, _) = serve.terminate();
    assert_eq!(code, 0);
}
