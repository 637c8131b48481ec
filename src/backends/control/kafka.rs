//! Operator state on Kafka, for a fleet of engines on several machines:
//!
//! - the **control topic** (compacted, one partition): one record per lever
//!   key (`rollout`, `consumer_paused`, `concurrency`, `breaker_reset_seq`,
//!   `member/<id>`), the latest of each kept for good;
//! - the **status topic** (compacted, keyed by member id): each member's
//!   report about once a second, a tombstone on clean exit;
//! - the **audit topic** (delete policy, 30 days): one record per operator
//!   action.
//!
//! Every engine (and `attach`) reads all three from the beginning with a
//! plain assigned consumer — no consumer group, so readers never join the
//! request topic's group — and follows them as they grow (~100 ms). State is
//! served from that cache; when the brokers cannot be read the cache is
//! kept and `trouble()` says since when.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::FleetTopics;
use crate::backends::broker::kafka::KafkaSettings;
use crate::backends::broker::Broker;
use crate::clock::now_ms;
use crate::ports::control::{AuditEntry, ControlStore, MemberStatus};

/// Audit entries kept in memory for browsing (the topic keeps 30 days).
const AUDIT_CACHE: usize = 5_000;
/// Longest wait for the topics' existing records at start.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Cache {
    /// The control topic's keys with their last values.
    control: BTreeMap<String, String>,
    members: BTreeMap<String, MemberStatus>,
    audit: VecDeque<AuditEntry>,
    /// (since when, what) the topics could not be read.
    trouble: Option<(Instant, String)>,
}

pub struct KafkaControl {
    topics: FleetTopics,
    producer: FutureProducer,
    cache: Arc<RwLock<Cache>>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl KafkaControl {
    /// Create the topics if missing, read what they hold, then follow them.
    pub async fn open(
        settings: &KafkaSettings,
        broker: &dyn Broker,
        topics: FleetTopics,
    ) -> Result<Self> {
        broker
            .ensure_topics(&topics.specs())
            .await
            .context("cannot create the fleet's control, status and audit topics")?;
        let producer: FutureProducer = settings
            .client()
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "0")
            .set("message.timeout.ms", "10000")
            .create()
            .context("cannot create the control-topic producer")?;
        let consumer: BaseConsumer = settings
            .client()
            .set("group.id", "archon-tui-control-reader")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "50")
            .create()
            .context("cannot create the control-topic reader")?;
        let cache = Arc::new(RwLock::new(Cache::default()));
        // Each topic's offsets before the assignment, which then starts at
        // the first offset kept: assigned at "beginning" with no leader
        // known yet, librdkafka waits a fixed 500 ms before it asks for the
        // offset, half of a lever's time from a cold shell.
        let (consumer, targets) = {
            let topics = topics.clone();
            tokio::task::spawn_blocking(move || -> Result<(BaseConsumer, Vec<(String, i64)>)> {
                let mut tpl = TopicPartitionList::new();
                let mut targets = Vec::new();
                for t in [&topics.control, &topics.status, &topics.audit] {
                    let (low, high) = watermarks(&consumer, t)?;
                    tpl.add_partition_offset(t, 0, Offset::Offset(low))?;
                    if *t != topics.audit {
                        targets.push((t.clone(), if low == high { 0 } else { high }));
                    }
                }
                // assign(), never subscribe(): the reader is in no consumer group.
                consumer.assign(&tpl)?;
                Ok((consumer, targets))
            })
            .await
            .context("control reader")??
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (loaded_tx, loaded_rx) = std::sync::mpsc::channel();
        let reader = {
            let (cache, stop, topics) = (cache.clone(), stop.clone(), topics.clone());
            std::thread::Builder::new()
                .name("control-reader".into())
                .spawn(move || follow(consumer, topics, targets, cache, stop, loaded_tx))?
        };
        let loaded = tokio::task::spawn_blocking(move || loaded_rx.recv_timeout(LOAD_TIMEOUT))
            .await
            .context("control reader")?;
        let me = Self {
            topics,
            producer,
            cache,
            stop,
            reader: Some(reader),
        };
        if loaded.is_err() {
            let why = me.trouble().unwrap_or_else(|| "no answer".into());
            return Err(anyhow!(
                "cannot read the control topic {} within {} s: {why}",
                me.topics.control,
                LOAD_TIMEOUT.as_secs()
            ));
        }
        Ok(me)
    }

