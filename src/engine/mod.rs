//! The producer/consumer engine. Knows nothing of the terminal nor of any
//! adapter: it runs on the ports (`crate::ports`), callers pull its levers
//! (`fleet::levers`) and read its snapshots (`handle`). Folders by
//! capability: `pipeline` (index, publish, consume, enrich, drain),
//! `resilience` (retry backoff, breaker, rate limit, observed store health),
//! `dlq` (the dead-letter queue: entries, filters, replay, redrive, edit,
//! export/import, fingerprints), `fleet` (operator state shared by members,
//! the levers, rollout, offset resets) and `telemetry` (counters, metrics,
//! lag, status, history, alerts, traces).

pub mod config;
pub mod diagnose;
pub mod dlq;
pub mod doctor;
pub mod fleet;
pub mod handle;
pub mod pipeline;
pub mod resilience;
pub mod telemetry;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::{watch, Semaphore};

use crate::ports::broker::seed_topics;
use crate::ports::intelligence::FaultDial;
pub use crate::ports::Backends;
use config::EngineConfig;
use fleet::control::{ControlChange, ControlState, ControlStore, MemberControl, MemberStatus};
use fleet::rollout::RolloutState;
use resilience::breaker::CircuitBreaker;
use telemetry::stats::Stats;

/// In-flight limit that can be resized while work runs.
pub struct ConcurrencyLimit {
    sem: Arc<Semaphore>,
    target: Mutex<usize>,
}

impl ConcurrencyLimit {
    fn new(n: usize) -> Self {
        Self {
            sem: Arc::new(Semaphore::new(n)),
            target: Mutex::new(n),
        }
    }

