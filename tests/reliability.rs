//! Reliability: crashes, outages and bad operator input must lose nothing.
//! CI runs reduced sizes; `ARCHON_RELIABILITY_FULL=1` runs the full
//! sizes (20,000 documents, 8 kills, a 60 s outage). Figures are printed
//! (`cargo test --test reliability -- --nocapture`).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::serve::{client, get, wait_health, Serve};
use common::service::{self, Mode};
use common::services::{KafkaCluster, Neo4j, Tools};
use common::{bin, count, n, run, run_s, sqlite, with};
use rand::{Rng, SeedableRng};
use serde_json::Value;

fn full() -> bool {
    std::env::var_os("ARCHON_RELIABILITY_FULL").is_some()
}

fn seed() -> u64 {
    std::env::var("ARCHON_RELIABILITY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// Runs archon-tui in the background; its log goes to a file under
/// `ARCHON_TEST_LOG_DIR` when that is set (a failed crash run's story).
fn spawn(data: &Path, args: &[String]) -> Child {
    let stderr = match std::env::var_os("ARCHON_TEST_LOG_DIR") {
        Some(dir) => {
            static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = Path::new(&dir).join(format!("run-{}-{n}.log", std::process::id()));
            Stdio::from(std::fs::File::create(path).expect("create the run's log"))
        }
        None => Stdio::null(),
    };
    bin()
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn archon-tui")
}

/// Wait for a child and return (exit code, peak RSS in MiB) from wait4.
fn wait_rss(child: Child) -> (i32, f64) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    std::mem::forget(child);
    (code, usage.ru_maxrss as f64 / 1024.0)
}

fn kill9(mut child: Child) {
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    child.wait().ok();
}

/// Files a crash test ingests: the generated corpus plus a few that must
/// end in the DLQ with a reason (not UTF-8).
fn corpus(dir: &Path, files: usize) -> u64 {
    archon_tui::corpus::generate(dir, files).unwrap();
    for i in 0..3 {
        std::fs::write(
            dir.join(format!("latin1_{i}.py")),
            b"caf\xe9 = 1\n# \xff\xfe\n",
        )
        .unwrap();
    }
    files as u64 + 3
}

fn dlq_histogram(data: &Path, extra: &[String]) -> (u64, BTreeMap<String, u64>) {
    let r = run_s(data, &with(&["dlq", "list", "--json"], extra));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list = r.json();
    let mut h = BTreeMap::new();
    for e in list.as_array().unwrap() {
        let reason = e["reason"].as_str().unwrap_or_default();
        assert!(
            !reason.trim().is_empty(),
            "a DLQ entry without a reason: {e}"
        );
        *h.entry(e["error_type"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    (list.as_array().unwrap().len() as u64, h)
}

/// Where a crash run's documents are counted: the embedded graph in the data
/// dir, or a Bolt server (read by an independent client).
enum Graph {
    Embedded,
    Bolt { uri: String, project: String },
}

/// A crash run's documents by outcome.
struct Tally {
    docs: u64,
    completed: u64,
    in_dlq: u64,
    applied_twice: u64,
    completed_not_once: u64,
}

impl Graph {
    fn project(&self) -> &str {
        match self {
            Graph::Embedded => "crash",
            Graph::Bolt { project, .. } => project,
        }
    }

    fn flags(&self) -> Vec<String> {
        let flags: &[&str] = match self {
            Graph::Embedded => &["--concurrency", "32"],
            Graph::Bolt { .. } => &["--concurrency", "16"],
        };
        let mut flags: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
        if let Graph::Bolt { uri, .. } = self {
            flags.extend(["--graph-uri".into(), uri.clone()]);
        }
        flags
    }

    fn label(&self) -> &str {
        match self {
            Graph::Embedded => "embedded",
            Graph::Bolt { .. } => "bolt",
        }
    }

    /// Documents completed or in the DLQ so far (the kill points).
    fn done(&self, data: &Path) -> u64 {
        match self {
            Graph::Embedded => {
                if !data.join("archon.sqlite3").exists() {
                    return 0;
                }
                count(
                    &sqlite(data),
                    "SELECT count(*) FROM documents WHERE enrichment_status IN ('completed','dlq')",
                )
            }
            Graph::Bolt { .. } => {
                let t = self.tally(data);
                t.completed + t.in_dlq
            }
        }
    }

    fn tally(&self, data: &Path) -> Tally {
        match self {
            Graph::Embedded => {
                let db = sqlite(data);
                let q = |cond: &str| {
                    count(
                        &db,
                        &format!(
                            "SELECT count(*) FROM documents WHERE project_name = 'crash'{cond}"
                        ),
                    )
                };
                Tally {
                    docs: q(""),
                    completed: q(" AND enrichment_status = 'completed'"),
                    in_dlq: q(" AND enrichment_status = 'dlq'"),
                    applied_twice: q(" AND enrichment_applied > 1"),
                    completed_not_once: q(
                        " AND enrichment_status = 'completed' AND enrichment_applied != 1",
                    ),
                }
            }
            Graph::Bolt { project, .. } => {
                let rows = common::graph_status_applied(project);
                let sum = |keep: &dyn Fn(&str, u64) -> bool| -> u64 {
                    rows.iter()
                        .filter(|(s, a, _)| keep(s, *a))
                        .map(|(_, _, n)| n)
                        .sum()
                };
                Tally {
                    docs: sum(&|_, _| true),
                    completed: sum(&|s, _| s == "completed"),
                    in_dlq: sum(&|s, _| s == "dlq"),
                    applied_twice: sum(&|_, a| a > 1),
                    completed_not_once: sum(&|s, a| s == "completed" && a != 1),
                }
            }
        }
    }
}

/// kill -9 at several points of ingest + drain, then restart and drain:
/// every document completed or in the DLQ with a reason, none enriched
/// twice, the database intact.
fn crash_at_random_points(broker: &[String], graph: Graph) {
    let (files, kills) = if full() { (20_000, 8) } else { (3_000, 5) };
    let seed = seed();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let total = corpus(&src, files);
    let data = tmp.path().join("data");
    let project = graph.project().to_string();
    let mut engine_flags = with(
        &[
            "--inject-failure-rate",
            "0.01",
            "--retry-max-attempts",
            "2",
            "--retry-backoff-base",
            "0.01",
            "--breaker-failure-threshold",
            "100000",
        ],
        broker,
    );
    engine_flags.extend(graph.flags());
    let ingest = with(
        &[
            "ingest",
            src.to_str().unwrap(),
            "--project",
            &project,
            "--wait",
        ],
        &engine_flags,
    );
    let started = Instant::now();
    let mut points = Vec::new();
    for k in 0..kills {
        // Each run re-walks the tree (what an earlier kill left unindexed
        // gets indexed) and drains. The first kill lands during indexing or
        // publishing, the rest at a later share of the work less a random
        // part of a share. The jitter is in documents, not in time: a drain
        // of thousands a second finished the last share inside a time jitter,
        // before its kill.
        let mut child = spawn(&data, &ingest);
        if k == 0 {
            std::thread::sleep(Duration::from_millis(rng.random_range(150..600)));
        } else {
            let share = total / kills as u64;
            let target = share * k as u64 - rng.random_range(0..share / 2);
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                let done = graph.done(&data);
                if done >= target
                    || Instant::now() > deadline
                    || child.try_wait().unwrap().is_some()
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let done = graph.done(&data);
        assert!(
            child.try_wait().unwrap().is_none(),
            "run {k} finished before its kill point ({done} of {total} done)"
        );
        points.push(done);
        kill9(child);
    }
    // Restart (the project must be re-walked: the first kill may have cut
    // indexing short), then drain to the end.
    let mut resumed = spawn(
        &data,
        &with(
            &["ingest", src.to_str().unwrap(), "--project", &project],
            &engine_flags,
        ),
    );
    assert!(
        resumed.wait().unwrap().success(),
        "re-ingest after the crashes"
    );
    let mut child = bin()
        .args(with(
            // This project's documents: a Bolt graph is shared with other tests.
            &["drain", "--project", &project, "--json", "--timeout", "600"],
            &engine_flags,
        ))
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).unwrap();
        s
    });
    let (code, rss) = wait_rss(child);
    let stdout = reader.join().unwrap();
    let summary: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("final drain printed no JSON ({e}): {stdout}"));
    assert_eq!(code, 0, "final drain: {summary}");

    let db = sqlite(&data);
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "the data dir survived {kills} kill -9s");
    let Tally {
        docs,
        completed,
        in_dlq,
        applied_twice: twice,
        completed_not_once,
    } = graph.tally(&data);
    let (entries, histogram) = dlq_histogram(&data, &engine_flags);
    let lost = total - completed - in_dlq;
    println!(
        "crash: broker {} graph {} seed {seed}: {total} documents, {kills} kill -9s at {points:?} finished, \
         lost {lost}, applied twice {twice}, completed {completed}, dlq {in_dlq} {histogram:?}, \
         final drain peak RSS {rss:.1} MiB, {:.1} s in all",
        if broker.is_empty() { "embedded" } else { "kafka" },
        graph.label(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(docs, total, "every file is a document");
    assert_eq!(lost, 0, "nothing lost");
    assert_eq!(n(&summary, "pending"), 0);
    assert_eq!(n(&summary, "lag"), 0);
    assert_eq!(twice, 0, "no enrichment applied twice");
    assert_eq!(completed_not_once, 0);
    assert_eq!(
        entries, in_dlq,
        "every DLQ document has its entry and reason"
    );
    assert!(histogram.get("EncodingError").copied().unwrap_or(0) >= 3);
}

#[test]
fn crash_kill9_at_several_points_loses_nothing() {
    crash_at_random_points(&[], Graph::Embedded);
}

#[test]
fn crash_kill9_on_kafka_loses_nothing() {
    let Some(b) = common::broker() else { return };
    let mut flags = common::isolated(&b, "crash");
    // A killed member's partitions move after its session times out.
    flags.extend(["--kafka-session-timeout-ms".into(), "6000".into()]);
    crash_at_random_points(&flags, Graph::Embedded);
}

/// A crash between recording an enrichment and writing its completed event
/// (and vector update): the redelivered request announces it, so every
/// completed document has its event and its vector status. The outbox mark
/// (`announced`) keeps a clean redelivery from announcing twice.
fn crash_between_record_and_announce(broker: &[String]) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let total = corpus(&src, 60);
    let data = tmp.path().join("data");
    let ingest = with(
        &["ingest", src.to_str().unwrap(), "--project", "crash"],
        broker,
    );
    assert!(spawn(&data, &ingest).wait().unwrap().success());
    let drain = with(&["drain", "--json", "--timeout", "120"], broker);
    let crashed = bin()
        .args(&drain)
        .arg("--data-dir")
        .arg(&data)
        .env("ARCHON_TEST_CRASH_AT", "recorded-before-announce")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!crashed.success(), "the crash point aborts the drain");
    let db = sqlite(&data);
    let unannounced = |db: &rusqlite::Connection| {
        count(
            db,
            "SELECT count(*) FROM documents WHERE enrichment_status = 'completed' AND announced = 0",
        )
    };
    assert!(
        unannounced(&db) > 0,
        "the crash left recorded, unannounced enrichments"
    );
    drop(db);

    let again = run_s(&data, &drain);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let db = sqlite(&data);
    let completed = count(
        &db,
        "SELECT count(*) FROM documents WHERE project_name = 'crash' AND enrichment_status = 'completed'",
    );
    let dlq = count(
        &db,
        "SELECT count(*) FROM documents WHERE enrichment_status = 'dlq'",
    );
    assert_eq!(completed + dlq, total, "nothing lost");
    assert_eq!(unannounced(&db), 0, "every enrichment announced");
    let vectors_completed = count(
        &db,
        "SELECT count(*) FROM vector_points WHERE json_extract(payload, '$.enrichment_status') = 'completed'",
    );
    assert_eq!(
        vectors_completed, completed,
        "every completed vector says so"
    );
    // Each completed document's event, read from the broker itself.
    let keys: std::collections::BTreeSet<String> = if broker.is_empty() {
        let mut st = db
            .prepare("SELECT DISTINCT CAST(key AS TEXT) FROM broker_log WHERE topic = ?1")
            .unwrap();
        st.query_map([archon_tui::events::COMPLETED_TOPIC], |r| r.get(0))
            .unwrap()
            .map(|k| k.unwrap())
            .collect()
    } else {
        let topic = common::flag(broker, "--completed-topic");
        common::services::kcat_values(common::flag(broker, "--kafka-brokers"), topic)
            .iter()
            .map(|v| v["document_id"].as_str().unwrap().to_string())
            .collect()
    };
    let mut st = db
        .prepare("SELECT entity_id FROM documents WHERE enrichment_status = 'completed'")
        .unwrap();
    let missing: Vec<String> = st
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|k| k.unwrap())
        .filter(|id| !keys.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "completed without a completed event: {missing:?}"
    );
    println!(
        "crash before announce ({}): {completed} completed, {dlq} in the DLQ, all announced",
        if broker.is_empty() {
            "embedded"
        } else {
            "kafka"
        }
    );
}

