//! The engine against an intelligence service over HTTP: a small axum server
//! written here answers POST /process/document with the real analyzer's
//! results, and can be told to be slow, to fail with a status, or to hang.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use archon_tui::backends::intelligence::{analyzer, ProcessRequest};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use common::{n, run};

#[derive(Default)]
struct Behaviour {
    latency_ms: u64,
    /// Answer this many calls with `fail_status` before answering properly.
    fail_first: u64,
    fail_status: u16,
    /// Paths containing this get 400 (a permanent failure).
    reject: Option<String>,
    /// Paths containing this never get an answer in time.
    hang: Option<String>,
}

#[derive(Default)]
struct Service {
    behaviour: Mutex<Behaviour>,
    calls: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
}

async fn process(State(s): State<Arc<Service>>, Json(req): Json<ProcessRequest>) -> Response {
    let call = s.calls.fetch_add(1, Ordering::SeqCst);
    let (latency, fail, status, reject, hang) = {
        let b = s.behaviour.lock().unwrap();
        (
            b.latency_ms,
            call < b.fail_first,
            b.fail_status,
            b.reject.clone(),
            b.hang.clone(),
        )
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if hang.is_some_and(|h| req.file_path.contains(&h)) {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    if fail {
        s.failed.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::from_u16(status).unwrap(), "service sick").into_response();
    }
    if reject.is_some_and(|r| req.file_path.contains(&r)) {
        s.rejected.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::BAD_REQUEST, "unsupported document").into_response();
    }
    Json(analyzer::analyze(&req.content, req.language.as_deref())).into_response()
}

/// Start the service on a free loopback port in its own runtime thread.
fn start(b: Behaviour) -> (Arc<Service>, SocketAddr) {
    let service = Arc::new(Service {
        behaviour: Mutex::new(b),
        ..Default::default()
    });
    let app = Router::new()
        .route("/process/document", post(process))
        .with_state(service.clone());
    (service, common::service::spawn_router(0, app))
}

fn corpus(files: usize) -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), files).unwrap();
    src
}

fn ingest(data: &std::path::Path, src: &std::path::Path, url: &str, extra: &[&str]) -> common::Run {
    let mut args = vec![
        "ingest",
        src.to_str().unwrap(),
        "--wait",
        "--json",
        "--timeout",
        "120",
        "--intelligence-url",
        url,
    ];
    args.extend_from_slice(extra);
    run(data, &args)
}

