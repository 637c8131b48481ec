//! Hostile messages on the request topic: each lands in the DLQ with a
//! precise reason and no retries, the engine never panics, good work in the
//! same run keeps its pace, and nothing from a payload reaches the terminal
//! unsanitised.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common::{n, open_engine, put_on_request_topic, run_s, with};
use serde_json::{json, Value};

fn uuid(i: usize) -> String {
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        0xbad0_0000u32 as usize + i,
        i
    )
}

fn valid(i: usize) -> Value {
    json!({
        "document_id": uuid(i),
        "project_name": "hostile",
        "content_hash": "a".repeat(64),
        "file_path": format!("src/h{i}.py"),
        "document_type": "code",
        "language": "python",
        "indexed_at": "2026-11-23T10:00:00Z",
        "correlation_id": "7DC1A2B3-0000-4000-8000-000000000000",
        "retry_count": 0,
        "enrichment_type": "full",
        "priority": "normal"
    })
}

/// `count` hostile payloads of every kind the issue lists, with the error
/// type each must get. `big` is the size of the oversized ones.
fn hostile(count: usize, big: usize) -> Vec<(Vec<u8>, &'static str)> {
    let mut out = Vec::new();
    for i in 0..count {
        let (payload, kind): (Vec<u8>, &str) = match i % 14 {
            0 => (b"{not json".to_vec(), "SchemaValidationError"),
            1 => (
                format!("{{\"document_id\": \"{}\"", uuid(i)).into_bytes(),
                "SchemaValidationError",
            ),
            2 => {
                let mut v = valid(i);
                // Whitespace: neither a UUID nor a bridge id.
                v["document_id"] = json!("not a uuid");
                (v.to_string().into_bytes(), "SchemaValidationError")
            }
            3 => {
                let mut v = valid(i);
                v["content_hash"] = json!("xyz");
                (v.to_string().into_bytes(), "SchemaValidationError")
            }
            4 => {
                let mut v = valid(i);
                v["document_type"] = json!("spreadsheet");
                (v.to_string().into_bytes(), "SchemaValidationError")
            }
            5 => {
                let mut v = valid(i);
                v.as_object_mut().unwrap().remove("project_name");
                (v.to_string().into_bytes(), "SchemaValidationError")
            }
            6 => {
                let mut v = valid(i);
                v["retry_count"] = json!(4 + i);
                (v.to_string().into_bytes(), "SchemaValidationError")
            }
            7 => {
                // Terminal escapes in a valid request for an unknown document.
                let mut v = valid(i);
                v["file_path"] = json!(format!(
                    "src/\u{1b}[2J\u{1b}]52;c;ZXZpbA==\u{7}evil{i}\u{7}.py"
                ));
                v["project_name"] = json!("\u{1b}[31mred\u{1b}[0m");
                (v.to_string().into_bytes(), "DocumentNotFound")
            }
            8 => (
                vec![0xff, 0xfe, b'{', 0xc3, 0x28, b'}'],
                "SchemaValidationError",
            ),
            9 => {
                let mut v = valid(i);
                v["correlation_id"] = json!("C".repeat(100_000));
                (v.to_string().into_bytes(), "SchemaValidationError")
            }
            10 => {
                let mut b = b"\x1b[2J\x1b]52;c;ZXZpbA==\x07\x07raw escapes, not JSON ".to_vec();
                b.extend_from_slice(&[0x9b, 0x00, 0x7f]);
                (b, "SchemaValidationError")
            }
            11 => (b"[]".to_vec(), "SchemaValidationError"),
            12 => (b"".to_vec(), "SchemaValidationError"),
            _ if i < 14 * 3 => {
                // A few oversized payloads (not more: they are slow on purpose).
                let mut v = valid(i);
                v["file_path"] = json!("x".repeat(big));
                (v.to_string().into_bytes(), "SchemaValidationError")
            }
            _ => (b"null".to_vec(), "SchemaValidationError"),
        };
        out.push((payload, kind));
    }
    out
}

fn drain(data: &Path, flags: &[String]) -> Value {
    let r = run_s(data, &with(&["drain", "--json", "--timeout", "600"], flags));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    r.json()
}