    pub fn topics(&self) -> &FleetTopics {
        &self.topics
    }

    /// Queue a record without waiting for it (member reports: the next one
    /// follows in a second, and a broker outage must not stall the heartbeat).
    fn send_queued(&self, topic: &str, key: &str, value: &str) -> Result<()> {
        let rec = FutureRecord::<str, str>::to(topic).key(key).payload(value);
        // Dropping the delivery future does not cancel the delivery.
        drop(self.producer.send_result(rec).map_err(|(e, _)| e)?);
        Ok(())
    }

    async fn send(&self, topic: &str, key: &str, value: Option<&str>) -> Result<()> {
        let mut rec = FutureRecord::<str, str>::to(topic).key(key);
        if let Some(v) = value {
            rec = rec.payload(v);
        }
        let delivery = self.producer.send_result(rec).map_err(|(e, _)| e)?;
        // Completed by librdkafka's own thread within message.timeout.ms.
        match delivery.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((e, _))) => Err(anyhow!("cannot write to {topic}: {e}")),
            Err(_) => Err(anyhow!("cannot write to {topic}: producer gone")),
        }
    }
}

impl Drop for KafkaControl {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(r) = self.reader.take() {
            let _joined = r.join().is_ok();
        }
    }
}

/// The reader thread: apply every record to the cache; say when the
/// control and status topics' existing records are all read.
fn follow(
    consumer: BaseConsumer,
    topics: FleetTopics,
    // What the control and status topics held at start: read up to there,
    // the state is loaded (later records are followed as they come).
    targets: Vec<(String, i64)>,
    cache: Arc<RwLock<Cache>>,
    stop: Arc<AtomicBool>,
    loaded: std::sync::mpsc::Sender<()>,
) {
    let mut announced = false;
    let mut last_check = Instant::now() - Duration::from_secs(1);
    // Compaction can leave the high watermark above the last record; a
    // reader that has fetched nothing for this long has read what there is.
    let mut quiet_since: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let polled = consumer.poll(Duration::from_millis(100));
        quiet_since = match (&polled, quiet_since) {
            (None, None) => Some(Instant::now()),
            (None, q) => q,
            _ => None,
        };
        match polled {
            Some(Ok(m)) => {
                let mut c = cache
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                c.trouble = None;
                let key = m.key().map(|k| String::from_utf8_lossy(k).into_owned());
                let value = m.payload().map(|p| String::from_utf8_lossy(p).into_owned());
                apply(&mut c, &topics, m.topic(), key.as_deref(), value.as_deref());
            }
            Some(Err(e)) => {
                let mut c = cache
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if c.trouble.is_none() {
                    c.trouble = Some((Instant::now(), e.to_string()));
                }
            }
            None => {}
        }
        if !announced && last_check.elapsed() >= Duration::from_millis(10) {
            last_check = Instant::now();
            let quiet = quiet_since.is_some_and(|q| q.elapsed() > Duration::from_secs(3))
                && cache
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .trouble
                    .is_none();
            if targets
                .iter()
                .all(|(t, end)| read_to(&consumer, t, *end, quiet))
            {
                announced = true;
                let _sent = loaded.send(()).is_ok();
            }
        }
    }
}

/// Has the reader consumed `topic` up to `end` (its end when the reader
/// started)? A `quiet` reader that has fetched from the partition counts as
/// done too: compaction can leave the end above the last record.
fn read_to(consumer: &BaseConsumer, topic: &str, end: i64, quiet: bool) -> bool {
    if end <= 0 {
        return true;
    }
    let Ok(pos) = consumer.position() else {
        return false;
    };
    pos.find_partition(topic, 0)
        .is_some_and(|e| matches!(e.offset(), Offset::Offset(o) if o >= end || quiet))
}

