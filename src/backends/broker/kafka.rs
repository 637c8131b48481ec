//! Kafka / Redpanda through rdkafka (librdkafka). Producer: acks=all,
//! idempotent, snappy (configurable), keyed by document id. Consumer: manual commits of the offsets
//! the engine hands over (after the outcome is recorded); paused partitions
//! while the engine is paused or the breaker is open, still polling so the
//! group membership holds. Lag from watermarks and the group's commits.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::{Broker, BrokerConsumer, OutRecord, PartitionLag, Record, TopicSpec};

const META_TIMEOUT: Duration = Duration::from_secs(10);

/// The producer's `compression.type` unless configured: seed §3.1's snappy.
pub const DEFAULT_COMPRESSION: &str = "snappy";

/// Connection and consumer settings (the seeds' KAFKA_* variables).
#[derive(Clone, Default)]
pub struct KafkaSettings {
    pub bootstrap_servers: String,
    pub security_protocol: Option<String>,
    pub sasl_mechanism: Option<String>,
    pub sasl_username: Option<String>,
    pub sasl_password: Option<String>,
    pub ssl_ca_location: Option<String>,
    /// earliest | latest (seed default: earliest).
    pub auto_offset_reset: String,
    pub session_timeout_ms: u32,
    pub max_poll_records: usize,
    pub replication_factor: i32,
    /// `compression.type` of the producer: snappy by default, as seed §3.1
    /// says (the seeds' aiokafka services read snappy without extras; zstd
    /// needs aiokafka's zstd extra).
    pub compression: String,
    /// Extra librdkafka properties (`--kafka-option KEY=VALUE`), applied
    /// last so they win over archon-tui's own choices.
    pub options: Vec<(String, String)>,
}

