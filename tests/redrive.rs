//! Redrive jobs (issue 19 item 2) on the embedded default: a rate-capped
//! replay of 10,000 DLQ entries that is killed halfway, resumed, and sends
//! every entry back exactly once; pause / resume / rate / cancel over HTTP.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::serve::{client, get, post, Serve};
use common::{count, n, run, sqlite};
use serde_json::{json, Value};

fn parked(docs: usize) -> (tempfile::TempDir, tempfile::TempDir) {
    parked_on(docs, &[])
}

/// `docs` documents, all parked in the DLQ, on these backends.
fn parked_on(docs: usize, backends: &[String]) -> (tempfile::TempDir, tempfile::TempDir) {
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), docs).unwrap();
    let data = tempfile::tempdir().unwrap();
    let j = common::park_all(data.path(), src.path(), backends);
    assert_eq!(n(&j, "dlq"), docs as u64, "{j}");
    (src, data)
}

fn jobs(data: &std::path::Path, backends: &[String]) -> Vec<Value> {
    let mut args = vec!["jobs", "--json"];
    args.extend(backends.iter().map(String::as_str));
    let r = run(data, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json().as_array().cloned().unwrap_or_default()
}

fn status_on(data: &std::path::Path, backends: &[String]) -> Value {
    let mut args = vec!["status", "--json"];
    args.extend(backends.iter().map(String::as_str));
    run(data, &args).json()
}

fn request_topic_end(data: &std::path::Path, backends: &[String]) -> u64 {
    status_on(data, backends)["lag"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| n(p, "end"))
        .sum()
}

#[test]
fn a_redrive_at_500_per_sec_survives_kill_9_and_replays_each_entry_once() {
    redrive_killed_halfway(10_000, &[]);
}

#[test]
fn a_redrive_on_kafka_survives_kill_9_and_replays_each_entry_once() {
    let Some(b) = common::broker() else {
        return;
    };
    redrive_killed_halfway(10_000, &common::isolated(&b, "redrive"));
}

/// `docs` entries redriven at 500/s by a CLI process killed halfway, then
/// resumed: the rate holds (docs / 500 s of running, ± 10 %), every entry
/// goes back exactly once (one more request per document on the request
/// topic), and the documents then complete.
fn redrive_killed_halfway(docs: u64, backends: &[String]) {
    let (_src, data) = parked_on(docs as usize, backends);
    let with = |args: &[&str]| common::with(args, backends);
    assert_eq!(request_topic_end(data.path(), backends), docs);

    // The job runs in this CLI process, at 500 entries a second.
    let started = Instant::now();
    let mut child = common::bin()
        .args(with(&[
            "dlq",
            "replay",
            "--confirm",
            "--rate",
            "500",
            "--json",
        ]))
        .arg("--data-dir")
        .arg(data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let half = loop {
        let js = jobs(data.path(), backends);
        if let Some(j) = js.first().filter(|j| n(j, "done") >= docs / 2) {
            break j.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "half the job never got done: {js:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    child.kill().unwrap(); // SIGKILL: no chance to save anything more
    child.wait().unwrap();
    let id = half["id"].as_str().unwrap().to_string();
    eprintln!(
        "killed at {} of {docs} after {:?} (active {} ms)",
        n(&half, "done"),
        started.elapsed(),
        n(&half, "active_ms")
    );
    let at_kill = jobs(data.path(), backends)[0].clone();
    assert_eq!(at_kill["phase"], "running", "{at_kill}");
    assert!(n(&at_kill, "done") < docs, "{at_kill}");

    // Until its engine has been silent a while, `resume` leaves it alone;
    // then it takes the job over and finishes it.
    let waited = Instant::now();
    while jobs(data.path(), backends)[0]["abandoned"] != true {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "never abandoned"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let r = common::run_s(data.path(), &with(&["jobs", "resume", &id, "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let done = r.json();
    assert_eq!(done["phase"], "done", "{done}");
    assert_eq!(n(&done, "total"), docs);
    assert_eq!(n(&done, "looping"), 0);
    assert_eq!(
        n(&done, "replayed") + n(&done, "skipped"),
        docs,
        "every entry accounted for: {done}"
    );
    assert!(
        n(&done, "skipped") <= 500,
        "only entries sent back after the last save are counted as skipped: {done}"
    );
    let active = n(&done, "active_ms");
    let target = docs * 1000 / 500;
    eprintln!("{docs} entries at 500/s: {active} ms of running (target {target} ± 10 %)");
    assert!(
        (target * 9 / 10..=target * 11 / 10).contains(&active),
        "the rate cap: {docs} at 500/s is {target} ms ± 10 %, ran {active} ms"
    );

    // Exactly once: one more request per document on the topic, and each
    // document counted one replay.
    assert_eq!(
        request_topic_end(data.path(), backends),
        2 * docs,
        "one replayed request per entry, none twice"
    );
    let db = sqlite(data.path());
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM documents WHERE replay_count = 1"),
        docs
    );
    drop(db);
    let r = common::run_s(data.path(), &with(&["drain", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = status_on(data.path(), backends);
    assert_eq!(n(&s["counts"], "completed"), docs, "{s}");
    assert_eq!(n(&s["counts"], "dlq"), 0, "{s}");
    // The audit trail has the start, the resume and how the job ended.
    let audit = common::run_s(data.path(), &with(&["audit", "--json"])).stdout;
    assert!(audit.contains("redrive DLQ at 500/s"), "{audit}");
    assert!(audit.contains(&format!("redrive {id}: resume")), "{audit}");
    assert!(
        audit.contains(&format!("redrive job {id} ended"))
            && audit.contains(&format!("ok: redrive {id} done: {docs}/{docs}")),
        "{audit}"
    );
}

/// A crash between a step's graph transaction and its produce (the window
/// kill -9 hit on CI): 50 documents moved out of `dlq`, 20 of their requests
/// on the topic, none of their entries gone. The resumed job sends the 30
/// missing requests and not the 20 again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_cut_short_between_graph_and_produce_is_settled_exactly_once() {
    cut_step_settled(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_cut_short_on_kafka_is_settled_exactly_once() {
    let Some(b) = common::broker() else {
        return;
    };
    cut_step_settled(&common::isolated(&b, "cutstep")).await;
}

async fn cut_step_settled(backends: &[String]) {
    use archon_tui::backends::broker::kafka::KafkaSettings;
    use archon_tui::engine::dlq::{self, DlqFilter};
    use archon_tui::engine::{config::EngineConfig, pipeline::producer, Engine};
    use archon_tui::model::Transition;
    let docs = 300u64;
    let (_src, data) = parked_on(docs as usize, backends);
    let mut cfg = EngineConfig::with_data_dir(data.path());
    if !backends.is_empty() {
        let flag = |f| common::flag(backends, f).to_string();
        cfg.enrich_topic = flag("--enrichment-topic");
        cfg.dlq_topic = flag("--dlq-topic");
        cfg.completed_topic = flag("--completed-topic");
        cfg.group_id = flag("--group-id");
        cfg.kafka = Some(KafkaSettings {
            bootstrap_servers: flag("--kafka-brokers"),
            replication_factor: 1,
            ..Default::default()
        });
    }
    let e = archon_tui::runtime::open_engine(cfg).await.unwrap();
    let job = e
        .start_redrive(DlqFilter::default(), 1000.0, false, "t@h")
        .await
        .unwrap();
    let mut entries = dlq::load_matching(&e, &DlqFilter::default()).await.unwrap();
    entries.sort_by_key(|x| (x.partition, x.id));
    let step: Vec<String> = entries[..50]
        .iter()
        .map(|x| x.message.document_id.clone())
        .collect();
    let moved = e
        .backends
        .graph
        .transition(step.clone(), Transition::Replay)
        .await
        .unwrap();
    assert_eq!(moved.len(), 50);
    let gone: Vec<_> = entries[..20]
        .iter()
        .map(|x| serde_json::from_value(x.message.original_message.clone()).unwrap())
        .collect();
    producer::dispatch(&e, gone).await.unwrap();
    let end = |e: &Engine| {
        let (b, t) = (e.backends.broker.clone(), e.cfg.enrich_topic.clone());
        async move {
            b.watermarks(&t)
                .await
                .unwrap()
                .iter()
                .map(|w| w.high as u64)
                .sum::<u64>()
        }
    };
    assert_eq!(end(&e).await, docs + 20);

    let done = e.run_job(&job.job.id, &|_| {}).await.unwrap();
    assert_eq!(done.job.replayed, docs, "{done:?}");
    assert_eq!(done.job.skipped, 0, "{done:?}");
    assert_eq!(end(&e).await, 2 * docs, "each entry's request once");
    e.stop();
    drop(e);
    let db = sqlite(data.path());
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM documents WHERE replay_count = 1"),
        docs
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM documents WHERE enrichment_status = 'pending'"
        ),
        docs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_redrive_pauses_resumes_changes_rate_and_cancels_over_http() {
    let (_src, data) = parked(600);
    let s = Serve::start(data.path(), &[]);
    let c = client();
    let token = std::fs::read_to_string(data.path().join("control-token")).unwrap();
    let t = Some(token.trim());
    let read = |c: &reqwest::Client| {
        let (c, url, token) = (c.clone(), s.url("/jobs"), token.trim().to_string());
        async move {
            let r = c.get(url).bearer_auth(token).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200);
            r.json::<Value>().await.unwrap()["jobs"][0].clone()
        }
    };
    let (code, e) = post(
        &c,
        &s.url("/dlq/replay"),
        t,
        Some(json!({"rate": 20, "filter": "type:InjectedFailure", "force": true})),
    )
    .await;
    assert_eq!(code, 200, "{e}");
    let id = e["outcome"]["id"].as_str().unwrap().to_string();
    assert_eq!(n(&e["outcome"], "total"), 600);
    let (code, _) = get(&c, &s.url("/jobs")).await;
    assert_eq!(code, 401, "jobs need a read token");

    // It runs at about 20 a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let j = read(&c).await;
    assert_eq!(j["phase"], "running", "{j}");
    assert!((10..=60).contains(&n(&j, "done")), "about 30 in 1.5 s: {j}");
    assert!(j["eta_secs"].as_u64().unwrap() > 10, "{j}");

    // Paused: nothing more is done.
    let (code, r) = post(&c, &s.url(&format!("/jobs/{id}/pause")), t, None).await;
    assert_eq!(code, 200, "{r}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at_pause = n(&read(&c).await, "done");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let j = read(&c).await;
    assert_eq!(j["phase"], "paused", "{j}");
    assert_eq!(n(&j, "done"), at_pause, "a paused job takes nothing: {j}");

    // Resumed faster, then cancelled: what it did not reach stays in the DLQ.
    let (code, r) = post(
        &c,
        &s.url(&format!("/jobs/{id}/rate")),
        t,
        Some(json!({"rate": 200})),
    )
    .await;
    assert_eq!(code, 200, "{r}");
    let (code, r) = post(
        &c,
        &s.url(&format!("/jobs/{id}/rate")),
        t,
        Some(json!({"rate": -1})),
    )
    .await;
    assert_eq!(code, 400, "{r}");
    post(&c, &s.url(&format!("/jobs/{id}/resume")), t, None).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let j = read(&c).await;
    assert!(
        n(&j, "done") >= at_pause + 100,
        "200/s after the change: {j}"
    );
    let (code, _) = post(&c, &s.url(&format!("/jobs/{id}/cancel")), t, None).await;
    assert_eq!(code, 200);
    let (code, r) = post(&c, &s.url("/jobs/nope/cancel"), t, None).await;
    assert_eq!(code, 404, "{r}");
    let waited = Instant::now();
    let j = loop {
        let j = read(&c).await;
        if j["phase"] == "cancelled" {
            break j;
        }
        assert!(waited.elapsed() < Duration::from_secs(10), "{j}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let replayed = n(&j, "replayed");
    assert!(replayed < 600, "cancelled before the end: {j}");
    let (code, h) = get(&c, &s.url("/health")).await;
    assert_eq!(code, 200);
    // The served engine consumes what was replayed (failures still injected:
    // they come back, so only the count of what left is checked).
    assert!(n(&h["documents"], "dlq") <= 600);
    s.terminate();
}