    pub fn get(&self) -> usize {
        *self
            .target
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn set(&self, n: usize) {
        let mut t = self
            .target
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if n > *t {
            self.sem.add_permits(n - *t);
        } else if n < *t {
            // Take the surplus back as running work releases it.
            let (sem, k) = (self.sem.clone(), (*t - n) as u32);
            tokio::spawn(async move {
                if let Ok(p) = sem.acquire_many_owned(k).await {
                    p.forget();
                }
            });
        }
        *t = n;
    }

    /// Permits held by running enrichments (approximate while shrinking).
    pub fn in_use(&self) -> usize {
        self.get().saturating_sub(self.sem.available_permits())
    }

    pub fn semaphore(&self) -> Arc<Semaphore> {
        self.sem.clone()
    }
}

pub struct Engine {
    pub cfg: EngineConfig,
    pub backends: Backends,
    pub stats: Stats,
    pub breaker: CircuitBreaker,
    pub control: Arc<dyn ControlStore>,
    pub limit: ConcurrencyLimit,
    /// MAX_PROCESSING_RATE: messages a second taken from the broker.
    pub rate: resilience::rate::RateLimit,
    /// Injected failure rate and latency (rehearsals), adjustable live.
    pub faults: Arc<FaultDial>,
    /// The graph's and vectors' health as this engine's own calls saw it.
    pub observed: resilience::observed::ObservedStores,
    /// Writes that cannot land (a full disk holds intake until they do).
    pub stall: resilience::stall::Stall,
    /// One log line per two seconds about documents parked in the DLQ.
    pub parked_log: pipeline::enrich::ParkedLog,
    /// Outbox marks gathered on a server store (`pipeline::enrich::OutboxMarks`).
    pub outbox_marks: pipeline::enrich::OutboxMarks,
    /// The graph's counts, read at a pace set by their cost (`telemetry::counts`).
    pub counts: telemetry::counts::PacedCounts,
    /// The trees this engine watches (`pipeline::watch`).
    pub watches: pipeline::watch::Watches,
    rollout: RwLock<RolloutState>,
    /// The fleet's levers as last read from the control store.
    control_seen: RwLock<ControlState>,
    /// Raised when the operator state followed here changed (the console's
    /// and /health's snapshot is republished at once).
    pub levers_changed: tokio::sync::Notify,
    /// Bumped when this member has committed everything it fetched: a
    /// `--wait` looks at once instead of at its next 100 ms tick.
    pub settled: watch::Sender<u64>,
    /// The consumer group's members that are not archon-tui, as last read
    /// (the snapshot shows them).
    pub others: Mutex<Vec<crate::ports::broker::GroupMember>>,
    /// This process's own pause (console space key).
    local_pause: std::sync::atomic::AtomicBool,
    /// The operator's persisted hold (rollback, or this member alone).
    held: std::sync::atomic::AtomicBool,
    /// An offset reset of this engine's group asks its members to leave it.
    resetting: watch::Sender<bool>,
    /// Effective pause = local pause, hold or a reset in progress.
    paused: watch::Sender<bool>,
    stop: watch::Sender<bool>,
    breaker_reset_seen: std::sync::atomic::AtomicU64,
    /// Request-topic partitions the consumer holds (for the member report).
    assigned: Mutex<Vec<i32>>,
    started_ms: i64,
    host: String,
    /// This process reports as a member (not `attach`).
    reporting: std::sync::atomic::AtomicBool,
    /// One setting lever at a time in this engine (`fleet::levers::pull`):
    /// each audit line's before / after brackets exactly its own change.
    pub lever_turn: tokio::sync::Mutex<()>,
    /// Lag, throughput, DLQ and breaker over days (None: the data dir
    /// refused the file; the console then starts its sparklines empty).
    pub history: Option<Arc<dyn crate::ports::history::HistoryStore>>,
}

/// The rate limit in force: the operator's (0: lifted), else the flag's.
fn effective_rate(state: &ControlState, flag: Option<f64>) -> Option<f64> {
    match state.max_rate {
        Some(r) if r > 0.0 => Some(r),
        Some(_) => None,
        None => flag,
    }
}

/// Does the operator state ask members of `group` to leave it (a reset)?
fn asks_to_leave(state: &ControlState, group: &str) -> bool {
    state
        .reset
        .as_ref()
        .is_some_and(|r| r.asks_to_leave(group, crate::clock::now_ms()))
}

/// How often `change_control` reads again when another writer got in first.
const CHANGE_TRIES: usize = 20;

/// Upper bound for MAX_CONCURRENT_ENRICHMENTS: beyond this a typo, not a plan.
pub const MAX_CONCURRENCY: usize = 10_000;

/// A DLQ topic made compacted (by seed §3.2's own command, or a release
/// before this one) refuses the keyless records seed §4.2's services park:
/// say so at start, with the fix. Topics are never reconfigured behind the
/// operator's back; `archon-tui doctor` reports the same finding.
async fn warn_if_dlq_refuses_keyless(broker: &dyn crate::ports::broker::Broker, dlq: &str) {
    if broker.kind() == "embedded" {
        return; // the embedded broker takes keyless records on any topic
    }
    match broker.describe_topics(&[dlq.to_string()]).await {
        Ok(topics) => {
            if topics.iter().any(|t| t.compacted()) {
                tracing::warn!(
                    "DLQ topic {} is compacted: Kafka refuses the keyless records the seeds' services park there (seed §4.2), and they are lost. Fix: {}",
                    crate::sanitize::clean(dlq),
                    crate::engine::doctor::dlq_policy_fix(dlq)
                );
            }
        }
        Err(e) => tracing::debug!("cannot read the DLQ topic's settings: {e:#}"),
    }
}

impl Engine {
    /// An engine on these adapters (`runtime::open_engine` builds them
    /// from the configuration).
    pub async fn with_backends(
        cfg: EngineConfig,
        backends: Backends,
        control: Arc<dyn ControlStore>,
        faults: Arc<FaultDial>,
        history: Option<Arc<dyn crate::ports::history::HistoryStore>>,
    ) -> Result<Arc<Self>> {
        let mut topics = seed_topics(&cfg.enrich_topic, &cfg.dlq_topic, &cfg.completed_topic);
        if let Some(p) = &cfg.progress_topic {
            topics.push(crate::ports::broker::TopicSpec {
                name: p.clone(),
                partitions: crate::events::COMPLETED_PARTITIONS,
                retention_ms: crate::events::PROGRESS_RETENTION_MS,
                compact: false,
            });
        }
        backends
            .broker
            .ensure_topics(&topics)
            .await
            .context("cannot create the enrichment topics")?;
        {
            // In the background: an admin round trip a lever from a cold
            // shell need not wait for.
            let (broker, dlq) = (backends.broker.clone(), cfg.dlq_topic.clone());
            tokio::spawn(async move { warn_if_dlq_refuses_keyless(broker.as_ref(), &dlq).await });
        }
        let state = ControlState::from_entries(&ControlState::default(), &control.entries().await?);
        let rollout = state.rollout.clone().unwrap_or_else(|| cfg.rollout.clone());
        let held = state.holds(&cfg.member_id);
        let resetting = asks_to_leave(&state, &cfg.group_id);
        let concurrency = state
            .concurrency_for(&cfg.member_id)
            .unwrap_or(cfg.concurrency);
        Ok(Arc::new(Self {
            limit: ConcurrencyLimit::new(concurrency.clamp(1, MAX_CONCURRENCY)),
            rate: resilience::rate::RateLimit::new(effective_rate(&state, cfg.max_processing_rate)),
            rollout: RwLock::new(rollout),
            local_pause: false.into(),
            held: held.into(),
            resetting: watch::channel(resetting).0,
            paused: watch::channel(held || resetting).0,
            stop: watch::channel(false).0,
            breaker_reset_seen: state.breaker_resets_for(&cfg.member_id).into(),
            control_seen: RwLock::new(state),
            levers_changed: tokio::sync::Notify::new(),
            settled: watch::channel(0).0,
            others: Mutex::new(Vec::new()),
            assigned: Mutex::new(Vec::new()),
            started_ms: crate::clock::now_ms(),
            host: crate::identity::hostname(),
            reporting: false.into(),
            history,
            lever_turn: tokio::sync::Mutex::new(()),
            breaker: CircuitBreaker::new(cfg.breaker.clone()),
            faults,
            observed: Default::default(),
            stall: resilience::stall::Stall::new(
                (backends.graph.kind() == "embedded" || backends.broker.kind() == "embedded")
                    .then(|| cfg.data_dir.clone()),
            ),
            parked_log: Default::default(),
            outbox_marks: Default::default(),
            counts: Default::default(),
            watches: Default::default(),
            stats: Stats::default(),
            control,
            backends,
            cfg,
        }))
    }