#[test]
fn crash_between_record_and_completed_event_is_announced_on_redelivery() {
    crash_between_record_and_announce(&[]);
}

#[test]
fn crash_between_record_and_completed_event_on_kafka_is_announced_on_redelivery() {
    let Some(b) = common::broker() else { return };
    crash_between_record_and_announce(&common::isolated(&b, "announce"));
}

/// The production shape: Kafka requests, the Bolt graph (Neo4j), kills.
#[test]
fn crash_kill9_on_kafka_and_bolt_loses_nothing() {
    let (Some(b), Some(uri)) = (common::broker(), common::bolt()) else {
        return;
    };
    let mut flags = common::isolated(&b, "crashbolt");
    flags.extend(["--kafka-session-timeout-ms".into(), "6000".into()]);
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000;
    let project = format!("crash-{nonce}");
    crash_at_random_points(&flags, Graph::Bolt { uri, project });
}

/// The intelligence service is unreachable, then answers 503, then hangs,
/// then recovers: nothing goes to the DLQ because of it, the breaker cycles
/// OPEN → HALF_OPEN → CLOSED, and the backlog drains.
fn outage_then_recovery(broker: &[String]) {
    let (docs, outage) = if full() {
        (2_000, Duration::from_secs(60))
    } else {
        (400, Duration::from_secs(6))
    };
    let port = service::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let tmp = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(&tmp.path().join("src"), docs).unwrap();
    let data = tmp.path().join("data");
    let flags = with(
        &[
            "--intelligence-url",
            &url,
            "--intelligence-timeout-secs",
            "0.3",
            "--breaker-recovery-secs",
            "0.5",
            "--retry-backoff-base",
            "0.05",
        ],
        broker,
    );
    let r = run_s(
        &data,
        &with(
            &["ingest", tmp.path().join("src").to_str().unwrap(), "--json"],
            &flags,
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = Serve::start(&data, &flags);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let svc = rt.block_on(async {
        let c = client();
        let phase = outage / 3;
        // 1. Connection refused.
        tokio::time::sleep(phase).await;
        let (code, h) = get(&c, &s.url("/health")).await;
        assert_eq!(code, 200, "an open breaker is degraded, not unhealthy: {h}");
        assert_ne!(h["circuit_breaker"]["state"], "CLOSED", "{h}");
        // 2. 503s.
        let (svc, _) = service::start(port, Mode::Status(503));
        tokio::time::sleep(phase).await;
        // 3. Timeouts.
        svc.set(Mode::Hang);
        tokio::time::sleep(phase).await;
        let (_, h) = get(&c, &s.url("/health")).await;
        assert_eq!(h["documents"]["dlq"], 0, "the outage parked nothing: {h}");
        // Back.
        svc.set(Mode::Ok);
        wait_health(&c, &s, "the backlog to drain", 300, |_, h| {
            h["documents"]["pending"] == 0 && n(&h["documents"], "completed") == docs as u64
        })
        .await;
        let (_, b) = get(&c, &s.url("/metrics/circuit_breaker")).await;
        (svc, b)
    });
    let (svc, breaker) = svc;
    let transitions: Vec<String> = breaker["transitions"]
        .as_array()
        .expect("transitions")
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    let cycles = transitions
        .windows(3)
        .filter(|w| w == &["OPEN", "HALF_OPEN", "CLOSED"])
        .count();
    let trials = transitions.iter().filter(|t| *t == "HALF_OPEN").count();
    println!(
        "outage: broker {}: {docs} documents, {:?} outage, drained {:.1} s after it began; \
         {} service calls, {trials} HALF_OPEN trials in the last 64 transitions, dlq 0",
        if broker.is_empty() {
            "embedded"
        } else {
            "kafka"
        },
        outage,
        started.elapsed().as_secs_f64(),
        svc.calls.load(std::sync::atomic::Ordering::SeqCst)
    );
    assert_eq!(transitions.last().map(String::as_str), Some("CLOSED"));
    assert!(cycles >= 1, "OPEN → HALF_OPEN → CLOSED: {transitions:?}");
    assert!(
        trials >= 2,
        "trials failed during the outage: {transitions:?}"
    );
    let (code, _) = s.terminate();
    assert_eq!(code, 0);
    let (entries, _) = dlq_histogram(&data, broker);
    assert_eq!(entries, 0);
}

#[test]
fn intelligence_outage_parks_nothing_and_recovers() {
    outage_then_recovery(&[]);
}

#[test]
fn intelligence_outage_on_kafka_parks_nothing_and_recovers() {
    let Some(b) = common::broker() else { return };
    outage_then_recovery(&common::isolated(&b, "outage-cycle"));
}

/// Bad operator input: a clear message naming the setting, non-zero exit,
/// nothing changed.
#[test]
fn bad_operator_input_is_named_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let bad_config = tmp.path().join("bad.toml");
    std::fs::write(&bad_config, "concurrency = \"lots\"\n[[[").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["status", "--concurrency", "0"], "concurrency"),
        (vec!["status", "--concurrency", "1000000000"], "concurrency"),
        (vec!["status", "--concurrency", "-3"], "concurrency"),
        (vec!["rollout", "set", "101"], "101"),
        (vec!["status", "--rollout-percentage", "101"], "rollout"),
        (vec!["console", "--theme", "no-such-theme"], "theme"),
        (
            vec!["status", "--config", bad_config.to_str().unwrap()],
            "bad.toml",
        ),
        (vec!["status", "--retry-max-attempts", "0"], "retry"),
        (vec!["status", "--inject-failure-rate", "2"], "failure"),
        (
            vec!["status", "--intelligence-url", "not a url"],
            "intelligence-url",
        ),
        (vec!["status", "--graph-uri", "http://x"], "graph"),
        (vec!["serve", "--listen", "999.1.1.1:80"], "listen"),
        (vec!["dlq", "replay"], "--confirm"),
        (vec!["backfill", "--rate", "-1"], "rate"),
        (vec!["drain", "--timeout", "0"], "timeout"),
    ];
    let before = run(&data, &["rollout", "show", "--json"]).json();
    for (args, needle) in cases {
        let r = run(&data, &args);
        assert_ne!(r.code, 0, "{args:?} must fail");
        assert!(
            r.stderr.to_lowercase().contains(&needle.to_lowercase()),
            "{args:?}: the error should name {needle:?}:\n{}",
            r.stderr
        );
        assert!(
            !r.stderr.contains("panicked"),
            "{args:?} panicked: {}",
            r.stderr
        );
    }
    assert_eq!(run(&data, &["rollout", "show", "--json"]).json(), before);
    // Unreachable servers are named, and the process ends (no hang).
    let port = service::free_port();
    for (args, needle) in [
        (
            vec![
                "status".to_string(),
                "--graph-uri".into(),
                format!("bolt://127.0.0.1:{port}"),
            ],
            "graph",
        ),
        (
            vec![
                "status".to_string(),
                "--qdrant-url".into(),
                format!("http://127.0.0.1:{port}"),
            ],
            "qdrant",
        ),
        (
            vec![
                "status".to_string(),
                "--kafka-brokers".into(),
                format!("127.0.0.1:{port}"),
            ],
            "kafka_bootstrap_servers",
        ),
    ] {
        let t = Instant::now();
        let r = run_s(&data, &args);
        assert_ne!(r.code, 0);
        assert!(
            r.stderr.to_lowercase().contains(needle),
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{args:?} took {:?}",
            t.elapsed()
        );
    }
}

