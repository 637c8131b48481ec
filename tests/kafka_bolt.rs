//! The production shape: requests on Apache Kafka, documents in a Bolt graph
//! (Neo4j 5), several engine processes in one consumer group. Counts are read
//! back with independent clients: kcat for the topics, the Python neo4j
//! driver for the graph.

mod common;

use std::process::Stdio;

use common::{bin, bolt, broker, graph_status_counts, isolated, n, run_s, services, with};

fn graph_flags(bolt: &str) -> Vec<String> {
    vec!["--graph-uri".into(), bolt.into()]
}

fn unique_project(name: &str) -> String {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000;
    format!("{name}-{nonce}")
}

#[test]
fn a_thousand_files_through_kafka_into_the_bolt_graph() {
    let (Some(b), Some(g)) = (broker(), bolt()) else {
        return;
    };
    let mut flags = isolated(&b, "bolt1000");
    flags.extend(graph_flags(&g));
    let project = unique_project("bolt1000");
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 1000).unwrap();
    let data = tempfile::tempdir().unwrap();
    let r = run_s(
        data.path(),
        &with(
            &[
                "ingest",
                src.path().to_str().unwrap(),
                "--project",
                &project,
                "--wait",
                "--json",
                "--timeout",
                "300",
                "--concurrency",
                "32",
            ],
            &flags,
        ),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let j = r.json();
    assert_eq!(n(&j, "completed"), 1000, "{j}");
    assert_eq!(n(&j, "enriched"), 1000, "{j}");
    let s = run_s(data.path(), &with(&["status", "--json"], &flags)).json();
    assert_eq!(s["backends"]["graph"], "bolt", "{s}");
    assert_eq!(s["backends"]["broker"], "kafka", "{s}");
    // kcat counts the completed events; the Python neo4j driver the graph.
    let completed = services::kcat_values(&b, common::flag(&flags, "--completed-topic"));
    assert_eq!(completed.len(), 1000, "kcat: 1000 completed events");
    let counts = graph_status_counts(&project);
    assert_eq!(counts.get("completed"), Some(&1000), "{counts:?}");
    assert_eq!(
        counts.get("applied:1"),
        Some(&1000),
        "each enrichment applied once: {counts:?}"
    );
    assert_eq!(counts.len(), 2, "nothing in any other status: {counts:?}");
}

#[test]
fn two_engines_in_one_group_complete_every_document_exactly_once() {
    let (Some(b), Some(g)) = (broker(), bolt()) else {
        return;
    };
    let mut flags = isolated(&b, "twoengines");
    flags.extend(graph_flags(&g));
    let project = unique_project("twoengines");
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 400).unwrap();

    // Index and publish only; nobody consumes yet.
    let producer = tempfile::tempdir().unwrap();
    let r = run_s(
        producer.path(),
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
    assert_eq!(n(&r.json(), "published"), 400, "{}", r.stdout);
    assert_eq!(graph_status_counts(&project).get("pending"), Some(&400));

    // Two engines, each with its own data dir, in the same group. The
    // latency keeps either from finishing alone before the other joins
    // (~80 documents/s each: Neo4j is fast enough that at 20 ms one engine
    // once drained all 400 before the other was assigned a partition).
    let engines: Vec<_> = (0..2)
        .map(|_| {
            let data = tempfile::tempdir().unwrap();
            let child = bin()
                .args(with(
                    &[
                        "drain",
                        "--project",
                        &project,
                        "--json",
                        "--timeout",
                        "300",
                        "--concurrency",
                        "8",
                        "--inject-latency-ms",
                        "100",
                    ],
                    &flags,
                ))
                .arg("--data-dir")
                .arg(data.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start an engine");
            (data, child)
        })
        .collect();
    let mut enriched = Vec::new();
    for (_data, child) in engines {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(n(&j, "pending"), 0, "{j}");
        enriched.push(n(&j, "enriched"));
    }
    assert!(
        enriched.iter().all(|e| *e > 0),
        "both engines took a share of the partitions: {enriched:?}"
    );
    assert_eq!(
        enriched.iter().sum::<u64>(),
        400,
        "every document enriched exactly once across the two: {enriched:?}"
    );
    let counts = graph_status_counts(&project);
    assert_eq!(counts.get("completed"), Some(&400), "{counts:?}");
    assert_eq!(
        counts.get("applied:1"),
        Some(&400),
        "applied once: {counts:?}"
    );
    assert_eq!(counts.len(), 2, "{counts:?}");
}
