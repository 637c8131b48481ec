//! The engine against Apache Kafka (the shared session's KRaft node, started
//! by scripts/test-services.sh, which sets ARCHON_TEST_KAFKA). Each test uses
//! its own topics and group so runs never see each other's messages.

mod common;

use std::time::{Duration, Instant};

use common::{broker, isolated, n, run_s, services, with};

#[test]
fn a_thousand_files_through_kafka_all_complete() {
    let Some(b) = broker() else { return };
    let flags = isolated(&b, "thousand");
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 1000).unwrap();
    let data = tempfile::tempdir().unwrap();
    let r = run_s(
        data.path(),
        &with(
            &[
                "ingest",
                src.path().to_str().unwrap(),
                "--wait",
                "--json",
                "--timeout",
                "180",
                "--concurrency",
                "32",
            ],
            &flags,
        ),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let j = r.json();
    assert_eq!(n(&j, "completed"), 1000, "{j}");
    assert_eq!(n(&j, "lag"), 0, "{j}");
    let s = run_s(data.path(), &with(&["status", "--json"], &flags)).json();
    assert_eq!(s["backends"]["broker"], "kafka", "{s}");
    assert_eq!(
        n(&s["lag"], "total"),
        0,
        "the group's commits reached the broker: {s}"
    );
    let parts = s["lag"]["partitions"].as_array().unwrap();
    assert_eq!(
        parts.len(),
        4,
        "the request topic has the seeds' 4 partitions: {s}"
    );
    let end: u64 = parts.iter().map(|p| p["end"].as_u64().unwrap()).sum();
    assert_eq!(end, 1000, "one request per document on the topic: {s}");

    // Independent clients: kcat reads the completed events, Kafka's own
    // consumer-group tool the group's commits.
    let completed_topic = common::flag(&flags, "--completed-topic");
    let mut ids = std::collections::HashSet::new();
    let events = services::kcat_values(&b, completed_topic);
    for m in &events {
        assert_eq!(m["enrichment_status"], "success", "seed §3.3: {m}");
        ids.insert(m["document_id"].as_str().unwrap().to_string());
    }
    assert_eq!(events.len(), 1000, "kcat counts 1000 completed events");
    assert_eq!(
        ids.len(),
        1000,
        "1000 distinct documents on the completed topic"
    );
    let tools = services::Tools::locate().expect("test tools");
    let group = common::flag(&flags, "--group-id");
    let offsets = services::group_offsets(&tools, &b, group);
    let request_topic = common::flag(&flags, "--enrichment-topic");
    let mine: Vec<_> = offsets
        .iter()
        .filter(|o| o.topic == request_topic)
        .collect();
    assert_eq!(mine.len(), 4, "kafka-consumer-groups: {offsets:?}");
    assert!(
        mine.iter()
            .all(|o| o.committed == Some(o.log_end) && o.lag == Some(0)),
        "kafka-consumer-groups: every partition committed to its end: {offsets:?}"
    );
    assert_eq!(mine.iter().map(|o| o.log_end).sum::<i64>(), 1000);
}

