//! The benchmark binary runs its scenarios end to end and prints one JSON
//! line each (figures are not judged here: see README "Performance").

use std::process::Command;

#[test]
fn archon_bench_prints_one_line_per_scenario() {
    let out = Command::new(env!("CARGO_BIN_EXE_archon-bench"))
        .args([
            "--files",
            "200",
            "--scenario",
            "embedded,http",
            "--latency-ms",
            "0,5",
        ])
        .output()
        .expect("run archon-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 3, "embedded + http at 0 and 5 ms");
    for l in &lines {
        assert_eq!(l["completed"], 200, "{l}");
        assert_eq!(l["dlq"], 0, "{l}");
        assert!(l["docs_per_sec"].as_f64().unwrap() > 0.0, "{l}");
        for k in ["p50", "p95", "p99"] {
            assert!(l["enrich_ms"][k].as_f64().unwrap() > 0.0, "{l}");
            assert!(l["index_ms"][k].as_f64().unwrap() > 0.0, "{l}");
        }
        assert!(l["peak_rss_mib_process"].as_f64().unwrap() > 1.0, "{l}");
    }
    assert_eq!(lines[2]["latency_ms"], 5);
    // A 5 ms service cannot answer faster than 5 ms.
    assert!(
        lines[2]["enrich_ms"]["p50"].as_f64().unwrap() >= 5.0,
        "{}",
        lines[2]
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_archon-bench"))
        .args(["--files", "10", "--scenario", "nope"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown scenario"));
}
