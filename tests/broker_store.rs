//! One conformance suite for every Broker: the embedded broker always, and
//! the Kafka adapter (rdkafka) against the shared session's Apache Kafka
//! when scripts/test-services.sh has set ARCHON_TEST_KAFKA (a loud skip
//! otherwise). What the engine relies on: keyed records keep their
//! partition and order, reads and watermarks agree with what was produced,
//! a group's commits are its lag, and offsets move only while the group is
//! empty.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use archon_tui::backends::broker::embedded::EmbeddedBroker;
use archon_tui::backends::sqlite::Db;
use archon_tui::ports::broker::{total_lag, Broker, OutRecord, Record, TopicSpec};

const PARTITIONS: u32 = 3;
const RECORDS: usize = 60;

fn nonce() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000_000
}

fn records() -> Vec<OutRecord> {
    (0..RECORDS)
        .map(|i| OutRecord {
            key: format!("doc-{}", i % 12).into_bytes(),
            value: format!("value-{i}").into_bytes(),
        })
        .collect()
}

/// Every record of every partition, read without a group.
async fn read_all(b: &dyn Broker, topic: &str) -> Vec<Record> {
    let mut out = Vec::new();
    for w in b.watermarks(topic).await.unwrap() {
        let mut from = w.low;
        while from < w.high {
            let got = b.read(topic, w.partition, from, 500).await.unwrap();
            let Some(last) = got.last() else { break };
            from = last.offset + 1;
            out.extend(got);
        }
    }
    out
}

/// Consume `topic` in `group` until `want` records came (or 30 s passed),
/// committing what was read; then leave.
async fn consume(b: &dyn Broker, group: &str, topic: &str, want: usize) -> Vec<Record> {
    let c = b.consumer(group, topic).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut got = Vec::new();
    while got.len() < want && std::time::Instant::now() < deadline {
        let batch = c.fetch(100, Duration::from_millis(200)).await.unwrap();
        let mut next: BTreeMap<i32, i64> = BTreeMap::new();
        for r in &batch {
            let n = next.entry(r.partition).or_insert(0);
            *n = (*n).max(r.offset + 1);
        }
        let offsets: Vec<(i32, i64)> = next.into_iter().collect();
        if !offsets.is_empty() {
            c.commit(&offsets).await.unwrap();
        }
        got.extend(batch);
    }
    c.close().await.unwrap();
    got
}

async fn conformance(b: Arc<dyn Broker>, name: &str) {
    let topic = format!("test.conformance.{name}.{}", nonce());
    let spec = TopicSpec {
        name: topic.clone(),
        partitions: PARTITIONS,
        retention_ms: 86_400_000,
        compact: false,
    };
    b.ensure_topics(std::slice::from_ref(&spec)).await.unwrap();
    // Existing topics are left as they are.
    b.ensure_topics(&[spec]).await.unwrap();

    let produced = records();
    b.produce(&topic, produced[..RECORDS / 2].to_vec())
        .await
        .unwrap();
    b.produce(&topic, produced[RECORDS / 2..].to_vec())
        .await
        .unwrap();

    // Reads and watermarks agree with what was produced.
    let marks = b.watermarks(&topic).await.unwrap();
    assert_eq!(marks.len(), PARTITIONS as usize, "{name}: {marks:?}");
    let ends: i64 = marks.iter().map(|w| w.high - w.low).sum();
    assert_eq!(ends, RECORDS as i64, "{name}: {marks:?}");
    let read = read_all(b.as_ref(), &topic).await;
    assert_eq!(read.len(), RECORDS, "{name}");
    // One key, one partition, and the key's records in production order.
    let mut partition_of: BTreeMap<Vec<u8>, i32> = BTreeMap::new();
    // key → (partition, offset, value) of each of its records
    type Placed = Vec<(i32, i64, Vec<u8>)>;
    let mut by_key: BTreeMap<Vec<u8>, Placed> = BTreeMap::new();
    for r in &read {
        let key = r.key.clone().expect("keyed records keep their key");
        let p = *partition_of.entry(key.clone()).or_insert(r.partition);
        assert_eq!(p, r.partition, "{name}: a key spans partitions");
        by_key
            .entry(key)
            .or_default()
            .push((r.partition, r.offset, r.value.clone()));
        assert!(r.timestamp_ms > 0, "{name}: records carry their time");
    }
    for (key, mut got) in by_key {
        got.sort();
        let want: Vec<Vec<u8>> = produced
            .iter()
            .filter(|o| o.key == key)
            .map(|o| o.value.clone())
            .collect();
        let values: Vec<Vec<u8>> = got.into_iter().map(|(_, _, v)| v).collect();
        assert_eq!(values, want, "{name}: order within a key");
    }

    // A group's commits are its lag.
    let group = format!("{topic}.group");
    let before = b.lag(&group, &topic).await.unwrap();
    assert_eq!(total_lag(&before), RECORDS as i64, "{name}: {before:?}");
    let consumed = consume(b.as_ref(), &group, &topic, RECORDS).await;
    assert_eq!(consumed.len(), RECORDS, "{name}: every record once");
    let after = b.lag(&group, &topic).await.unwrap();
    assert_eq!(total_lag(&after), 0, "{name}: {after:?}");
    // Nobody is in the group once its consumer left.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !b.group_members(&group, &topic).await.unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "{name}: the group stays empty after close"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Offsets by time: before everything is the start, after it the end.
    let start = b.offsets_at(&topic, 0).await.unwrap();
    let end = b
        .offsets_at(&topic, archon_tui::clock::now_ms() + 3_600_000)
        .await
        .unwrap();
    for w in &marks {
        let at = |v: &[(i32, i64)]| v.iter().find(|(p, _)| *p == w.partition).map(|x| x.1);
        assert_eq!(at(&start), Some(w.low), "{name}: {start:?}");
        assert_eq!(at(&end), Some(w.high), "{name}: {end:?}");
    }

    // An empty group's offsets move backwards, and its lag follows.
    let rewind: Vec<(i32, i64)> = marks.iter().map(|w| (w.partition, w.low)).collect();
    b.set_group_offsets(&group, &topic, &rewind).await.unwrap();
    let rewound = b.lag(&group, &topic).await.unwrap();
    assert_eq!(total_lag(&rewound), RECORDS as i64, "{name}: {rewound:?}");
    let again = consume(b.as_ref(), &group, &topic, RECORDS).await;
    assert_eq!(
        again.len(),
        RECORDS,
        "{name}: re-delivered after the rewind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_broker_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    conformance(Arc::new(EmbeddedBroker::new(db)), "embedded").await;
}

#[cfg(feature = "kafka")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kafka_broker_conforms() {
    use archon_tui::backends::broker::kafka::{KafkaBroker, KafkaSettings};
    let Some(brokers) = common::broker() else {
        return;
    };
    let b = KafkaBroker::new(KafkaSettings {
        bootstrap_servers: brokers,
        auto_offset_reset: "earliest".into(),
        session_timeout_ms: 6000,
        max_poll_records: 500,
        replication_factor: 1,
        compression: archon_tui::backends::broker::kafka::DEFAULT_COMPRESSION.into(),
        ..Default::default()
    })
    .unwrap();
    conformance(Arc::new(b), "kafka").await;
}

#[cfg(not(feature = "kafka"))]
#[test]
fn the_kafka_broker_conforms() {
    common::built_with("kafka", false);
}
