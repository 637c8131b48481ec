//! Resource bounds: peak RSS of a headless engine while N documents drain and
//! N undecodable messages fill the DLQ (CI: 10,000 each;
//! `ARCHON_RELIABILITY_FULL=1`: 100,000 each). The figure is printed
//! (`cargo test --test resources -- --nocapture`).

mod common;

use std::time::{Duration, Instant};

use common::serve::{client, get, Serve};
use common::{n, open_engine, put_on_request_topic, run_s};

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

#[test]
fn rss_stays_bounded_while_documents_drain_and_the_dlq_fills() {
    let docs: u64 = if std::env::var_os("ARCHON_RELIABILITY_FULL").is_some() {
        100_000
    } else {
        10_000
    };
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    archon_tui::corpus::generate(&src, docs as usize).unwrap();
    let data = tmp.path().join("data");
    let r = run_s(
        &data,
        &["ingest".into(), src.display().to_string(), "--json".into()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // As many undecodable messages, each a DLQ entry of its own.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = open_engine(&data, &[]).await;
        let records = (0..docs)
            .map(|i| {
                let payload =
                    format!("{{\"document_id\": \"bad-{i}\", \"note\": \"not a request\"}}");
                (format!("bad-{i}"), payload.into_bytes())
            })
            .collect();
        put_on_request_topic(&engine, records).await;
    });
    let s = Serve::start(&data, &[]);
    let pid = s.child.id();
    let started = Instant::now();
    let mut peak: f64 = 0.0;
    let mut samples = Vec::new();
    let health = rt.block_on(async {
        let c = client();
        let deadline = Instant::now() + Duration::from_secs(1800);
        loop {
            if let Some(r) = rss_mib(pid) {
                peak = peak.max(r);
                samples.push(r);
            }
            let (_, h) = get(&c, &s.url("/health")).await;
            let d = &h["documents"];
            let dlq_msgs = h["consumer"]["messages_processed"].as_u64().unwrap_or(0);
            if n(d, "completed") == docs && d["pending"] == 0 && dlq_msgs >= 2 * docs {
                // One more refresh, so the console-side DLQ view is loaded too.
                tokio::time::sleep(Duration::from_millis(600)).await;
                if let Some(r) = rss_mib(pid) {
                    peak = peak.max(r);
                }
                return h;
            }
            assert!(Instant::now() < deadline, "did not drain: {h}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let elapsed = started.elapsed();
    println!(
        "resources: {docs} documents drained and {docs} DLQ entries in {:.1} s; serve peak RSS {peak:.1} MiB (samples: first {:.1}, last {:.1})",
        elapsed.as_secs_f64(),
        samples.first().copied().unwrap_or(0.0),
        samples.last().copied().unwrap_or(0.0),
    );
    assert_eq!(
        n(&health["consumer"], "messages_processed"),
        2 * docs,
        "{health}"
    );
    let (code, _) = s.terminate();
    assert_eq!(code, 0);
    // The bound issue 8 sets for 100,000 documents: 150 MB (143 MiB), met
    // by the debug build too (measured 116.7 MiB at 100,000 + 100,000).
    assert!(peak < 143.0, "peak RSS {peak:.1} MiB");
}
