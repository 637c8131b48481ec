//! `archon-tui serve`: health, Prometheus metrics (parsed with a Prometheus
//! text parser), the breaker JSON, token-guarded control, the alert rules'
//! metrics, and SIGTERM during a drain.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::serve::{client, get, kind, post, scrape, value, wait_health, Serve};
use common::{n, run};
use serde_json::{json, Value};

const DOCS: u64 = 300;

/// Every document finished and every offset committed (the commit follows
/// the recorded outcome, so lag can trail the counts by a moment).
fn settled(h: &Value) -> bool {
    let d = &h["documents"];
    d["pending"] == 0 && n(d, "completed") + n(d, "dlq") == DOCS && h["consumer"]["lag"] == 0
}

/// Names of `archon_*` metrics used by the shipped alert rules.
fn alert_metrics() -> BTreeSet<String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("monitoring/prometheus/async-enrichment-alerts.yml"),
    )
    .unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).expect("valid YAML");
    let ident = regex::Regex::new(r"[a-zA-Z_:][a-zA-Z0-9_:]*").unwrap();
    let mut names = BTreeSet::new();
    let mut alerts = 0;
    for group in docs[0]["groups"].as_vec().expect("groups") {
        for rule in group["rules"].as_vec().expect("rules") {
            alerts += 1;
            let expr = rule["expr"].as_str().expect("expr");
            for m in ident.find_iter(expr) {
                if m.as_str().starts_with("archon_") {
                    names.insert(m.as_str().to_string());
                }
            }
        }
    }
    assert!(alerts >= 5, "the seed's five alerts at least");
    names
}

