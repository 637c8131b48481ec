//! Broker: topics with partitions, offsets and consumer-group commits, so
//! lag = end offset − committed offset exactly as on Kafka.

use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;

pub use crate::model::{total_lag, PartitionLag};

/// A consumer error its client cannot recover from (librdkafka's fatal
/// errors, e.g. fenced by another member with the same
/// `group.instance.id`): the consumer stops instead of retrying.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FatalConsumerError(pub String);

#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: u32,
    pub retention_ms: i64,
    /// cleanup.policy=compact (the fleet's control and status topics: the
    /// latest record per key). Never the DLQ: see `seed_topics`.
    pub compact: bool,
}

/// A topic as the broker has it (doctor, and the DLQ check at start).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopicState {
    pub name: String,
    pub partitions: u32,
    /// Replicas of the first partition (the topic's replication factor).
    pub replication_factor: i32,
    /// `cleanup.policy`, `retention.ms`, `min.insync.replicas`, … as the
    /// broker reports them (empty where the broker has no such setting).
    pub configs: std::collections::BTreeMap<String, String>,
}

impl TopicState {
    /// Whether compaction is on: Kafka then refuses records without a key.
    pub fn compacted(&self) -> bool {
        self.configs
            .get("cleanup.policy")
            .is_some_and(|p| p.split(',').any(|x| x.trim() == "compact"))
    }
}

/// A member of a consumer group, as the group coordinator reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupMember {
    /// The coordinator's member id.
    pub member_id: String,
    pub client_id: String,
    pub host: String,
    /// Partitions of the topic asked about that the member holds (empty
    /// when the assignment cannot be read).
    pub partitions: Vec<i32>,
}

/// The three topics of the seeds with their configuration.
pub fn seed_topics(enrich: &str, dlq: &str, completed: &str) -> Vec<TopicSpec> {
    use crate::events::*;
    vec![
        TopicSpec {
            name: enrich.into(),
            partitions: ENRICH_PARTITIONS,
            retention_ms: 604_800_000,
            compact: false,
        },
        // Seed §3.2 makes the DLQ compacted, but §4.2's `_publish_to_dlq`
        // sends without a key and Kafka refuses keyless records on a
        // compacted topic: every failure a seed service parked would be
        // lost. `delete` with §3.2's 30 days loses nothing: the reader folds
        // the latest record per key itself, and a parked document keeps
        // status `dlq` and its reason in the graph after the record expires.
        TopicSpec {
            name: dlq.into(),
            partitions: DLQ_PARTITIONS,
            retention_ms: 2_592_000_000,
            compact: false,
        },
        TopicSpec {
            name: completed.into(),
            partitions: COMPLETED_PARTITIONS,
            retention_ms: 604_800_000,
            compact: false,
        },
    ]
}

#[derive(Debug, Clone)]
pub struct OutRecord {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub timestamp_ms: i64,
}

#[async_trait]
pub trait Broker: Send + Sync {
    /// Short name for the header ("embedded", "kafka").
    fn kind(&self) -> &'static str;
    /// Whether one engine at a time holds this broker's consumer group
    /// (the embedded broker's lease on its data dir): then whatever is
    /// still "processing" at start was left by a crashed run.
    fn group_is_exclusive(&self) -> bool {
        false
    }
    /// Create missing topics; existing ones are left as they are.
    async fn ensure_topics(&self, specs: &[TopicSpec]) -> Result<()>;
    /// Append records, partitioned by key; durable when this returns.
    async fn produce(&self, topic: &str, records: Vec<OutRecord>) -> Result<()>;
    /// Join `group` on `topic`.
    async fn consumer(&self, group: &str, topic: &str) -> Result<Box<dyn BrokerConsumer>>;
    /// Per-partition end, committed and lag of `group` on `topic`.
    async fn lag(&self, group: &str, topic: &str) -> Result<Vec<PartitionLag>>;
    /// Read a partition from an offset without joining a group (DLQ browsing).
    async fn read(&self, topic: &str, partition: i32, from: i64, max: usize)
        -> Result<Vec<Record>>;
    /// Per partition: the oldest offset still kept and the end (next offset).
    async fn watermarks(&self, topic: &str) -> Result<Vec<Watermarks>>;
    /// Per partition, the first offset whose record's timestamp is at or
    /// after `at_ms` (the end when there is none), as Kafka's
    /// `offsets_for_times` answers.
    async fn offsets_at(&self, topic: &str, at_ms: i64) -> Result<Vec<(i32, i64)>>;
    /// Who is in `group` on `topic` now (empty: nobody consumes).
    async fn group_members(&self, group: &str, topic: &str) -> Result<Vec<String>>;
    /// The members of `group` with their client, host and partitions of
    /// `topic`, ours or not (aiokafka, Java, …).
    async fn group_detail(&self, group: &str, topic: &str) -> Result<Vec<GroupMember>>;
    /// These topics as the broker has them; a missing topic is left out.
    async fn describe_topics(&self, names: &[String]) -> Result<Vec<TopicState>>;
    /// Set `group`'s committed offsets without joining it, backwards as
    /// well as forwards: refused while the group has members (Kafka's rule,
    /// since each member keeps its own fetch position).
    async fn set_group_offsets(
        &self,
        group: &str,
        topic: &str,
        offsets: &[(i32, i64)],
    ) -> Result<()>;
}

/// A partition's oldest kept offset and its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermarks {
    pub partition: i32,
    pub low: i64,
    pub high: i64,
}

#[async_trait]
pub trait BrokerConsumer: Send + Sync {
    /// Up to `max` records; waits at most `wait` when none are ready.
    async fn fetch(&self, max: usize, wait: Duration) -> Result<Vec<Record>>;
    /// Called instead of `fetch` while the engine is paused or the breaker is
    /// open: stop delivery but keep the group membership alive (Kafka pauses
    /// its partitions and keeps polling). The next `fetch` resumes.
    async fn idle(&self) -> Result<()> {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    }
    /// The partitions this consumer holds now (for the member report).
    fn assignment(&self) -> Vec<i32> {
        Vec::new()
    }
    /// Commit, per partition, the next offset to read (Kafka's convention).
    async fn commit(&self, offsets: &[(i32, i64)]) -> Result<()>;
    /// Leave the group.
    async fn close(&self) -> Result<()>;
}
