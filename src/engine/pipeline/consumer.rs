//! The consumer: fetch while there is room under the concurrency limit, enrich
//! each message on its own task, record outcomes in batches, and commit the
//! offsets below the oldest unrecorded message (at-least-once) as that
//! contiguous prefix grows, at most every [`COMMIT_EVERY`].
//!
//! A member fetches at most [`fetch_ahead`] messages beyond what is recorded:
//! a slow store then slows fetching instead of piling finished work in memory,
//! where it would count for nothing (no commit, no docs/s) and a crash would
//! redeliver all of it. On a store that records several batches at once (a
//! server), up to as many again in batches being written do not count against it: a
//! write's round trips would otherwise idle the calls (Neo4j: ~70 ms from
//! fetch to recorded held 64 documents to ~900 docs/s).
//!
//! Fetching stops while the engine is paused or the breaker is not CLOSED, so
//! messages wait on the broker (lag stays visible and correct) rather than
//! piling into the DLQ; only when no request in flight can make a useful
//! trial is one more fetched to make it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use tokio::sync::mpsc;

use crate::engine::pipeline::enrich::{self, Origin, Outcome};
use crate::engine::resilience::backoff::Backoff;

use crate::engine::pipeline::offsets::OffsetTracker;
use crate::engine::Engine;
use crate::events::EnrichmentRequest;
use crate::model::Transition;
use crate::ports::broker::{BrokerConsumer, FatalConsumerError};
use crate::ports::graph::ReadForEnrichment;

const MAX_FETCH: usize = 512;
const MAX_RECORD_BATCH: usize = 1024;

/// How often the committed position follows the recorded prefix. Often
/// enough that lag falls smoothly; seldom enough that a busy member makes a
/// handful of commit requests a second, not one per recorded batch.
pub const COMMIT_EVERY: Duration = Duration::from_millis(100);

/// Messages a member may hold fetched but not yet recorded: its concurrency
/// in calls plus as many again finished and waiting for the writer, so
/// recording overlaps the calls without running away from them; at least 64,
/// so the seeds' default of 10 calls still fetches and records in batches
/// (`ingest --wait`, 10,000 files, embedded: bounded at 20, 3,500 docs/s;
/// at 64, see docs/performance.md). Four times that when record batches are
/// written several at once (`overlapped`: a server store, or a remote
/// broker): each fetched batch then waits on round trips, and a bigger batch
/// costs a server the same statements (Kafka + Neo4j, 10,000 files, a clean
/// graph: ×2 2,712–2,763 docs/s, ×4 3,161–3,452, ×8 3,129–3,231; Kafka +
/// the embedded graph: ×2 4,277–4,414, ×4 5,303–5,335). Of these, the
/// ones not yet in a call stay within half of it (the fetch loop).
pub fn fetch_ahead(concurrency: usize, overlapped: bool) -> usize {
    (concurrency * 2).max(64) * if overlapped { 4 } else { 1 }
}

/// This engine's bound: [`fetch_ahead`], twice that again when the graph is
/// one local writer (the embedded store) and the broker is remote. There the
/// two record batches in progress overlap only their produce round trips, so
/// a batch's fixed cost is the broker's, and bigger batches spread it: the
/// drain alone of 10,000 requests at concurrency 32 (`archon-bench --scenario
/// raw`, 6 runs each) went from 0.43–0.48 of kcat at 256 to 0.48–0.55 at 512
/// (one run of 0.34). On a server graph ×8 did not beat ×4 (above).
fn fetch_ahead_for(engine: &Engine, overlapped: bool) -> usize {
    let local_writer_remote_broker = overlapped && engine.backends.graph.parallel_writes() <= 1;
    fetch_ahead(engine.limit.get(), overlapped) * if local_writer_remote_broker { 2 } else { 1 }
}

