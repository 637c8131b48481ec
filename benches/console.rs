//! Console frame cost: one full frame at 200×60 with 100,000 DLQ entries,
//! unfiltered, filtered and grouped by fingerprint, on ratatui's TestBackend
//! (no terminal I/O); and fingerprinting + grouping 100,000 entries.
//! Run: `cargo bench --bench console`.

use std::sync::Arc;

use archon_tui::engine::dlq::DlqFilter;
use archon_tui::tui::{app::App, app::Focus, fixture, render, theme::Theme};
use criterion::{criterion_group, criterion_main, Criterion};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn frames(c: &mut Criterion) {
    let snapshot = Arc::new(fixture::snapshot_with_dlq(100_000));
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let mut app = App::new(Theme::dark());
    app.set_snapshot(snapshot);
    app.focus = Focus::Dlq;
    app.dlq.selected = 50_000;
    c.bench_function("frame_200x60_dlq_100k", |b| {
        b.iter(|| {
            term.draw(|f| render::draw(f, &app)).unwrap();
        })
    });
    app.set_filter(
        DlqFilter::parse("type:EncodingError project:web").unwrap(),
        "type:EncodingError project:web".into(),
    );
    c.bench_function("frame_200x60_dlq_100k_filtered", |b| {
        b.iter(|| {
            term.draw(|f| render::draw(f, &app)).unwrap();
        })
    });
    app.set_filter(DlqFilter::default(), String::new());
    app.dlq.grouped = true;
    c.bench_function("frame_200x60_dlq_100k_grouped", |b| {
        b.iter(|| {
            term.draw(|f| render::draw(f, &app)).unwrap();
        })
    });
}

/// Issue 19's budget: fingerprinting 100,000 entries and building the
/// grouped view ≤ 50 ms (rows are built as the DLQ index builds them: the
/// fingerprint of each reason, then the groups).
fn grouping(c: &mut Criterion) {
    let entries = fixture::many_dlq_entries(100_000);
    c.bench_function("fingerprint_and_group_100k", |b| {
        b.iter(|| {
            let rows = fixture::dlq_rows(&entries);
            let groups = archon_tui::engine::dlq::groups(rows.iter().map(|r| &**r));
            assert_eq!(groups.len(), 5);
            groups
        })
    });
}

/// The parts of `fingerprint_and_group_100k`, to see which costs what.
/// Issue 19's budget is the fingerprints plus the grouping:
/// `fingerprint_only_100k` + `group_only_100k` ≤ 50 ms. The rows'
/// other fields (copied strings, the Arc) are the DLQ index's cost, paid
/// once per entry as it is read, and are in `fingerprint_and_group_100k`.
fn grouping_parts(c: &mut Criterion) {
    let entries = fixture::many_dlq_entries(100_000);
    // As the index does it: the id straight into the interner, no String.
    c.bench_function("fingerprint_only_100k", |b| {
        b.iter(|| {
            entries
                .iter()
                .map(|e| {
                    archon_tui::engine::dlq::fingerprint::with_id(
                        &e.message.error_details.exception_type,
                        &e.message.failure_reason,
                        |id| id.len(),
                    )
                })
                .sum::<usize>()
        })
    });
    c.bench_function("pattern_only_100k", |b| {
        b.iter(|| {
            entries
                .iter()
                .map(|e| {
                    archon_tui::engine::dlq::fingerprint::pattern(&e.message.failure_reason).len()
                })
                .sum::<usize>()
        })
    });
    // The same reasons, allocated one after another (as the index sees
    // them: each just decoded, in cache) rather than spread across 100,000
    // entries of a few hundred bytes each.
    let reasons: Vec<String> = entries
        .iter()
        .map(|e| e.message.failure_reason.clone())
        .collect();
    c.bench_function("fingerprint_reasons_in_cache_100k", |b| {
        b.iter(|| {
            reasons
                .iter()
                .map(|r| {
                    archon_tui::engine::dlq::fingerprint::with_id("InjectedFailure", r, |id| {
                        id.len()
                    })
                })
                .sum::<usize>()
        })
    });
    let rows = fixture::dlq_rows(&entries);
    c.bench_function("group_only_100k", |b| {
        b.iter(|| archon_tui::engine::dlq::groups(rows.iter().map(|r| &**r)).len())
    });
}

criterion_group!(benches, frames, grouping, grouping_parts);
criterion_main!(benches);
