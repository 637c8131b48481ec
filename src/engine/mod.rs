//! The producer/consumer engine. Knows nothing of the terminal: callers drive
//! it through methods (later: typed commands) and read `snapshot`s.

pub mod breaker;
pub mod config;
pub mod consumer;
pub mod control;
pub mod discover;
pub mod drain;
pub mod enrich;
pub mod offsets;
pub mod producer;
pub mod rollout;
pub mod stats;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::{watch, Semaphore};

use crate::backends::broker::{embedded::EmbeddedBroker, seed_topics, Broker};
use crate::backends::graph::{embedded::EmbeddedGraph, GraphStore};
use crate::backends::intelligence::{
    embedded::EmbeddedIntelligence, faults::FaultInjector, Intelligence,
};
use crate::backends::sqlite::Db;
use crate::backends::vector::{embedded::EmbeddedVectors, VectorStore};
use breaker::{BreakerConfig, CircuitBreaker};
use config::EngineConfig;
use control::ControlStore;
use rollout::RolloutState;
use stats::Stats;

pub struct Backends {
    pub broker: Arc<dyn Broker>,
    pub graph: Arc<dyn GraphStore>,
    pub vectors: Arc<dyn VectorStore>,
    pub intelligence: Arc<dyn Intelligence>,
}

impl Backends {
    /// Everything in the data dir, nothing installed.
    pub fn embedded(db: &Db, cfg: &EngineConfig) -> Self {
        Self {
            broker: Arc::new(EmbeddedBroker::new(db.clone())),
            graph: Arc::new(EmbeddedGraph::new(db.clone())),
            vectors: Arc::new(EmbeddedVectors::new(db.clone())),
            intelligence: Arc::new(FaultInjector::new(
                EmbeddedIntelligence,
                cfg.faults.failure_rate,
                cfg.faults.latency,
                cfg.faults.seed,
            )),
        }
    }
}

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

    pub fn semaphore(&self) -> Arc<Semaphore> {
        self.sem.clone()
    }
}

pub struct Engine {
    pub cfg: EngineConfig,
    pub backends: Backends,
    pub stats: Stats,
    pub breaker: CircuitBreaker,
    pub control: ControlStore,
    pub limit: ConcurrencyLimit,
    rollout: RwLock<RolloutState>,
    paused: watch::Sender<bool>,
    stop: watch::Sender<bool>,
}

/// Upper bound for MAX_CONCURRENT_ENRICHMENTS: beyond this a typo, not a plan.
pub const MAX_CONCURRENCY: usize = 10_000;

impl Engine {
    /// Open the engine on the embedded backends in `cfg.data_dir`.
    pub async fn open(cfg: EngineConfig) -> Result<Arc<Self>> {
        let db = Db::open(&cfg.data_dir)?;
        let backends = Backends::embedded(&db, &cfg);
        Self::with_backends(
            cfg,
            backends,
            ControlStore::new(db),
            BreakerConfig::default(),
        )
        .await
    }

    pub async fn with_backends(
        cfg: EngineConfig,
        backends: Backends,
        control: ControlStore,
        breaker: BreakerConfig,
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
        Ok(Arc::new(Self {
            limit: ConcurrencyLimit::new(cfg.concurrency),
            rollout: RwLock::new(rollout),
            paused: watch::channel(false).0,
            stop: watch::channel(false).0,
            breaker: CircuitBreaker::new(breaker),
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

    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    pub fn resume(&self) {
        self.paused.send_replace(false);
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

    pub fn live_status(&self) -> control::LiveStatus {
        control::LiveStatus {
            pid: std::process::id(),
            updated_ms: crate::backends::sqlite::now_ms(),
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

    /// Publish live status and pick up rollout changes once a second until stopped.
    pub fn spawn_heartbeat(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                let e = engine.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    e.refresh_rollout();
                    e.control.publish_live(&e.live_status())
                })
                .await;
                if engine.sleep_or_stop(Duration::from_secs(1)).await {
                    let e = engine.clone();
                    let _ = tokio::task::spawn_blocking(move || e.control.clear_live()).await;
                    return;
                }
            }
        })
    }
}