/// What the runtime's consumer task is doing (front ends show it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerState {
    Running,
    /// No consumer by design: `attach` watches the fleet without joining.
    Observing,
    /// Ended after `engine.stop()`.
    Stopped,
    /// Ended on its own: the reason, for the header, the dialog and /health.
    Failed(String),
}

impl ConsumerState {
    pub fn is_alive(&self) -> bool {
        matches!(self, ConsumerState::Running | ConsumerState::Observing)
    }
}

type Done = (Option<(i32, i64)>, Outcome);

/// Run until `engine.stop()`; on return every finished message is recorded and
/// committed, and unfinished ones are back to pending for redelivery.
///
/// An offset reset (`engine::fleet::group_reset`) ends a session the same way,
/// which leaves the consumer group; the next session joins again, from the
/// offsets the reset committed.
pub async fn run(engine: Arc<Engine>) -> Result<()> {
    let mut resetting = engine.resetting_watch();
    let mut stop = engine.stop_watch();
    loop {
        if *resetting.borrow_and_update() {
            tracing::info!("out of the consumer group while its offsets are reset");
            engine.set_assigned(Vec::new());
            tokio::select! {
                _ = resetting.wait_for(|r| !*r) => {},
                _ = stop.wait_for(|s| *s) => {},
            }
            if engine.stopping() {
                return Ok(());
            }
            tracing::info!("offset reset over: joining the consumer group again");
        }
        session(engine.clone()).await?;
        if engine.stopping() || !engine.is_resetting() {
            return Ok(());
        }
    }
}

/// One membership of the consumer group, until a stop or a reset.
async fn session(engine: Arc<Engine>) -> Result<()> {
    let consumer: Arc<dyn BrokerConsumer> = Arc::from(
        engine
            .backends
            .broker
            .consumer(&engine.cfg.group_id, &engine.cfg.enrich_topic)
            .await?,
    );
    if engine.backends.broker.group_is_exclusive() {
        // We hold the group's only lease on this data dir: anything still
        // "processing" was left by a crashed run and will be redelivered.
        let n = engine.backends.graph.reset_processing().await?;
        if n > 0 {
            tracing::info!("recovered {n} documents left processing by an earlier run");
        }
    }
    let tracker = Arc::new(Mutex::new(OffsetTracker::default()));
    let (tx, rx) = mpsc::unbounded_channel::<Done>();
    let recorded_some = Arc::new(tokio::sync::Notify::new());
    let caught_up = Arc::new(tokio::sync::Notify::new());
    let recorder = tokio::spawn(record_loop(
        engine.clone(),
        tracker.clone(),
        rx,
        recorded_some.clone(),
        caught_up.clone(),
    ));
    let (committer_stop, committer_stopped) = tokio::sync::oneshot::channel::<()>();
    let committer = tokio::spawn(commit_loop(
        engine.clone(),
        consumer.clone(),
        tracker.clone(),
        committer_stopped,
        caught_up,
    ));
    let result = fetch_loop(&engine, consumer.as_ref(), &tracker, tx, &recorded_some).await;
    // The tasks hold the sender clones; the recorder ends when all are done.
    let recorded = recorder.await?;
    committer_stop.send(()).ok();
    committer.await?;
    // Everything recorded, committed (a refusal now is a rebalance: the
    // revoke handler commits what was safe, else the next owner redelivers).
    let commits = tracker
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take_commits();
    if let Err(e) = consumer.commit(&commits).await {
        tracing::warn!("final offset commit failed (redelivered, harmlessly): {e:#}");
    }
    consumer.close().await?;
    result.and(recorded)
}

