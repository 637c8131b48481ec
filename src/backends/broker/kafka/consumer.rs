//! The group consumer: manual commits of the offsets the engine hands
//! over, a commit of the safe offsets on revoke, paused partitions while the
//! engine is paused, transient errors skipped.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use async_trait::async_trait;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};

use super::client::to_record;
use super::KafkaSettings;
use crate::backends::broker::{BrokerConsumer, FatalConsumerError, Record};

/// Whether a consumer error is librdkafka reporting what it recovers from
/// by itself (brokers down, transport failures, a topic not there yet).
/// librdkafka treats every consumer error but a fatal one so (rdkafka
/// reports those as `MessageConsumptionFatal`).
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
    owned: Mutex<HashSet<i32>>,
    /// The consumer this context belongs to (set once it exists), so an
    /// assignment can split its partitions' queues off at once.
    consumer: std::sync::OnceLock<std::sync::Weak<StreamConsumer<RebalanceContext>>>,
    /// Each owned partition's own queue, read in turn (`KafkaConsumer::fetch`).
    /// Each holds the consumer: cleared on close and drop (`KafkaConsumer`).
    queues: Mutex<Vec<(i32, Arc<PartitionQueue>)>>,
    /// Raised when `queues` changed: a fetch waiting on the queues it had
    /// takes the new ones at once (see `KafkaConsumer::wait_any`).
    queues_changed: tokio::sync::Notify,
    /// Where a partition with no committed offset starts (`auto.offset.reset`
    /// as configured), when it names one; see `start_positions`.
    reset_to: Option<Offset>,
}

/// `auto.offset.reset` as a start position; None for `error` or anything
/// else librdkafka is left to handle itself.
fn reset_position(policy: &str) -> Option<Offset> {
    match policy.trim().to_ascii_lowercase().as_str() {
        "earliest" | "smallest" | "beginning" => Some(Offset::Beginning),
        "latest" | "largest" | "end" => Some(Offset::End),
        _ => None,
    }
}

/// How long an assignment waits for the group's committed offsets before
/// leaving the lookup to librdkafka (see `start_positions`).
const COMMITTED_LOOKUP: Duration = Duration::from_secs(2);

type PartitionQueue = rdkafka::consumer::stream_consumer::StreamPartitionQueue<RebalanceContext>;

impl RebalanceContext {
    fn queues(&self) -> std::sync::MutexGuard<'_, Vec<(i32, Arc<PartitionQueue>)>> {
        self.queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Give each newly assigned partition a queue of its own, here in the
    /// rebalance callback, right after the assignment and before its first
    /// fetch can answer (it waits for the committed offsets first).
    ///
    /// Why: librdkafka appends each fetch response to one queue in arrival
    /// order and prefetches up to 100,000 messages a partition, so a member
    /// holding two partitions read the whole backlog of one before the
    /// first message of the other. Rate-limited to 60/s, a partition waited
    /// 77 s with its lag untouched while its sibling drained
    /// (tests/rolling_restart.rs). Splitting at the next fetch instead left
    /// the first fetch responses in the main queue (2,500 of one partition
    /// ahead of the other: 15 s without a commit in a 3-member fleet).
    /// Smaller prefetches cost half the drain rate; reading the partitions'
    /// own queues in turn costs nothing.
    fn split(&self, parts: &[i32]) {
        let Some(consumer) = self.consumer.get().and_then(std::sync::Weak::upgrade) else {
            return; // closing: nothing more is read
        };
        let mut queues = self.queues();
        for p in parts {
            // An assignment forwards a partition's queue to the main one
            // again: a queue kept from before is replaced.
            queues.retain(|(q, _)| q != p);
            match consumer.split_partition_queue(&self.topic, *p) {
                Some(q) => queues.push((*p, Arc::new(q))),
                // Its messages keep coming through the main queue.
                None => tracing::debug!("partition {p}: no queue of its own"),
            }
        }
        queues.sort_by_key(|(p, _)| *p);
        drop(queues);
        self.queues_changed.notify_waiters();
    }
}

impl ClientContext for RebalanceContext {}

