//! Everything the engine needs to run, already resolved from flags, env and
//! the config file (see `crate::config`).

use std::path::PathBuf;
use std::time::Duration;

use super::fleet::rollout::RolloutState;

#[derive(Debug, Clone)]
pub struct RetryConfig {
    /// Attempts per delivery, the first included (seed: 3).
    pub max_attempts: u32,
    /// Delay before retry n is base · 2ⁿ (seed: 2 s), capped, ± jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Fraction of the delay added or removed at random (seed: 0.1).
    pub jitter: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
            jitter: 0.1,
        }
    }
}

impl RetryConfig {
    pub fn backoff(&self) -> super::resilience::backoff::Backoff {
        super::resilience::backoff::Backoff {
            base: self.base_delay,
            max: self.max_delay,
            jitter: self.jitter,
        }
    }

    /// Delay before retry number `retry` (1 = first retry), without jitter.
    pub fn nominal_delay(&self, retry: u32) -> Duration {
        self.backoff().nominal(retry)
    }

    /// Same, with ±jitter.
    pub fn delay(&self, retry: u32) -> Duration {
        self.backoff().delay(retry)
    }
}

#[derive(Debug, Clone)]
pub struct FaultConfig {
    pub failure_rate: f64,
    pub latency: Duration,
    pub seed: u64,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    pub group_id: String,
    pub enrich_topic: String,
    pub dlq_topic: String,
    pub completed_topic: String,
    /// Seed 001 §3.4 progress events, when enabled: their topic.
    pub progress_topic: Option<String>,
    pub concurrency: usize,
    pub rollout: RolloutState,
    pub retry: RetryConfig,
    pub faults: FaultConfig,
    pub max_file_bytes: u64,
    pub breaker: super::resilience::breaker::BreakerConfig,
    /// The intelligence service's root URL; None: the in-process analyzer.
    pub intelligence_url: Option<String>,
    /// Per call (seed: 60 s).
    pub intelligence_timeout: Duration,
    /// Kafka / Redpanda; None: the embedded broker in the data dir.
    pub kafka: Option<crate::settings::kafka::KafkaSettings>,
    /// Qdrant (gRPC, e.g. http://qdrant:6334); None: the embedded vector store.
    pub qdrant_url: Option<String>,
    pub qdrant_api_key: Option<Secret>,
    /// The embedded graph store, or Memgraph / Neo4j over Bolt.
    pub graph: crate::settings::GraphSetting,
    /// This engine's id in the fleet (reports, per-member levers).
    pub member_id: String,
    /// The fleet's control, status and audit topics (Kafka only).
    pub fleet_topics: crate::settings::fleet::FleetTopics,
    /// Levers are refused (console, CLI, HTTP): a session that only looks.
    pub read_only: bool,
    /// MAX_PROCESSING_RATE: messages a second each engine takes at most.
    pub max_processing_rate: Option<f64>,
    /// The DLQ loop guard: a document replayed this often is not replayed
    /// again without `force`.
    pub max_replays: u32,
}

/// A credential: usable, but `{:?}` never prints it.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl EngineConfig {
    /// Defaults of the seeds, rooted at `data_dir` (used by tests).
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            group_id: "archon-intelligence-enrichment-consumer-group".into(),
            enrich_topic: crate::events::ENRICH_TOPIC.into(),
            dlq_topic: crate::events::DLQ_TOPIC.into(),
            completed_topic: crate::events::COMPLETED_TOPIC.into(),
            progress_topic: None,
            concurrency: 10,
            rollout: RolloutState::default(),
            retry: RetryConfig::default(),
            faults: FaultConfig {
                failure_rate: 0.0,
                latency: Duration::ZERO,
                seed: 0,
            },
            max_file_bytes: super::pipeline::discover::DEFAULT_MAX_FILE_BYTES,
            breaker: Default::default(),
            intelligence_url: None,
            intelligence_timeout: Duration::from_secs(60),
            kafka: None,
            qdrant_url: None,
            qdrant_api_key: None,
            graph: crate::settings::GraphSetting::Embedded,
            member_id: crate::identity::default_member_id(),
            fleet_topics: crate::settings::fleet::FleetTopics::beside(crate::events::ENRICH_TOPIC),
            read_only: false,
            max_processing_rate: None,
            max_replays: 3,
        }
    }
}

impl EngineConfig {
    /// A member silent this long has left the fleet: the consumer group's
    /// session timeout on Kafka (its partitions have moved by then).
    pub fn member_gone_after_ms(&self) -> i64 {
        match &self.kafka {
            Some(k) => i64::from(k.session_timeout_ms.max(1_000)),
            None => 10_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters_within_ten_percent() {
        let r = RetryConfig::default();
        assert_eq!(r.nominal_delay(1), Duration::from_secs(2));
        assert_eq!(r.nominal_delay(2), Duration::from_secs(4));
        assert_eq!(r.nominal_delay(3), Duration::from_secs(8));
        assert_eq!(r.nominal_delay(10), Duration::from_secs(60));
        for retry in 1..6 {
            let n = r.nominal_delay(retry).as_secs_f64();
            for _ in 0..200 {
                let d = r.delay(retry).as_secs_f64();
                assert!(
                    d >= n * 0.9 - 1e-9 && d <= (n * 1.1).min(60.0) + 1e-9,
                    "{retry}: {d}"
                );
            }
        }
    }
}