/// Names of `archon_*` metrics the seed §10.2 Grafana dashboard queries.
fn dashboard_metrics() -> BTreeSet<String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("monitoring/grafana/async-enrichment-dashboard.json"),
    )
    .unwrap();
    let dash: Value = serde_json::from_str(&text).expect("valid dashboard JSON");
    let ident = regex::Regex::new(r"archon_[a-zA-Z0-9_]*").unwrap();
    let mut names = BTreeSet::new();
    let panels = dash["panels"].as_array().expect("panels");
    let rows = panels.iter().filter(|p| p["type"] == "row").count();
    assert_eq!(rows, 5, "the seed's five panel groups");
    let mut queries = 0;
    for p in panels.iter().filter(|p| p["type"] != "row") {
        for t in p["targets"].as_array().expect("targets") {
            queries += 1;
            for m in ident.find_iter(t["expr"].as_str().expect("expr")) {
                names.insert(m.as_str().to_string());
            }
        }
    }
    assert!(queries >= 15, "{queries} queries");
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exports_health_metrics_and_guarded_control() {
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), DOCS as usize).unwrap();
    let data = tempfile::tempdir().unwrap();
    let args: Vec<String> = [
        "--ingest",
        src.path().to_str().unwrap(),
        "--project",
        "svc",
        // Some documents go to the DLQ (one attempt each), none by the breaker.
        "--inject-failure-rate",
        "0.1",
        "--seed",
        "7",
        "--retry-max-attempts",
        "1",
        "--breaker-failure-threshold",
        "100000",
    ]
    .map(String::from)
    .to_vec();
    let s = Serve::start(data.path(), &args);
    let c = client();

    // Work flows through the served engine.
    let h = wait_health(&c, &s, "the corpus to settle", 120, |_, h| settled(h)).await;
    let (code, h2) = get(&c, &s.url("/health")).await;
    assert_eq!(code, 200, "{h2}");
    assert_eq!(h2["status"], "healthy", "{h2}");
    assert_eq!(h["consumer"]["running"], true);
    assert_eq!(n(&h2["consumer"], "messages_consumed"), DOCS);
    assert_eq!(n(&h2["consumer"], "messages_processed"), DOCS);
    assert_eq!(h2["circuit_breaker"]["state"], "CLOSED");
    assert!(h2["circuit_breaker"]["failure_count"].is_u64());
    let dlq = n(&h2["documents"], "dlq");
    assert!(dlq > 0 && dlq < DOCS / 2, "10% injected failures: {dlq}");
    assert!(n(&h2["consumer"], "errors") >= dlq);

    let (code, p) = get(&c, &s.url("/health/enrichment")).await;
    assert_eq!(code, 200);
    assert_eq!(p["kafka_producer"]["status"], "healthy");
    assert_eq!(p["kafka_producer"]["enabled"], true);
    assert_eq!(
        p["kafka_producer"]["topic"],
        "dev.archon-intelligence.enrich-document.v1"
    );
    assert_eq!(n(&p["kafka_producer"], "events_published"), DOCS);

    // Every seed §10.1 metric the issue names, parsed, with its type and values.
    let m = scrape(&c, &s).await;
    for (name, k) in [
        ("archon_bridge_documents_indexed_total", "counter"),
        ("archon_bridge_indexing_duration_seconds", "histogram"),
        ("archon_bridge_enrichment_events_published_total", "counter"),
        (
            "archon_enrichment_consumer_messages_consumed_total",
            "counter",
        ),
        (
            "archon_enrichment_consumer_messages_processed_total",
            "counter",
        ),
        (
            "archon_enrichment_consumer_processing_duration_seconds",
            "histogram",
        ),
        ("archon_enrichment_consumer_errors_total", "counter"),
        ("archon_enrichment_consumer_dlq_published_total", "counter"),
        ("archon_enrichment_consumer_retries_total", "counter"),
        ("archon_enrichment_consumer_circuit_breaker_state", "gauge"),
        ("archon_kafka_consumer_lag", "gauge"),
        ("archon_documents_pending_enrichment", "gauge"),
    ] {
        assert_eq!(kind(&m, name), k, "{name}");
        assert!(m.docs.contains_key(name), "{name} has HELP text");
    }
    let v = |name: &str| value(&m, name, &[]);
    assert_eq!(v("archon_bridge_documents_indexed_total"), DOCS as f64);
    assert_eq!(
        v("archon_bridge_enrichment_events_published_total"),
        DOCS as f64
    );
    assert_eq!(
        v("archon_enrichment_consumer_messages_consumed_total"),
        DOCS as f64
    );
    assert_eq!(
        v("archon_enrichment_consumer_messages_processed_total"),
        DOCS as f64
    );
    assert_eq!(
        v("archon_enrichment_consumer_dlq_published_total"),
        dlq as f64
    );
    assert_eq!(
        value(
            &m,
            "archon_enrichment_consumer_errors_total",
            &[("error_type", "InjectedFailure")]
        ),
        dlq as f64
    );
    assert_eq!(v("archon_enrichment_consumer_retries_total"), 0.0);
    assert_eq!(
        v("archon_documents_enriched_total") + dlq as f64,
        DOCS as f64
    );
    assert_eq!(v("archon_enrichment_consumer_circuit_breaker_state"), 0.0);
    assert_eq!(v("archon_documents_pending_enrichment"), 0.0);
    assert_eq!(
        v("archon_bridge_indexing_duration_seconds_count"),
        DOCS as f64
    );
    assert_eq!(
        v("archon_enrichment_consumer_processing_duration_seconds_count"),
        v("archon_documents_enriched_total")
    );
    // Seed §10.1: index → enrichment, one observation per enriched document.
    assert_eq!(kind(&m, "archon_enrichment_age_seconds"), "histogram");
    assert_eq!(
        v("archon_enrichment_age_seconds_count"),
        v("archon_documents_enriched_total")
    );
    assert!(v("archon_enrichment_age_seconds_sum") > 0.0);
    // Seed §10.2: pending by age; all settled, so nothing waits.
    for age in ["1m", "10m", "1h", "1d"] {
        assert_eq!(
            value(
                &m,
                "archon_documents_pending_by_age",
                &[("older_than", age)]
            ),
            0.0,
            "{age}"
        );
    }
    let lag: Vec<_> = m
        .samples
        .iter()
        .filter(|x| x.metric == "archon_kafka_consumer_lag")
        .collect();
    assert_eq!(
        lag.len(),
        4,
        "one series per partition of the request topic"
    );
    for l in &lag {
        assert!(l.labels.get("partition").is_some());
        assert!(matches!(l.value, prometheus_parse::Value::Gauge(v) if v == 0.0));
    }

    // Every metric an alert uses is exported.
    let exported: BTreeSet<String> = m.samples.iter().map(|x| x.metric.clone()).collect();
    for name in alert_metrics() {
        let base = name.strip_suffix("_bucket").unwrap_or(&name);
        assert!(
            exported.contains(&name) || exported.contains(base),
            "alert rule uses {name}, which /metrics does not export"
        );
    }

    // Every metric a panel of the Grafana dashboard queries is exported.
    for name in dashboard_metrics() {
        let base = name.strip_suffix("_bucket").unwrap_or(&name);
        assert!(
            exported.contains(&name) || exported.contains(base),
            "the Grafana dashboard queries {name}, which /metrics does not export"
        );
    }

    // Breaker JSON (seed §5.2 fields).
    let (code, b) = get(&c, &s.url("/metrics/circuit_breaker")).await;
    assert_eq!(code, 200);
    assert_eq!(b["state"], "CLOSED");
    for k in ["failure_count", "last_failure", "opened_at"] {
        assert!(b.get(k).is_some(), "{k} in {b}");
    }

    // Control without the token (or with a wrong one): 401, nothing changes.
    let token = std::fs::read_to_string(data.path().join("control-token")).unwrap();
    let calls: Vec<(&str, Option<Value>)> = vec![
        ("/circuit_breaker/reset", None),
        ("/pause", None),
        ("/resume", None),
        ("/concurrency", Some(json!({"n": 2}))),
        ("/rollout", Some(json!({"percentage": 5}))),
        ("/rollback", None),
        (
            "/dlq/replay",
            Some(json!({"filter": "type:InjectedFailure"})),
        ),
        ("/backfill", Some(json!({}))),
    ];
    for (path, body) in &calls {
        for bad in [
            None,
            Some("wrong-token-0123456789"),
            Some(&token[..token.len() - 1]),
        ] {
            let (code, e) = post(&c, &s.url(path), bad, body.clone()).await;
            assert_eq!(code, 401, "POST {path} with {bad:?}: {e}");
            assert!(e["error"].as_str().unwrap().contains("Bearer"));
        }
    }
    let (_, h) = get(&c, &s.url("/health")).await;
    assert_eq!(h["status"], "healthy", "{h}");
    assert_eq!(h["consumer"]["paused"], false);
    assert_eq!(h["consumer"]["held"], false);
    assert_eq!(h["consumer"]["concurrency"], 10);
    assert_eq!(n(&h["documents"], "dlq"), dlq, "nothing replayed");
    let (_, p) = get(&c, &s.url("/health/enrichment")).await;
    assert_eq!(p["rollout"]["percentage"], 100);
    assert_eq!(p["rollout"]["enabled"], true);

    // With the token, each lever works (and bad values are refused with 400).
    let t = Some(token.as_str());
    let (code, r) = post(&c, &s.url("/pause"), t, None).await;
    assert_eq!(code, 200, "{r}");
    let (code, h) = get(&c, &s.url("/health")).await;
    assert_eq!((code, h["status"].as_str()), (200, Some("degraded")));
    assert_eq!(h["consumer"]["running"], false);
    assert_eq!(
        value(
            &scrape(&c, &s).await,
            "archon_enrichment_consumer_paused",
            &[]
        ),
        1.0
    );
    assert_eq!(post(&c, &s.url("/resume"), t, None).await.0, 200);
    assert_eq!(
        get(&c, &s.url("/health")).await.1["consumer"]["running"],
        true
    );

    assert_eq!(
        post(&c, &s.url("/concurrency"), t, Some(json!({"n": 3})))
            .await
            .0,
        200
    );
    for bad in [
        json!({"n": 0}),
        json!({"n": 1_000_000_000u64}),
        json!({"n": "x"}),
        json!({}),
    ] {
        let (code, e) = post(&c, &s.url("/concurrency"), t, Some(bad.clone())).await;
        assert_eq!(code, 400, "{bad}: {e}");
    }
    assert_eq!(
        value(
            &scrape(&c, &s).await,
            "archon_enrichment_consumer_concurrency",
            &[]
        ),
        3.0
    );

    assert_eq!(
        post(&c, &s.url("/rollout"), t, Some(json!({"percentage": 40})))
            .await
            .0,
        200
    );
    for bad in [
        json!({"percentage": 101}),
        json!({"percentage": -1}),
        json!({}),
    ] {
        assert_eq!(
            post(&c, &s.url("/rollout"), t, Some(bad.clone())).await.0,
            400,
            "{bad}"
        );
    }
    assert_eq!(
        get(&c, &s.url("/health/enrichment")).await.1["rollout"]["percentage"],
        40
    );
    let persisted = run(data.path(), &["rollout", "show", "--json"]);
    assert_eq!(
        persisted.json()["percentage"],
        40,
        "persisted for every process"
    );

    let (code, e) = post(&c, &s.url("/dlq/replay"), t, Some(json!({}))).await;
    assert_eq!(code, 400, "replaying everything needs confirm: {e}");
    let (code, e) = post(
        &c,
        &s.url("/dlq/replay"),
        t,
        Some(json!({"filter": "type:"})),
    )
    .await;
    assert_eq!(code, 400, "{e}");
    let (code, r) = post(
        &c,
        &s.url("/dlq/replay"),
        t,
        Some(json!({"filter": "type:InjectedFailure", "dry_run": true})),
    )
    .await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(n(&r["outcome"], "replayed"), dlq);
    assert_eq!(
        n(&get(&c, &s.url("/health")).await.1["documents"], "dlq"),
        dlq,
        "dry run"
    );
    let (code, r) = post(
        &c,
        &s.url("/dlq/replay"),
        t,
        Some(json!({"filter": {"error_type": "InjectedFailure"}})),
    )
    .await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(n(&r["outcome"], "replayed"), dlq);
    // Most replayed documents now succeed (failures are still injected).
    wait_health(&c, &s, "the replay to settle", 120, |_, h| {
        settled(h) && n(&h["documents"], "dlq") < dlq
    })
    .await;

    assert_eq!(
        post(&c, &s.url("/circuit_breaker/reset"), t, None).await.0,
        200
    );

    let (code, r) = post(&c, &s.url("/rollback"), t, None).await;
    assert_eq!(code, 200, "{r}");
    assert!(r["outcome"]["effective_ms"].is_u64());
    let (_, h) = get(&c, &s.url("/health")).await;
    assert_eq!(
        (h["status"].as_str(), &h["consumer"]["held"]),
        (Some("degraded"), &json!(true))
    );
    assert_eq!(
        get(&c, &s.url("/health/enrichment")).await.1["kafka_producer"]["status"],
        "disabled"
    );
    assert_eq!(post(&c, &s.url("/resume"), t, None).await.0, 200);
    let (_, h) = get(&c, &s.url("/health")).await;
    assert_eq!(h["status"], "healthy", "{h}");
    assert_eq!(
        get(&c, &s.url("/health/enrichment")).await.1["kafka_producer"]["enabled"],
        true
    );

    assert_eq!(get(&c, &s.url("/no-such")).await.0, 404);
    let (code, _) = s.terminate();
    assert_eq!(code, 0);
}

