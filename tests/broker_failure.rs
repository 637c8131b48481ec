//! Broker failure on a real 3-node Apache Kafka cluster (KRaft, replication
//! factor 3, `min.insync.replicas=2`, started by tests/common/services.rs for
//! this test alone): the leader of a request partition is killed with
//! `kill -9` mid-drain and started again later. Every document must end
//! completed or in the DLQ with a reason, none lost, none enriched twice.
//! The figures (time to recover, redeliveries) are printed:
//! `cargo test --test broker_failure -- --nocapture`.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::services::{committed, KafkaCluster, Tools};
use common::{bin, count, flag, isolated, n, run_s, sqlite, with};
use rdkafka::consumer::BaseConsumer;

fn sqlite_count(data: &Path, sql: &str) -> u64 {
    if !data.join("archon.sqlite3").exists() {
        return 0;
    }
    count(&sqlite(data), sql)
}

#[test]
fn killing_a_partition_leader_mid_drain_loses_nothing_and_applies_nothing_twice() {
    let Some(tools) = Tools::or_skip("3-node broker failure") else {
        return;
    };
    let docs = 5_000u64;
    let tmp = tempfile::tempdir().unwrap();
    let t_cluster = Instant::now();
    let mut cluster = KafkaCluster::start(&tools, &tmp.path().join("kafka"), 3, None);
    println!(
        "leader kill: 3-node cluster up in {:.1} s at {}",
        t_cluster.elapsed().as_secs_f64(),
        cluster.bootstrap()
    );
    let mut flags = isolated(&cluster.bootstrap(), "leaderkill");
    flags.extend(
        [
            "--kafka-replication-factor",
            "3",
            "--kafka-session-timeout-ms",
            "10000",
            "--concurrency",
            "16",
            // ~1,000 documents/s at most: the kill lands mid-drain.
            "--inject-latency-ms",
            "15",
        ]
        .map(String::from),
    );
    let src = tmp.path().join("src");
    archon_tui::corpus::generate(&src, docs as usize).unwrap();
    let data = tmp.path().join("data");
    let r = run_s(
        &data,
        &with(
            &[
                "ingest",
                src.to_str().unwrap(),
                "--project",
                "leaderkill",
                "--json",
            ],
            &flags,
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&r.json(), "published"), docs, "{}", r.stdout);

    let topic = flag(&flags, "--enrichment-topic").to_string();
    let group = flag(&flags, "--group-id").to_string();
    let drain_log = tmp.path().join("drain.log");
    let drain = bin()
        .args(with(&["drain", "--json", "--timeout", "600"], &flags))
        .arg("--data-dir")
        .arg(&data)
        .env("ARCHON_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&drain_log).unwrap())
        .spawn()
        .unwrap();
    let done = || {
        sqlite_count(
            &data,
            "SELECT count(*) FROM documents WHERE enrichment_status IN ('completed','dlq')",
        )
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while done() < docs / 5 {
        assert!(Instant::now() < deadline, "work never flowed: {}", done());
        std::thread::sleep(Duration::from_millis(50));
    }

    // The leader of partition 0, and every partition it leads.
    let victim = cluster.leader_of(&topic, 0);
    let led: Vec<i32> = (0..4)
        .filter(|p| cluster.leader_of(&topic, *p) == victim)
        .collect();
    let bootstrap = cluster.bootstrap();
    let watcher = || -> BaseConsumer {
        rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", &group)
            .create()
            .unwrap()
    };
    let at_kill = committed(&watcher(), &topic, 4);
    let done_at_kill = done();
    let t_kill = Instant::now();
    cluster.kill9(victim);
    println!(
        "leader kill: kill -9 node {victim} (leader of partitions {led:?}) with {done_at_kill} of {docs} done"
    );

    // Recovered: documents complete again, and a commit moves on every
    // partition the dead node led (a new leader took over and the group
    // consumes from it).
    assert_eq!(at_kill.len(), 4, "the group's commits before the kill");
    let (mut progress_at, mut partitions_at) = (None, None);
    while progress_at.is_none() || partitions_at.is_none() {
        if progress_at.is_none() && done() > done_at_kill {
            progress_at = Some(t_kill.elapsed());
        }
        // A client of its own each time: one that asked the dead
        // coordinator keeps asking it.
        let now = committed(&watcher(), &topic, 4);
        if partitions_at.is_none()
            && led
                .iter()
                .all(|p| now.get(p).copied().unwrap_or(-1) > at_kill[p])
        {
            partitions_at = Some(t_kill.elapsed());
        }
        if done() == docs {
            break;
        }
        assert!(
            t_kill.elapsed() < Duration::from_secs(120),
            "no recovery: the dead leader's partitions {led:?} at kill {at_kill:?}, now {now:?}; {} done",
            done()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let secs =
        |d: Option<Duration>| d.map_or("-".to_string(), |d| format!("{:.1}", d.as_secs_f64()));
    println!(
        "leader kill: documents completing again {} s after the kill, the dead leader's partitions committed again {} s after ({} of {docs} done)",
        secs(progress_at),
        secs(partitions_at),
        done()
    );
    let recovered = progress_at
        .unwrap_or_default()
        .max(partitions_at.unwrap_or_default());
    // Back while the drain goes on (or after it ended).
    std::thread::sleep(Duration::from_secs(3));
    cluster.restart(victim);
    cluster.wait_brokers(3, Duration::from_secs(60));
    println!(
        "leader kill: node {victim} back {:.1} s after the kill",
        t_kill.elapsed().as_secs_f64()
    );

    let out = drain.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(&drain_log).unwrap_or_default();
    for line in log
        .lines()
        .filter(|l| l.contains("archon_tui") && (l.contains("WARN") || l.contains("ERROR")))
        .take(12)
    {
        println!("leader kill: drain log: {line}");
    }
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("drain printed no JSON ({e}): {stdout}\n{log}");
    });
    assert!(out.status.success(), "{summary}\n{log}");
    let q = |cond: &str| {
        sqlite_count(
            &data,
            &format!("SELECT count(*) FROM documents WHERE project_name = 'leaderkill'{cond}"),
        )
    };
    let (total, completed, in_dlq, twice) = (
        q(""),
        q(" AND enrichment_status = 'completed'"),
        q(" AND enrichment_status = 'dlq'"),
        q(" AND enrichment_applied > 1"),
    );
    let dlq = run_s(&data, &with(&["dlq", "list", "--json"], &flags));
    assert_eq!(dlq.code, 0, "{}", dlq.stderr);
    let entries = dlq.json();
    let entries = entries.as_array().unwrap();
    println!(
        "leader kill: {docs} documents: completed {completed}, dlq {in_dlq}, lost {}, applied twice {twice}; \
         consumed {} deliveries, {} redelivered; recovered in {:.1} s; {:.1} s from the kill to the end",
        docs - completed - in_dlq,
        n(&summary, "consumed"),
        n(&summary, "redelivered"),
        recovered.as_secs_f64(),
        t_kill.elapsed().as_secs_f64()
    );
    assert_eq!(total, docs, "every file is a document");
    assert_eq!(completed + in_dlq, docs, "nothing lost: {summary}");
    assert_eq!(twice, 0, "no enrichment applied twice");
    assert_eq!(
        entries.len() as u64,
        in_dlq,
        "every DLQ document has its entry"
    );
    for e in entries {
        assert!(
            !e["reason"].as_str().unwrap_or_default().trim().is_empty(),
            "a DLQ entry without a reason: {e}"
        );
    }
    assert_eq!(n(&summary, "pending"), 0, "{summary}");
    assert_eq!(n(&summary, "lag"), 0, "{summary}");
    // Kafka's own tool agrees: the group committed every partition to its end.
    let offsets = common::services::group_offsets(&tools, &cluster.bootstrap(), &group);
    let mine: Vec<_> = offsets.iter().filter(|o| o.topic == topic).collect();
    assert_eq!(mine.len(), 4, "{offsets:?}");
    assert!(
        mine.iter().all(|o| o.lag == Some(0)),
        "kafka-consumer-groups: {offsets:?}"
    );
}
