//! The producer, topic administration, lag and reads: one librdkafka
//! client each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::consumer::KafkaConsumer;
use super::{KafkaSettings, DEFAULT_COMPRESSION};
use crate::backends::broker::{
    Broker, BrokerConsumer, GroupMember, OutRecord, PartitionLag, Record, TopicSpec, TopicState,
    Watermarks,
};

const META_TIMEOUT: Duration = Duration::from_secs(10);

impl KafkaSettings {
    pub(crate) fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap_servers);
        for (k, v) in [
            ("security.protocol", &self.security_protocol),
            ("sasl.mechanism", &self.sasl_mechanism),
            ("sasl.username", &self.sasl_username),
            ("sasl.password", &self.sasl_password),
            ("ssl.ca.location", &self.ssl_ca_location),
        ] {
            if let Some(v) = v {
                c.set(k, v);
            }
        }
        self.apply_options(&mut c);
        c
    }

    pub(super) fn apply_options(&self, c: &mut ClientConfig) {
        for (k, v) in &self.options {
            c.set(k, v);
        }
    }
}

pub struct KafkaBroker {
    settings: KafkaSettings,
    producer: FutureProducer,
    /// One metadata consumer per group, for lag (committed offsets).
    lag_clients: Mutex<HashMap<String, Arc<BaseConsumer>>>,
}

impl KafkaBroker {
    pub fn new(settings: KafkaSettings) -> Result<Self> {
        let mut producer_config = settings.client();
        producer_config
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set(
                "compression.type",
                match settings.compression.as_str() {
                    "" => DEFAULT_COMPRESSION,
                    codec => codec,
                },
            )
            .set("linger.ms", "5")
            .set("message.timeout.ms", "120000");
        settings.apply_options(&mut producer_config);
        let producer: FutureProducer = producer_config.create().context(
            "cannot create the Kafka producer (KAFKA_BOOTSTRAP_SERVERS / --kafka-brokers)",
        )?;
        Ok(Self {
            settings,
            producer,
            lag_clients: Mutex::new(HashMap::new()),
        })
    }

    fn lag_client(&self, group: &str) -> Result<Arc<BaseConsumer>> {
        let mut m = self
            .lag_clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = m.get(group) {
            return Ok(c.clone());
        }
        let c: BaseConsumer = self
            .settings
            .client()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()?;
        let c = Arc::new(c);
        m.insert(group.to_string(), c.clone());
        Ok(c)
    }
}

fn partitions_of(c: &BaseConsumer, topic: &str) -> Result<Vec<i32>> {
    let md = c.fetch_metadata(Some(topic), META_TIMEOUT)?;
    let t = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .ok_or_else(|| anyhow!("topic {topic} not found"))?;
    if let Some(e) = t.error() {
        return Err(anyhow!("topic {topic}: {:?}", RDKafkaErrorCode::from(e)));
    }
    Ok(t.partitions().iter().map(|p| p.id()).collect())
}

/// The group's committed offsets, waiting out a group coordinator that is
/// moving or still loading (a cluster just started, a broker restarted):
/// those answers mean "ask again shortly", not "failed".
fn committed_offsets(c: &BaseConsumer, tpl: TopicPartitionList) -> Result<TopicPartitionList> {
    let deadline = std::time::Instant::now() + META_TIMEOUT;
    loop {
        match c.committed_offsets(tpl.clone(), META_TIMEOUT) {
            Err(e)
                if matches!(
                    e.rdkafka_error_code(),
                    Some(
                        RDKafkaErrorCode::NotCoordinator
                            | RDKafkaErrorCode::CoordinatorLoadInProgress
                            | RDKafkaErrorCode::CoordinatorNotAvailable
                    )
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(200));
            }
            r => return Ok(r?),
        }
    }
}