/// SIGTERM while documents are being enriched: exit 0 within 5 s, nothing
/// processing left behind, and a later drain completes every document.
fn sigterm_during_drain(latency_ms: u64, broker: &[String]) {
    const N: u64 = 1000;
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), N as usize).unwrap();
    let data = tempfile::tempdir().unwrap();
    let ingest = common::run_s(
        data.path(),
        &common::with(&["ingest", src.path().to_str().unwrap(), "--json"], broker),
    );
    assert_eq!(ingest.code, 0, "{}", ingest.stderr);
    assert_eq!(n(&ingest.json(), "published"), N);
    let args = common::with(
        &[
            "--inject-latency-ms",
            &latency_ms.to_string(),
            "--concurrency",
            "50",
        ],
        broker,
    );
    let s = Serve::start(data.path(), &args);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = client();
        let deadline = Instant::now() + Duration::from_secs(60);
        // Stop while work is in flight (and, at 20 ms, some already done).
        loop {
            let m = scrape(&c, &s).await;
            let consumed = value(
                &m,
                "archon_enrichment_consumer_messages_consumed_total",
                &[],
            );
            let enriched = value(&m, "archon_documents_enriched_total", &[]);
            if consumed > 0.0 && (latency_ms > 1000 || enriched >= 100.0) {
                assert!(enriched < N as f64, "stopped before the end");
                break;
            }
            assert!(Instant::now() < deadline, "no work started");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let log = s.log.clone();
    let (code, took) = s.terminate();
    eprintln!("latency {latency_ms} ms: exit {took:?} after SIGTERM");
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(code, 0, "clean exit on SIGTERM: {stderr}");
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
    let st = common::status(data.path());
    assert_eq!(
        st["counts"]["processing"], 0,
        "in-flight work returned: {st}"
    );
    let drained = common::run_s(
        data.path(),
        &common::with(&["drain", "--json", "--timeout", "120"], broker),
    );
    assert_eq!(drained.code, 0, "{}", drained.stderr);
    let d = drained.json();
    assert_eq!(
        (
            n(&d, "completed"),
            n(&d, "dlq"),
            n(&d, "pending"),
            n(&d, "lag")
        ),
        (N, 0, 0, 0),
        "nothing lost: {d}"
    );
}