async fn fetch_loop(
    engine: &Arc<Engine>,
    consumer: &dyn BrokerConsumer,
    tracker: &Arc<Mutex<OffsetTracker>>,
    tx: mpsc::UnboundedSender<Done>,
    recorded_some: &tokio::sync::Notify,
) -> Result<()> {
    let sem = engine.limit.semaphore();
    let mut paused = engine.paused_watch();
    let mut stop = engine.stop_watch();
    let mut resetting = engine.resetting_watch();
    let mut fetch_errors = 0u32;
    let mut assignment_seen = std::time::Instant::now() - Duration::from_secs(1);
    let overlapped_writes = record_writers(engine) > 1;
    loop {
        if *stop.borrow() || *resetting.borrow_and_update() {
            engine.set_assigned(Vec::new());
            return Ok(());
        }
        if assignment_seen.elapsed() >= Duration::from_millis(250) {
            assignment_seen = std::time::Instant::now();
            engine.set_assigned(consumer.assignment());
        }
        if *paused.borrow() {
            tokio::select! {
                _ = paused.changed() => {},
                _ = stop.changed() => {},
                _ = resetting.changed() => {},
                r = consumer.idle() => if let Err(e) = r {
                    tracing::warn!("broker keep-alive while paused failed: {e:#}");
                },
            }
            continue;
        }
        if engine.stall.holds_intake() {
            // A full disk: the batch held is retried by the recorder, whose
            // first landed write lifts this (resilience::stall).
            tokio::select! {
                // The embedded broker's lease is a write too: refused
                // alike, and said once by the stall.
                r = consumer.idle() => if let Err(e) = r {
                    tracing::debug!("broker keep-alive while the disk is full failed: {e:#}");
                },
                _ = engine.sleep_or_stop(Duration::from_millis(100)) => {},
            }
            continue;
        }
        // While the breaker is not closed, fetch nothing, unless no request
        // in flight can make a trial that tells anything: all of them are
        // suspects (enrich::Suspect), or none is in flight (a pause handed
        // them back). Then one fresh request is fetched to make it; it
        // waits on the breaker like the rest, and nothing is parked. A
        // document the service fails every time no longer holds the breaker
        // open over a healthy backlog, nor an idle breaker stay half open.
        let mut room_cap = MAX_FETCH;
        if engine.breaker.state() != crate::engine::resilience::breaker::BreakerState::Closed {
            let in_flight = engine
                .stats
                .in_flight
                .load(std::sync::atomic::Ordering::Relaxed);
            let suspects = engine
                .stats
                .suspects
                .load(std::sync::atomic::Ordering::Relaxed);
            if in_flight > suspects {
                tokio::select! {
                    r = consumer.idle() => if let Err(e) = r {
                        tracing::warn!("broker keep-alive while the breaker is open failed: {e:#}");
                    },
                    _ = engine.sleep_or_stop(Duration::from_millis(50)) => {},
                }
                continue;
            }
            room_cap = 1;
        }
        let ahead = fetch_ahead_for(engine, overlapped_writes);
        // At most `ahead` of them: a member never holds more than twice
        // `ahead` fetched and unrecorded, however many batches are written.
        let recording = engine
            .stats
            .recording
            .load(std::sync::atomic::Ordering::Relaxed);
        let writing = if overlapped_writes {
            recording.min(ahead as i64)
        } else {
            0
        };
        let in_flight = engine
            .stats
            .in_flight
            .load(std::sync::atomic::Ordering::Relaxed);
        let unrecorded = (in_flight - writing).max(0) as usize;
        // Of those, the ones not yet in a call stay within half the bound:
        // a slow service would otherwise leave a member sitting on messages
        // it cannot start, which a rebalance then waits out while another
        // member idles (two engines, 400 documents, a 100 ms service: the
        // first took all 400).
        let not_called = (in_flight - engine.limit.in_use() as i64 - recording).max(0) as usize;
        if unrecorded >= ahead || not_called >= ahead / 2 {
            // The writer is behind: wait for it (the timeout re-reads a
            // concurrency change and keeps the group membership polled).
            tokio::select! {
                _ = recorded_some.notified() => {},
                _ = stop.changed() => {},
                _ = resetting.changed() => {},
                _ = tokio::time::sleep(Duration::from_millis(100)) => {},
            }
            continue;
        }
        // The concurrency permits cover the calls only (taken per message
        // below): the reads before a call and the writes after it are
        // bounded by `ahead`. A fetch taken a few permits at a time made
        // batches of ~7 messages, and as many statements per batch on a
        // server store (docs/performance.md).
        let room = room_cap.min(ahead - unrecorded);
        // MAX_PROCESSING_RATE: wait for tokens on the broker's side.
        let room = match engine.rate.try_take(room) {
            Ok(n) => n,
            Err(wait) => {
                engine.sleep_or_stop(wait).await;
                continue;
            }
        };
        let fetched = consumer.fetch(room, Duration::from_millis(200)).await;
        if let Ok(r) = &fetched {
            engine.rate.refund(room.saturating_sub(r.len()));
        }
        let records = match fetched {
            Ok(r) => {
                fetch_errors = 0;
                r
            }
            Err(e) if e.downcast_ref::<FatalConsumerError>().is_some() => return Err(e),
            Err(e) => {
                fetch_errors += 1;
                tracing::error!("fetch failed (attempt {fetch_errors}): {e:#}");
                engine
                    .sleep_or_stop(Backoff::OUTAGE.delay(fetch_errors))
                    .await;
                continue;
            }
        };
        if records.is_empty() {
            continue;
        }
        {
            let mut t = tracker
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for r in &records {
                t.begin(r.partition, r.offset);
            }
        }
        let n = records.len() as u64;
        engine.stats.consumed.inc_by(n);
        engine
            .stats
            .in_flight
            .fetch_add(n as i64, std::sync::atomic::Ordering::Relaxed);
        // Marking the batch `processing` goes with its first reads where the
        // store can (one statement on a server), else beside them
        // (`first_reads`, `pick_apart`).
        let (engine, tx, sem) = (engine.clone(), tx.clone(), sem.clone());
        tokio::spawn(async move {
            let topic = engine.cfg.enrich_topic.clone();
            let decoded: Vec<(Origin, Result<EnrichmentRequest, Outcome>)> = records
                .iter()
                .map(|r| {
                    let origin = Origin {
                        topic: topic.clone(),
                        partition: r.partition,
                        offset: r.offset,
                    };
                    let req = enrich::decode_or_park(&engine, &r.value, &origin);
                    (origin, req)
                })
                .collect();
            let picked: Vec<(String, String)> = decoded
                .iter()
                .filter_map(|(_, r)| r.as_ref().ok())
                .map(|q| (q.document_id.clone(), q.correlation_id.clone()))
                .collect();
            let ids: Vec<String> = picked.iter().map(|(d, _)| d.clone()).collect();
            enrich::publish_progress(&engine, &picked, "analysis", 10).await;
            let reading = std::time::Instant::now();
            let mut reads = first_reads(&engine, &decoded, ids).await.into_iter();
            for (origin, req) in decoded {
                let (engine, tx, sem) = (engine.clone(), tx.clone(), sem.clone());
                let read = if req.is_ok() { reads.next() } else { None };
                tokio::spawn(async move {
                    let position = (origin.partition, origin.offset);
                    let outcome = match req {
                        Ok(req) => {
                            // A message still waiting for a call slot when the
                            // engine stops goes back on the topic at once: the
                            // calls in progress get their grace, it does not
                            // start one of its own after them.
                            let mut stop = engine.stop_watch();
                            let permit = tokio::select! {
                                p = sem.acquire_owned() => p.ok(),
                                _ = stop.wait_for(|s| *s) => None,
                            };
                            match permit {
                                Some(_permit) if !engine.stopping() => {
                                    enrich::enrich_read(&engine, req, origin, read, reading).await
                                }
                                _ => Outcome::Returned(Box::new(req)),
                            }
                        }
                        Err(parked) => parked,
                    };
                    if tx.send((Some(position), outcome)).is_err() {
                        // Not recorded, so not committed: redelivered.
                        tracing::debug!("recorder gone; offset {} is redelivered", position.1);
                    }
                });
            }
        });
    }
}

