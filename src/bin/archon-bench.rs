//! End-to-end benchmark: one JSON line per scenario with docs/s, indexing and
//! enrichment latency percentiles and RSS. Scenarios so far: the embedded
//! default, and the intelligence service over HTTP on loopback at fixed
//! latencies (Little's law: docs/s ≈ concurrency / latency).
//!
//! `cargo run --release --bin archon-bench -- --files 10000`

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use archon_tui::backends::intelligence::{analyzer, ProcessRequest};
use archon_tui::engine::config::EngineConfig;
use archon_tui::engine::{consumer, drain, producer, Engine};
use clap::Parser;
use serde_json::json;

#[derive(Parser)]
#[command(about = "End-to-end benchmark of the archon-tui engine")]
struct Args {
    /// Generated files per scenario
    #[arg(long, default_value_t = 10_000)]
    files: usize,
    /// Scenarios to run: embedded, http (a loopback service at each --latency-ms)
    #[arg(long, value_delimiter = ',', default_value = "embedded,http")]
    scenario: Vec<String>,
    /// Latencies of the loopback intelligence service
    #[arg(long, value_delimiter = ',', default_value = "0,20")]
    latency_ms: Vec<u64>,
    /// Enrichments at once
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A loopback intelligence service answering with the real analyzer after
/// `latency`.
async fn start_service(latency: Duration) -> Result<String> {
    use axum::{routing::post, Json, Router};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new().route(
        "/process/document",
        post(move |Json(req): Json<ProcessRequest>| async move {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            Json(analyzer::analyze(&req.content, req.language.as_deref()))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}

async fn run(name: &str, args: &Args, url: Option<String>, latency_ms: Option<u64>) -> Result<()> {
    let tmp = tempfile_dir()?;
    let src = tmp.join("src");
    archon_tui::corpus::generate(&src, args.files)?;
    let mut cfg = EngineConfig::with_data_dir(tmp.join("data"));
    cfg.concurrency = args.concurrency;
    cfg.intelligence_url = url;
    let engine = Engine::open(cfg).await?;
    let started = Instant::now();
    let consumer_task = tokio::spawn(consumer::run(engine.clone()));
    let report = producer::ingest(&engine, &src, "bench", &|_| {}).await?;
    let indexed_in = started.elapsed();
    let drained = drain::wait_drained(&engine, Some(Duration::from_secs(3600)), &|_| {}).await?;
    let elapsed = started.elapsed();
    engine.stop();
    consumer_task.await??;
    anyhow::ensure!(drained, "{name}: did not drain within an hour");
    let p = drain::progress(&engine).await?;
    let (rss, hwm) = rss_mib();
    let enrich = engine.stats.enrich_summary();
    let index = engine.stats.index_summary();
    println!(
        "{}",
        json!({
            "scenario": name,
            "latency_ms": latency_ms,
            "files": args.files,
            "indexed": report.indexed,
            "completed": p.total(archon_tui::backends::graph::Status::Completed),
            "dlq": p.total(archon_tui::backends::graph::Status::Dlq),
            "concurrency": args.concurrency,
            "elapsed_s": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "index_phase_s": (indexed_in.as_secs_f64() * 1000.0).round() / 1000.0,
            "docs_per_sec": (report.indexed as f64 / elapsed.as_secs_f64()).round(),
            "index_ms": {"p50": index.p50_ms, "p95": index.p95_ms, "p99": index.p99_ms},
            "enrich_ms": {"p50": enrich.p50_ms, "p95": enrich.p95_ms, "p99": enrich.p99_ms},
            "rss_mib": (rss * 10.0).round() / 10.0,
            "peak_rss_mib_process": (hwm * 10.0).round() / 10.0,
        })
    );
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

/// A fresh directory under the temp dir for one scenario (removed after).
fn tempfile_dir() -> Result<std::path::PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("archon-bench-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    for s in &args.scenario {
        match s.as_str() {
            "embedded" => run("embedded", &args, None, None).await?,
            "http" => {
                for &ms in &args.latency_ms {
                    let url = start_service(Duration::from_millis(ms)).await?;
                    run("http", &args, Some(url), Some(ms)).await?;
                }
            }
            other => anyhow::bail!("unknown scenario {other:?} (embedded, http)"),
        }
    }
    Ok(())
}