#[test]
fn sigterm_mid_drain_finishes_quick_calls() {
    sigterm_during_drain(20, &[]);
}

#[test]
fn sigterm_mid_drain_returns_hung_calls() {
    // Calls take 8 s: they get a 2 s grace, then go back on the topic (were
    // they waited for, the exit would take 8 s and fail the 5 s bound).
    sigterm_during_drain(8000, &[]);
}

#[test]
fn sigterm_mid_drain_on_kafka() {
    let Some(b) = common::broker() else { return };
    sigterm_during_drain(8000, &common::isolated(&b, "serve-sigterm"));
}

#[test]
fn a_busy_port_is_a_named_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let r = run(data.path(), &["serve", "--listen", &addr]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("--listen") && r.stderr.contains(&addr),
        "{}",
        r.stderr
    );
    let r = run(data.path(), &["serve", "--listen", "nonsense"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("--listen"), "{}", r.stderr);
}

/// Refused input is refused once, by the command itself: every control
/// endpoint answers 400 with the reason, and the CLI exits 2 with the same
/// text; nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_input_is_400_over_http_and_exit_2_on_the_cli_with_one_reason() {
    let data = tempfile::tempdir().unwrap();
    let s = Serve::start(data.path(), &[]);
    let c = client();
    let token = std::fs::read_to_string(data.path().join("control-token")).unwrap();
    let t = Some(token.trim());
    let cases: [(&str, Value, &str); 7] = [
        (
            "/concurrency",
            json!({"n": 0}),
            "concurrency must be between 1 and",
        ),
        (
            "/rollout",
            json!({"percentage": 101}),
            "rollout percentage must be 0..=100, got 101",
        ),
        ("/rollout", json!({}), "give percentage (0..=100)"),
        (
            "/rollout",
            json!({"enable_project": ""}),
            "project name must be 1..=255 characters",
        ),
        (
            "/dlq/replay",
            json!({}),
            "no filter: this replays every DLQ entry",
        ),
        ("/dlq/replay", json!({"filter": "type:"}), "filter"),
        (
            "/backfill",
            json!({"rate": 0}),
            "rate must be a positive number",
        ),
    ];
    for (path, body, reason) in cases {
        let (code, e) = post(&c, &s.url(path), t, Some(body.clone())).await;
        assert_eq!(code, 400, "{path} {body}: {e}");
        let said = e["error"].as_str().unwrap_or_default();
        assert!(
            said.contains(reason),
            "{path} {body}: {said:?} lacks {reason:?}"
        );
    }
    let (_, p) = get(&c, &s.url("/health/enrichment")).await;
    assert_eq!(p["rollout"]["percentage"], 100, "nothing changed: {p}");
    // The CLI: the same reasons, exit 2.
    for (args, reason) in [
        (
            &["rollout", "set", "101"][..],
            "rollout percentage must be 0..=100, got 101",
        ),
        (
            &["rollout", "enable", ""][..],
            "project name must be 1..=255 characters",
        ),
        (
            &["dlq", "replay"][..],
            "no filter: this replays every DLQ entry",
        ),
        (
            &["dlq", "purge", "--error-type", "Timeout"][..],
            "purging drops DLQ entries for good",
        ),
        (
            &["backfill", "--rate=0"][..],
            "rate must be a positive number",
        ),
    ] {
        let r = run(data.path(), args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(reason), "{args:?}: {}", r.stderr);
    }
    let (code, _) = s.terminate();
    assert_eq!(code, 0);
}