/// The batch's first reads (document, body) in one call where the store can,
/// with the pick (pending → processing) in the same statement where it can;
/// one entry per decoded request, in order. Empty when it cannot or the read
/// failed: each enrichment then reads for itself (and waits out an outage).
async fn first_reads(
    engine: &Arc<Engine>,
    decoded: &[(Origin, Result<EnrichmentRequest, Outcome>)],
    ids: Vec<String>,
) -> Vec<ReadForEnrichment> {
    let wanted: Vec<(String, String)> = decoded
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .map(|q| (q.document_id.clone(), q.content_hash.clone()))
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let graph = &engine.backends.graph;
    match graph.pick_and_read(wanted.clone()).await {
        Ok(Some(reads)) => return reads,
        Ok(None) => {}
        Err(e) => {
            tracing::debug!(
                "batched pick and first reads failed; each enrichment reads alone: {e:#}"
            );
            pick_apart(engine, ids);
            return Vec::new();
        }
    }
    pick_apart(engine, ids);
    match graph.read_for_enrichment(wanted).await {
        Ok(Some(reads)) => reads,
        Ok(None) => Vec::new(),
        Err(e) => {
            tracing::debug!("batched first reads failed; each enrichment reads alone: {e:#}");
            Vec::new()
        }
    }
}