impl RebalanceContext {
    /// Give each newly assigned partition that has no committed offset its
    /// start position (`auto.offset.reset`) explicitly. Left to itself,
    /// librdkafka learns there is none from its own OffsetFetch and then
    /// waits a fixed 100 ms before it asks for the beginning (its offset
    /// reset's backoff): every new group, every new topic, lost 0.1 s before
    /// its first message (docs/performance.md, "A new member's first
    /// message"). Partitions with a committed offset, and any lookup that
    /// fails, stay as they were (librdkafka fetches and validates the offset
    /// itself).
    fn start_positions(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        let Some(reset_to) = self.reset_to else {
            return;
        };
        let committed = match consumer.committed_offsets(tpl.clone(), COMMITTED_LOOKUP) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(
                    "committed offsets not read at assignment ({e}): librdkafka reads them"
                );
                return;
            }
        };
        for e in committed.elements() {
            if e.offset() == Offset::Invalid && e.error().is_ok() {
                if let Some(mut mine) = tpl.find_partition(e.topic(), e.partition()) {
                    if let Err(err) = mine.set_offset(reset_to) {
                        tracing::debug!(
                            "partition {}: start position not set ({err})",
                            e.partition()
                        );
                    }
                }
            }
        }
    }
}

impl ConsumerContext for RebalanceContext {
    /// rust-rdkafka's own rebalance, with the start positions of partitions
    /// that have none set first (`start_positions`).
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: rdkafka::types::RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        use rdkafka::consumer::RebalanceProtocol;
        use rdkafka::types::RDKafkaRespErr;
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.start_positions(consumer, tpl);
                self.pre_rebalance(consumer, &Rebalance::Assign(tpl));
                let r = if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                };
                self.post_rebalance(consumer, &Rebalance::Assign(tpl));
                r
            }
            // A revoke, or an error, which rust-rdkafka answers the same
            // way: drop the assignment.
            other => {
                let rebalance = match other {
                    RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => Rebalance::Revoke(tpl),
                    other => {
                        let code: RDKafkaErrorCode = other.into();
                        tracing::warn!("rebalance error: {code}");
                        Rebalance::Error(KafkaError::Rebalance(code))
                    }
                };
                self.pre_rebalance(consumer, &rebalance);
                let r = if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                };
                self.post_rebalance(consumer, &rebalance);
                r
            }
        };
        if let Err(e) = result {
            tracing::warn!("rebalance not applied: {e}");
        }
    }

    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else {
            return;
        };
        let parts: Vec<i32> = revoked
            .elements_for_topic(&self.topic)
            .iter()
            .map(|e| e.partition())
            .collect();
        let mut owned = self
            .owned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut pending = self
            .uncommitted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut tpl = TopicPartitionList::new();
        self.queues().retain(|(p, _)| !parts.contains(p));
        self.queues_changed.notify_waiters();
        for p in &parts {
            owned.remove(p);
            if let Some(o) = pending.remove(p) {
                if let Err(e) = tpl.add_partition_offset(&self.topic, *p, Offset::Offset(o)) {
                    tracing::warn!("partition {p}: offset {o} not committed on revoke ({e})");
                }
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
            self.owned
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(parts.iter().copied());
            self.split(&parts);
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
    /// Where the next round of reads starts.
    turn: std::sync::atomic::AtomicUsize,
}

impl Drop for KafkaConsumer {
    fn drop(&mut self) {
        // The partition queues hold the consumer: let it go.
        self.consumer.context().queues().clear();
    }
}

impl KafkaConsumer {
    /// A fatal error (librdkafka gives up on this client) stops the
    /// consumer, with librdkafka's own reason; anything else is retried.
    fn consume_error(&self, e: KafkaError) -> anyhow::Error {
        let fatal = matches!(e, KafkaError::MessageConsumptionFatal(_))
            || e.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal);
        if fatal {
            let reason = match self.consumer.client().fatal_error() {
                Some((code, why)) => format!("{why} ({code:?})"),
                None => e.to_string(),
            };
            return FatalConsumerError(format!("Kafka consumer: {reason}")).into();
        }
        anyhow!("consume {}: {e}", self.topic)
    }

    /// A member of `group` subscribed to `topic`: cooperative-sticky
    /// assignment, no auto commit, no auto offset store.
    pub(super) fn subscribe(settings: &KafkaSettings, group: &str, topic: &str) -> Result<Self> {
        let mut config = settings.client();
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", &settings.auto_offset_reset)
            .set(
                "session.timeout.ms",
                settings.session_timeout_ms.to_string(),
            )
            .set("partition.assignment.strategy", "cooperative-sticky")
            // With a queue per partition (`RebalanceContext::split`) this
            // prefetch bound applies per partition, not to the one queue
            // (librdkafka's CONFIGURATION.md): 16 MiB each keeps 4
            // partitions within the 64 MiB the single queue had.
            .set("queued.max.messages.kbytes", "16384")
            // How doctor and the fleet tell our members from others in the group.
            .set("client.id", "archon-tui");
        // The operator's --kafka-option wins here too: a group shared with
        // the seeds' aiokafka services needs an assignor they speak
        // (`partition.assignment.strategy=roundrobin`; aiokafka has no
        // cooperative one, and Kafka refuses a member with none in common).
        settings.apply_options(&mut config);
        let context = RebalanceContext {
            topic: topic.to_string(),
            reset_to: config.get("auto.offset.reset").and_then(reset_position),
            ..Default::default()
        };
        let c: StreamConsumer<RebalanceContext> = config
            .create_with_context(context)
            .context("cannot create the Kafka consumer")?;
        let c = Arc::new(c);
        c.context().consumer.set(Arc::downgrade(&c)).ok();
        c.subscribe(&[topic])
            .with_context(|| format!("cannot subscribe to {topic}"))?;
        Ok(KafkaConsumer {
            consumer: c,
            topic: topic.to_string(),
            max_poll_records: settings.max_poll_records,
            buffer: Mutex::new(VecDeque::new()),
            paused: Mutex::new(false),
            turn: Default::default(),
        })
    }

    /// What is already received, without waiting: one message from each
    /// source in turn (the main queue, then each partition's), until `max`
    /// or nothing is left.
    async fn take_ready(&self, out: &mut Vec<Record>, max: usize) -> Result<()> {
        let queues = self.consumer.context().queues().clone();
        let start = self.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut live: Vec<Option<&PartitionQueue>> = (0..queues.len())
            .map(|i| Some(queues[(start + i) % queues.len()].1.as_ref()))
            .collect();
        let mut main_live = true;
        while out.len() < max && (main_live || live.iter().any(Option::is_some)) {
            if main_live {
                match tokio::time::timeout(Duration::ZERO, self.consumer.recv()).await {
                    Ok(Ok(m)) => out.push(to_record(&m)),
                    Ok(Err(e)) if is_transient(&e) => skip_transient(&self.topic, &e),
                    Ok(Err(e)) if out.is_empty() => return Err(self.consume_error(e)),
                    // What was received is handed out: librdkafka's position
                    // is past it, so dropping it here would strand it until
                    // the next rebalance (seen when a partition leader was
                    // killed: the last records of a partition never
                    // processed, lag stuck). A lasting error comes back on
                    // the next fetch.
                    Ok(Err(e)) => {
                        tracing::warn!("consume {}: {e} (after {} records)", self.topic, out.len());
                        main_live = false;
                    }
                    Err(_) => main_live = false,
                }
            }
            for slot in live.iter_mut() {
                if out.len() >= max {
                    break;
                }
                let Some(q) = *slot else { continue };
                match tokio::time::timeout(Duration::ZERO, q.recv()).await {
                    Ok(Ok(m)) => out.push(to_record(&m)),
                    Ok(Err(e)) if is_transient(&e) => skip_transient(&self.topic, &e),
                    Ok(Err(e)) => {
                        tracing::warn!("consume {}: {e} (after {} records)", self.topic, out.len());
                        *slot = None;
                    }
                    Err(_) => *slot = None,
                }
            }
        }
        Ok(())
    }

    /// Wait until any source has a message (or `deadline`): the first one.
    async fn wait_any(&self, deadline: tokio::time::Instant) -> Result<Option<Record>> {
        use futures::FutureExt;
        loop {
            // An assignment during the wait (its callback runs inside the
            // main queue's `recv` below) gives the new partitions queues of
            // their own, which the waits made before it do not read: wait on
            // the new set at once, not after the deadline (it cost every
            // new member up to 200 ms before its first message).
            let changed = self.consumer.context().queues_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let queues = self.consumer.context().queues().clone();
            let mut waits: Vec<
                futures::future::BoxFuture<'_, rdkafka::error::KafkaResult<Record>>,
            > = queues
                .iter()
                .map(|(_, q)| async move { q.recv().await.map(|m| to_record(&m)) }.boxed())
                .collect();
            waits.push(async { self.consumer.recv().await.map(|m| to_record(&m)) }.boxed());
            let got = tokio::select! {
                r = tokio::time::timeout_at(deadline, futures::future::select_all(waits)) => r,
                _ = &mut changed => continue,
            };
            match got {
                Ok((Ok(r), _, _)) => return Ok(Some(r)),
                Ok((Err(e), _, _)) if is_transient(&e) => skip_transient(&self.topic, &e),
                Ok((Err(e), _, _)) => return Err(self.consume_error(e)),
                Err(_) => return Ok(None),
            }
        }
    }

    fn set_paused(&self, pause: bool) -> Result<()> {
        let assignment = self.consumer.assignment()?;
        if pause {
            // Re-applied each time: a rebalance may have assigned new partitions.
            self.consumer.pause(&assignment)?;
        } else if *self
            .paused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            self.consumer.resume(&assignment)?;
        }
        *self
            .paused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = pause;
        Ok(())
    }
}