/// A webhook that records what it is sent: (bodies, its URL).
fn capture_webhook() -> (std::sync::Arc<std::sync::Mutex<Vec<Value>>>, String) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).ok();
            if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                sink.lock().unwrap().push(v);
            }
            let mut s = stream;
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .ok();
        }
    });
    (got, url)
}

/// `serve --alert-webhook`: a held partition with lag fires the status
/// alert at once and the lag alert after its duration, with time lag; both
/// resolve once the hold is lifted and the lag drains.
#[test]
fn lag_alerts_fire_and_resolve_on_the_webhook() {
    let (got, url) = capture_webhook();
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 60).unwrap();
    assert_eq!(run(data.path(), &["hold"]).code, 0);
    let s = Serve::start(
        data.path(),
        &[
            "--alert-webhook",
            &url,
            "--alert-lag-over",
            "5",
            "--alert-for",
            "1",
        ]
        .map(String::from),
    );
    let r = run(
        data.path(),
        &["ingest", src.path().to_str().unwrap(), "--json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let wait = |what: &str, pred: &dyn Fn(&[Value]) -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let seen = got.lock().unwrap().clone();
            if pred(&seen) {
                return seen;
            }
            assert!(std::time::Instant::now() < deadline, "{what}: {seen:?}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let has = |v: &[Value], rule: &str, state: &str| {
        v.iter().any(|e| e["rule"] == rule && e["state"] == state)
    };
    let seen = wait("the firing alerts", &|v| {
        has(v, "status", "firing") && has(v, "lag", "firing")
    });
    let lag = seen.iter().find(|e| e["rule"] == "lag").unwrap();
    assert_eq!(lag["status"], "STOP", "held: {lag}");
    assert!(lag["lag"].as_i64().unwrap() > 5, "{lag}");
    assert!(
        lag["seconds_behind"].as_f64().unwrap() >= 1.0,
        "time lag: {lag}"
    );
    assert!(
        lag["summary"].as_str().unwrap().contains("partition"),
        "{lag}"
    );
    assert_eq!(run(data.path(), &["release"]).code, 0);
    wait("the resolutions", &|v| {
        has(v, "status", "resolved") && has(v, "lag", "resolved")
    });
    s.terminate();
}
