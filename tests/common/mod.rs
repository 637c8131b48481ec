//! Helpers shared by the integration tests: run the real binary, parse JSON.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub mod serve;
pub mod service;
pub mod services;
pub mod tmux;

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_archon-tui"));
    // Keep the developer's environment and config file out of the tests.
    for var in [
        "MAX_CONCURRENT_ENRICHMENTS",
        "ENABLE_ASYNC_ENRICHMENT",
        "ASYNC_ENRICHMENT_ROLLOUT_PERCENTAGE",
        "ASYNC_ENRICHMENT_ENABLED_PROJECTS",
        "KAFKA_GROUP_ID",
        "KAFKA_BOOTSTRAP_SERVERS",
        "RETRY_MAX_ATTEMPTS",
        "RETRY_BACKOFF_BASE",
        "CIRCUIT_BREAKER_FAILURE_THRESHOLD",
        "CIRCUIT_BREAKER_RECOVERY_TIMEOUT",
        "MAX_PROCESSING_RATE",
        "ARCHON_MEMBER_ID",
        "ARCHON_READ_ONLY",
        "ARCHON_CONFIG",
        "ARCHON_DATA_DIR",
        "MEMGRAPH_URI",
        "QDRANT_URL",
        "INTELLIGENCE_SERVICE_URL",
    ] {
        c.env_remove(var);
    }
    c.env("XDG_CONFIG_HOME", "/nonexistent-archon-test-config");
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// The longest one `run` may take. A command that hangs (CI once saw
/// `ingest --wait` wait for ever on a breaker that could not close) fails its
/// test with what it printed, instead of holding the suite to CI's limit.
const RUN_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

pub fn run(data_dir: &Path, args: &[&str]) -> Run {
    use std::io::Read;
    let mut child = bin()
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run archon-tui");
    let reader = |mut from: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            from.read_to_end(&mut bytes).ok();
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = reader(Box::new(child.stdout.take().unwrap()));
    let stderr = reader(Box::new(child.stderr.take().unwrap()));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for archon-tui") {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            child.kill().ok();
            child.wait().ok();
            let err = stderr.join().unwrap_or_default();
            let from = err.char_indices().rev().nth(3999).map_or(0, |(i, _)| i);
            let tail = &err[from..];
            panic!("archon-tui {args:?} did not finish in {RUN_LIMIT:?}; killed. stderr (end):\n{tail}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

pub fn status(data_dir: &Path) -> Value {
    let r = run(data_dir, &["status", "--json"]);
    assert_eq!(r.code, 0, "status failed: {}", r.stderr);
    r.json()
}

pub fn n(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing or not a number in {v}"))
}

/// The data dir's SQLite database, read-only (a test's look at what the
/// engine recorded).
pub fn sqlite(data: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open_with_flags(
        data.join("archon.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the data dir database");
    c.busy_timeout(std::time::Duration::from_secs(30)).unwrap();
    c
}

/// The one number `sql` selects.
pub fn count(c: &rusqlite::Connection, sql: &str) -> u64 {
    c.query_row(sql, [], |r| r.get::<_, i64>(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}")) as u64
}

/// Record that the running test is skipped for want of `what`: said loudly
/// on stderr and appended to the skip log (`ARCHON_TEST_SKIPS`, default
/// target/test-skips.txt) that scripts/test.sh prints after the run, so a
/// skipped test is reported as skipped, not only counted among the passed.
pub fn skip(what: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string();
    let binary = std::env::args()
        .next()
        .and_then(|a| {
            Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let binary = binary.rsplit_once('-').map_or(binary.as_str(), |(b, _)| b);
    eprintln!("\n!!!!! SKIPPED {binary}::{test}: {what} !!!!!\n");
    let log = std::env::var_os("ARCHON_TEST_SKIPS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-skips.txt"),
        std::path::PathBuf::from,
    );
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        use std::io::Write;
        writeln!(f, "{binary}::{test}: {what}").ok();
    }
}

/// A server of the shared session (`scripts/test-services.sh start` exports
/// `var`); None, with a loud skip, when it is not running outside CI.
/// Whether this build has the remote backend `feature`; a loud skip when
/// not (`--no-default-features` builds the embedded engine only).
pub fn built_with(feature: &str, on: bool) -> bool {
    if !on {
        skip(&format!("built without the `{feature}` feature"));
    }
    on
}

fn shared(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "{var} is not set: scripts/test.sh starts {what} via scripts/test-services.sh"
                );
            }
            skip(&format!(
                "no {what} (run `eval $(bash scripts/test-services.sh start)` first)"
            ));
            None
        }
    }
}

/// The shared session's Apache Kafka (one KRaft node).
pub fn broker() -> Option<String> {
    if !built_with("kafka", cfg!(feature = "kafka")) {
        return None;
    }
    shared("ARCHON_TEST_KAFKA", "Apache Kafka")
}