    pub fn member_id(&self) -> &str {
        &self.cfg.member_id
    }

    /// The fleet's levers read from the store now.
    pub async fn read_control(&self) -> Result<ControlState> {
        let entries = self.control.entries().await?;
        Ok(ControlState::from_entries(&self.control_state(), &entries))
    }

    /// Write one lever to the fleet's store.
    pub async fn put_control(&self, change: &ControlChange) -> Result<()> {
        let (key, value) = change.key_value()?;
        self.control.put(&key, &value).await
    }

    /// Change the fleet's operator state from what the store holds now, in
    /// one step: `change` gets the state as stored and gives the write
    /// (None: nothing to write); when another writer got in between the
    /// read and the write, it runs again on what that writer left. The
    /// change is in force here when this returns.
    pub async fn change_control(
        &self,
        change: impl Fn(&ControlState) -> Result<Option<ControlChange>> + Send + Sync,
    ) -> Result<Option<ControlChange>> {
        for _ in 0..CHANGE_TRIES {
            let entries = self.control.entries().await?;
            let state = ControlState::from_entries(&self.control_state(), &entries);
            let Some(c) = change(&state)? else {
                return Ok(None);
            };
            let (key, value) = c.key_value()?;
            let before = entries.get(&key).map(String::as_str);
            if self.control.put_if(&key, before, &value).await? {
                self.refresh_control().await;
                return Ok(Some(c));
            }
        }
        anyhow::bail!(
            "the operator state kept changing under this lever ({CHANGE_TRIES} tries); try again"
        )
    }