/// The broker goes away mid-run and comes back: `/health` says so (503,
/// naming the broker), and everything completes after it returns.
#[test]
fn broker_restart_mid_run_is_reported_and_recovered() {
    if !common::built_with("kafka", cfg!(feature = "kafka")) {
        return;
    }
    let Some(tools) = Tools::or_skip("broker restart") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut kafka = OwnKafka(KafkaCluster::start(
        &tools,
        &tmp.path().join("kafka"),
        1,
        None,
    ));
    let mut flags = common::isolated(&kafka.0.bootstrap(), "restart");
    flags.extend(
        [
            "--inject-latency-ms",
            "20",
            "--concurrency",
            "8",
            "--kafka-session-timeout-ms",
            "6000",
        ]
        .map(String::from),
    );
    restart_mid_run(
        tmp.path(),
        Restart {
            label: "broker restart",
            server: "the broker",
            docs: 2_000,
            flowing_at: 200,
            flags,
            names_it: |reasons| {
                let r = reasons.to_lowercase();
                r.contains("broker") || r.contains("kafka")
            },
            drained: |h| h["consumer"]["lag"] == 0,
            holds_control: true,
        },
        &mut kafka,
    );
}

/// A server of the test's own that can be stopped and started again.
trait Restartable {
    fn stop(&mut self);
    fn start_again(&mut self);
}