fn hostile_run(broker: &[String], big: usize) {
    const GOOD: usize = 2_000;
    const BAD: usize = 1_400;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    archon_tui::corpus::generate(&src, GOOD).unwrap();
    let ingest = with(
        &[
            "ingest",
            src.to_str().unwrap(),
            "--project",
            "good",
            "--json",
        ],
        broker,
    );

    // A clean run for the pace of good work.
    let clean_dir = tmp.path().join("clean");
    let clean_flags = match broker {
        [] => vec![],
        _ => {
            let b = std::env::var("ARCHON_TEST_KAFKA").unwrap();
            common::isolated(&b, "hostile-clean")
        }
    };
    assert_eq!(
        run_s(
            &clean_dir,
            &with(
                &[
                    "ingest",
                    src.to_str().unwrap(),
                    "--project",
                    "good",
                    "--json"
                ],
                &clean_flags
            )
        )
        .code,
        0
    );
    let clean = drain(&clean_dir, &clean_flags);

    let data = tmp.path().join("data");
    assert_eq!(run_s(&data, &ingest).code, 0);
    let bad = hostile(BAD, big);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = open_engine(&data, broker).await;
        let records = bad
            .iter()
            .enumerate()
            .map(|(i, (p, _))| (format!("hostile-{i}"), p.clone()))
            .collect();
        put_on_request_topic(&engine, records).await;
    });
    let mixed = drain(&data, broker);
    let clean_ms = n(&clean, "elapsed_ms");
    let mixed_ms = n(&mixed, "elapsed_ms");
    println!(
        "hostile: broker {}: {GOOD} good documents in {clean_ms} ms clean, {mixed_ms} ms with {BAD} hostile messages ({}-byte oversized ones)",
        if broker.is_empty() { "embedded" } else { "kafka" },
        big
    );
    assert_eq!(n(&mixed, "completed"), GOOD as u64, "{mixed}");
    assert_eq!(n(&mixed, "pending"), 0);
    assert_eq!(n(&mixed, "lag"), 0);
    // Good work keeps its pace. The two runs are seconds apart on a shared
    // 2-core machine, so the bound is loose (4x + 2 s; one CI run saw 2.4x
    // while another build ran): it catches hostile messages that are
    // retried with backoff or block the pipeline, which cost far more.
    assert!(
        mixed_ms <= 4 * clean_ms + 2000,
        "good work slowed from {clean_ms} ms to {mixed_ms} ms"
    );

    // Every hostile message is in the DLQ, parked at once with a precise reason.
    let rt2 = tokio::runtime::Runtime::new().unwrap();
    let entries = rt2.block_on(async {
        let engine = open_engine(&data, broker).await;
        archon_tui::engine::dlq::load(&engine).await.unwrap()
    });
    assert_eq!(entries.len(), BAD, "one DLQ entry per hostile message");
    // The console's index lists the same entries, and opens any in full.
    let (view, reread) = rt2.block_on(async {
        let engine = open_engine(&data, broker).await;
        let mut index = archon_tui::engine::dlq::index::DlqIndex::new();
        let dlq_count = entries.len() as u64;
        let mut view = index.refresh(&engine, dlq_count).await.unwrap();
        // A second refresh reads nothing new and changes nothing.
        let again = index.refresh(&engine, dlq_count).await.unwrap();
        assert!(Arc::ptr_eq(&view.rows, &again.rows));
        view.rows = again.rows;
        let e = &entries[entries.len() / 2];
        let one = archon_tui::engine::dlq::load_one(&engine, e.partition, e.id)
            .await
            .unwrap()
            .expect("the entry is on the topic");
        (view, one)
    });
    assert_eq!(view.rows.len(), entries.len());
    let mut row_ids: Vec<(i32, i64)> = view.rows.iter().map(|r| (r.partition, r.id)).collect();
    let mut entry_ids: Vec<(i32, i64)> = entries.iter().map(|e| (e.partition, e.id)).collect();
    row_ids.sort_unstable();
    entry_ids.sort_unstable();
    assert_eq!(row_ids, entry_ids);
    assert_eq!(
        view.by_type,
        archon_tui::engine::dlq::histogram(entries.iter())
    );
    assert_eq!(
        serde_json::to_value(&reread).unwrap(),
        serde_json::to_value(&entries[entries.len() / 2]).unwrap()
    );
    let mut expected: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, k) in &bad {
        *expected.entry(k).or_default() += 1;
    }
    let got = archon_tui::engine::dlq::histogram(entries.iter());
    for (k, v) in &expected {
        assert_eq!(
            got.get(*k).copied().unwrap_or(0) as usize,
            *v,
            "{k}: {got:?}"
        );
    }
    for e in &entries {
        let m = &e.message;
        assert_eq!(m.failure_count, 1, "no retries for {}", m.failure_reason);
        assert!(
            m.failure_reason.len() > 20 && m.failure_reason.len() < 2_000,
            "reason is precise and bounded: {}",
            m.failure_reason
        );
        if e.error_type() == "SchemaValidationError" {
            let r = &m.failure_reason;
            assert!(
                [
                    "not valid UTF-8",
                    "a §3.1 request is at most",
                    "not a valid enrichment request",
                    "document_id",
                    "content_hash",
                    "correlation_id",
                    "retry_count",
                    "project_name",
                    "file_path",
                ]
                .iter()
                .any(|s| r.contains(s)),
                "{r}"
            );
        }
    }
    // The console shows them without executing anything: table, detail of
    // every entry, and the whole screen.
    let mut app = archon_tui::tui::app::App::new(archon_tui::tui::theme::Theme::dark());
    let mut snap = archon_tui::engine::handle::Snapshot::empty();
    snap.dlq = view.rows.clone();
    app.set_snapshot(Arc::new(snap));
    app.focus = archon_tui::tui::app::Focus::Dlq;
    use archon_tui::tui::fixture::render as fixture;
    for i in 0..entries.len().min(60) {
        app.dlq.selected = i;
        app.overlay = archon_tui::tui::app::Overlay::None;
        let screen = fixture(200, 60, |f| archon_tui::tui::render::draw(f, &app));
        assert!(!screen.contains('\u{1b}'));
        app.overlay = archon_tui::tui::app::Overlay::Detail;
        // Before the full record arrives (the row), and after.
        for full in [false, true] {
            let row = app.selected_entry().unwrap();
            app.dlq_detail = full.then(|| {
                entries
                    .iter()
                    .find(|e| e.id == row.id && e.partition == row.partition)
                    .unwrap()
                    .clone()
            });
            let detail = fixture(120, 40, |f| {
                archon_tui::tui::dlq::render_detail(f, f.area(), &app)
            });
            assert_eq!(detail.contains("reading the full entry"), !full);
            assert!(
                !detail.chars().any(|c| c.is_control() && c != '\n'),
                "{detail}"
            );
        }
    }
}

#[test]
fn hostile_messages_go_to_the_dlq_precisely_on_the_embedded_broker() {
    hostile_run(&[], 10 * 1024 * 1024);
}

#[test]
fn hostile_messages_go_to_the_dlq_precisely_on_kafka() {
    let Some(b) = common::broker() else { return };
    // Apache Kafka's default message.max.bytes is ~1 MB.
    hostile_run(&common::isolated(&b, "hostile"), 900 * 1024);
}
