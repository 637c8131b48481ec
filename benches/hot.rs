//! The hot pieces on their own: request decode/encode, the analyzer per KB
//! of source, rollout bucketing, and the DLQ filter over 100,000 rows.
//! Run: `cargo bench --bench hot` (criterion prints time per iteration and,
//! where it applies, throughput).

use archon_tui::backends::intelligence::analyzer;
use archon_tui::engine::dlq::DlqFilter;
use archon_tui::engine::fleet::rollout::{bucket, RolloutState};
use archon_tui::events::{EnrichmentRequest, SEED_REQUEST};
use archon_tui::tui::fixture;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

fn events(c: &mut Criterion) {
    let payload = SEED_REQUEST.as_bytes();
    let mut g = c.benchmark_group("request");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode", |b| {
        b.iter(|| EnrichmentRequest::decode(black_box(payload)).unwrap())
    });
    let req = EnrichmentRequest::decode(payload).unwrap();
    g.bench_function("encode", |b| b.iter(|| black_box(&req).encode()));
    g.finish();
}

fn analyzer_per_kb(c: &mut Criterion) {
    // The generated corpus: one file of each kind, concatenated per language.
    let dir = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(dir.path(), 8).unwrap();
    let mut files: Vec<_> = walk(dir.path());
    files.sort();
    let mut g = c.benchmark_group("analyzer");
    let mut seen = std::collections::HashSet::new();
    for path in files {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let lang = match ext {
            "rs" => "rust",
            "py" => "python",
            "ts" => "typescript",
            "go" => "go",
            _ => continue,
        };
        if !seen.insert(lang) {
            continue;
        }
        // ~64 KB of that language: throughput in bytes gives the cost per KB.
        let one = std::fs::read_to_string(&path).unwrap();
        let content = one.repeat(64 * 1024 / one.len().max(1));
        g.throughput(Throughput::Bytes(content.len() as u64));
        g.bench_function(format!("{lang}_64KB"), |b| {
            b.iter(|| analyzer::analyze(black_box(&content), Some(lang)))
        });
    }
    g.finish();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn rollout(c: &mut Criterion) {
    let state = RolloutState {
        enabled: true,
        percentage: 40,
        enabled_projects: vec!["pilot".into()],
    };
    let mut g = c.benchmark_group("rollout");
    g.throughput(Throughput::Elements(1));
    g.bench_function("bucket", |b| b.iter(|| bucket(black_box("omniarchon"))));
    g.bench_function("use_async", |b| {
        b.iter(|| state.use_async(black_box("omniarchon")))
    });
    g.finish();
}

fn dlq_filter(c: &mut Criterion) {
    let rows = fixture::snapshot_with_dlq(100_000).dlq;
    let mut g = c.benchmark_group("dlq_filter_100k");
    g.throughput(Throughput::Elements(rows.len() as u64));
    for text in [
        "type:EncodingError project:web",
        "file_4242",
        "corr:7DC1746A-42A0",
    ] {
        let f = DlqFilter::parse(text).unwrap();
        g.bench_function(text, |b| {
            b.iter(|| rows.iter().filter(|r| f.matches(&***r)).count())
        });
    }
    g.finish();
}

criterion_group!(benches, events, analyzer_per_kb, rollout, dlq_filter);
criterion_main!(benches);