    /// The fleet's levers as last read.
    pub fn control_state(&self) -> ControlState {
        self.control_seen
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Fleet members that reported within the session timeout.
    pub async fn members(&self) -> Result<Vec<MemberStatus>> {
        self.control.members(self.cfg.member_gone_after_ms()).await
    }

    /// The consumer group's members that are not archon-tui engines (the
    /// seeds' aiokafka services, …), as Kafka reports them: none on the
    /// embedded broker.
    pub async fn other_members(&self) -> Result<Vec<crate::ports::broker::GroupMember>> {
        if self.backends.broker.kind() == "embedded" {
            return Ok(Vec::new());
        }
        Ok(self
            .backends
            .broker
            .group_detail(&self.cfg.group_id, &self.cfg.enrich_topic)
            .await?
            .into_iter()
            .filter(|m| !doctor::is_ours(m))
            .collect())
    }

    /// Is this process a member of the fleet (it consumes and reports)?
    pub fn reports_here(&self) -> bool {
        self.reporting.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set_assigned(&self, partitions: Vec<i32>) {
        *self
            .assigned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = partitions;
    }

    pub fn rollout(&self) -> RolloutState {
        self.rollout
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Apply and persist a rollout (every member picks it up within ~1 s).
    pub async fn set_rollout(&self, r: RolloutState) -> Result<()> {
        self.put_control(&ControlChange::Rollout(r.clone())).await?;
        *self
            .rollout
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = r;
        Ok(())
    }

    /// MAX_PROCESSING_RATE for the fleet (None: no limit).
    pub async fn set_max_rate(&self, per_sec: Option<f64>) -> Result<()> {
        self.put_control(&ControlChange::MaxRate(Some(per_sec.unwrap_or(0.0))))
            .await?;
        self.refresh_control().await;
        Ok(())
    }

    /// Change one member's levers from what the store holds (and put it
    /// in force here).
    async fn update_member(
        &self,
        id: &str,
        change: impl Fn(&mut MemberControl) + Send + Sync,
    ) -> Result<()> {
        self.change_control(|s| {
            let mut m = s.member(id);
            change(&mut m);
            Ok(Some(ControlChange::Member(id.to_string(), m)))
        })
        .await?;
        Ok(())
    }

    fn update_paused(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let p = self.local_pause.load(Relaxed) || self.held.load(Relaxed) || self.is_resetting();
        self.paused
            .send_if_modified(|cur| std::mem::replace(cur, p) != p);
    }

    /// Stop fetching in this process; work waiting on retries is returned.
    pub fn pause(&self) {
        self.local_pause
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.update_paused();
    }

    pub fn resume(&self) {
        self.local_pause
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.update_paused();
    }

    /// Persisted hold (rollback): every member of the fleet pauses, and
    /// stays paused across restarts until `release`.
    pub async fn hold(&self) -> Result<()> {
        self.put_control(&ControlChange::Held(true)).await?;
        self.refresh_control().await;
        Ok(())
    }

    /// Lift the fleet-wide hold (members held alone stay held) and this
    /// process's own pause.
    pub async fn release(&self) -> Result<()> {
        self.put_control(&ControlChange::Held(false)).await?;
        self.local_pause
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.refresh_control().await;
        Ok(())
    }

    /// Hold or release one member alone.
    pub async fn hold_member(&self, id: &str, held: bool) -> Result<()> {
        self.update_member(id, |m| m.held = held).await
    }

    pub fn is_held(&self) -> bool {
        self.held.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Manual breaker reset, fleet-wide (`None`) or of one member.
    pub async fn reset_breaker(&self, member: Option<&str>) -> Result<()> {
        match member {
            None => {
                self.change_control(|s| {
                    Ok(Some(ControlChange::BreakerReset(s.breaker_reset_seq + 1)))
                })
                .await?;
                Ok(())
            }
            Some(id) => self.update_member(id, |m| m.breaker_reset_seq += 1).await,
        }
    }

    /// Follow what the operator changed anywhere in the fleet: rollout,
    /// holds, concurrency, breaker reset requests. On a read error the last
    /// state stays in force.
    pub async fn refresh_control(&self) {
        let state = match self.read_control().await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!("operator state not read, keeping the last: {e:#}");
                return;
            }
        };
        self.follow(state);
    }

    /// Put an operator state read from the store in force here.
    fn follow(&self, state: ControlState) {
        use std::sync::atomic::Ordering::Relaxed;
        let me = self.member_id();
        if let Some(r) = &state.rollout {
            *self
                .rollout
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = r.clone();
        }
        self.held.store(state.holds(me), Relaxed);
        let resetting = asks_to_leave(&state, &self.cfg.group_id);
        self.resetting
            .send_if_modified(|cur| std::mem::replace(cur, resetting) != resetting);
        self.update_paused();
        if let Some(n) = state.concurrency_for(me) {
            if n != self.limit.get() && (1..=MAX_CONCURRENCY).contains(&n) {
                self.limit.set(n);
                tracing::info!("concurrency set to {n} by the operator");
            }
        }
        let rate = effective_rate(&state, self.cfg.max_processing_rate);
        if rate != self.rate.get() {
            self.rate.set(rate);
            tracing::info!(
                "max processing rate {} by the operator",
                rate.map_or("off".to_string(), |r| format!("{r}/s"))
            );
        }
        let resets = state.breaker_resets_for(me);
        if resets != self.breaker_reset_seen.swap(resets, Relaxed) {
            self.breaker.reset();
            tracing::info!("circuit breaker reset by the operator");
        }
        let mut seen = self
            .control_seen
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *seen != state {
            *seen = state;
            self.levers_changed.notify_one();
        }
    }

    /// Out of the consumer group while an offset reset runs.
    pub fn is_resetting(&self) -> bool {
        *self.resetting.borrow()
    }

    pub fn resetting_watch(&self) -> watch::Receiver<bool> {
        self.resetting.subscribe()
    }

    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    pub fn paused_watch(&self) -> watch::Receiver<bool> {
        self.paused.subscribe()
    }

    /// Ask every loop to finish: fetching stops, waiting work is returned.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    pub fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    pub fn stop_watch(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Sleep, but wake early (returning true) when the engine is stopping.
    pub async fn sleep_or_stop(&self, d: Duration) -> bool {
        let mut stop = self.stop_watch();
        if *stop.borrow() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => false,
            _ = stop.wait_for(|s| *s) => true,
        }
    }

    /// Resolves `grace` after the engine started stopping.
    pub async fn stopped_for(&self, grace: Duration) {
        let mut stop = self.stop_watch();
        // Err: the engine is gone, which is a stop too.
        let _stopped = stop.wait_for(|s| *s).await.is_ok();
        tokio::time::sleep(grace).await;
    }

    /// Sleep, but wake early (returning true) when the engine is stopping or
    /// paused: waiting work is then handed back to the topic.
    pub async fn sleep_or_yield(&self, d: Duration) -> bool {
        let (mut stop, mut paused) = (self.stop_watch(), self.paused_watch());
        if *stop.borrow() || *paused.borrow() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => false,
            _ = stop.wait_for(|s| *s) => true,
            _ = paused.wait_for(|p| *p) => true,
        }
    }

