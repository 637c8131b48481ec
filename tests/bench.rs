//! The benchmark binary runs its scenarios end to end and prints one JSON
//! line each (figures are not judged here: see docs/performance.md).

mod common;

use std::process::Command;

fn bench_lines(args: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_archon-bench"))
        .args(args)
        .output()
        .expect("run archon-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn archon_bench_prints_one_line_per_scenario() {
    let lines = bench_lines(&[
        "--files",
        "200",
        "--scenario",
        "embedded,noop,http,rollback,keys",
        "--latency-ms",
        "0,5",
    ]);
    let keys = lines.last().unwrap().clone();
    let rollback = lines[lines.len() - 2].clone();
    let lines = &lines[..lines.len() - 2];
    assert_eq!(lines.len(), 4, "embedded, noop, http at 0 and 5 ms");
    assert_eq!(lines[1]["intelligence"], "noop");
    for l in lines {
        assert_eq!(l["completed"], 200, "{l}");
        assert_eq!(l["dlq"], 0, "{l}");
        assert!(l["docs_per_sec"].as_f64().unwrap() > 0.0, "{l}");
        for k in ["p50", "p95", "p99"] {
            assert!(l["enrich_ms"][k].as_f64().unwrap() > 0.0, "{l}");
            assert!(l["index_ms"][k].as_f64().unwrap() > 0.0, "{l}");
        }
        assert!(l["peak_rss_mib_process"].as_f64().unwrap() > 1.0, "{l}");
    }
    assert_eq!(lines[3]["latency_ms"], 5);
    // A 5 ms service cannot answer faster than 5 ms.
    assert!(
        lines[3]["enrich_ms"]["p50"].as_f64().unwrap() >= 5.0,
        "{}",
        lines[3]
    );
    // Rollback under load: it took effect, and nothing completed after it.
    assert_eq!(rollback["scenario"], "rollback", "{rollback}");
    assert!(
        rollback["in_flight_when_asked"].as_i64().unwrap() > 0,
        "{rollback}"
    );
    assert_eq!(rollback["in_flight_after"], 0, "{rollback}");
    assert_eq!(rollback["completed_in_the_500_ms_after"], 0, "{rollback}");
    assert!(
        rollback["pending_after"].as_u64().unwrap() > 0,
        "{rollback}"
    );
    // Keys were pressed while the engine worked, and each reached a frame.
    assert_eq!(keys["scenario"], "keys", "{keys}");
    assert!(keys["keys"].as_u64().unwrap() >= 1, "{keys}");
    assert!(
        keys["key_to_frame_ms"]["max"].as_f64().unwrap() > 0.0,
        "{keys}"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_archon-bench"))
        .args(["--files", "10", "--scenario", "nope"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown scenario"));
}

#[test]
fn archon_bench_on_kafka_reports_the_raw_ceiling() {
    let Some(broker) = common::broker() else {
        return;
    };
    let lines = bench_lines(&[
        "--files",
        "300",
        "--scenario",
        "kafka,raw",
        "--kafka-brokers",
        &broker,
    ]);
    assert_eq!(lines.len(), 3, "kafka, kafka-noop, raw: {lines:?}");
    for l in &lines[..2] {
        assert_eq!(l["broker"], "kafka", "{l}");
        assert_eq!(l["completed"], 300, "{l}");
    }
    let raw = &lines[2];
    assert_eq!(raw["scenario"], "raw");
    assert_eq!(raw["messages"], 300);
    assert!(raw["msgs_per_sec"].as_f64().unwrap() > 0.0, "{raw}");
    assert!(raw["engine_over_raw"].as_f64().unwrap() > 0.0, "{raw}");
}