/// A partition's watermarks, waiting out a leader not elected yet (a topic
/// just created, a broker failing over).
fn watermarks(c: &BaseConsumer, topic: &str, partition: i32) -> Result<(i64, i64)> {
    let deadline = std::time::Instant::now() + META_TIMEOUT;
    loop {
        match c.fetch_watermarks(topic, partition, META_TIMEOUT) {
            Err(e)
                if matches!(
                    e.rdkafka_error_code(),
                    Some(
                        RDKafkaErrorCode::NotLeaderForPartition
                            | RDKafkaErrorCode::LeaderNotAvailable
                            | RDKafkaErrorCode::UnknownTopicOrPartition
                    )
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            r => return Ok(r?),
        }
    }
}

pub(super) fn to_record(m: &rdkafka::message::BorrowedMessage<'_>) -> Record {
    Record {
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(<[u8]>::to_vec),
        // A null payload is a tombstone, as an empty value is in the embedded broker.
        value: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        timestamp_ms: m.timestamp().to_millis().unwrap_or(0),
    }
}

#[async_trait]
impl Broker for KafkaBroker {
    fn kind(&self) -> &'static str {
        "kafka"
    }

    async fn ensure_topics(&self, specs: &[TopicSpec]) -> Result<()> {
        // Only create what is missing: existing topics need no admin rights.
        let producer = self.producer.clone();
        let existing: Vec<String> = tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, META_TIMEOUT)
                .map(|md| md.topics().iter().map(|t| t.name().to_string()).collect())
        })
        .await?
        .context("cannot read the broker's metadata (KAFKA_BOOTSTRAP_SERVERS reachable?)")?;
        let missing: Vec<&TopicSpec> = specs
            .iter()
            .filter(|s| !existing.contains(&s.name))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let admin: AdminClient<DefaultClientContext> = self.settings.client().create()?;
        let retention: Vec<String> = missing.iter().map(|s| s.retention_ms.to_string()).collect();
        let topics: Vec<NewTopic> = missing
            .iter()
            .zip(&retention)
            .map(|(s, r)| {
                NewTopic::new(
                    &s.name,
                    s.partitions as i32,
                    TopicReplication::Fixed(self.settings.replication_factor),
                )
                .set("retention.ms", r)
                .set(
                    "cleanup.policy",
                    if s.compact { "compact" } else { "delete" },
                )
            })
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(META_TIMEOUT));
        let results = admin
            .create_topics(&topics, &opts)
            .await
            .context("cannot create topics (is the broker reachable?)")?;
        for r in results {
            match r {
                Ok(_) => {}
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => return Err(anyhow!("cannot create topic {name}: {code:?}")),
            }
        }
        Ok(())
    }

    async fn produce(&self, topic: &str, records: Vec<OutRecord>) -> Result<()> {
        let sends = records.iter().map(|r| {
            let mut rec = FutureRecord::<[u8], [u8]>::to(topic).key(&r.key[..]);
            if !r.value.is_empty() {
                rec = rec.payload(&r.value[..]);
            }
            self.producer.send(rec, Duration::from_secs(120))
        });
        for result in futures::future::join_all(sends).await {
            result.map_err(|(e, _)| anyhow!("produce to {topic} failed: {e}"))?;
        }
        Ok(())
    }

    async fn consumer(&self, group: &str, topic: &str) -> Result<Box<dyn BrokerConsumer>> {
        Ok(Box::new(KafkaConsumer::subscribe(
            &self.settings,
            group,
            topic,
        )?))
    }

    async fn lag(&self, group: &str, topic: &str) -> Result<Vec<PartitionLag>> {
        let c = self.lag_client(group)?;
        let topic = topic.to_string();
        tokio::task::spawn_blocking(move || {
            let parts = partitions_of(&c, &topic)?;
            let mut tpl = TopicPartitionList::new();
            for p in &parts {
                tpl.add_partition(&topic, *p);
            }
            let committed = committed_offsets(&c, tpl)?;
            let mut out = Vec::new();
            for p in parts {
                let (low, high) = watermarks(&c, &topic, p)?;
                let committed = match committed.find_partition(&topic, p).map(|e| e.offset()) {
                    Some(Offset::Offset(o)) => o,
                    // Nothing committed yet: the group starts at the beginning.
                    _ => low,
                };
                out.push(PartitionLag {
                    partition: p,
                    end: high,
                    committed,
                    lag: (high - committed).max(0),
                });
            }
            Ok(out)
        })
        .await?
    }

    async fn read(
        &self,
        topic: &str,
        partition: i32,
        from: i64,
        max: usize,
    ) -> Result<Vec<Record>> {
        let settings = self.settings.clone();
        let topic = topic.to_string();
        tokio::task::spawn_blocking(move || {
            let c: BaseConsumer = settings
                .client()
                .set("group.id", "archon-tui-reader")
                .set("enable.auto.commit", "false")
                .create()?;
            let (_, high) = watermarks(&c, &topic, partition)?;
            if from >= high {
                return Ok(Vec::new());
            }
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(&topic, partition, Offset::Offset(from))?;
            c.assign(&tpl)?;
            let mut out = Vec::new();
            let deadline = std::time::Instant::now() + META_TIMEOUT;
            while out.len() < max && std::time::Instant::now() < deadline {
                match c.poll(Duration::from_millis(200)) {
                    Some(Ok(m)) => {
                        let done = m.offset() + 1 >= high;
                        out.push(to_record(&m));
                        if done {
                            break;
                        }
                    }
                    Some(Err(e)) => return Err(anyhow!("read {topic}/{partition}: {e}")),
                    None => {}
                }
            }
            Ok(out)
        })
        .await?
    }

    async fn watermarks(&self, topic: &str) -> Result<Vec<Watermarks>> {
        let c = self.lag_client("archon-tui-reader")?;
        let topic = topic.to_string();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for p in partitions_of(&c, &topic)? {
                let (low, high) = watermarks(&c, &topic, p)?;
                out.push(Watermarks {
                    partition: p,
                    low,
                    high,
                });
            }
            out.sort_by_key(|w| w.partition);
            Ok(out)
        })
        .await?
    }

    async fn offsets_at(&self, topic: &str, at_ms: i64) -> Result<Vec<(i32, i64)>> {
        let c = self.lag_client("archon-tui-reader")?;
        let topic = topic.to_string();
        tokio::task::spawn_blocking(move || {
            let mut tpl = TopicPartitionList::new();
            let mut ends = HashMap::new();
            for p in partitions_of(&c, &topic)? {
                tpl.add_partition_offset(&topic, p, Offset::Offset(at_ms))?;
                ends.insert(p, watermarks(&c, &topic, p)?.1);
            }
            let found = c
                .offsets_for_times(tpl, META_TIMEOUT)
                .with_context(|| format!("cannot look up offsets by time on {topic}"))?;
            let mut out: Vec<(i32, i64)> = found
                .elements_for_topic(&topic)
                .iter()
                .map(|e| {
                    let end = ends.get(&e.partition()).copied().unwrap_or(0);
                    match e.offset() {
                        Offset::Offset(o) => (e.partition(), o),
                        // No record at or after the time: the end.
                        _ => (e.partition(), end),
                    }
                })
                .collect();
            out.sort_unstable();
            Ok(out)
        })
        .await?
    }

    async fn group_members(&self, group: &str, topic: &str) -> Result<Vec<String>> {
        Ok(self
            .group_detail(group, topic)
            .await?
            .into_iter()
            .map(|m| format!("{}@{} ({})", m.client_id, m.host, m.member_id))
            .collect())
    }

    async fn group_detail(&self, group: &str, topic: &str) -> Result<Vec<GroupMember>> {
        let c = self.lag_client(group)?;
        let (group, topic) = (group.to_string(), topic.to_string());
        tokio::task::spawn_blocking(move || {
            let list = c
                .fetch_group_list(Some(&group), META_TIMEOUT)
                .with_context(|| format!("cannot describe consumer group {group}"))?;
            Ok(list
                .groups()
                .iter()
                .filter(|g| g.name() == group)
                .flat_map(|g| g.members())
                .map(|m| GroupMember {
                    member_id: m.id().to_string(),
                    client_id: m.client_id().to_string(),
                    host: m.client_host().trim_start_matches('/').to_string(),
                    partitions: m
                        .assignment()
                        .map(|a| super::assignment::partitions_of(a, &topic))
                        .unwrap_or_default(),
                })
                .collect())
        })
        .await?
    }

    async fn describe_topics(&self, names: &[String]) -> Result<Vec<TopicState>> {
        let producer = self.producer.clone();
        let wanted = names.to_vec();
        let shapes: Vec<(String, u32, i32)> = tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, META_TIMEOUT)
                .map(|md| {
                    md.topics()
                        .iter()
                        .filter(|t| wanted.iter().any(|w| w == t.name()) && t.error().is_none())
                        .map(|t| {
                            let rf = t
                                .partitions()
                                .first()
                                .map_or(0, |p| p.replicas().len() as i32);
                            (t.name().to_string(), t.partitions().len() as u32, rf)
                        })
                        .collect()
                })
        })
        .await?
        .context("cannot read the broker's metadata (KAFKA_BOOTSTRAP_SERVERS reachable?)")?;
        if shapes.is_empty() {
            return Ok(Vec::new());
        }
        let admin: AdminClient<DefaultClientContext> = self.settings.client().create()?;
        let specs: Vec<ResourceSpecifier<'_>> = shapes
            .iter()
            .map(|(n, _, _)| ResourceSpecifier::Topic(n))
            .collect();
        let opts = AdminOptions::new().request_timeout(Some(META_TIMEOUT));
        let results = admin
            .describe_configs(&specs, &opts)
            .await
            .context("cannot describe the topics' configuration")?;
        let mut out = Vec::new();
        for ((name, partitions, replication_factor), r) in shapes.into_iter().zip(results) {
            let configs = match r {
                Ok(res) => res
                    .entries
                    .into_iter()
                    .filter_map(|e| e.value.map(|v| (e.name, v)))
                    .collect(),
                Err(_) => Default::default(),
            };
            out.push(TopicState {
                name,
                partitions,
                replication_factor,
                configs,
            });
        }
        Ok(out)
    }

    async fn set_group_offsets(
        &self,
        group: &str,
        topic: &str,
        offsets: &[(i32, i64)],
    ) -> Result<()> {
        let members = self.group_members(group, topic).await?;
        if !members.is_empty() {
            anyhow::bail!(
                "consumer group {group} has {} member(s) ({}): offsets are only set in an empty group",
                members.len(),
                members.join(", ")
            );
        }
        let c = self.lag_client(group)?;
        let mut tpl = TopicPartitionList::new();
        for (p, o) in offsets {
            tpl.add_partition_offset(topic, *p, Offset::Offset(*o))?;
        }
        let group = group.to_string();
        // Not a member: librdkafka commits as a standalone client, which
        // the coordinator accepts for an empty group only.
        tokio::task::spawn_blocking(move || c.commit(&tpl, CommitMode::Sync))
            .await?
            .with_context(|| format!("cannot commit offsets for consumer group {group}"))
    }
}
