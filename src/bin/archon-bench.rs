//! End-to-end benchmark: one JSON line per scenario with docs/s, indexing and
//! enrichment latency percentiles and RSS. Scenarios so far: the embedded
//! default, and the intelligence service over HTTP on loopback at fixed
//! latencies (Little's law: docs/s ≈ concurrency / latency).
//!
//! `cargo run --release --bin archon-bench -- --files 10000`
#![deny(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use archon_tui::backends::graph::Status;
use archon_tui::backends::intelligence::{
    analyzer, Analysis, Intelligence, IntelligenceError, ProcessRequest,
};
use archon_tui::engine::config::EngineConfig;
use archon_tui::engine::{pipeline::drain, pipeline::producer, Engine};
use archon_tui::runtime::{Ended, RunOptions, Running};
use clap::Parser;
use serde_json::json;

#[derive(Parser, Clone)]
#[command(about = "End-to-end benchmark of the archon-tui engine")]
struct Args {
    /// Generated files per scenario
    #[arg(long, default_value_t = 10_000)]
    files: usize,
    /// Scenarios: embedded, noop (no-op enrichment), http (a loopback service
    /// at each --latency-ms), rollback (effective time under load), keys
    /// (key-to-screen while the engine drains), kafka, kafka-http (http
    /// through Kafka, optionally a Bolt graph), real (a real source tree,
    /// --tree, beside a naive read+hash+insert baseline; on Kafka and a Bolt
    /// graph when --kafka-brokers / --graph-uri are given), kafka-noop and raw (need --kafka-brokers; raw is a plain librdkafka
    /// consumer, and kcat when installed, reading the same messages: the
    /// ceiling kafka-noop is compared with), bridge (seed §9.3's load test
    /// through POST /api/bridge/document(s) beside a tree ingest), watch
    /// (a watched tree's edits, each timed until enriched), bolt-ceiling
    /// (the graph's own rate for the index rows: plain UNWIND … MERGE),
    /// scale (the embedded default at each --scale-files, with the data
    /// dir's bytes per document by table), levers (needs --kafka-brokers:
    /// each lever from a cold `archon-tui` process against three `serve`
    /// members, until every member's /health shows it)
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "embedded,noop,http,rollback,keys"
    )]
    scenario: Vec<String>,
    /// Latencies of the loopback intelligence service
    #[arg(long, value_delimiter = ',', default_value = "0,20")]
    latency_ms: Vec<u64>,
    /// Enrichments at once
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Kafka bootstrap servers for the kafka scenarios (fresh topics per run)
    #[arg(long, env = "ARCHON_BENCH_KAFKA")]
    kafka_brokers: Option<String>,
    /// Bolt graph for the kafka scenarios (else the embedded graph)
    #[arg(long, env = "ARCHON_BENCH_BOLT")]
    graph_uri: Option<String>,
    /// Extra librdkafka properties for the engine, as the product's own
    /// `--kafka-option KEY=VALUE` (A/B of client settings)
    #[arg(long = "kafka-option", value_name = "KEY=VALUE")]
    kafka_option: Vec<String>,
    /// The source tree of the `real` scenario (default: the crate sources
    /// a cargo build leaves under $CARGO_HOME/registry/src)
    #[arg(long)]
    tree: Option<std::path::PathBuf>,
    /// The sizes of the `scale` scenario (generated files, one run each)
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,300000")]
    scale_files: Vec<usize>,
    /// Runs of the `scale` scenario's first size; its median rate is the
    /// reference (a 10k run lasts ~2 s, and one run's rate varies by a fifth)
    #[arg(long, default_value_t = 3)]
    scale_reference_runs: usize,
}

/// Where a scenario's engine keeps its data and which servers it uses.
#[derive(Default, Clone)]
struct Setup {
    intelligence_url: Option<String>,
    noop: bool,
    kafka: Option<String>,
    graph: Option<String>,
    /// Names this run's topics and consumer group (fresh per run).
    tag: u128,
    /// The loopback service's own timing, when there is one.
    service: Option<Arc<ServiceClock>>,
    /// Print the data dir's bytes per document, by table.
    account_bytes: bool,
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

/// After a run (its engine dropped): the bytes malloc has handed out and
/// not had back, then RSS once malloc returned its free pages to the system.
/// The gap between RSS and the first is memory kept by the allocator, not by
/// the engine. glibc only (None elsewhere).
fn heap_in_use_then_trim() -> (Option<f64>, Option<f64>) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: plain glibc calls with no pointers handed over.
        let info = unsafe { libc::mallinfo2() };
        let in_use = (info.uordblks + info.hblkhd) as f64 / 1048576.0;
        unsafe { libc::malloc_trim(0) };
        let (rss, _) = rss_mib();
        (Some(round3(in_use)), Some((rss * 10.0).round() / 10.0))
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        (None, None)
    }
}

/// CPU seconds (user + system, every thread) this process has used so far.
fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; on failure it is unread.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } != 0 {
        return f64::NAN;
    }
    // SAFETY: filled by the successful call above.
    let usage = unsafe { usage.assume_init() };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Time the loopback service spent answering, from inside its handler:
/// Little's law on this is the ceiling the engine is compared with.
#[derive(Default)]
struct ServiceClock {
    requests: std::sync::atomic::AtomicU64,
    busy_us: std::sync::atomic::AtomicU64,
}

impl ServiceClock {
    fn mean_ms(&self) -> Option<f64> {
        use std::sync::atomic::Ordering::Relaxed;
        let n = self.requests.load(Relaxed);
        (n > 0).then(|| self.busy_us.load(Relaxed) as f64 / n as f64 / 1000.0)
    }
}

