//! The producer/consumer engine. Knows nothing of the terminal: callers drive
//! it through methods (later: typed commands) and read `snapshot`s.

pub mod backoff;
pub mod breaker;
pub mod commands;
pub mod config;
pub mod consumer;
pub mod control;
pub mod discover;
pub mod dlq;
pub mod dlq_index;
pub mod drain;
pub mod enrich;
pub mod handle;
pub mod lagstat;
pub mod metrics;
pub mod observed;
pub mod offsets;
pub mod producer;
pub mod rollout;
pub mod stats;
pub mod status;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::{watch, Semaphore};

use crate::backends::broker::seed_topics;
use crate::backends::intelligence::faults::FaultDial;
use crate::backends::sqlite::Db;
pub use crate::backends::Backends;
use breaker::CircuitBreaker;
use config::EngineConfig;
use control::ControlStore;
use rollout::RolloutState;
use stats::Stats;

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
        *self.target.lock().unwrap()
    }

    pub fn set(&self, n: usize) {
        let mut t = self.target.lock().unwrap();
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
    /// Injected failure rate and latency (rehearsals), adjustable live.
    pub faults: Arc<FaultDial>,
    /// The graph's and vectors' health as this engine's own calls saw it.
    pub observed: observed::ObservedStores,
    rollout: RwLock<RolloutState>,
    /// This process's own pause (console space key).
    local_pause: std::sync::atomic::AtomicBool,
    /// The operator's persisted hold (rollback), shared by every process.
    held: std::sync::atomic::AtomicBool,
    /// Effective pause = local pause or hold.
    paused: watch::Sender<bool>,
    stop: watch::Sender<bool>,
    breaker_reset_seen: std::sync::atomic::AtomicU64,
}

/// Upper bound for MAX_CONCURRENT_ENRICHMENTS: beyond this a typo, not a plan.
pub const MAX_CONCURRENCY: usize = 10_000;

impl Engine {
    /// Open the engine on the embedded backends in `cfg.data_dir`.
    pub async fn open(cfg: EngineConfig) -> Result<Arc<Self>> {
        let db = Db::open(&cfg.data_dir)?;
        let faults = Arc::new(FaultDial::new(cfg.faults.failure_rate, cfg.faults.latency));
        let backends = Backends::from_config(&db, &cfg, faults.clone()).await?;
        let control = Arc::new(crate::backends::control::SqliteControl::new(db));
        Self::with_backends(cfg, backends, control, faults).await
    }

    pub async fn with_backends(
        cfg: EngineConfig,
        backends: Backends,
        control: Arc<dyn ControlStore>,
        faults: Arc<FaultDial>,
    ) -> Result<Arc<Self>> {
        backends
            .broker
            .ensure_topics(&seed_topics(
                &cfg.enrich_topic,
                &cfg.dlq_topic,
                &cfg.completed_topic,
            ))
            .await
            .context("cannot create the enrichment topics")?;
        let rollout = control.rollout()?.unwrap_or_else(|| cfg.rollout.clone());
        let held = control.paused()?;
        Ok(Arc::new(Self {
            limit: ConcurrencyLimit::new(cfg.concurrency),
            rollout: RwLock::new(rollout),
            local_pause: false.into(),
            held: held.into(),
            paused: watch::channel(held).0,
            stop: watch::channel(false).0,
            breaker_reset_seen: control.breaker_reset_seq()?.into(),
            breaker: CircuitBreaker::new(cfg.breaker.clone()),
            faults,
            observed: Default::default(),
            stats: Stats::default(),
            control,
            backends,
            cfg,
        }))
    }

    pub fn rollout(&self) -> RolloutState {
        self.rollout.read().unwrap().clone()
    }

    /// Apply and persist a rollout (other processes pick it up within ~1 s).
    pub fn set_rollout(&self, r: RolloutState) -> Result<()> {
        self.control.set_rollout(&r)?;
        *self.rollout.write().unwrap() = r;
        Ok(())
    }

    /// Re-read a rollout another process may have changed.
    pub fn refresh_rollout(&self) {
        if let Ok(Some(r)) = self.control.rollout() {
            *self.rollout.write().unwrap() = r;
        }
    }

    pub fn set_concurrency(&self, n: usize) -> Result<()> {
        anyhow::ensure!(
            (1..=MAX_CONCURRENCY).contains(&n),
            "concurrency must be between 1 and {MAX_CONCURRENCY}, got {n}"
        );
        self.limit.set(n);
        Ok(())
    }

    fn update_paused(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let p = self.local_pause.load(Relaxed) || self.held.load(Relaxed);
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

    /// Persisted hold (rollback): every engine on this data dir pauses, and
    /// stays paused across restarts until `release`.
    pub fn hold(&self) -> Result<()> {
        self.control.set_paused(true)?;
        self.held.store(true, std::sync::atomic::Ordering::Relaxed);
        self.update_paused();
        Ok(())
    }

    pub fn release(&self) -> Result<()> {
        self.control.set_paused(false)?;
        self.held.store(false, std::sync::atomic::Ordering::Relaxed);
        self.local_pause
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.update_paused();
        Ok(())
    }

    pub fn is_held(&self) -> bool {
        self.held.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Manual breaker reset, here and in every engine on this data dir.
    pub fn reset_breaker(&self) -> Result<()> {
        self.breaker.reset();
        let seq = self.control.request_breaker_reset()?;
        self.breaker_reset_seen
            .store(seq, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Follow what other processes changed in the data dir: rollout, hold,
    /// breaker reset requests.
    pub fn refresh_control(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.refresh_rollout();
        if let Ok(h) = self.control.paused() {
            self.held.store(h, Relaxed);
            self.update_paused();
        }
        if let Ok(seq) = self.control.breaker_reset_seq() {
            if seq != self.breaker_reset_seen.swap(seq, Relaxed) {
                self.breaker.reset();
                tracing::info!("circuit breaker reset by the operator");
            }
        }
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

    pub fn live_status(&self) -> control::LiveStatus {
        control::LiveStatus {
            pid: std::process::id(),
            updated_ms: crate::clock::now_ms(),
            breaker: self.breaker.snapshot(),
            concurrency: self.limit.get(),
            in_flight: self
                .stats
                .in_flight
                .load(std::sync::atomic::Ordering::Relaxed),
            paused: self.is_paused(),
            docs_per_sec: self.stats.rate(Duration::from_secs(10)),
        }
    }

    /// Follow the data dir's control state every 100 ms and publish this
    /// engine's live status every second, until stopped.
    pub fn spawn_heartbeat(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut last_published: Option<(bool, i64)> = None;
            for tick in 0u64.. {
                let e = engine.clone();
                let seen = last_published;
                last_published = tokio::task::spawn_blocking(move || {
                    e.refresh_control();
                    let live = e.live_status();
                    // Every second, and at once when pause or in-flight work
                    // changes, so a rollback elsewhere sees its effect quickly.
                    let now = (live.paused, live.in_flight);
                    if tick % 10 == 0 || seen != Some(now) {
                        if let Err(err) = e.control.publish_live(&live) {
                            tracing::debug!("heartbeat not written: {err:#}");
                        }
                        return Some(now);
                    }
                    seen
                })
                .await
                .unwrap_or(seen);
                if engine.sleep_or_stop(Duration::from_millis(100)).await {
                    let e = engine.clone();
                    match tokio::task::spawn_blocking(move || e.control.clear_live()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(err)) => tracing::debug!("live status not cleared: {err:#}"),
                        Err(err) => tracing::debug!("live status not cleared: {err}"),
                    }
                    return;
                }
            }
        })
    }
}