#[test]
fn http_service_enriches_everything_with_the_same_results_as_the_embedded_analyzer() {
    let (svc, addr) = start(Behaviour {
        latency_ms: 2,
        ..Default::default()
    });
    let src = corpus(300);
    let data = tempfile::tempdir().unwrap();
    let r = ingest(
        data.path(),
        src.path(),
        &format!("http://{addr}"),
        &["--concurrency", "16"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(n(&j, "completed"), 300, "{j}");
    assert_eq!(
        svc.calls.load(Ordering::SeqCst),
        300,
        "one call per document"
    );
    let s = run(
        data.path(),
        &[
            "status",
            "--json",
            "--intelligence-url",
            &format!("http://{addr}"),
        ],
    )
    .json();
    assert_eq!(s["backends"]["intelligence"], "http", "{s}");

    // Same corpus through the in-process analyzer: identical enrichment.
    let local = tempfile::tempdir().unwrap();
    let r2 = run(
        local.path(),
        &["ingest", src.path().to_str().unwrap(), "--wait", "--json"],
    );
    assert_eq!(r2.code, 0, "{}", r2.stderr);
    let counts = |d: &std::path::Path| {
        let db = rusqlite::Connection::open(d.join("archon.sqlite3")).unwrap();
        let mut q = db
            .prepare(
                "SELECT entity_id, enrichment_json, json_array_length(entities_json) \
                 FROM documents ORDER BY entity_id",
            )
            .unwrap();
        let rows: Vec<(String, Option<String>, i64)> = q
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        rows
    };
    assert_eq!(counts(data.path()), counts(local.path()));
}

#[test]
fn status_503_is_retried_and_400_goes_to_the_dlq_at_once() {
    let (svc, addr) = start(Behaviour {
        fail_first: 20,
        fail_status: 503,
        reject: Some("mod03/".into()),
        ..Default::default()
    });
    let src = corpus(200);
    let data = tempfile::tempdir().unwrap();
    let r = ingest(
        data.path(),
        src.path(),
        &format!("http://{addr}"),
        &[
            "--retry-backoff-base",
            "0.01",
            "--breaker-failure-threshold",
            "1000",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(svc.failed.load(Ordering::SeqCst), 20);
    let rejected = walk(src.path())
        .iter()
        .filter(|p| p.contains("mod03/"))
        .count() as u64;
    assert!(rejected > 0);
    assert_eq!(n(&j, "dlq"), rejected, "only the 400s are parked: {j}");
    assert_eq!(n(&j, "completed"), 200 - rejected, "{j}");
    let list = run(data.path(), &["dlq", "list", "--json"]).json();
    assert_eq!(
        svc.rejected.load(Ordering::SeqCst),
        rejected,
        "a 400 is never retried: one 400 per parked document"
    );
    for e in list.as_array().unwrap() {
        assert_eq!(e["error_type"], "HTTP400", "{e}");
        assert!(
            e["reason"]
                .as_str()
                .unwrap()
                .contains("unsupported document"),
            "{e}"
        );
    }
}

#[test]
fn a_hanging_call_times_out_and_is_parked_after_its_attempts() {
    let (_svc, addr) = start(Behaviour {
        hang: Some("mod01/".into()),
        ..Default::default()
    });
    let src = corpus(60);
    let data = tempfile::tempdir().unwrap();
    let r = ingest(
        data.path(),
        src.path(),
        &format!("http://{addr}"),
        &[
            "--intelligence-timeout-secs",
            "0.3",
            "--retry-max-attempts",
            "2",
            "--retry-backoff-base",
            "0.01",
            "--breaker-failure-threshold",
            "1000",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    let hung = walk(src.path())
        .iter()
        .filter(|p| p.contains("mod01/"))
        .count() as u64;
    assert!(hung > 0);
    assert_eq!(n(&j, "dlq"), hung, "{j}");
    let list = run(
        data.path(),
        &["dlq", "list", "--json", "--error-type", "TimeoutException"],
    )
    .json();
    assert_eq!(list.as_array().unwrap().len() as u64, hung);
    assert_eq!(list[0]["retries"], 2);
}

/// An outage opens the breaker (consumption paused, nothing parked); when the
/// service is back, the same data dir (and broker) drains to the end.
fn outage_then_recovery(broker_flags: &[String]) -> common::Run {
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let src = corpus(40);
    let data = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let base = [
        "ingest",
        src.path().to_str().unwrap(),
        "--wait",
        "--json",
        "--timeout",
        "3",
        "--intelligence-url",
        &url,
        "--retry-backoff-base",
        "0.01",
    ];
    let r = common::run_s(data.path(), &common::with(&base, broker_flags));
    assert_eq!(r.code, 3, "timed out waiting: {}", r.stderr);
    let j = r.json();
    assert_eq!(n(&j, "dlq"), 0, "an outage parks nothing: {j}");
    assert_eq!(n(&j, "pending"), 40, "still pending and visible: {j}");
    assert_eq!(j["breaker"], "OPEN", "{j}");
    // The service is back (the in-process analyzer stands in for it).
    let back = common::run_s(
        data.path(),
        &common::with(&["drain", "--json", "--timeout", "120"], broker_flags),
    );
    assert_eq!(back.code, 0, "{}", back.stderr);
    let j = back.json();
    assert_eq!(
        (n(&j, "completed"), n(&j, "dlq"), n(&j, "lag")),
        (40, 0, 0),
        "{j}"
    );
    r
}

#[test]
fn an_outage_pauses_and_recovery_drains_on_the_embedded_broker() {
    outage_then_recovery(&[]);
}

#[test]
fn an_outage_pauses_and_recovery_drains_on_kafka() {
    let Some(b) = common::broker() else { return };
    outage_then_recovery(&common::isolated(&b, "outage"));
}

#[test]
fn a_malformed_intelligence_url_is_named() {
    let data = tempfile::tempdir().unwrap();
    let bad = run(
        data.path(),
        &["status", "--intelligence-url", "localhost:8053"],
    );
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("intelligence-url"), "{}", bad.stderr);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in ignore::WalkBuilder::new(dir).build().flatten() {
        if e.file_type().is_some_and(|t| t.is_file()) {
            out.push(
                e.path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    out
}