/// The test's own one-node Kafka: stopped (SIGTERM) and started again on
/// its data.
struct OwnKafka(KafkaCluster);

impl Restartable for OwnKafka {
    fn stop(&mut self) {
        self.0.stop(1)
    }
    fn start_again(&mut self) {
        self.0.restart(1)
    }
}

impl Restartable for Neo4j {
    fn stop(&mut self) {
        Neo4j::stop(self)
    }
    fn start_again(&mut self) {
        Neo4j::start_again(self)
    }
}

/// What a server-restart scenario varies.
struct Restart<'a> {
    /// Prefix of the printed figures.
    label: &'a str,
    /// What returns, for the wait messages.
    server: &'a str,
    docs: u64,
    /// Completed documents that show work is flowing before the stop.
    flowing_at: u64,
    flags: Vec<String>,
    /// Whether `/health`'s reasons name the stopped backend.
    names_it: fn(&str) -> bool,
    /// Done, besides 200 and every document completed.
    drained: fn(&Value) -> bool,
    /// The fleet's operator state lives on the stopped server: `/fleet`
    /// must say it is keeping the last state, and stop saying so after.
    holds_control: bool,
}

/// Ingest `docs` files, serve them, stop the server once work flows:
/// `/health` must turn 503 naming it; start it again: everything must
/// complete with nothing in the DLQ, and `serve` must exit cleanly.
fn restart_mid_run(tmp: &Path, r: Restart, server: &mut impl Restartable) {
    let docs = r.docs;
    archon_tui::corpus::generate(&tmp.join("src"), docs as usize).unwrap();
    let data = tmp.join("data");
    let ingest = run_s(
        &data,
        &with(
            &["ingest", tmp.join("src").to_str().unwrap(), "--json"],
            &r.flags,
        ),
    );
    assert_eq!(ingest.code, 0, "{}", ingest.stderr);
    let s = Serve::start(&data, &r.flags);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = client();
        wait_health(&c, &s, "work to flow", 60, |_, h| {
            n(&h["documents"], "completed") >= r.flowing_at
        })
        .await;
        let t0 = Instant::now();
        server.stop();
        let down = wait_health(&c, &s, "/health to report the outage", 60, |code, _| {
            code == 503
        })
        .await;
        println!(
            "{}: /health 503 {:.1} s after the stop: {}",
            r.label,
            t0.elapsed().as_secs_f64(),
            down["reasons"]
        );
        assert!((r.names_it)(&down["reasons"].to_string()), "{down}");
        if r.holds_control {
            let f = wait_fleet(
                &c,
                &s,
                "/fleet to say the control topic is unreadable",
                |f| {
                    f["control_trouble"]
                        .as_str()
                        .is_some_and(|t| t.contains("keeping the last state"))
                },
            )
            .await;
            println!("{}: /fleet: {}", r.label, f["control_trouble"]);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        server.start_again();
        let t1 = Instant::now();
        let h = wait_health(
            &c,
            &s,
            &format!("everything to complete after {} returned", r.server),
            180,
            |code, h| code == 200 && n(&h["documents"], "completed") == docs && (r.drained)(h),
        )
        .await;
        println!(
            "{}: all {docs} completed {:.1} s after the restart",
            r.label,
            t1.elapsed().as_secs_f64()
        );
        assert_eq!(n(&h["documents"], "dlq"), 0, "{h}");
        if r.holds_control {
            wait_fleet(&c, &s, "the control topic readable again", |f| {
                f["control_trouble"].is_null()
            })
            .await;
        }
    });
    let (code, _) = s.terminate();
    assert_eq!(code, 0);
}

async fn wait_fleet(
    c: &reqwest::Client,
    s: &Serve,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, f) = common::serve::get(c, &s.url("/fleet")).await;
        if done(&f) {
            return f;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {f}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The graph server goes away mid-run and comes back: `/health` names the
/// graph store, and everything completes after it returns.
#[test]
fn graph_server_restart_mid_run_is_reported_and_recovered() {
    if !common::built_with("bolt", cfg!(feature = "bolt")) {
        return;
    }
    let Some(tools) = Tools::or_skip("graph restart") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut neo4j = Neo4j::start(&tools, &tmp.path().join("neo4j"), 0);
    let flags: Vec<String> = [
        "--graph-uri".to_string(),
        neo4j.uri(),
        "--inject-latency-ms".into(),
        "20".into(),
        "--concurrency".into(),
        "4".into(),
    ]
    .to_vec();
    restart_mid_run(
        tmp.path(),
        Restart {
            label: "graph restart",
            server: "the graph server",
            docs: 1_000,
            flowing_at: 100,
            flags,
            names_it: |reasons| reasons.contains("graph store"),
            drained: |h| h["documents"]["pending"] == 0,
            holds_control: false,
        },
        &mut neo4j,
    );
}
