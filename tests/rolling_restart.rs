//! Issue 31 item 4: rolling restarts lose nothing. Three `serve` engines in
//! one consumer group drain 20,000 documents from a 3-node Apache Kafka
//! cluster (KRaft, replication 3, `min.insync.replicas=2`) into a Neo4j of
//! this test's own. Mid-drain each broker is restarted in turn (SIGTERM,
//! the second one `kill -9`), waiting for every replica to be back in sync
//! between nodes as an operator would, and then Neo4j is restarted once.
//! Counted by kcat and the Python neo4j driver, not by archon-tui: none
//! lost, none applied twice, every completed document with its completed
//! event. The time each request partition took to commit again after each
//! restart is printed: `cargo test --test rolling_restart -- --nocapture`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::serve::Serve;
use common::services::{all_in_sync, committed, kcat_values, KafkaCluster, Neo4j, Tools};
use common::{flag, isolated, n, run_s, with};
use rdkafka::consumer::BaseConsumer;

const DOCS: u64 = 20_000;
const PARTITIONS: i32 = 4;

struct Watch {
    bootstrap: String,
    group: String,
    topic: String,
}

impl Watch {
    /// The group's commits now, by a client of its own each time (one that
    /// asked a dead coordinator keeps asking it).
    fn commits(&self) -> BTreeMap<i32, i64> {
        let c: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", &self.group)
            .create()
            .unwrap();
        committed(&c, &self.topic, PARTITIONS)
    }

    fn total(&self) -> i64 {
        self.commits().values().map(|o| o.max(&0)).sum()
    }