/// The oldest and next offsets of partition 0, waiting out a leader not
/// elected yet (a topic just created).
fn watermarks(consumer: &BaseConsumer, topic: &str) -> Result<(i64, i64)> {
    let deadline = Instant::now() + LOAD_TIMEOUT / 2;
    loop {
        match consumer.fetch_watermarks(topic, 0, Duration::from_secs(5)) {
            Ok(w) => return Ok(w),
            Err(e) if Instant::now() < deadline => {
                tracing::debug!("control topic {topic} not readable yet: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(anyhow!("cannot read the control topic {topic}: {e}")),
        }
    }
}

fn apply(c: &mut Cache, topics: &FleetTopics, topic: &str, key: Option<&str>, value: Option<&str>) {
    if topic == topics.control {
        match (key, value) {
            (Some(k), Some(v)) => {
                c.control.insert(k.to_string(), v.to_string());
            }
            (Some(k), None) => {
                c.control.remove(k);
            }
            _ => {}
        }
    } else if topic == topics.status {
        match (key, value) {
            (Some(k), None) => {
                c.members.remove(k);
            }
            (Some(k), Some(v)) => match serde_json::from_str::<MemberStatus>(v) {
                Ok(s) => {
                    c.members.insert(k.to_string(), s);
                }
                Err(e) => tracing::debug!("unreadable member report skipped: {e}"),
            },
            _ => {}
        }
    } else if topic == topics.audit {
        if let Some(Ok(e)) = value.map(serde_json::from_str::<AuditEntry>) {
            c.audit.push_back(e);
            while c.audit.len() > AUDIT_CACHE {
                c.audit.pop_front();
            }
        }
    }
}

#[async_trait::async_trait]
impl ControlStore for KafkaControl {
    fn kind(&self) -> &'static str {
        "kafka"
    }

    async fn entries(&self) -> Result<BTreeMap<String, String>> {
        Ok(self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .control
            .clone())
    }

    async fn put(&self, key: &str, value: &str) -> Result<()> {
        self.send(&self.topics.control, key, Some(value)).await?;
        // Read-your-writes: the reader will apply the same record again.
        self.cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .control
            .insert(key.to_string(), value.to_string());
        Ok(())
    }

    async fn put_if(&self, key: &str, expected: Option<&str>, value: &str) -> Result<bool> {
        let now = self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .control
            .get(key)
            .cloned();
        if now.as_deref() != expected {
            return Ok(false);
        }
        self.put(key, value).await?;
        Ok(true)
    }

    async fn forget(&self, key: &str) -> Result<()> {
        self.send(&self.topics.control, key, None).await?;
        self.cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .control
            .remove(key);
        Ok(())
    }

    async fn publish_member(&self, s: &MemberStatus) -> Result<()> {
        let v = serde_json::to_string(s)?;
        self.send_queued(&self.topics.status, &s.member_id, &v)?;
        self.cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .members
            .insert(s.member_id.clone(), s.clone());
        Ok(())
    }

    async fn withdraw_member(&self, member_id: &str) -> Result<()> {
        let rec = FutureRecord::<str, str>::to(&self.topics.status).key(member_id);
        drop(self.producer.send_result(rec).map_err(|(e, _)| e)?);
        // At exit: give the tombstone (and queued reports) a moment, no more
        // (flush blocks: off the runtime's workers).
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(2)))
            .await
            .context("control producer flush")??;
        self.cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .members
            .remove(member_id);
        Ok(())
    }

    async fn members(&self, gone_after_ms: i64) -> Result<Vec<MemberStatus>> {
        let since = now_ms() - gone_after_ms;
        Ok(self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .members
            .values()
            .filter(|m| m.updated_ms >= since)
            .cloned()
            .collect())
    }

    async fn append_audit(&self, e: &AuditEntry) -> Result<()> {
        // Not cached here: the reader adds it when it comes back, so every
        // console shows the trail in the topic's order.
        self.send(
            &self.topics.audit,
            &e.member_id,
            Some(&serde_json::to_string(e)?),
        )
        .await
    }

    async fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        let c = self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let skip = c.audit.len().saturating_sub(limit);
        Ok(c.audit.iter().skip(skip).cloned().collect())
    }

    fn trouble(&self) -> Option<String> {
        let c = self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        c.trouble.as_ref().and_then(|(since, what)| {
            // A blip the client rides out is not worth a banner.
            (since.elapsed() > Duration::from_secs(3)).then(|| {
                format!(
                    "control topic {} unreadable for {} s ({}); keeping the last state",
                    self.topics.control,
                    since.elapsed().as_secs(),
                    crate::sanitize::clean(what)
                )
            })
        })
    }
}
