//! Console frame cost: one full frame at 200×60 with 100,000 DLQ entries,
//! unfiltered and filtered, on ratatui's TestBackend (no terminal I/O).
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
}

criterion_group!(benches, frames);
criterion_main!(benches);