pub fn isolated(broker: &str, name: &str) -> Vec<String> {
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000;
    let t = |kind: &str| format!("test.{name}.{nonce}.{kind}");
    vec![
        "--kafka-brokers".into(),
        broker.into(),
        "--enrichment-topic".into(),
        t("enrich-document.v1"),
        "--dlq-topic".into(),
        t("enrich-document-dlq.v1"),
        "--completed-topic".into(),
        t("enrichment-completed.v1"),
        "--group-id".into(),
        t("group"),
    ]
}

/// The value after `flag` in `flags`.
pub fn flag<'a>(flags: &'a [String], flag: &str) -> &'a str {
    let i = flags
        .iter()
        .position(|f| f == flag)
        .unwrap_or_else(|| panic!("{flag} not in {flags:?}"));
    &flags[i + 1]
}

/// The shared session's Neo4j (Bolt).
pub fn bolt() -> Option<String> {
    if !built_with("bolt", cfg!(feature = "bolt")) {
        return None;
    }
    shared("ARCHON_TEST_BOLT", "Neo4j (Bolt)")
}

/// Counts of Document nodes by enrichment_status for one project (and by
/// enrichments applied, as "applied:N"), in the shared Neo4j.
pub fn graph_status_counts(project: &str) -> std::collections::BTreeMap<String, u64> {
    let mut counts = std::collections::BTreeMap::new();
    for (status, applied, n) in graph_status_applied(project) {
        *counts.entry(status).or_insert(0) += n;
        *counts.entry(format!("applied:{applied}")).or_insert(0) += n;
    }
    counts
}

/// (enrichment_status, enrichment_applied, documents)
pub type StatusRow = (String, u64, u64);

/// [`StatusRow`]s of one project's Document nodes in the shared Neo4j, read
/// by the Python neo4j driver (not archon-tui's Bolt adapter).
pub fn graph_status_applied(project: &str) -> Vec<StatusRow> {
    let uri = bolt().expect("the shared Neo4j");
    let tools =
        services::Tools::locate().expect("the test tools (scripts/test-services.sh install)");
    services::neo4j_status_rows(&tools, &uri, project)
}

/// The engine a CLI run on `data` with `flags` would open (the same config
/// resolution, no config file).
pub async fn open_engine(
    data: &Path,
    flags: &[String],
) -> std::sync::Arc<archon_tui::engine::Engine> {
    use clap::Parser;
    let mut args = vec![
        "archon-tui".to_string(),
        "status".into(),
        "--data-dir".into(),
        data.display().to_string(),
    ];
    args.extend(flags.iter().cloned());
    let cli = archon_tui::cli::Cli::try_parse_from(args).unwrap();
    let cfg = archon_tui::config::resolve(&cli.global.settings).unwrap();
    archon_tui::runtime::open_engine(cfg).await.unwrap()
}

/// Raw payloads straight onto the engine's request topic (keys given), in
/// batches: what a misbehaving producer could put there.
pub async fn put_on_request_topic(
    engine: &archon_tui::engine::Engine,
    records: Vec<(String, Vec<u8>)>,
) {
    let records: Vec<archon_tui::backends::broker::OutRecord> = records
        .into_iter()
        .map(|(key, value)| archon_tui::backends::broker::OutRecord {
            key: key.into_bytes(),
            value,
        })
        .collect();
    for chunk in records.chunks(500) {
        engine
            .backends
            .broker
            .produce(&engine.cfg.enrich_topic, chunk.to_vec())
            .await
            .unwrap();
    }
}

/// `base` followed by `extra`, as owned strings.
pub fn with(base: &[&str], extra: &[String]) -> Vec<String> {
    base.iter()
        .map(|s| s.to_string())
        .chain(extra.iter().cloned())
        .collect()
}

pub fn run_s(data: &std::path::Path, args: &[String]) -> Run {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(data, &refs)
}

/// Every call fails, one attempt each, no breaker: each document of an
/// ingest lands in the DLQ at once.
pub const PARK_ALL: [&str; 8] = [
    "--inject-failure-rate",
    "1.0",
    "--circuit-breaker",
    "false",
    "--retry-max-attempts",
    "1",
    "--retry-backoff-base",
    "0.005",
];

/// `ingest SRC --wait --json` with every document parked in the DLQ (extra
/// flags after: backends, `--project`); its JSON answer.
pub fn park_all(data: &Path, src: &Path, extra: &[String]) -> Value {
    let mut args = vec![
        "ingest".to_string(),
        src.to_str().expect("a UTF-8 temp path").to_string(),
        "--wait".into(),
        "--json".into(),
    ];
    args.extend(PARK_ALL.iter().map(|s| s.to_string()));
    args.extend(extra.iter().cloned());
    let r = run_s(data, &args);
    assert_eq!(r.code, 0, "ingest (all parked): {}", r.stderr);
    r.json()
}