    /// This member's report for the fleet.
    pub fn member_status(&self) -> MemberStatus {
        use std::sync::atomic::Ordering::Relaxed;
        let calls = self.stats.recent_call_summary();
        MemberStatus {
            member_id: self.cfg.member_id.clone(),
            host: self.host.clone(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").into(),
            started_ms: self.started_ms,
            updated_ms: crate::clock::now_ms(),
            partitions: self
                .assigned
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            concurrency: self.limit.get(),
            in_flight: self.stats.in_flight.load(Relaxed),
            breaker: self.breaker.snapshot(),
            docs_per_sec: self.stats.rate(telemetry::stats::RATE_WINDOW),
            errors: self.stats.errors(),
            paused: self.is_paused(),
            held: self.is_held(),
            stalled: self.stall.view().map(|v| v.reason),
            enriching: Some(self.limit.in_use()),
            service_p50_ms: calls.p50(),
            service_p95_ms: calls.p95(),
            record_p95_ms: self.stats.recent_record_summary().p95(),
            max_rate: self.rate.get(),
        }
    }

    /// Follow the operator state every 100 ms and (when `report`) publish
    /// this member's report every second, until stopped; a clean stop
    /// withdraws the report. `attach` follows without reporting: it is not
    /// a member.
    pub fn spawn_heartbeat(self: &Arc<Self>, report: bool) -> tokio::task::JoinHandle<()> {
        self.reporting
            .store(report, std::sync::atomic::Ordering::Relaxed);
        let e = self.clone();
        tokio::spawn(async move {
            let mut last_published: Option<(bool, bool)> = None;
            for tick in 0u64.. {
                e.refresh_control().await;
                if report {
                    let status = e.member_status();
                    // Every second, and at once when the pause changes or the
                    // last in-flight work ends, so a rollback elsewhere sees
                    // its effect quickly.
                    let now = (status.paused, status.in_flight == 0);
                    let every = (fleet::control::REPORT_EVERY_MS / 100) as u64;
                    if tick % every == 0 || last_published != Some(now) {
                        if let Err(err) = e.control.publish_member(&status).await {
                            tracing::debug!("member report not written: {err:#}");
                        }
                        last_published = Some(now);
                    }
                }
                if e.sleep_or_stop(Duration::from_millis(100)).await {
                    if report {
                        if let Err(err) = e.control.withdraw_member(e.member_id()).await {
                            tracing::debug!("member report not withdrawn: {err:#}");
                        }
                    }
                    return;
                }
            }
        })
    }
}