/// Mark the batch `processing` in a write of its own, beside the reads and
/// the calls, so neither the next fetch nor the calls (which hold the
/// concurrency permits) wait for the writer. Pick only moves pending
/// documents, so landing after a result changes nothing.
fn pick_apart(engine: &Arc<Engine>, ids: Vec<String>) {
    let marking = engine.clone();
    tokio::spawn(async move {
        if let Err(e) = marking
            .backends
            .graph
            .transition(ids, Transition::Pick)
            .await
        {
            // Best effort (the outcome's write sets the status); a
            // full disk is the stall's to report, once.
            if crate::engine::resilience::stall::is_disk_full(&e) {
                tracing::debug!("could not mark documents processing: {e:#}");
            } else {
                tracing::warn!("could not mark documents processing: {e:#}");
            }
        }
    });
}

/// Every [`COMMIT_EVERY`], commit what the recorder made safe, until told to
/// stop (the session then commits the rest itself); at once when the member
/// has recorded all it fetched (`caught_up`), so the last of a drain is not
/// left uncommitted for up to a tick, and then tell `Engine::settled`.
async fn commit_loop(
    engine: Arc<Engine>,
    consumer: Arc<dyn BrokerConsumer>,
    tracker: Arc<Mutex<OffsetTracker>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
    caught_up: Arc<tokio::sync::Notify>,
) {
    let mut tick = tokio::time::interval(COMMIT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {},
            _ = caught_up.notified() => {},
            _ = &mut stop => return,
        }
        let commits = tracker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take_commits();
        if commits.is_empty() {
            continue;
        }
        let committed = consumer.commit(&commits).await;
        const WHAT: &str = "committing offsets";
        if let Err(e) = committed {
            // A full disk (the embedded broker's) is the stall's to report,
            // once per 30 s instead of every 100 ms.
            if crate::engine::resilience::stall::is_disk_full(&e) {
                engine.stall.failed(WHAT, &e);
            } else {
                tracing::warn!("offset commit failed, offered again in {COMMIT_EVERY:?}: {e:#}");
            }
            tracker
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .uncommit(&commits);
        } else {
            engine.stall.landed_from(WHAT);
            if engine
                .stats
                .in_flight
                .load(std::sync::atomic::Ordering::Relaxed)
                == 0
            {
                engine.settled.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }
}

/// Record batches written at once: as many as the graph store gains from (one
/// for SQLite's single writer; several for a server, whose commits then
/// overlap), and at least two with a remote broker, whose produce of the
/// completed events is a round trip a second batch's graph write overlaps
/// (Kafka + the embedded graph, no-op enrichment, the drain alone: 2,205 →
/// 2,646 docs/s; 5,361 with the fetch-ahead doubled for overlapped writes).
fn record_writers(engine: &Engine) -> usize {
    let broker_round_trip = engine.backends.broker.kind() != "embedded";
    engine
        .backends
        .graph
        .parallel_writes()
        .max(if broker_round_trip { 2 } else { 1 })
}

async fn record_loop(
    engine: Arc<Engine>,
    tracker: Arc<Mutex<OffsetTracker>>,
    mut rx: mpsc::UnboundedReceiver<Done>,
    recorded_some: Arc<tokio::sync::Notify>,
    caught_up: Arc<tokio::sync::Notify>,
) -> Result<()> {
    // Offsets finish per offset, so the order of the batches does not matter.
    let writers = record_writers(&engine);
    let turns = Arc::new(tokio::sync::Semaphore::new(writers));
    while let Some(first) = rx.recv().await {
        // The batch is cut once a writer is free, not before: what finishes
        // while every writer is busy joins it (a group commit), so a busy
        // store gets fewer, larger writes instead of a queue of small ones.
        let turn = turns.clone().acquire_owned().await?;
        let mut batch = vec![first];
        while batch.len() < MAX_RECORD_BATCH {
            match rx.try_recv() {
                Ok(d) => batch.push(d),
                Err(_) => break,
            }
        }
        engine
            .stats
            .recording
            .fetch_add(batch.len() as i64, std::sync::atomic::Ordering::Relaxed);
        if writers > 1 {
            // Room under the fetch-ahead bound (see the module note).
            recorded_some.notify_one();
        }
        let (engine, tracker, recorded_some, caught_up) = (
            engine.clone(),
            tracker.clone(),
            recorded_some.clone(),
            caught_up.clone(),
        );
        tokio::spawn(async move {
            if record_batch(&engine, &tracker, batch).await {
                caught_up.notify_one();
            }
            recorded_some.notify_one();
            drop(turn);
        });
    }
    // Every batch recorded (or given up at a stop) before the loop ends.
    let _all = turns.acquire_many(writers as u32).await?;
    Ok(())
}

/// True when this batch was the last fetched and unrecorded.
async fn record_batch(
    engine: &Arc<Engine>,
    tracker: &Mutex<OffsetTracker>,
    batch: Vec<Done>,
) -> bool {
    let n = batch.len() as i64;
    let mut finished = Vec::new();
    let mut outcomes = Vec::new();
    // Returned work is re-published by `record`, so every offset finishes.
    for (pos, outcome) in batch {
        finished.extend(pos);
        outcomes.push(outcome);
    }
    // Never commit what is not recorded: retry the write until it lands
    // (store outage) or the engine stops (then redelivery covers it).
    let mut attempt = 0u32;
    let recorded = loop {
        let writing = std::time::Instant::now();
        match enrich::record_attempt(engine, outcomes.clone(), attempt > 0).await {
            Ok(()) => {
                engine.stats.record_batch_written(writing.elapsed());
                engine.stall.landed();
                break true;
            }
            Err(e) => {
                attempt += 1;
                engine.stall.failed("recording outcomes", &e);
                if engine.sleep_or_stop(Backoff::OUTAGE.delay(attempt)).await {
                    break false;
                }
            }
        }
    };
    if recorded {
        let returned = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Returned(_)))
            .count();
        engine
            .stats
            .processed
            .inc_by((outcomes.len() - returned) as u64);
        engine.stats.handed_back.inc_by(returned as u64);
        let mut t = tracker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (p, o) in &finished {
            t.finish(*p, *o);
        }
    }
    let before = engine
        .stats
        .in_flight
        .fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
    engine
        .stats
        .recording
        .fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
    before == n
}
