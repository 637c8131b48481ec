//! Prometheus exposition: the engine's counters and histograms (kept in
//! `Stats` as they happen) plus gauges taken from the latest snapshot at
//! scrape time.

use anyhow::Result;
use prometheus::{IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::engine::handle::Snapshot;
use crate::engine::Engine;
use crate::model::Status;

pub struct Exporter {
    breaker_state: IntGauge,
    breaker_failures: IntGauge,
    lag: IntGaugeVec,
    pending: IntGauge,
    by_status: IntGaugeVec,
    in_flight: IntGauge,
    concurrency: IntGauge,
    paused: IntGauge,
    rollout_enabled: IntGauge,
    rollout_percentage: IntGauge,
    backend_up: IntGaugeVec,
    pending_by_age: IntGaugeVec,
}

fn gauge(r: &Registry, name: &str, help: &str) -> Result<IntGauge> {
    let g = IntGauge::new(name, help)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> Result<IntGaugeVec> {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

impl Exporter {
    /// Register the gauges in the engine's registry (once per engine).
    pub fn new(engine: &Engine) -> Result<Self> {
        let r = &engine.stats.registry;
        Ok(Self {
            breaker_state: gauge(
                r,
                "archon_enrichment_consumer_circuit_breaker_state",
                "Circuit breaker state: 0 CLOSED, 1 OPEN, 2 HALF_OPEN",
            )?,
            breaker_failures: gauge(
                r,
                "archon_enrichment_consumer_circuit_breaker_failures",
                "Consecutive intelligence failures counted by the breaker",
            )?,
            lag: gauge_vec(
                r,
                "archon_kafka_consumer_lag",
                "Messages not yet committed by the consumer group, per partition",
                &["topic", "partition"],
            )?,
            pending: gauge(
                r,
                "archon_documents_pending_enrichment",
                "Documents awaiting enrichment (pending or processing)",
            )?,
            by_status: gauge_vec(
                r,
                "archon_documents",
                "Documents by enrichment_status",
                &["status"],
            )?,
            in_flight: gauge(
                r,
                "archon_enrichment_consumer_in_flight",
                "Messages fetched and not yet committed",
            )?,
            concurrency: gauge(
                r,
                "archon_enrichment_consumer_concurrency",
                "Enrichments allowed at once (MAX_CONCURRENT_ENRICHMENTS)",
            )?,
            paused: gauge(
                r,
                "archon_enrichment_consumer_paused",
                "1 while consumption is paused or held by a rollback",
            )?,
            rollout_enabled: gauge(
                r,
                "archon_async_enrichment_enabled",
                "Kill switch: 1 when the async path is on (ENABLE_ASYNC_ENRICHMENT)",
            )?,
            rollout_percentage: gauge(
                r,
                "archon_async_enrichment_rollout_percentage",
                "Share of projects on the async path",
            )?,
            backend_up: gauge_vec(
                r,
                "archon_backend_up",
                "1 when the last status refresh could use the backend",
                &["backend", "kind"],
            )?,
            pending_by_age: gauge_vec(
                r,
                "archon_documents_pending_by_age",
                "Documents pending or processing that were indexed more than `older_than` ago",
                &["older_than"],
            )?,
        })
    }

    /// The text exposition of everything the engine exports.
    pub fn render(&self, engine: &Engine, snap: &Snapshot) -> Result<String> {
        let breaker = engine.breaker.snapshot();
        self.breaker_state.set(breaker.state.gauge());
        self.breaker_failures.set(i64::from(breaker.failure_count));
        // Partitions come and go with the assignment; only current ones.
        self.lag.reset();
        for p in &snap.partitions {
            self.lag
                .with_label_values(&[
                    engine.cfg.enrich_topic.as_str(),
                    &p.lag.partition.to_string(),
                ])
                .set(p.lag.lag);
        }
        let count = |s: Status| snap.totals.get(&s).copied().unwrap_or(0) as i64;
        self.pending
            .set(crate::model::unfinished(&snap.totals) as i64);
        for s in Status::ALL {
            self.by_status
                .with_label_values(&[s.as_str()])
                .set(count(s));
        }
        self.in_flight.set(snap.in_flight);
        self.concurrency.set(engine.limit.get() as i64);
        self.paused.set(i64::from(engine.is_paused()));
        let rollout = engine.rollout();
        self.rollout_enabled.set(i64::from(rollout.enabled));
        self.rollout_percentage.set(i64::from(rollout.percentage));
        self.backend_up.reset();
        for b in &snap.backends {
            self.backend_up
                .with_label_values(&[b.name, b.kind.as_str()])
                .set(i64::from(b.healthy));
        }
        for (age, n) in &snap.pending_by_age {
            self.pending_by_age
                .with_label_values(&[age.as_str()])
                .set(*n as i64);
        }
        Ok(TextEncoder::new().encode_to_string(&engine.stats.registry.gather())?)
    }
}