#[async_trait]
impl BrokerConsumer for KafkaConsumer {
    fn assignment(&self) -> Vec<i32> {
        let mut parts: Vec<i32> = match self.consumer.assignment() {
            Ok(tpl) => tpl
                .elements()
                .iter()
                .filter(|e| e.topic() == self.topic)
                .map(|e| e.partition())
                .collect(),
            Err(_) => Vec::new(),
        };
        parts.sort_unstable();
        parts
    }

    async fn fetch(&self, max: usize, wait: Duration) -> Result<Vec<Record>> {
        self.set_paused(false)?;
        let max = max.min(self.max_poll_records);
        let mut out: Vec<Record> = {
            let mut b = self
                .buffer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let n = b.len().min(max);
            b.drain(..n).collect()
        };
        let deadline = tokio::time::Instant::now() + wait;
        self.take_ready(&mut out, max).await?;
        if out.is_empty() {
            match self.wait_any(deadline).await? {
                Some(r) => out.push(r),
                None => return Ok(out),
            }
            // Then whatever else is ready, in turn.
            self.take_ready(&mut out, max).await?;
        }
        Ok(out)
    }

    async fn idle(&self) -> Result<()> {
        self.set_paused(true)?;
        // Keep polling so the group membership (max.poll.interval.ms) holds.
        if let Ok(Ok(m)) =
            tokio::time::timeout(Duration::from_millis(100), self.consumer.recv()).await
        {
            self.buffer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push_back(to_record(&m));
        }
        Ok(())
    }

    async fn commit(&self, offsets: &[(i32, i64)]) -> Result<()> {
        let ctx = self.consumer.context();
        // Work that finished after its partition was revoked is not committed:
        // the partition's offsets are the new owner's now.
        let offsets: Vec<(i32, i64)> = {
            let owned = ctx
                .owned
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
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
            let mut pending = ctx
                .uncommitted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
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
                let mut pending = ctx
                    .uncommitted
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for (p, o) in &offsets {
                    if pending.get(p) == Some(o) {
                        pending.remove(p);
                    }
                }
                Ok(())
            }
            // Refused during a rebalance (IllegalGeneration,
            // RebalanceInProgress): the caller offers it again, so a
            // partition kept through the rebalance is not left with its
            // last commit lost (lag stuck above 0 although all is done). A
            // partition that moved is filtered out above next time; its new
            // owner's redelivery is harmless (idempotent by content hash).
            Err(e) => Err(anyhow!("commit of {offsets:?} refused ({e})")),
        }
    }

    async fn close(&self) -> Result<()> {
        self.consumer.unsubscribe();
        self.consumer.context().queues().clear();
        Ok(())
    }
}