/// Debug without the password: configs get logged.
impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSettings")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("security_protocol", &self.security_protocol)
            .field("sasl_mechanism", &self.sasl_mechanism)
            .field("sasl_username", &self.sasl_username)
            .field(
                "sasl_password",
                &self.sasl_password.as_ref().map(|_| "<redacted>"),
            )
            .field("ssl_ca_location", &self.ssl_ca_location)
            .field("auto_offset_reset", &self.auto_offset_reset)
            // Keys only: a value may be a secret.
            .field(
                "options",
                &self.options.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl KafkaSettings {
    fn client(&self) -> ClientConfig {
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

    fn apply_options(&self, c: &mut ClientConfig) {
        for (k, v) in &self.options {
            c.set(k, v);
        }
    }
}

/// Parse `KEY=VALUE` (a librdkafka property).
pub fn parse_option(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!(
            "--kafka-option wants KEY=VALUE (a librdkafka property), got {s:?}"
        )),
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
        let mut m = self.lag_clients.lock().unwrap();
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

fn to_record(m: &rdkafka::message::BorrowedMessage<'_>) -> Record {
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
        let context = RebalanceContext {
            topic: topic.to_string(),
            ..Default::default()
        };
        let c: StreamConsumer<RebalanceContext> = self
            .settings
            .client()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", &self.settings.auto_offset_reset)
            .set(
                "session.timeout.ms",
                self.settings.session_timeout_ms.to_string(),
            )
            .set("partition.assignment.strategy", "cooperative-sticky")
            .create_with_context(context)
            .context("cannot create the Kafka consumer")?;
        c.subscribe(&[topic])
            .with_context(|| format!("cannot subscribe to {topic}"))?;
        Ok(Box::new(KafkaConsumer {
            consumer: Arc::new(c),
            topic: topic.to_string(),
            max_poll_records: self.settings.max_poll_records,
            buffer: Mutex::new(VecDeque::new()),
            paused: Mutex::new(false),
        }))
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
            let committed = c.committed_offsets(tpl, META_TIMEOUT)?;
            let mut out = Vec::new();
            for p in parts {
                let (low, high) = c.fetch_watermarks(&topic, p, META_TIMEOUT)?;
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
            let (_, high) = c.fetch_watermarks(&topic, partition, META_TIMEOUT)?;
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
}

/// Whether a consumer error is librdkafka reporting what it recovers from
/// by itself (brokers down, transport failures, a topic not there yet).
/// librdkafka treats every consumer error but a fatal one so.
fn is_transient(e: &KafkaError) -> bool {
    matches!(e, KafkaError::MessageConsumption(code) if *code != RDKafkaErrorCode::Fatal)
}

/// Transient errors are skipped without a pause: they share the consumer
/// queue with the rebalance events, and backing off per error left a
/// revoke or an assignment queued behind an outage's worth of them for
/// minutes (after a one-node restart the group stayed unassigned, stuck in
/// librdkafka's `wait-unassign-call` / `wait-assign-call`). The client
/// context logs them already; health comes from the broker reads.
fn skip_transient(topic: &str, e: &KafkaError) {
    tracing::debug!("consume {topic}: {e} (librdkafka recovers by itself)");
}

/// Commits on revoke: when a rebalance takes partitions away, the last safe
/// offsets the engine reported for them are committed before the new owner
/// starts, and later commits for them (work that was in flight) are dropped
/// rather than sent with a stale generation.
#[derive(Default)]
pub struct RebalanceContext {
    topic: String,
    /// Per partition, the newest safe offset not yet known to be committed.
    uncommitted: Mutex<HashMap<i32, i64>>,
    /// Partitions this member owns now.
    owned: Mutex<std::collections::HashSet<i32>>,
}

impl ClientContext for RebalanceContext {}

impl ConsumerContext for RebalanceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else {
            return;
        };
        let parts: Vec<i32> = revoked
            .elements_for_topic(&self.topic)
            .iter()
            .map(|e| e.partition())
            .collect();
        let mut owned = self.owned.lock().unwrap();
        let mut pending = self.uncommitted.lock().unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in &parts {
            owned.remove(p);
            if let Some(o) = pending.remove(p) {
                let _ = tpl.add_partition_offset(&self.topic, *p, Offset::Offset(o));
            }
        }
        if tpl.count() > 0 {
            // Asynchronous: this runs on the polling task, and a revoke after
            // a session timeout means the broker may not answer at all.
            match consumer.commit(&tpl, CommitMode::Async) {
                Ok(()) => tracing::info!("partitions {parts:?} revoked; committing their safe offsets first"),
                Err(e) => tracing::warn!("partitions {parts:?} revoked; final commit refused ({e}): the new owner redelivers, harmlessly"),
            }
        } else {
            tracing::info!("partitions {parts:?} revoked");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(assigned) = rebalance {
            let parts: Vec<i32> = assigned
                .elements_for_topic(&self.topic)
                .iter()
                .map(|e| e.partition())
                .collect();
            tracing::info!("partitions {parts:?} assigned");
            self.owned.lock().unwrap().extend(parts);
        }
    }
}

pub struct KafkaConsumer {
    /// Shared with blocking tasks: a synchronous commit must not hold a
    /// runtime worker while the broker is away.
    consumer: Arc<StreamConsumer<RebalanceContext>>,
    topic: String,
    max_poll_records: usize,
    /// Messages received while pausing (handed out first on resume).
    buffer: Mutex<VecDeque<Record>>,
    paused: Mutex<bool>,
}

impl KafkaConsumer {
    fn set_paused(&self, pause: bool) -> Result<()> {
        let assignment = self.consumer.assignment()?;
        if pause {
            // Re-applied each time: a rebalance may have assigned new partitions.
            self.consumer.pause(&assignment)?;
        } else if *self.paused.lock().unwrap() {
            self.consumer.resume(&assignment)?;
        }
        *self.paused.lock().unwrap() = pause;
        Ok(())
    }
}

#[async_trait]
impl BrokerConsumer for KafkaConsumer {
    async fn fetch(&self, max: usize, wait: Duration) -> Result<Vec<Record>> {
        self.set_paused(false)?;
        let max = max.min(self.max_poll_records);
        let mut out: Vec<Record> = {
            let mut b = self.buffer.lock().unwrap();
            let n = b.len().min(max);
            b.drain(..n).collect()
        };
        let deadline = tokio::time::Instant::now() + wait;
        while out.is_empty() {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(Ok(m)) => out.push(to_record(&m)),
                Ok(Err(e)) if is_transient(&e) => skip_transient(&self.topic, &e),
                Ok(Err(e)) => return Err(anyhow!("consume {}: {e}", self.topic)),
                Err(_) => return Ok(out),
            }
        }
        // Take what is already buffered, without waiting.
        while out.len() < max {
            match tokio::time::timeout(Duration::ZERO, self.consumer.recv()).await {
                Ok(Ok(m)) => out.push(to_record(&m)),
                Ok(Err(e)) if is_transient(&e) => skip_transient(&self.topic, &e),
                // What was received is handed out: librdkafka's position is
                // past it, so dropping it here would strand it until the next
                // rebalance (seen when a partition leader was killed: the
                // last records of a partition never processed, lag stuck).
                // A lasting error comes back on the next fetch.
                Ok(Err(e)) => {
                    tracing::warn!("consume {}: {e} (after {} records)", self.topic, out.len());
                    break;
                }
                Err(_) => break,
            }
        }
        Ok(out)
    }

    async fn idle(&self) -> Result<()> {
        self.set_paused(true)?;
        // Keep polling so the group membership (max.poll.interval.ms) holds.
        if let Ok(Ok(m)) =
            tokio::time::timeout(Duration::from_millis(100), self.consumer.recv()).await
        {
            self.buffer.lock().unwrap().push_back(to_record(&m));
        }
        Ok(())
    }

    async fn commit(&self, offsets: &[(i32, i64)]) -> Result<()> {
        let ctx = self.consumer.context();
        // Work that finished after its partition was revoked is not committed:
        // the partition's offsets are the new owner's now.
        let offsets: Vec<(i32, i64)> = {
            let owned = ctx.owned.lock().unwrap();
            offsets
                .iter()
                .copied()
                .filter(|(p, _)| owned.contains(p))
                .collect()
        };
        if offsets.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        {
            let mut pending = ctx.uncommitted.lock().unwrap();
            for (p, o) in &offsets {
                tpl.add_partition_offset(&self.topic, *p, Offset::Offset(*o))?;
                pending.insert(*p, *o);
            }
        }
        let consumer = self.consumer.clone();
        let committed =
            tokio::task::spawn_blocking(move || consumer.commit(&tpl, CommitMode::Sync))
                .await
                .context("commit task")?;
        match committed {
            Ok(()) => {
                let mut pending = ctx.uncommitted.lock().unwrap();
                for (p, o) in &offsets {
                    if pending.get(p) == Some(o) {
                        pending.remove(p);
                    }
                }
                Ok(())
            }
            // After a rebalance the partition belongs to another member; its
            // redelivery is harmless (idempotent by content hash).
            Err(e) => {
                tracing::warn!("commit of {offsets:?} refused ({e}); messages will be redelivered");
                Ok(())
            }
        }
    }

    async fn close(&self) -> Result<()> {
        self.consumer.unsubscribe();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_appears_in_debug_output() {
        let s = KafkaSettings {
            bootstrap_servers: "b:9092".into(),
            sasl_password: Some("hunter2".into()),
            ..Default::default()
        };
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
