//! `archon-tui trace` (seed 004 "Trace Complete Event Flow") through the
//! binary: a document that failed, was replayed and completed shows each
//! step with where it is on its topic, found by id, path or correlation id;
//! on the embedded default and on Apache Kafka.

mod common;

use common::{n, run_s, with};
use serde_json::Value;

fn trace_a_document_through_failure_replay_and_completion(backends: &[String]) {
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 12).unwrap();
    let data = tempfile::tempdir().unwrap();
    let j = common::park_all(
        data.path(),
        src.path(),
        &with(&["--project", "tr"], backends),
    );
    assert_eq!(n(&j, "dlq"), 12, "{j}");
    let r = run_s(
        data.path(),
        &with(
            &["dlq", "replay", "--confirm", "--wait", "--json"],
            backends,
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&r.json(), "completed"), 12, "{}", r.stdout);

    let list = run_s(data.path(), &with(&["status", "--json"], backends)).json();
    assert_eq!(n(&list["counts"], "completed"), 12);
    let file = walk_one(src.path());
    let trace = |id: &str| -> Value {
        let r = run_s(data.path(), &with(&["trace", id, "--json"], backends));
        assert_eq!(r.code, 0, "{id}: {}", r.stderr);
        r.json()
    };
    let by_path = trace(&format!("tr/{file}"));
    let doc = by_path["document_id"].as_str().unwrap().to_string();
    let kinds: Vec<&str> = by_path["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .filter(|k| *k != "graph" && *k != "call failed")
        .collect();
    // The replay dispatches, then clears the entry: the two may share a
    // millisecond, so their order is not asserted.
    assert_eq!(kinds[..2], ["request", "dlq"], "{by_path}");
    let mut middle = kinds[2..4].to_vec();
    middle.sort();
    assert_eq!(middle, ["dlq cleared", "request"], "{by_path}");
    assert_eq!(kinds[4..], ["completed"], "{by_path}");
    for e in by_path["events"].as_array().unwrap() {
        if e["kind"] != "graph" && e["kind"] != "call failed" {
            assert!(e["offset"].as_i64().unwrap() >= 0, "{e}");
            assert!(e["at_ms"].as_i64().unwrap() > 0, "{e}");
        }
    }
    let dlq = by_path["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "dlq")
        .unwrap();
    assert_eq!(dlq["attempt"], 1, "one attempt made: {dlq}");
    // Every failed call is in the history, before the DLQ entry.
    let calls: Vec<&Value> = by_path["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "call failed")
        .collect();
    assert_eq!(calls.len(), 1, "{by_path}");
    assert_eq!(calls[0]["attempt"], 0, "{by_path}");
    assert!(calls[0]["outcome"]
        .as_str()
        .unwrap()
        .contains("InjectedFailure"));
    assert!(dlq["outcome"].as_str().unwrap().contains("InjectedFailure"));
    assert_eq!(by_path["document"]["enrichment_status"], "completed");
    assert_eq!(by_path["document"]["replay_count"], 1);

    // The same document by its id, by its bare path, and by the correlation
    // id of its first request.
    assert_eq!(trace(&doc)["document_id"], doc.as_str());
    assert_eq!(trace(&file)["document_id"], doc.as_str());
    let first_corr = by_path["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "request")
        .unwrap()["correlation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let by_corr = trace(&first_corr.to_lowercase());
    assert_eq!(by_corr["document_id"], doc.as_str());
    // One history whatever the way in (the last line, "status now", is
    // stamped with the time of the look).
    let upto_now = |t: &Value| {
        let e = t["events"].as_array().unwrap().clone();
        e[..e.len() - 1].to_vec()
    };
    assert_eq!(upto_now(&by_corr), upto_now(&by_path));

    // Human output and an unknown id.
    let text = run_s(data.path(), &with(&["trace", &doc], backends)).stdout;
    assert!(
        text.contains("dlq cleared") && text.contains("completed"),
        "{text}"
    );
    let r = run_s(data.path(), &with(&["trace", "no-such-thing"], backends));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("nothing matches"), "{}", r.stderr);
}

/// One file of the corpus, relative to its root.
fn walk_one(root: &std::path::Path) -> String {
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                return p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            }
        }
    }
    panic!("empty corpus")
}

#[test]
fn trace_on_the_embedded_default() {
    trace_a_document_through_failure_replay_and_completion(&[]);
}

#[test]
fn trace_on_kafka() {
    let Some(b) = common::broker() else {
        return;
    };
    trace_a_document_through_failure_replay_and_completion(&common::isolated(&b, "trace"));
}

/// Seed 001 §3.4's optional progress topic: off by default; with
/// --progress-events each enrichment says "analysis" then "recording" there,
/// and the trace shows them between the request and the completed event.
#[test]
fn progress_events_when_enabled() {
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 5).unwrap();
    let data = tempfile::tempdir().unwrap();
    let path = src.path().to_str().unwrap();
    let on = ["--progress-events", "true"];
    let mut args = vec!["ingest", path, "--project", "pg", "--wait", "--json"];
    args.extend(on);
    let r = common::run(data.path(), &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = walk_one(src.path());
    let r = common::run(
        data.path(),
        &[
            "trace",
            &format!("pg/{file}"),
            "--json",
            "--progress-events",
            "true",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = r.json();
    let kinds: Vec<&str> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .filter(|k| *k != "graph" && *k != "call failed")
        .collect();
    assert_eq!(
        kinds,
        ["request", "progress", "progress", "completed"],
        "{t}"
    );
    let outcomes: Vec<&str> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "progress")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert!(outcomes[0].starts_with("analysis 10%"), "{outcomes:?}");
    assert!(outcomes[1].starts_with("recording 90%"), "{outcomes:?}");

    // Off (the default): no progress topic is read or written.
    let other = tempfile::tempdir().unwrap();
    let r = common::run(
        other.path(),
        &["ingest", path, "--project", "pg", "--wait", "--json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = common::run(other.path(), &["trace", &format!("pg/{file}"), "--json"]).json();
    assert!(!t.to_string().contains("\"progress\""), "{t}");
}
