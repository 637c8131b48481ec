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

/// Issue 28: during a drain the committed position follows the work. Lag
/// falls in every few seconds in which documents are recorded (commits of the
/// contiguous recorded prefix, every ~100 ms), and a member never holds more
/// fetched but unrecorded than the fetch-ahead bound allows (twice
/// `fetch_ahead` on a server store: the bound, and as many again in batches
/// being written).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_falls_steadily_during_a_drain() {
    use common::serve::{client, get, Serve};
    use std::time::{Duration, Instant};
    let (Some(b), Some(g)) = (broker(), bolt()) else {
        return;
    };
    let mut flags = isolated(&b, "steadylag");
    flags.extend(graph_flags(&g));
    let project = unique_project("steadylag");
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 4000).unwrap();
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
    assert_eq!(n(&r.json(), "published"), 4000, "{}", r.stdout);

    const CONCURRENCY: u64 = 8;
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start(
        data.path(),
        &with(
            &[
                "--concurrency",
                &CONCURRENCY.to_string(),
                "--inject-latency-ms",
                "20",
            ],
            &flags,
        ),
    );
    let c = client();
    // (seconds since start, lag, processed, in flight)
    let mut samples: Vec<(f64, u64, u64, u64)> = Vec::new();
    let started = Instant::now();
    loop {
        let (_, h) = get(&c, &serve.url("/health")).await;
        let consumer = &h["consumer"];
        let sample = (
            started.elapsed().as_secs_f64(),
            consumer["lag"].as_i64().unwrap_or(0).max(0) as u64,
            consumer["messages_processed"].as_u64().unwrap_or(0),
            consumer["in_flight"].as_i64().unwrap_or(0).max(0) as u64,
        );
        samples.push(sample);
        if sample.2 >= 4000 && sample.1 == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the drain did not finish: last {sample:?}\n{}",
            std::fs::read_to_string(&serve.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let took = started.elapsed();
    let peak_in_flight = samples.iter().map(|s| s.3).max().unwrap_or(0);
    eprintln!(
        "drained 4000 in {:.1} s, {} samples, peak in flight {peak_in_flight}",
        took.as_secs_f64(),
        samples.len()
    );
    let bound =
        2 * archon_tui::engine::pipeline::consumer::fetch_ahead(CONCURRENCY as usize, true) as u64;
    assert!(
        peak_in_flight <= bound,
        "fetched-but-unrecorded stays within the fetch-ahead bound ({bound}): peak {peak_in_flight}"
    );
    // Every 3 s window in which documents were recorded also saw the lag fall
    // (from the first lag read: before it, /health reports 0).
    let first_read = samples
        .iter()
        .position(|s| s.1 > 0)
        .expect("a lag was read");
    let samples = &samples[first_read..];
    for (i, a) in samples.iter().enumerate() {
        let Some(z) = samples[i..].iter().find(|z| z.0 - a.0 >= 3.0) else {
            break;
        };
        if z.2 > a.2 + 50 {
            assert!(
                z.1 < a.1,
                "{} documents recorded between {:.1} s and {:.1} s but the lag stayed at {} → {}",
                z.2 - a.2,
                a.0,
                z.0,
                a.1,
                z.1
            );
        }
    }
    // The committed position is the broker's, read by another process.
    let s = run_s(producer.path(), &with(&["status", "--json"], &flags)).json();
    assert_eq!(s["lag"]["total"], 0, "{s}");
    let counts = graph_status_counts(&project);
    assert_eq!(counts.get("completed"), Some(&4000), "{counts:?}");
    serve.terminate();
}

/// Seed 001 §9.2's end-to-end flow, on Apache Kafka + Neo4j: POST to the
/// bridge, the request is on the topic (kcat), the graph's
/// `Document {entity_id}` ends completed with entities (Python neo4j driver).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_end_to_end_flow_through_the_bridge() {
    use common::serve::{client, Serve};
    use std::time::{Duration, Instant};
    let (Some(b), Some(g)) = (broker(), bolt()) else {
        return;
    };
    let mut flags = isolated(&b, "bridge92");
    flags.extend(graph_flags(&g));
    let data = tempfile::tempdir().unwrap();
    let token = "write-token-0123456789abcdef";
    let serve = Serve::start_with_env(data.path(), &flags, &[("ARCHON_WRITE_TOKEN", token)]);
    let document_id = format!("test-doc-{}", uuid::Uuid::new_v4());
    let r = client()
        .post(serve.url("/api/bridge/document"))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "document_id": document_id,
            "project_id": "test-project",
            "title": "test.py",
            "full_text": "def hello(): print('world')",
            "source_path": "test.py",
            "document_type": "code",
            "metadata": {}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let answer: serde_json::Value = r.json().await.unwrap();
    assert_eq!(answer["status"], "async", "{answer}");

    // The enrichment request is on the topic, as kcat reads it.
    let requests = services::kcat_values(&b, common::flag(&flags, "--enrichment-topic"));
    let request = requests
        .iter()
        .find(|v| v["document_id"] == document_id.as_str())
        .unwrap_or_else(|| panic!("no request for {document_id} in {requests:?}"));
    assert_eq!(request["project_name"], "test-project");
    assert_eq!(request["correlation_id"], answer["correlation_id"]);

    // The graph's Document ends completed with entities, read by the driver.
    let tools = services::Tools::locate().expect("the test tools");
    let started = Instant::now();
    loop {
        let doc = services::neo4j_document(&tools, &g, &document_id);
        if doc["status"] == "completed" {
            assert!(doc["entities_extracted"].as_u64().unwrap_or(0) > 0, "{doc}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not completed: {doc}\n{}",
            std::fs::read_to_string(&serve.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    serve.terminate();
}

/// Issue 29 item 5 on the production shape: a re-ingest removes the Neo4j
/// documents of removed files and carries moved files' enrichments, read
/// back by the Python neo4j driver.
#[test]
fn a_re_ingest_mirrors_the_tree_in_the_bolt_graph() {
    let (Some(b), Some(g)) = (broker(), bolt()) else {
        return;
    };
    let mut flags = isolated(&b, "mirror");
    flags.extend(graph_flags(&g));
    let project = unique_project("mirror");
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 50).unwrap();
    let data = tempfile::tempdir().unwrap();
    let ingest = |data: &std::path::Path| {
        let r = run_s(
            data,
            &with(
                &[
                    "ingest",
                    src.path().to_str().unwrap(),
                    "--project",
                    &project,
                    "--wait",
                    "--json",
                    "--timeout",
                    "120",
                ],
                &flags,
            ),
        );
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        r.json()
    };
    assert_eq!(n(&ingest(data.path()), "completed"), 50);
    let mut files: Vec<_> = archon_tui::engine::pipeline::discover::walk(src.path())
        .map(|p| p.unwrap())
        .collect();
    files.sort();
    for f in &files[..3] {
        std::fs::remove_file(f).unwrap();
    }
    for f in &files[10..12] {
        std::fs::rename(f, f.with_extension("moved")).unwrap();
    }
    let j = ingest(data.path());
    assert_eq!((n(&j, "deleted"), n(&j, "renamed")), (3, 2), "{j}");
    assert_eq!(
        n(&j, "published"),
        0,
        "moved files are not re-enriched: {j}"
    );
    assert_eq!(n(&j, "enriched"), 0, "{j}");
    let counts = graph_status_counts(&project);
    assert_eq!(counts.get("completed"), Some(&47), "{counts:?}");
    assert_eq!(counts.get("applied:1"), Some(&47), "{counts:?}");
    assert_eq!(counts.len(), 2, "nothing in any other status: {counts:?}");
}