#[test]
fn dlq_entries_live_on_the_kafka_dlq_topic_and_replay() {
    let Some(b) = broker() else { return };
    let flags = isolated(&b, "dlq");
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 200).unwrap();
    let data = tempfile::tempdir().unwrap();
    let r = run_s(
        data.path(),
        &with(
            &[
                "ingest",
                src.path().to_str().unwrap(),
                "--wait",
                "--json",
                "--timeout",
                "120",
                "--inject-failure-rate",
                "0.2",
                "--retry-max-attempts",
                "1",
                "--breaker-failure-threshold",
                "1000",
            ],
            &flags,
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    let dlq = n(&j, "dlq");
    assert!(dlq > 10, "{j}");
    assert_eq!(n(&j, "completed") + dlq, 200, "{j}");
    let list = run_s(data.path(), &with(&["dlq", "list", "--json"], &flags)).json();
    assert_eq!(
        list.as_array().unwrap().len() as u64,
        dlq,
        "read back from the DLQ topic"
    );
    let r = run_s(
        data.path(),
        &with(
            &[
                "dlq",
                "replay",
                "--confirm",
                "--wait",
                "--json",
                "--timeout",
                "120",
            ],
            &flags,
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = run_s(data.path(), &with(&["status", "--json"], &flags)).json();
    assert!(n(&s["counts"], "completed") > 200 - dlq, "{s}");
    assert_eq!(
        n(&s["counts"], "completed") + n(&s["counts"], "dlq"),
        200,
        "{s}"
    );
}

/// Always runs: librdkafka's in-process mock cluster stands in for a broker,
/// so the adapter (topics, produce, consume, commit, lag) is checked on every
/// machine, not only where a broker runs.
#[cfg(feature = "kafka")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kafka_adapter_drains_through_librdkafkas_mock_cluster() {
    use archon_tui::backends::broker::kafka::KafkaSettings;
    use archon_tui::engine::{
        config::EngineConfig, pipeline::consumer, pipeline::drain, pipeline::producer,
    };

    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 200).unwrap();
    let mut cfg = EngineConfig::with_data_dir(data.path());
    // The mock cluster does not serve CreateTopics; the adapter only creates
    // missing topics, so these are made up front.
    mock.create_topic(&cfg.enrich_topic, 4, 1).unwrap();
    mock.create_topic(&cfg.dlq_topic, 1, 1).unwrap();
    mock.create_topic(&cfg.completed_topic, 4, 1).unwrap();
    for t in [
        &cfg.fleet_topics.control,
        &cfg.fleet_topics.status,
        &cfg.fleet_topics.audit,
    ] {
        mock.create_topic(t, 1, 1).unwrap();
    }
    cfg.kafka = Some(KafkaSettings {
        bootstrap_servers: mock.bootstrap_servers(),
        auto_offset_reset: "earliest".into(),
        session_timeout_ms: 6000,
        max_poll_records: 500,
        replication_factor: 1,
        ..Default::default()
    });
    let engine = archon_tui::runtime::open_engine(cfg).await.unwrap();
    assert_eq!(engine.backends.broker.kind(), "kafka");
    producer::ingest(&engine, src.path(), "mock", &|_| {})
        .await
        .unwrap();
    let task = tokio::spawn(consumer::run(engine.clone()));
    let drained = drain::wait_drained(&engine, Some(Duration::from_secs(90)), &|_| {})
        .await
        .unwrap();
    engine.stop();
    task.await.unwrap().unwrap();
    let p = drain::progress(&engine).await.unwrap();
    assert!(drained, "did not drain: lag {}", p.lag_total());
    assert_eq!(p.total(archon_tui::backends::graph::Status::Completed), 200);
    let lag = engine
        .backends
        .broker
        .lag(&engine.cfg.group_id, &engine.cfg.enrich_topic)
        .await
        .unwrap();
    assert_eq!(lag.len(), 4);
    assert_eq!(lag.iter().map(|l| l.end).sum::<i64>(), 200);
    assert!(lag.iter().all(|l| l.lag == 0), "{lag:?}");
}

/// A member killed while it owns every partition, and its successor started
/// at once: the successor gets the partitions once the dead member's session
/// times out and consumes everything.
#[test]
fn a_successor_of_a_killed_member_consumes_everything() {
    let Some(b) = broker() else { return };
    let mut flags = isolated(&b, "successor");
    flags.extend(
        [
            "--kafka-session-timeout-ms",
            "6000",
            "--inject-latency-ms",
            "100",
            "--concurrency",
            "2",
        ]
        .map(String::from),
    );
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 150).unwrap();
    let data = tempfile::tempdir().unwrap();
    let r = run_s(
        data.path(),
        &with(&["ingest", src.path().to_str().unwrap(), "--json"], &flags),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&r.json(), "published"), 150);

    let mut first = common::bin()
        .args(with(&["drain", "--timeout", "60"], &flags))
        .arg("--data-dir")
        .arg(data.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(
        first.try_wait().unwrap().is_none(),
        "still draining at the kill"
    );
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();

    let started = std::time::Instant::now();
    let out = common::bin()
        .args(with(&["drain", "--json", "--timeout", "90"], &flags))
        .arg("--data-dir")
        .arg(data.path())
        .env("ARCHON_LOG", "info")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let j: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("no JSON ({e}): {stderr}"));
    assert!(out.status.success(), "{j}\n{stderr}");
    assert_eq!(n(&j, "pending"), 0, "{j}");
    assert_eq!(n(&j, "lag"), 0, "{j}");
    println!(
        "successor drained in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// A consumer Kafka fences (another member took its `group.instance.id`)
/// cannot recover: the consumer stops with librdkafka's reason, `/health`
/// says so and `serve` exits 1 rather than sitting idle.
#[test]
fn a_fenced_consumer_stops_serve_with_exit_1() {
    let Some(b) = broker() else { return };
    let mut flags = isolated(&b, "fenced");
    let instance = format!("archon-{}", common::flag(&flags, "--group-id"));
    flags.extend(
        [
            "--kafka-option",
            &format!("group.instance.id={instance}"),
            "--kafka-option",
            "heartbeat.interval.ms=500",
        ]
        .map(String::from),
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut s = common::serve::Serve::start(tmp.path(), &flags);
    // Joined: its partitions are assigned (serve logs it).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&s.log)
        .unwrap_or_default()
        .contains("assigned")
    {
        assert!(
            Instant::now() < deadline,
            "serve's consumer never joined the group"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let fenced_at = Instant::now();
    let _other = services::Fencer::join(
        &b,
        common::flag(&flags, "--group-id"),
        common::flag(&flags, "--enrichment-topic"),
        &instance,
    );
    let code = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st.code();
        }
        assert!(
            fenced_at.elapsed() < Duration::from_secs(30),
            "serve still running 30 s after another member took its static id"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    println!(
        "fenced: serve exited {code:?} {:.1} s after the other member started",
        fenced_at.elapsed().as_secs_f64()
    );
    let log = std::fs::read_to_string(&s.log).unwrap();
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("the consumer failed"), "{log}");
    assert!(log.to_lowercase().contains("fenced"), "{log}");
}

/// Where a member of a group with nothing committed starts is
/// `auto.offset.reset`, which the adapter now applies itself when the
/// partitions are assigned (librdkafka, left to it, waited 100 ms first):
/// `earliest` reads from the first record, `latest` only what comes after,
/// and an offset the group committed still wins over either.
#[cfg(feature = "kafka")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_group_starts_where_auto_offset_reset_says_and_a_commit_wins() {
    use archon_tui::backends::broker::kafka::{KafkaBroker, KafkaSettings};
    use archon_tui::ports::broker::{Broker, BrokerConsumer, OutRecord};

    async fn offsets_read(c: &dyn BrokerConsumer, want: usize, within: Duration) -> Vec<i64> {
        let until = Instant::now() + within;
        let mut got = Vec::new();
        while got.len() < want && Instant::now() < until {
            got.extend(
                c.fetch(100, Duration::from_millis(100))
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.offset),
            );
        }
        got
    }
    fn records(from: usize, to: usize) -> Vec<OutRecord> {
        (from..to)
            .map(|i| OutRecord {
                key: format!("k{i}").into_bytes(),
                value: format!("v{i}").into_bytes(),
            })
            .collect()
    }

    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    mock.create_topic("starts", 1, 1).unwrap();
    let settings = |reset: &str| KafkaSettings {
        bootstrap_servers: mock.bootstrap_servers(),
        auto_offset_reset: reset.into(),
        session_timeout_ms: 6000,
        max_poll_records: 500,
        replication_factor: 1,
        ..Default::default()
    };
    let earliest = KafkaBroker::new(settings("earliest")).unwrap();
    earliest.produce("starts", records(0, 10)).await.unwrap();

    let c = earliest.consumer("from-the-start", "starts").await.unwrap();
    let got = offsets_read(c.as_ref(), 10, Duration::from_secs(30)).await;
    assert_eq!(got, (0..10).collect::<Vec<i64>>(), "earliest reads all");
    c.commit(&[(0, 6)]).await.unwrap();
    c.close().await.unwrap();
    drop(c);
    let c = earliest.consumer("from-the-start", "starts").await.unwrap();
    let got = offsets_read(c.as_ref(), 4, Duration::from_secs(30)).await;
    assert_eq!(got, vec![6, 7, 8, 9], "the committed offset wins");
    c.close().await.unwrap();

    let latest = KafkaBroker::new(settings("latest")).unwrap();
    let c = latest.consumer("from-the-end", "starts").await.unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while c.assignment().is_empty() && Instant::now() < until {
        assert!(c
            .fetch(100, Duration::from_millis(100))
            .await
            .unwrap()
            .is_empty());
    }
    assert!(!c.assignment().is_empty(), "never assigned");
    // Whatever was there before is not read, however long it waits.
    let old = offsets_read(c.as_ref(), 1, Duration::from_secs(1)).await;
    assert!(old.is_empty(), "latest read old records: {old:?}");
    latest.produce("starts", records(10, 11)).await.unwrap();
    let got = offsets_read(c.as_ref(), 1, Duration::from_secs(30)).await;
    assert_eq!(got, vec![10], "latest reads what comes after");
    c.close().await.unwrap();
}