/// A loopback intelligence service answering with the real analyzer after
/// `latency`.
async fn start_service(latency: Duration) -> Result<(String, Arc<ServiceClock>)> {
    use axum::{routing::post, Json, Router};
    use std::sync::atomic::Ordering::Relaxed;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let clock = Arc::new(ServiceClock::default());
    let timing = clock.clone();
    let app = Router::new().route(
        "/process/document",
        post(move |Json(req): Json<ProcessRequest>| async move {
            let started = std::time::Instant::now();
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let answer = analyzer::analyze(&req.content, req.language.as_deref());
            timing
                .busy_us
                .fetch_add(started.elapsed().as_micros() as u64, Relaxed);
            timing.requests.fetch_add(1, Relaxed);
            Json(answer)
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((format!("http://{addr}"), clock))
}

/// Answers every request with an empty analysis at once: what the engine
/// costs when enrichment costs nothing.
struct NoopIntelligence;

#[async_trait::async_trait]
impl Intelligence for NoopIntelligence {
    fn kind(&self) -> &'static str {
        "noop"
    }
    async fn process(
        &self,
        _req: &ProcessRequest,
        _attempt: u32,
    ) -> Result<Analysis, IntelligenceError> {
        Ok(Analysis {
            results: Default::default(),
            entities: Vec::new(),
        })
    }
}

fn nonce() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
        % 1_000_000_000_000
}

async fn open(dir: &std::path::Path, args: &Args, setup: &Setup) -> Result<Arc<Engine>> {
    let mut cfg = if setup.kafka.is_some() || setup.graph.is_some() {
        // The product's own configuration path, with fresh topics.
        let mut argv = vec![
            "archon-tui".to_string(),
            "status".into(),
            "--data-dir".into(),
            dir.join("data").display().to_string(),
        ];
        if let Some(k) = &setup.kafka {
            argv.extend(["--kafka-brokers".into(), k.clone()]);
            for o in &args.kafka_option {
                argv.extend(["--kafka-option".into(), o.clone()]);
            }
        }
        if let Some(g) = &setup.graph {
            argv.extend(["--graph-uri".into(), g.clone()]);
        }
        let cli = archon_tui::cli::Cli::try_parse_from(argv)?;
        let mut cfg = archon_tui::config::resolve(&cli.global.settings)?;
        // This run's own topics and group.
        let t = |kind: &str| format!("bench.{}.{kind}", setup.tag);
        cfg.enrich_topic = t("enrich-document.v1");
        cfg.dlq_topic = t("enrich-document-dlq.v1");
        cfg.completed_topic = t("enrichment-completed.v1");
        cfg.group_id = t("group");
        cfg
    } else {
        EngineConfig::with_data_dir(dir.join("data"))
    };
    cfg.concurrency = args.concurrency;
    cfg.intelligence_url = setup.intelligence_url.clone();
    let noop = setup.noop;
    archon_tui::runtime::open_engine_with(cfg, |b| {
        if noop {
            b.intelligence = Arc::new(NoopIntelligence);
        }
    })
    .await
}

/// Index `--files` generated files and drain them; one JSON line. Returns
/// docs/s and the request topic.
async fn run(
    name: &str,
    args: &Args,
    setup: Setup,
    extra: serde_json::Value,
) -> Result<(f64, String)> {
    let tmp = tempfile_dir()?;
    let src = tmp.join("src");
    archon_tui::corpus::generate(&src, args.files)?;
    let engine = open(&tmp, args, &setup).await?;
    let project = format!("bench-{}", nonce());
    let (report, indexed_in, elapsed, calls) =
        ingest_and_drain(name, &engine, &src, &project).await?;
    let p = drain::progress(&engine).await?;
    let project_counts = p.counts.get(&project).cloned().unwrap_or_default();
    let count = |s: Status| project_counts.get(&s).copied().unwrap_or(0);
    let (rss, hwm) = rss_mib();
    let enrich = engine.stats.enrich_summary();
    let index = engine.stats.index_summary();
    let docs_per_sec = report.indexed as f64 / elapsed.as_secs_f64();
    let mut line = json!({
        "scenario": name,
        "broker": engine.backends.broker.kind(),
        "graph": engine.backends.graph.kind(),
        "intelligence": engine.backends.intelligence.kind(),
        "files": args.files,
        "indexed": report.indexed,
        "completed": count(Status::Completed),
        "dlq": count(Status::Dlq),
        "concurrency": args.concurrency,
        "elapsed_s": round3(elapsed.as_secs_f64()),
        "index_phase_s": round3(indexed_in.as_secs_f64()),
        "docs_per_sec": docs_per_sec.round(),
        "index_ms": {"p50": index.p50_ms, "p95": index.p95_ms, "p99": index.p99_ms},
        "enrich_ms": {"p50": enrich.p50_ms, "p95": enrich.p95_ms, "p99": enrich.p99_ms},
        "rss_mib": (rss * 10.0).round() / 10.0,
        "peak_rss_mib_process": (hwm * 10.0).round() / 10.0,
    });
    if let Some(mean) = setup.service.as_ref().and_then(|c| c.mean_ms()) {
        let little = args.concurrency as f64 / (mean / 1000.0);
        // The same ratio over the window the calls ran in: the run's own
        // figure minus the group join before the first and the tail after
        // the last (fixed costs a longer run spreads thinner).
        let calling = calls.last_ended_s - calls.first_began_s;
        merge(
            &mut line,
            json!({
                "service_mean_ms": round3(mean),
                "littles_law_at_service_mean": little.round(),
                "of_littles_law_at_service_mean": round3(docs_per_sec / little),
                "calls": {
                    "first_began_s": round3(calls.first_began_s),
                    "last_ended_s": round3(calls.last_ended_s),
                    "mean_slots_in_use": round3(calls.mean_in_use),
                    "of_littles_law_while_calling":
                        round3(report.indexed as f64 / calling.max(1e-9) / little),
                },
            }),
        );
    }
    if let (Some(i), Some(d)) = (
        extra["apart"]["index_s"].as_f64(),
        extra["apart"]["drain_s"].as_f64(),
    ) {
        merge(
            &mut line,
            json!({"together_over_apart": round3(elapsed.as_secs_f64() / (i + d))}),
        );
    }
    if let Some(ceiling) = extra["bolt_ceiling_rows_per_sec"].as_f64() {
        merge(
            &mut line,
            json!({"of_bolt_ceiling": round3(docs_per_sec / ceiling)}),
        );
    }
    merge(&mut line, extra);
    if setup.account_bytes {
        let docs = report.indexed.max(1);
        merge(&mut line, bytes_per_document(&engine.cfg.data_dir, docs)?);
    }
    println!("{line}");
    std::fs::remove_dir_all(&tmp).ok();
    Ok((docs_per_sec, engine.cfg.enrich_topic.clone()))
}

/// The data dir's size and its bytes per document: the database's pages by
/// table (SQLite's dbstat; a table's indexes count with it), and the files.
fn bytes_per_document(data_dir: &std::path::Path, docs: u64) -> Result<serde_json::Value> {
    let db = data_dir.join(archon_tui::backends::sqlite::DB_FILE);
    let conn = rusqlite::Connection::open_with_flags(
        &db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut by_table = serde_json::Map::new();
    let mut st = conn.prepare(
        "SELECT coalesce(m.tbl_name, s.name) AS t, sum(s.pgsize) FROM dbstat s
         LEFT JOIN sqlite_schema m ON m.name = s.name GROUP BY t ORDER BY 2 DESC",
    )?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (table, bytes) = row?;
        by_table.insert(table, json!((bytes as f64 / docs as f64).round()));
    }
    let mut files = 0u64;
    for entry in std::fs::read_dir(data_dir)? {
        let meta = entry?.metadata()?;
        if meta.is_file() {
            files += meta.len();
        }
    }
    Ok(json!({
        "data_dir_mib": (files as f64 / 1048576.0 * 10.0).round() / 10.0,
        "data_dir_bytes_per_doc": (files as f64 / docs as f64).round(),
        "db_bytes_per_doc_by_table": by_table,
    }))
}

/// Issue 31 item 6: each lever from a cold shell. Three `archon-tui serve`
/// members (the release binary beside this one) on fresh topics; for each
/// lever a new `archon-tui` process on an empty data dir; the time from its
/// start until all three members' /health show the change, and until it
/// exited. Five rounds; the median and the worst of each.
async fn cold_levers(brokers: &str) -> Result<()> {
    use std::io::BufRead;
    let bin = std::env::current_exe()?.with_file_name("archon-tui");
    anyhow::ensure!(
        bin.exists(),
        "{} is missing: cargo build --release first",
        bin.display()
    );
    let tag = nonce();
    let t = |kind: &str| format!("bench.{tag}.{kind}");
    let flags = [
        "--kafka-brokers".to_string(),
        brokers.to_string(),
        "--enrichment-topic".into(),
        t("enrich-document.v1"),
        "--dlq-topic".into(),
        t("enrich-document-dlq.v1"),
        "--completed-topic".into(),
        t("enrichment-completed.v1"),
        "--group-id".into(),
        t("group"),
    ];
    let tmp = tempfile_dir()?;
    struct Member(std::process::Child, String);
    impl Drop for Member {
        fn drop(&mut self) {
            let _killed = self.0.kill();
            let _reaped = self.0.wait();
        }
    }
    let mut members = Vec::new();
    for i in 0..3 {
        let mut child = std::process::Command::new(&bin)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--member-id",
                &format!("m{i}"),
            ])
            .arg("--data-dir")
            .arg(tmp.join(format!("m{i}")))
            .args(&flags)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().context("serve's stdout")?)
            .read_line(&mut line)?;
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .with_context(|| format!("serve said {line:?}"))?
            .to_string();
        members.push(Member(child, base));
    }
    let http = reqwest::Client::new();
    let health = |base: String| {
        let http = http.clone();
        async move {
            http.get(format!("{base}/health"))
                .send()
                .await
                .ok()?
                .json::<serde_json::Value>()
                .await
                .ok()
        }
    };
    // Every member reporting (the fleet as one sees it).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let f: serde_json::Value = http
            .get(format!("{}/fleet", members[0].1))
            .send()
            .await?
            .json()
            .await?;
        if f["members"].as_array().map_or(0, Vec::len) == 3 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "three members did not report: {f}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    type Check = fn(&serde_json::Value) -> bool;
    let levers: [(&[&str], Check); 8] = [
        (&["hold"], |h| h["consumer"]["held"] == true),
        (&["release"], |h| h["consumer"]["held"] == false),
        (&["rate", "50"], |h| {
            h["consumer"]["max_processing_rate"] == 50.0
        }),
        (&["rate", "off"], |h| {
            h["consumer"]["max_processing_rate"].is_null()
        }),
        (&["concurrency", "4"], |h| h["consumer"]["concurrency"] == 4),
        (&["concurrency", "8"], |h| h["consumer"]["concurrency"] == 8),
        (&["rollback"], |h| h["consumer"]["held"] == true),
        (&["resume"], |h| h["consumer"]["held"] == false),
    ];
    const ROUNDS: usize = 5;
    let mut results: Vec<(String, Vec<f64>, Vec<f64>)> = levers
        .iter()
        .map(|(a, _)| (a.join(" "), Vec::new(), Vec::new()))
        .collect();
    for round in 0..ROUNDS {
        for (i, (args, check)) in levers.iter().enumerate() {
            let data = tmp.join(format!("cold-{round}-{i}"));
            let started = Instant::now();
            let child = std::process::Command::new(&bin)
                .args(*args)
                .arg("--data-dir")
                .arg(&data)
                .args(&flags)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()?;
            let mut seen = [false; 3];
            while !seen.iter().all(|s| *s) {
                for (m, member) in members.iter().enumerate() {
                    if !seen[m] {
                        seen[m] = health(member.1.clone()).await.is_some_and(|h| check(&h));
                    }
                }
                anyhow::ensure!(
                    started.elapsed() < Duration::from_secs(30),
                    "{args:?} did not reach every member"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let reached = started.elapsed().as_secs_f64() * 1000.0;
            let status = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
            anyhow::ensure!(status.status.success(), "{args:?} failed");
            results[i].1.push(reached);
            results[i].2.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (lever, mut reached, mut exited) in results {
        let worst = reached.iter().copied().fold(0.0, f64::max);
        println!(
            "{}",
            json!({"scenario": "levers", "lever": lever, "members": 3, "rounds": ROUNDS,
                   "all_members_ms_median": median(&mut reached).round(),
                   "all_members_ms_worst": worst.round(),
                   "process_exit_ms_median": median(&mut exited).round(),
                   "goal_ms": 1000})
        );
    }
    drop(members);
    let _removed = std::fs::remove_dir_all(&tmp);
    Ok(())
}

/// `scale`: the embedded default at each of `--scale-files`, one run each
/// (the first size `--scale-reference-runs` times), each with its rate
/// beside the first size's median rate and its bytes per document.
async fn scale(args: &Args) -> Result<()> {
    let mut first: Option<(usize, f64)> = None;
    for &n in &args.scale_files {
        let sized = Args {
            files: n,
            ..args.clone()
        };
        let runs = if first.is_none() {
            args.scale_reference_runs.max(1)
        } else {
            1
        };
        let mut rates = Vec::with_capacity(runs);
        for _ in 0..runs {
            let setup = Setup {
                account_bytes: true,
                ..Default::default()
            };
            rates.push(run("scale", &sized, setup, json!({})).await?.0);
        }
        rates.sort_by(f64::total_cmp);
        let median = rates[rates.len() / 2];
        if let Some((files, reference)) = first {
            println!(
                "{}",
                json!({"scenario": "scale", "files": n, "docs_per_sec": median.round(),
                       "of_rate_at": files, "ratio": round3(median / reference)})
            );
        } else {
            let rates: Vec<f64> = rates.iter().map(|r| r.round()).collect();
            println!(
                "{}",
                json!({"scenario": "scale", "files": n, "reference_rates": rates,
                       "median_docs_per_sec": median.round()})
            );
            first = Some((n, median.round()));
        }
    }
    Ok(())
}

/// The same generated files indexed with the engine paused, then drained
/// alone: each phase timed apart (issue 30: together ≤ 1.3× apart). The
/// figures and the request topic (its messages stay for kcat).
async fn apart_run(args: &Args, setup: Setup) -> Result<(serde_json::Value, String)> {
    let tmp = tempfile_dir()?;
    let src = tmp.join("src");
    archon_tui::corpus::generate(&src, args.files)?;
    let engine = open(&tmp, args, &setup).await?;
    engine.pause();
    let running = Running::start(engine.clone(), RunOptions::default())?;
    let project = format!("apart-{}", nonce());
    let t = Instant::now();
    let report = producer::ingest(&engine, &src, &project, &|_| {}).await?;
    let index_s = t.elapsed().as_secs_f64();
    engine.resume();
    let t = Instant::now();
    let drain_s = (drain_then_stop("apart", &engine, running, &project).await? - t).as_secs_f64();
    let docs = report.indexed.max(1) as f64;
    std::fs::remove_dir_all(&tmp).ok();
    Ok((
        json!({
            "index_s": round3(index_s),
            "index_docs_per_sec": (docs / index_s).round(),
            "drain_s": round3(drain_s),
            "drain_docs_per_sec": (docs / drain_s).round(),
        }),
        engine.cfg.enrich_topic.clone(),
    ))
}

/// The `real` scenario's default tree: the registry sources cargo keeps.
fn cargo_registry_sources() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo")))?;
    Some(home.join("registry").join("src"))
}

/// Issue 20's naive baseline, in Rust: the same walk as `ingest`, then read
/// each file, BLAKE3 it and insert (path, hash, size, body) into SQLite —
/// WAL, synchronous=FULL, 256 rows a transaction. Files and seconds.
fn naive_baseline(tree: &std::path::Path, db_dir: &std::path::Path) -> Result<(u64, u64, f64)> {
    std::fs::create_dir_all(db_dir)?;
    let conn = rusqlite::Connection::open(db_dir.join("baseline.sqlite3"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute(
        "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, hash TEXT, size INTEGER, body BLOB)",
        [],
    )?;
    let started = Instant::now();
    let (mut files, mut bytes) = (0u64, 0u64);
    let mut batch: Vec<(String, String, i64, Vec<u8>)> = Vec::with_capacity(256);
    let flush = |conn: &mut rusqlite::Connection,
                 batch: &mut Vec<(String, String, i64, Vec<u8>)>|
     -> Result<()> {
        let tx = conn.transaction()?;
        {
            let mut st =
                tx.prepare_cached("INSERT OR REPLACE INTO files VALUES (?1, ?2, ?3, ?4)")?;
            for (p, h, n, b) in batch.drain(..) {
                st.execute(rusqlite::params![p, h, n, b])?;
            }
        }
        tx.commit()?;
        Ok(())
    };
    let mut conn = conn;
    for entry in archon_tui::engine::pipeline::discover::walk(tree) {
        let Ok(path) = entry else { continue };
        let Ok(body) = std::fs::read(&path) else {
            continue;
        };
        files += 1;
        bytes += body.len() as u64;
        let hash = blake3::hash(&body).to_hex().to_string();
        batch.push((path.display().to_string(), hash, body.len() as i64, body));
        if batch.len() == 256 {
            flush(&mut conn, &mut batch)?;
        }
    }
    if !batch.is_empty() {
        flush(&mut conn, &mut batch)?;
    }
    Ok((files, bytes, started.elapsed().as_secs_f64()))
}

/// The analyzer and the embedding alone, on one core, over the tree's text
/// files (UTF-8, under the enrichment limit): MiB analysed and the seconds
/// spent in `analyze` and in `embed` (reading is not timed).
fn analyzer_throughput(tree: &std::path::Path) -> (f64, f64, f64) {
    use archon_tui::backends::intelligence::analyzer;
    use archon_tui::embedding;
    use archon_tui::engine::pipeline::discover;
    let (mut bytes, mut analyze, mut embed) = (0u64, Duration::ZERO, Duration::ZERO);
    for path in discover::walk(tree).flatten() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if text.len() as u64 > discover::DEFAULT_MAX_FILE_BYTES
            || discover::looks_binary(text.as_bytes())
        {
            continue;
        }
        let language = discover::language_of(&path.to_string_lossy());
        bytes += text.len() as u64;
        let t = Instant::now();
        std::hint::black_box(analyzer::analyze(&text, language));
        analyze += t.elapsed();
        let t = Instant::now();
        std::hint::black_box(embedding::embed(&text));
        embed += t.elapsed();
    }
    (
        bytes as f64 / 1048576.0,
        analyze.as_secs_f64(),
        embed.as_secs_f64(),
    )
}

/// Issue 20: a real source tree, the naive baseline beside our index phase,
/// drain and end to end in the same run, both on a warm page cache.
/// Skipped, loudly, when the tree is absent.
async fn real_tree(args: &Args) -> Result<()> {
    let Some(tree) = args.tree.clone().or_else(cargo_registry_sources) else {
        anyhow::bail!("no --tree and no HOME/CARGO_HOME for the default");
    };
    if !tree.is_dir() {
        eprintln!(
            "archon-bench: SKIPPED scenario real: {} is not a directory (give --tree DIR)",
            tree.display()
        );
        println!(
            "{}",
            json!({"scenario": "real", "skipped": format!("{} absent", tree.display())})
        );
        return Ok(());
    }
    let tmp = tempfile_dir()?;
    // Warm the page cache for both (one file in memory at a time, so the
    // engine's peak RSS is its own); the baseline runs after the engine.
    for entry in archon_tui::engine::pipeline::discover::walk(&tree).flatten() {
        if let Ok(mut f) = std::fs::File::open(&entry) {
            let _warmed = std::io::copy(&mut f, &mut std::io::sink());
        }
    }
    // On the servers given (goal 6 of issue 30: the production shape on a
    // real tree), else the embedded default.
    let remote = |tag| Setup {
        kafka: args.kafka_brokers.clone(),
        graph: args.graph_uri.clone(),
        tag,
        ..Default::default()
    };
    let engine = open(&tmp, args, &remote(nonce())).await?;
    let (broker, graph) = (engine.backends.broker.kind(), engine.backends.graph.kind());
    let project = format!("real-{}", nonce());
    let (report, indexed_in, elapsed, _) =
        ingest_and_drain("real", &engine, &tree, &project).await?;
    let (rss, hwm) = rss_mib();
    let index = engine.stats.index_summary();
    drop(engine);
    let (in_use_mib, trimmed_rss_mib) = heap_in_use_then_trim();
    let apart = phases_apart(args, &remote(nonce()), &tree, &tmp.join("apart")).await?;
    let cpu_before = cpu_seconds();
    let (files, bytes, baseline_s) = naive_baseline(&tree, &tmp.join("baseline"))?;
    let baseline_cpu = cpu_seconds() - cpu_before;
    let baseline_fps = files as f64 / baseline_s;
    let index_fps = report.discovered as f64 / indexed_in.as_secs_f64();
    let (text_mib, analyze_s, embed_s) = analyzer_throughput(&tree);
    println!(
        "{}",
        json!({
            "scenario": "real",
            "broker": broker,
            "graph": graph,
            "analyzer_mib_per_s_one_core": (text_mib / analyze_s).round(),
            "embed_mib_per_s_one_core": (text_mib / embed_s).round(),
            "tree": tree.display().to_string(),
            "files": files,
            "mib": round3(bytes as f64 / 1048576.0),
            "avg_file_kib": round3(bytes as f64 / files.max(1) as f64 / 1024.0),
            "baseline_s": round3(baseline_s),
            "baseline_files_per_sec": baseline_fps.round(),
            "baseline_cpu_ms_per_file": round3(baseline_cpu * 1000.0 / files.max(1) as f64),
            "apart": apart,
            "discovered": report.discovered,
            "indexed": report.indexed,
            "skipped_binary": report.skipped_binary,
            "rejected": report.rejected,
            "index_phase_s": round3(indexed_in.as_secs_f64()),
            "index_files_per_sec": index_fps.round(),
            "index_over_baseline": round3(index_fps / baseline_fps),
            "drain_s": round3((elapsed - indexed_in).as_secs_f64()),
            "elapsed_s": round3(elapsed.as_secs_f64()),
            "docs_per_sec": (report.indexed as f64 / elapsed.as_secs_f64()).round(),
            "index_ms": {"p50": index.p50_ms, "p95": index.p95_ms, "p99": index.p99_ms},
            "rss_mib": (rss * 10.0).round() / 10.0,
            "peak_rss_mib_process": (hwm * 10.0).round() / 10.0,
            "heap_in_use_mib_after": in_use_mib,
            "rss_mib_after_trim": trimmed_rss_mib,
        })
    );
    std::fs::remove_dir_all(&tmp).ok();
    Ok(())
}

/// The same tree on a fresh engine, its phases one after the other: index
/// with the consumer paused, then drain with nothing indexing. What each
/// costs without the other on the same cores, in seconds and CPU seconds
/// (a phase that uses about every core for its whole span is CPU-bound).
async fn phases_apart(
    args: &Args,
    setup: &Setup,
    tree: &std::path::Path,
    dir: &std::path::Path,
) -> Result<serde_json::Value> {
    let engine = open(dir, args, setup).await?;
    engine.pause();
    let running = Running::start(engine.clone(), RunOptions::default())?;
    let project = format!("apart-{}", nonce());
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let report = producer::ingest(&engine, tree, &project, &|_| {}).await?;
    let (index_s, index_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    engine.resume();
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let drained_at = drain_then_stop("phases apart", &engine, running, &project).await?;
    let (drain_s, drain_cpu) = ((drained_at - t).as_secs_f64(), cpu_seconds() - cpu);
    let files = report.discovered.max(1) as f64;
    let docs = report.indexed.max(1) as f64;
    Ok(json!({
        "index_s": round3(index_s),
        "index_files_per_sec": (files / index_s).round(),
        "index_cores_busy": round3(index_cpu / index_s),
        "index_cpu_ms_per_file": round3(index_cpu * 1000.0 / files),
        "drain_s": round3(drain_s),
        "drain_docs_per_sec": (docs / drain_s).round(),
        "drain_cores_busy": round3(drain_cpu / drain_s),
        "drain_cpu_ms_per_doc": round3(drain_cpu * 1000.0 / docs),
    }))
}

/// Start `engine`, ingest `src` as `project` and wait until it drained;
/// the ingest report, the index phase and the whole run.
async fn ingest_and_drain(
    name: &str,
    engine: &Arc<Engine>,
    src: &std::path::Path,
    project: &str,
) -> Result<(producer::IngestReport, Duration, Duration, Calls)> {
    let started = Instant::now();
    let busy = CallsBusy::sample(engine.clone(), started);
    let running = Running::start(engine.clone(), RunOptions::default())?;
    let report = producer::ingest(engine, src, project, &|_| {}).await?;
    let indexed_in = started.elapsed();
    let drained_at = drain_then_stop(name, engine, running, project).await?;
    Ok((report, indexed_in, drained_at - started, busy.figures()))
}

/// When a run's first call began and its last ended (seconds from its
/// start), and the mean of call slots in use between.
struct Calls {
    first_began_s: f64,
    last_ended_s: f64,
    mean_in_use: f64,
}

/// Samples the call slots in use every millisecond (a task of its own,
/// ended when this is dropped).
struct CallsBusy(Arc<Mutex<Tally>>);

/// First and last sample with a call running; slots in use summed over the
/// samples since the first, and those sums as they stood at the last.
#[derive(Default)]
struct Tally {
    first: Option<f64>,
    last: Option<f64>,
    in_use: u64,
    samples: u64,
    up_to_last: (u64, u64),
}

impl CallsBusy {
    fn sample(engine: Arc<Engine>, started: Instant) -> Self {
        let state = Arc::new(Mutex::new(Tally::default()));
        let s = state.clone();
        tokio::spawn(async move {
            while Arc::strong_count(&s) > 1 {
                let n = engine.limit.in_use() as u64;
                let at = started.elapsed().as_secs_f64();
                {
                    let mut g = s.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if n > 0 {
                        g.first.get_or_insert(at);
                    }
                    if g.first.is_some() {
                        g.in_use += n;
                        g.samples += 1;
                    }
                    if n > 0 {
                        g.last = Some(at);
                        g.up_to_last = (g.in_use, g.samples);
                    }
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        CallsBusy(state)
    }

    fn figures(&self) -> Calls {
        let g = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Calls {
            first_began_s: g.first.unwrap_or(0.0),
            last_ended_s: g.last.unwrap_or(0.0),
            mean_in_use: g.up_to_last.0 as f64 / g.up_to_last.1.max(1) as f64,
        }
    }
}

/// Wait until `project` drained (an hour at most), then stop the run; not
/// drained in time fails the scenario `name`. When it was seen drained: the
/// run's clock stops there, not after the consumer left its group.
async fn drain_then_stop(
    name: &str,
    engine: &Arc<Engine>,
    running: Running,
    project: &str,
) -> Result<Instant> {
    let drained = drained_within_an_hour(engine, project).await?;
    let drained_at = Instant::now();
    let ended = if drained {
        Ended::Drained
    } else {
        Ended::TimedOut
    };
    stop(running, ended).await?;
    anyhow::ensure!(drained, "{name}: did not drain within an hour");
    Ok(drained_at)
}

/// Whether nothing of `project` is pending and lag is 0 within an hour.
async fn drained_within_an_hour(engine: &Arc<Engine>, project: &str) -> Result<bool> {
    drain::wait_drained_in(
        engine,
        Some(project),
        Some(Duration::from_secs(3600)),
        &|_| {},
    )
    .await
}

/// Stop a run; a consumer that failed fails the scenario.
async fn stop(running: Running, ended: Ended) -> Result<()> {
    match running.shutdown(&ended).await {
        0 | archon_tui::runtime::EXIT_TIMED_OUT => Ok(()),
        code => anyhow::bail!("the engine stopped with exit code {code}"),
    }
}

/// A fresh directory under the temp dir for one scenario (removed after).
fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("archon-bench-{}-{}", std::process::id(), nonce()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// `v` to 3 significant digits.
fn significant(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(2 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn merge(line: &mut serde_json::Value, extra: serde_json::Value) {
    if let (Some(l), serde_json::Value::Object(e)) = (line.as_object_mut(), extra) {
        l.extend(e);
    }
}

/// Emergency rollback under load: documents are being enriched (a 20 ms
/// service, `--concurrency` at once) when the rollback command is given;
/// effective = kill switch off, consumption held, nothing in flight.
async fn rollback(args: &Args) -> Result<()> {
    let tmp = tempfile_dir()?;
    let src = tmp.join("src");
    archon_tui::corpus::generate(&src, args.files)?;
    let (url, _) = start_service(Duration::from_millis(20)).await?;
    let setup = Setup {
        intelligence_url: Some(url),
        ..Default::default()
    };
    let engine = open(&tmp, args, &setup).await?;
    let running = Running::start(engine.clone(), RunOptions::default())?;
    producer::ingest(&engine, &src, "bench", &|_| {}).await?;
    // Wait until the engine is busy.
    let busy_by = Instant::now() + Duration::from_secs(60);
    while engine.limit.in_use() < args.concurrency.min(8) && Instant::now() < busy_by {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let in_flight_before = engine.stats.in_flight.load(Ordering::Relaxed);
    let asked = Instant::now();
    let report = archon_tui::engine::fleet::levers::execute(
        &engine,
        archon_tui::engine::fleet::levers::Rollback,
    )
    .await?;
    let returned_ms = asked.elapsed().as_secs_f64() * 1000.0;
    // Nothing may complete after the rollback took effect.
    let done_then = drain::progress(&engine).await?.total(Status::Completed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let done_later = drain::progress(&engine).await?.total(Status::Completed);
    stop(running, Ended::Drained).await?;
    println!(
        "{}",
        json!({
            "scenario": "rollback",
            "files": args.files,
            "concurrency": args.concurrency,
            "in_flight_when_asked": in_flight_before,
            "effective_ms": report.effective_ms,
            "command_returned_ms": (returned_ms * 10.0).round() / 10.0,
            "in_flight_after": report.in_flight,
            "pending_after": report.pending,
            "completed_in_the_500_ms_after": done_later - done_then,
        })
    );
    std::fs::remove_dir_all(&tmp).ok();
    Ok(())
}

/// Key-to-screen under full load: while the engine indexes and drains
/// `--files` documents on the same runtime, a console loop shaped like the
/// real one (keys, snapshots and outcomes in one `select!`, a full redraw
/// after each) takes a key every 50 ms; the time from sending the key to the
/// end of the frame that shows it is recorded. A 200×60 TestBackend stands in
/// for the terminal, so the terminal's own write time is not included.
async fn keys(args: &Args) -> Result<()> {
    use archon_tui::tui::{app::App, app::Focus, render, theme::Theme};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let tmp = tempfile_dir()?;
    let src = tmp.join("src");
    archon_tui::corpus::generate(&src, args.files)?;
    let engine = open(&tmp, args, &Setup::default()).await?;
    let mut running = Running::start(
        engine.clone(),
        RunOptions {
            front_end: true,
            ..Default::default()
        },
    )?;
    let mut h = running.handle.take().context("a front end")?;
    let ingest = {
        let (engine, src) = (engine.clone(), src.clone());
        tokio::spawn(async move { producer::ingest(&engine, &src, "bench", &|_| {}).await })
    };
    let (key_tx, mut key_rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let ui = tokio::spawn(async move {
        let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 60))?;
        let mut app = App::new(Theme::dark());
        app.focus = Focus::Dlq;
        let mut hist = hdrhistogram::Histogram::<u64>::new(3)?;
        loop {
            tokio::select! {
                sent = key_rx.recv() => {
                    let Some(sent) = sent else { break };
                    for cmd in app.on_key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE)) {
                        h.commands.send(cmd).ok();
                    }
                    term.draw(|f| render::draw(f, &app))?;
                    hist.record(sent.elapsed().as_micros().max(1) as u64)?;
                    continue;
                }
                changed = h.snapshots.changed() => {
                    if changed.is_err() { break; }
                    let snap = h.snapshots.borrow_and_update().clone();
                    app.set_snapshot(snap);
                }
                Some((cmd, result)) = h.outcomes.recv() => app.on_outcome(&cmd, result),
            }
            term.draw(|f| render::draw(f, &app))?;
        }
        anyhow::Ok(hist)
    });
    let started = Instant::now();
    loop {
        let p = drain::progress(&engine).await?;
        let done =
            ingest.is_finished() && p.lag_total() == 0 && p.in_flight == 0 && p.unfinished() == 0;
        if done || started.elapsed() > Duration::from_secs(600) {
            break;
        }
        key_tx.send(Instant::now())?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(key_tx);
    let hist = ui.await??;
    ingest.await??;
    stop(running, Ended::Drained).await?;
    let ms = |q: f64| (hist.value_at_quantile(q) as f64 / 10.0).round() / 100.0;
    println!(
        "{}",
        json!({
            "scenario": "keys",
            "files": args.files,
            "keys": hist.len(),
            "under_load_s": round3(started.elapsed().as_secs_f64()),
            "key_to_frame_ms": {"p50": ms(0.5), "p95": ms(0.95), "p99": ms(0.99), "max": (hist.max() as f64 / 10.0).round() / 100.0},
        })
    );
    std::fs::remove_dir_all(&tmp).ok();
    Ok(())
}

/// The broker's ceiling: a plain librdkafka consumer (what kcat is) reading
/// `n` messages of `topic` from the start.
#[cfg(not(feature = "kafka"))]
fn raw_consume(_: &str, _: &str, _: u64) -> Result<f64> {
    anyhow::bail!("raw needs the `kafka` feature (built with --no-default-features)")
}

#[cfg(feature = "kafka")]
fn raw_consume(brokers: &str, topic: &str, n: u64) -> Result<f64> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::ClientConfig;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("bench.raw.{}", nonce()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()?;
    consumer.subscribe(&[topic])?;
    let mut seen = 0u64;
    let mut started = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    while seen < n {
        anyhow::ensure!(Instant::now() < deadline, "raw: {seen} of {n} in 600 s");
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => {
                started.get_or_insert_with(Instant::now);
                seen += 1;
            }
            Some(Err(e)) => anyhow::bail!("raw consumer: {e}"),
            None => {}
        }
    }
    // From the first message: group join time is not the broker's speed.
    let secs = started.map_or(0.0, |t: Instant| t.elapsed().as_secs_f64());
    Ok(n as f64 / secs.max(1e-9))
}

/// Debian's kcat (an independent librdkafka client) reading the same `n`
/// messages from the start to the end of each partition; None when kcat is
/// not installed. Its wall time includes its start and metadata.
fn kcat_consume(brokers: &str, topic: &str, n: u64) -> Result<Option<f64>> {
    let started = Instant::now();
    let out = match std::process::Command::new("kcat")
        .args([
            "-b",
            brokers,
            "-C",
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
        ])
        .args(["-f", "\\n"])
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(out) => out,
        Err(_) => return Ok(None),
    };
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        out.status.success(),
        "kcat: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = out.stdout.iter().filter(|b| **b == b'\n').count() as u64;
    anyhow::ensure!(seen == n, "kcat read {seen} of {n} messages");
    Ok(Some(n as f64 / secs.max(1e-9)))
}

/// kafka-noop's engine and the raw consumer over the same messages: the
/// ratio says what share of the broker's ceiling the engine reaches.
async fn kafka_ceiling(args: &Args, brokers: &str, graph: Option<String>) -> Result<()> {
    let setup = Setup {
        noop: true,
        kafka: Some(brokers.into()),
        graph,
        tag: nonce(),
        ..Default::default()
    };
    // The engine's runs leave their requests on their topics: read them again raw.
    let (engine_rate, _) = run("kafka-noop", args, setup.clone(), json!({})).await?;
    // The drain alone (indexed while paused), over the topic kcat then reads.
    let (apart, topic) = apart_run(
        args,
        Setup {
            tag: nonce(),
            ..setup
        },
    )
    .await?;
    let drain_rate = apart["drain_docs_per_sec"].as_f64().unwrap_or(0.0);
    let n = args.files as u64;
    // The product's own consumer (rdkafka's StreamConsumer behind
    // `BrokerConsumer::fetch`) reading the same messages and nothing else:
    // what the consumer costs apart from the graph and the enrichment.
    let adapter = {
        let tmp = tempfile_dir()?;
        let only_kafka = Setup {
            kafka: Some(brokers.into()),
            noop: true,
            tag: nonce(),
            ..Default::default()
        };
        let engine = open(&tmp, args, &only_kafka).await?;
        let consumer = engine
            .backends
            .broker
            .consumer(&format!("bench.adapter.{}", nonce()), &topic)
            .await?;
        let mut seen = 0u64;
        let mut started = None;
        let deadline = Instant::now() + Duration::from_secs(600);
        while seen < n {
            anyhow::ensure!(Instant::now() < deadline, "adapter: {seen} of {n} in 600 s");
            let got = consumer.fetch(512, Duration::from_millis(200)).await?;
            if !got.is_empty() {
                started.get_or_insert_with(Instant::now);
            }
            seen += got.len() as u64;
        }
        consumer.close().await?;
        std::fs::remove_dir_all(&tmp).ok();
        let secs = started.map_or(0.0, |t: Instant| t.elapsed().as_secs_f64());
        n as f64 / secs.max(1e-9)
    };
    let b = brokers.to_string();
    let t = topic.clone();
    let (raw, kcat) = tokio::task::spawn_blocking(move || -> Result<_> {
        Ok((raw_consume(&b, &t, n)?, kcat_consume(&b, &t, n)?))
    })
    .await??;
    println!(
        "{}",
        json!({
            "scenario": "raw",
            "broker": "kafka",
            "messages": n,
            "msgs_per_sec": raw.round(),
            "engine_noop_docs_per_sec": engine_rate.round(),
            "engine_noop_drain_alone": apart,
            // Significant digits, not decimals: a raw consumer draining a
            // prefetched few hundred messages can be 1000× the engine.
            "engine_over_raw": significant(engine_rate / raw),
            "kcat_msgs_per_sec": kcat.map(f64::round),
            "engine_over_kcat": kcat.map(|k| significant(engine_rate / k)),
            "drain_alone_over_kcat": kcat.map(|k| significant(drain_rate / k)),
            "adapter_fetch_msgs_per_sec": adapter.round(),
            "adapter_over_raw": significant(adapter / raw),
        })
    );
    Ok(())
}

/// A document for the bridge scenario: a small Python function, distinct
/// per `i` (so nothing is `unchanged`).
fn bridge_document(project: &str, i: usize) -> serde_json::Value {
    json!({
        "document_id": format!("{project}-doc-{i}"),
        "project_id": project,
        "title": format!("m{i}.py"),
        "full_text": format!(
            "def handler_{i}(request):\n    value = request.get(\"v{i}\")\n    return {{\"ok\": value, \"n\": {i}}}\n"
        ),
        "source_path": format!("pkg{}/m{i}.py", i % 20),
        "document_type": "code",
        "metadata": {}
    })
}

/// Seed 001 §9.3's load test through the bridge API, on the embedded
/// default: `--files` single-document POSTs from 50 clients at once, then as
/// many again in batches of 500, then a tree of as many generated files
/// ingested in the same run as the peer. Indexed = answered (stored and
/// requested); end to end = drained.
async fn bridge(args: &Args) -> Result<()> {
    use archon_tui::runtime::Http;
    use archon_tui::serve::token::{ControlToken, Scope, Tokens};
    use futures::{StreamExt, TryStreamExt};
    let tmp = tempfile_dir()?;
    let engine = open(&tmp, args, &Setup::default()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let token = "bench-write-token-0123456789";
    let tokens = Tokens::new(vec![(Scope::Write, ControlToken::new(token)?)]);
    let running = Running::start(
        engine.clone(),
        RunOptions {
            http: Some(Http { listener, tokens }),
            ..Default::default()
        },
    )?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let n = args.files;
    let wait_drained = |project: String| {
        let engine = engine.clone();
        async move {
            let ok = drained_within_an_hour(&engine, &project).await?;
            anyhow::ensure!(ok, "bridge: {project} did not drain within an hour");
            anyhow::Ok(())
        }
    };

    // 1. Single POSTs, 50 clients.
    let singles = format!("bridge-single-{}", nonce());
    let started = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let (client, url, body) = (
                client.clone(),
                format!("{base}/api/bridge/document"),
                bridge_document(&singles, i),
            );
            async move {
                let r = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await?;
                anyhow::ensure!(r.status().is_success(), "POST answered {}", r.status());
                anyhow::Ok(())
            }
        })
        .buffer_unordered(50)
        .try_collect::<Vec<()>>()
        .await?;
    let single_indexed = started.elapsed();
    let writes = archon_tui::engine::telemetry::stats::Stats::get(&engine.stats.bridge_batches);
    wait_drained(singles.clone()).await?;
    let single_end_to_end = started.elapsed();

    // 2. Batches of 500.
    let batches = format!("bridge-batch-{}", nonce());
    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let body: Vec<serde_json::Value> = chunk
            .iter()
            .map(|i| bridge_document(&batches, *i))
            .collect();
        let r = client
            .post(format!("{base}/api/bridge/documents"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "batch POST answered {}",
            r.status()
        );
    }
    let batch_indexed = started.elapsed();
    wait_drained(batches.clone()).await?;
    let batch_end_to_end = started.elapsed();

    // 3. The peer: a tree of as many files, in the same run.
    let src = tmp.join("src");
    archon_tui::corpus::generate(&src, n)?;
    let tree = format!("bridge-tree-{}", nonce());
    let started = Instant::now();
    let report = producer::ingest(&engine, &src, &tree, &|_| {}).await?;
    let tree_indexed = started.elapsed();
    wait_drained(tree.clone()).await?;
    let tree_end_to_end = started.elapsed();
    stop(running, Ended::Drained).await?;

    let rate = |docs: u64, d: Duration| (docs as f64 / d.as_secs_f64()).round();
    let line = json!({
        "scenario": "bridge",
        "documents": n,
        "single_posts": {
            "clients": 50,
            "indexed_docs_per_sec": rate(n as u64, single_indexed),
            "end_to_end_docs_per_sec": rate(n as u64, single_end_to_end),
            "index_writes": writes,
            "seed_9_3_expects": {"indexed_docs_per_sec": 65.7, "end_to_end_docs_per_sec": 8.3},
        },
        "batches_of_500": {
            "indexed_docs_per_sec": rate(n as u64, batch_indexed),
            "end_to_end_docs_per_sec": rate(n as u64, batch_end_to_end),
        },
        "tree_ingest_peer": {
            "indexed_docs_per_sec": rate(report.indexed, tree_indexed),
            "end_to_end_docs_per_sec": rate(report.indexed, tree_end_to_end),
        },
    });
    println!("{line}");
    std::fs::remove_dir_all(&tmp).ok();
    Ok(())
}

/// Issue 29's watch figure: a tree of `--files` files watched with the
/// consumer running on the embedded default; one file edited at a time, 50
/// times, each timed from the write until its document is completed for the
/// new content. The debounce window is the floor of that time.
async fn watch_edits(args: &Args) -> Result<()> {
    let tmp = tempfile_dir()?;
    let src = tmp.join("src");
    archon_tui::corpus::generate(&src, args.files)?;
    // The production shape when its servers are given.
    let setup = Setup {
        kafka: args.kafka_brokers.clone(),
        graph: args.graph_uri.clone(),
        tag: nonce(),
        ..Default::default()
    };
    let engine = open(&tmp, args, &setup).await?;
    let running = Running::start(engine.clone(), RunOptions::default())?;
    let project = format!("watch-{}", nonce());
    let watcher = {
        let (engine, src, project) = (engine.clone(), src.clone(), project.clone());
        tokio::spawn(async move {
            archon_tui::engine::pipeline::watch::watch(&engine, &src, &project, &|_| {}).await
        })
    };
    let started = Instant::now();
    while !engine
        .watches
        .views(Duration::from_secs(10))
        .first()
        .is_some_and(|w| w.synced)
    {
        anyhow::ensure!(!watcher.is_finished(), "watch: the watcher ended");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ok = drained_within_an_hour(&engine, &project).await?;
    anyhow::ensure!(ok, "watch: the first mirror did not drain");
    let mirrored = started.elapsed();
    let mut files: Vec<std::path::PathBuf> = archon_tui::engine::pipeline::discover::walk(&src)
        .filter_map(|f| f.ok())
        .collect();
    files.sort();
    let mut took = Vec::new();
    for (i, f) in files.iter().cycle().step_by(7).take(50).enumerate() {
        // Give the watcher a quiet moment between edits, as a person would.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let body = format!("// edit {i}\n{}", std::fs::read_to_string(f)?);
        let hash = blake3::hash(body.as_bytes()).to_hex().to_string();
        let rel = f.strip_prefix(&src)?.to_string_lossy().into_owned();
        let id = producer::document_id(&project, &rel);
        let t0 = Instant::now();
        std::fs::write(f, &body)?;
        loop {
            let d = engine.backends.graph.get_document(&id).await?;
            if d.is_some_and(|d| d.is_enriched_for(&hash)) {
                break;
            }
            anyhow::ensure!(
                t0.elapsed() < Duration::from_secs(60),
                "watch: edit {i} not enriched in 60 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        took.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    engine.stop();
    watcher.await??;
    stop(running, Ended::Drained).await?;
    took.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| (took[((took.len() - 1) as f64 * p).round() as usize] * 10.0).round() / 10.0;
    println!(
        "{}",
        json!({
            "scenario": "watch",
            "broker": engine.backends.broker.kind(),
            "graph": engine.backends.graph.kind(),
            "files": args.files,
            "first_mirror_docs_per_sec": (args.files as f64 / mirrored.as_secs_f64()).round(),
            "edits": took.len(),
            "edit_to_enriched_ms": {"p50": q(0.5), "p95": q(0.95), "max": q(1.0)},
            "debounce_ms": archon_tui::engine::pipeline::watch::DEBOUNCE.as_millis() as u64,
            "goal_p95_ms": 1000,
        })
    );
    std::fs::remove_dir_all(&tmp).ok();
    Ok(())
}

/// The graph's own ceiling for the index write: `--files` rows shaped like
/// the index's Document rows, written by neo4rs with a plain `UNWIND … MERGE
/// … SET` in batches of 1,000 on one connection, under a label of their own
/// (uniquely constrained like `Document.entity_id`), removed afterwards.
/// Rows a second.
#[cfg(feature = "bolt")]
async fn bolt_ceiling(uri: &str, rows: usize) -> Result<f64> {
    let cfg = neo4rs::ConfigBuilder::default()
        .uri(uri)
        .user(std::env::var("NEO4J_USER").unwrap_or_else(|_| "neo4j".into()))
        .password(std::env::var("NEO4J_PASSWORD").unwrap_or_default())
        .build()?;
    let graph = neo4rs::Graph::connect(cfg)?;
    let run = |q: neo4rs::Query| {
        let graph = graph.clone();
        async move {
            let mut stream = graph.execute(q).await?;
            while stream.next().await?.is_some() {}
            anyhow::Ok(())
        }
    };
    run(neo4rs::query(
        "CREATE CONSTRAINT archon_bench_ceiling IF NOT EXISTS \
         FOR (n:ArchonBenchCeiling) REQUIRE n.entity_id IS UNIQUE",
    ))
    .await?;
    let tag = nonce();
    let all: Vec<serde_json::Value> = (0..rows)
        .map(|i| {
            json!({
                "entity_id": format!("{tag}-{i}"),
                "project_name": "ceiling",
                "source_path": format!("pkg{}/m{i}.py", i % 23),
                "document_type": "code",
                "language": "python",
                "content_hash": blake3::hash(format!("{tag}{i}").as_bytes()).to_hex().to_string(),
                "indexed_at": archon_tui::events::now_rfc3339(),
                "file_size_bytes": 400,
                "line_count": 20,
                "last_modified": archon_tui::events::now_rfc3339(),
                "correlation_id": uuid::Uuid::new_v4().to_string(),
            })
        })
        .collect();
    let started = Instant::now();
    for chunk in all.chunks(1000) {
        let rows = neo4rs::BoltType::try_from(serde_json::Value::Array(chunk.to_vec()))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        run(neo4rs::query(
            "UNWIND $rows AS row MERGE (d:ArchonBenchCeiling {entity_id: row.entity_id})
             SET d.project_name = row.project_name, d.source_path = row.source_path,
                 d.document_type = row.document_type, d.language = row.language,
                 d.content_hash = row.content_hash, d.enrichment_status = 'pending',
                 d.indexed_at = row.indexed_at, d.file_size_bytes = row.file_size_bytes,
                 d.line_count = row.line_count, d.last_modified = row.last_modified,
                 d.correlation_id = row.correlation_id",
        )
        .param("rows", rows))
        .await?;
    }
    let took = started.elapsed();
    run(neo4rs::query(
        "MATCH (d:ArchonBenchCeiling) DETACH DELETE d",
    ))
    .await?;
    Ok(rows as f64 / took.as_secs_f64())
}

#[cfg(not(feature = "bolt"))]
async fn bolt_ceiling(_uri: &str, _rows: usize) -> Result<f64> {
    anyhow::bail!("bolt-ceiling needs the `bolt` feature")
}

fn main() -> Result<()> {
    // The engine's log on stderr when asked (`ARCHON_LOG`, as archon-tui),
    // e.g. `archon_tui::backends::graph::bolt=trace` for each statement's time.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("ARCHON_LOG") {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_env_filter(filter)
            .init();
    }
    // The product's runtime and allocator settings, so the figures are its.
    archon_tui::runtime::process::tokio_runtime()?.block_on(bench(Args::parse()))
}

async fn bench(args: Args) -> Result<()> {
    let kafka = || {
        args.kafka_brokers.clone().ok_or_else(|| {
            anyhow::anyhow!("the kafka scenarios need --kafka-brokers (or ARCHON_BENCH_KAFKA)")
        })
    };
    for s in &args.scenario {
        match s.as_str() {
            "embedded" => {
                run("embedded", &args, Setup::default(), json!({})).await?;
            }
            "noop" => {
                let setup = Setup {
                    noop: true,
                    ..Default::default()
                };
                run("noop", &args, setup, json!({})).await?;
            }
            "http" | "kafka-http" => {
                for &ms in &args.latency_ms {
                    let (url, clock) = start_service(Duration::from_millis(ms)).await?;
                    let setup = Setup {
                        intelligence_url: Some(url),
                        service: Some(clock),
                        kafka: if s == "kafka-http" { Some(kafka()?) } else { None },
                        graph: if s == "kafka-http" { args.graph_uri.clone() } else { None },
                        tag: nonce(),
                        ..Default::default()
                    };
                    let little = args.concurrency as f64 / (ms as f64 / 1000.0);
                    let extra = json!({
                        "latency_ms": ms,
                        "littles_law_docs_per_sec": (ms > 0).then_some(little.round()),
                    });
                    run(s, &args, setup, extra).await?;
                }
            }
            "rollback" => rollback(&args).await?,
            "real" => real_tree(&args).await?,
            "keys" => keys(&args).await?,
            "kafka" => {
                let setup = Setup {
                    kafka: Some(kafka()?),
                    graph: args.graph_uri.clone(),
                    tag: nonce(),
                    ..Default::default()
                };
                // On a Bolt graph, its own ceiling measured in the same run;
                // and the same work with indexing and draining apart.
                let mut extra = match &args.graph_uri {
                    Some(uri) => {
                        json!({"bolt_ceiling_rows_per_sec": bolt_ceiling(uri, args.files).await?.round()})
                    }
                    None => json!({}),
                };
                let apart_setup = Setup {
                    tag: nonce(),
                    ..setup.clone()
                };
                extra["apart"] = apart_run(&args, apart_setup).await?.0;
                run("kafka", &args, setup, extra).await?;
            }
            "bolt-ceiling" => {
                let uri = args.graph_uri.clone().ok_or_else(|| {
                    anyhow::anyhow!("bolt-ceiling needs --graph-uri (or ARCHON_BENCH_BOLT)")
                })?;
                let rate = bolt_ceiling(&uri, args.files).await?;
                println!(
                    "{}",
                    json!({"scenario": "bolt-ceiling", "rows": args.files, "batch": 1000,
                           "rows_per_sec": rate.round()})
                );
            }
            "kafka-noop" | "raw" => kafka_ceiling(&args, &kafka()?, args.graph_uri.clone()).await?,
            "bridge" => bridge(&args).await?,
            "watch" => watch_edits(&args).await?,
            "scale" => scale(&args).await?,
            "levers" => cold_levers(&kafka()?).await?,
            other => anyhow::bail!(
                "unknown scenario {other:?} (embedded, noop, http, rollback, keys, real, kafka, kafka-http, kafka-noop, raw, bridge, watch, bolt-ceiling, scale, levers)"
            ),
        }
    }
    Ok(())
}