    /// Sample the commits every 250 ms in the background from now on, so a
    /// partition committing while its broker is still down is seen then.
    fn sample(self: &std::sync::Arc<Self>) -> Samples {
        let samples: Samples = Default::default();
        let (w, out) = (self.clone(), samples.clone());
        std::thread::spawn(move || loop {
            let now = w.commits();
            out.lock().unwrap().push((Instant::now(), now));
            if std::sync::Arc::strong_count(&out) == 1 {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        });
        samples
    }
}

type Samples = std::sync::Arc<std::sync::Mutex<Vec<(Instant, BTreeMap<i32, i64>)>>>;

/// Per partition, from the samples around a restart at `since` whose
/// server was back `back` later: the first commit after the restart, and
/// the longest time without one until the partition committed again after
/// the server was back (a partition at its end: "done"). Waits for that.
fn time_to_commit_again(
    what: &str,
    samples: &Samples,
    at: &BTreeMap<i32, i64>,
    ends: &BTreeMap<i32, i64>,
    since: Instant,
    back: Duration,
) -> String {
    let returned = since + back;
    loop {
        let seen = samples.lock().unwrap().clone();
        let value = |c: &BTreeMap<i32, i64>, p: i32| c.get(&p).copied().unwrap_or(-1);
        let figures = |p: i32| -> Option<String> {
            if at.get(&p).copied().unwrap_or(-1) >= ends[&p] {
                return Some(format!("p{p} done"));
            }
            let window: Vec<&(Instant, BTreeMap<i32, i64>)> =
                seen.iter().filter(|(t, _)| *t >= since).collect();
            let at_return = window
                .iter()
                .rfind(|(t, _)| *t <= returned)
                .map_or(value(at, p), |(_, c)| value(c, p));
            let again = window
                .iter()
                .find(|(t, c)| *t > returned && value(c, p) > at_return)
                .map(|(t, _)| *t)
                .or_else(|| (at_return >= ends[&p]).then_some(returned))?;
            let first = window
                .iter()
                .find(|(_, c)| value(c, p) > value(at, p))
                .map(|(t, _)| t.duration_since(since));
            let (mut longest, mut last_move, mut last) = (Duration::ZERO, since, value(at, p));
            for (t, c) in window.iter().filter(|(t, _)| *t <= again) {
                if value(c, p) > last {
                    longest = longest.max(t.duration_since(last_move));
                    (last_move, last) = (*t, value(c, p));
                }
            }
            longest = longest.max(again.duration_since(last_move));
            Some(format!(
                "p{p} first {}, longest without one {:.1} s",
                first.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64())),
                longest.as_secs_f64()
            ))
        };
        let lines: Vec<Option<String>> = (0..PARTITIONS).map(figures).collect();
        if lines.iter().all(Option::is_some) {
            return lines.into_iter().flatten().collect::<Vec<_>>().join("; ");
        }
        assert!(
            since.elapsed() < back + Duration::from_secs(180),
            "{what}: partitions never committed again: at {at:?}, last {:?}",
            seen.last()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn rolling_restarts_of_every_broker_and_the_graph_lose_nothing_and_apply_nothing_twice() {
    if !common::built_with("bolt", cfg!(feature = "bolt"))
        || !common::built_with("kafka", cfg!(feature = "kafka"))
    {
        return;
    }
    let Some(tools) = Tools::or_skip("rolling restarts") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut cluster = KafkaCluster::start(&tools, &tmp.path().join("kafka"), 3, None);
    let mut neo4j = Neo4j::start(&tools, &tmp.path().join("neo4j"), 0);
    println!(
        "rolling: 3 Kafka nodes and Neo4j up in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut flags = isolated(&cluster.bootstrap(), "rolling");
    flags.extend([
        "--graph-uri".to_string(),
        neo4j.uri(),
        "--kafka-replication-factor".into(),
        "3".into(),
        "--kafka-session-timeout-ms".into(),
        "10000".into(),
    ]);
    let src = tmp.path().join("src");
    archon_tui::corpus::generate(&src, DOCS as usize).unwrap();
    let t_ingest = Instant::now();
    let r = run_s(
        &tmp.path().join("ingest"),
        &with(
            &[
                "ingest",
                src.to_str().unwrap(),
                "--project",
                "rolling",
                "--json",
            ],
            &flags,
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&r.json(), "published"), DOCS, "{}", r.stdout);
    println!(
        "rolling: {DOCS} documents indexed in Neo4j and published in {:.1} s",
        t_ingest.elapsed().as_secs_f64()
    );

    // ~180 documents/s for the three (60 each): the drain lasts ~2 minutes,
    // long enough for four restarts in the middle of it.
    let mut members = Vec::new();
    for id in ["r1", "r2", "r3"] {
        let data = tempfile::tempdir().unwrap();
        let args = with(
            &[
                "--member-id",
                id,
                "--concurrency",
                "8",
                "--inject-latency-ms",
                "20",
                "--max-processing-rate",
                "60",
            ],
            &flags,
        );
        members.push((Serve::start(data.path(), &args), data));
    }
    let watch = std::sync::Arc::new(Watch {
        bootstrap: cluster.bootstrap(),
        group: flag(&flags, "--group-id").to_string(),
        topic: flag(&flags, "--enrichment-topic").to_string(),
    });
    let samples = watch.sample();
    let ends: BTreeMap<i32, i64> = {
        let c: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &watch.bootstrap)
            .create()
            .unwrap();
        use rdkafka::consumer::Consumer;
        (0..PARTITIONS)
            .map(|p| {
                let (_, high) = c
                    .fetch_watermarks(&watch.topic, p, Duration::from_secs(10))
                    .unwrap();
                (p, high)
            })
            .collect()
    };
    assert_eq!(ends.values().sum::<i64>() as u64, DOCS, "{ends:?}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while watch.total() < 1_000 {
        assert!(Instant::now() < deadline, "work never flowed");
        std::thread::sleep(Duration::from_millis(500));
    }

    let mut report = Vec::new();
    let in_sync = |cluster: &KafkaCluster, what: &str| {
        let t = Instant::now();
        while !all_in_sync(&cluster.bootstrap()) {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "replicas never back in sync before {what}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    for (id, kill) in [(1, false), (2, true), (3, false)] {
        let what = format!("{} node {id}", if kill { "kill -9" } else { "SIGTERM" });
        in_sync(&cluster, &what);
        let at = watch.commits();
        let total: i64 = at.values().map(|o| o.max(&0)).sum();
        assert!(
            (total as u64) < DOCS,
            "the drain ended before {what}: slow it down"
        );
        let since = Instant::now();
        if kill {
            cluster.kill9(id);
        } else {
            cluster.stop(id);
        }
        let down = since.elapsed();
        cluster.restart(id);
        cluster.wait_brokers(3, Duration::from_secs(90));
        let back = since.elapsed();
        let again = time_to_commit_again(&what, &samples, &at, &ends, since, back);
        let line = format!(
            "{what} at {total} of {DOCS} committed: down in {:.1} s, back in {:.1} s; commits: {again}",
            down.as_secs_f64(),
            back.as_secs_f64()
        );
        println!("rolling: {line}");
        report.push(line);
    }
    in_sync(&cluster, "the graph restart");
    let at = watch.commits();
    let total: i64 = at.values().map(|o| o.max(&0)).sum();
    assert!(
        (total as u64) < DOCS,
        "the drain ended before the graph restart"
    );
    let since = Instant::now();
    neo4j.stop();
    neo4j.start_again();
    let back = since.elapsed();
    let again = time_to_commit_again("graph restart", &samples, &at, &ends, since, back);
    let line = format!(
        "Neo4j restart at {total} of {DOCS} committed: back in {:.1} s; commits: {again}",
        back.as_secs_f64()
    );
    println!("rolling: {line}");
    report.push(line);

    // The end: every partition committed to its end (Kafka's own tool).
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let now = watch.commits();
        if ends.iter().all(|(p, e)| now.get(p) == Some(e)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never drained: commits {now:?}, ends {ends:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    println!(
        "rolling: drained {:.1} s after the cluster started",
        started.elapsed().as_secs_f64()
    );
    let offsets = common::services::group_offsets(&tools, &cluster.bootstrap(), &watch.group);
    let mine: Vec<_> = offsets.iter().filter(|o| o.topic == watch.topic).collect();
    assert_eq!(mine.len(), PARTITIONS as usize, "{offsets:?}");
    assert!(
        mine.iter().all(|o| o.lag == Some(0)),
        "kafka-consumer-groups: {offsets:?}"
    );

    // The graph, by the Python neo4j driver: the outcome is recorded before
    // its commit, so at this point every document has its final status.
    let rows = common::services::neo4j_status_rows(&tools, &neo4j.uri(), "rolling");
    let count = |f: &dyn Fn(&str, u64) -> bool| -> u64 {
        rows.iter()
            .filter(|(s, a, _)| f(s, *a))
            .map(|(_, _, n)| n)
            .sum()
    };
    let total = count(&|_, _| true);
    let completed = count(&|s, _| s == "completed");
    let in_dlq = count(&|s, _| s == "dlq");
    let twice = count(&|_, a| a > 1);
    // The completed events, by kcat.
    let events = kcat_values(&cluster.bootstrap(), flag(&flags, "--completed-topic"));
    let announced: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e["document_id"].as_str())
        .collect();
    let parked = kcat_values(&cluster.bootstrap(), flag(&flags, "--dlq-topic"));
    let summary = format!(
        "{DOCS} documents: completed {completed}, dlq {in_dlq}, lost {}, applied twice {twice}; \
         {} completed events for {} documents ({} duplicates); {} DLQ records",
        DOCS as i64 - completed as i64 - in_dlq as i64,
        events.len(),
        announced.len(),
        events.len() - announced.len(),
        parked.len()
    );
    println!("rolling: {summary}");
    for (s, _) in &members {
        let log = std::fs::read_to_string(&s.log).unwrap_or_default();
        for l in log
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("WARN"))
            .take(5)
        {
            println!("rolling: member log: {l}");
        }
    }
    assert_eq!(total, DOCS, "every file is a document: {rows:?}");
    assert_eq!(completed + in_dlq, DOCS, "nothing lost: {summary}");
    assert_eq!(twice, 0, "nothing applied twice: {rows:?}");
    assert_eq!(
        announced.len() as u64,
        completed,
        "every completed document has its completed event: {summary}"
    );
    assert!(
        parked.len() as u64 >= in_dlq,
        "every parked document has its DLQ record: {summary}"
    );
    for (s, data) in members {
        let (code, _) = s.terminate();
        assert_eq!(code, 0, "a member's clean exit");
        drop(data);
    }
}
