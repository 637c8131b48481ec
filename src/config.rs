//! The config file (TOML) and the resolution of every setting:
//! command-line flag > environment variable (the seeds' names) > config file >
//! default. clap applies the first two; this module adds the file and checks
//! ranges, naming the offending setting in every error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::engine::config::{EngineConfig, FaultConfig, RetryConfig};
use crate::engine::fleet::rollout::RolloutState;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub concurrency: Option<usize>,
    pub group_id: Option<String>,
    pub enrichment_topic: Option<String>,
    pub dlq_topic: Option<String>,
    pub completed_topic: Option<String>,
    pub max_file_bytes: Option<u64>,
    pub theme: Option<String>,
    pub intelligence_url: Option<String>,
    pub intelligence_timeout_secs: Option<f64>,
    #[serde(default)]
    pub rollout: FileRollout,
    #[serde(default)]
    pub retry: FileRetry,
    #[serde(default)]
    pub faults: FileFaults,
    #[serde(default)]
    pub breaker: FileBreaker,
    /// `serve --alert-webhook`'s rules (`engine::telemetry::alerts::AlertRules`).
    #[serde(default)]
    pub alerts: crate::engine::telemetry::alerts::AlertRules,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileBreaker {
    pub enabled: Option<bool>,
    pub failure_threshold: Option<u32>,
    pub recovery_timeout_secs: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRollout {
    pub enabled: Option<bool>,
    pub percentage: Option<u32>,
    pub enabled_projects: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRetry {
    pub max_attempts: Option<u32>,
    pub base_delay_secs: Option<f64>,
    pub max_delay_secs: Option<f64>,
    pub jitter: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileFaults {
    pub failure_rate: Option<f64>,
    pub latency_ms: Option<u64>,
    pub seed: Option<u64>,
}

pub fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("dev", "archon", "archon-tui")
}

pub fn default_config_file() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().join("config.toml"))
}

pub fn default_data_dir() -> PathBuf {
    project_dirs()
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".archon-tui"))
}

/// Load `explicit` (must exist) or the default config file (if it exists).
pub fn load_file(explicit: Option<&Path>) -> Result<FileConfig> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match default_config_file() {
            Some(p) if p.exists() => p,
            _ => return Ok(FileConfig::default()),
        },
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("config file {} is invalid: {e}", path.display()))
}

/// Values given on the command line or in the environment (None = not given).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub concurrency: Option<usize>,
    pub group_id: Option<String>,
    pub enrichment_topic: Option<String>,
    pub dlq_topic: Option<String>,
    pub completed_topic: Option<String>,
    /// Seed 001 §3.4's optional progress topic: on, and its name.
    pub progress_events: Option<bool>,
    pub progress_topic: Option<String>,
    pub async_enrichment: Option<bool>,
    pub rollout_percentage: Option<u32>,
    pub enabled_projects: Option<Vec<String>>,
    pub retry_max_attempts: Option<u32>,
    pub retry_backoff_base: Option<f64>,
    pub retry_max_delay: Option<f64>,
    pub inject_failure_rate: Option<f64>,
    pub inject_latency_ms: Option<u64>,
    pub seed: Option<u64>,
    pub max_file_bytes: Option<u64>,
    pub breaker_failure_threshold: Option<u32>,
    pub breaker_recovery_secs: Option<f64>,
    pub circuit_breaker: Option<bool>,
    pub intelligence_url: Option<String>,
    pub intelligence_timeout_secs: Option<f64>,
    pub kafka: Option<crate::backends::broker::kafka::KafkaSettings>,
    pub qdrant_url: Option<String>,
    pub qdrant_api_key: Option<String>,
    pub graph_uri: Option<String>,
    pub graph_user: Option<String>,
    pub graph_password: Option<String>,
    pub graph_database: Option<String>,
    pub graph_max_message_bytes: Option<usize>,
    pub member_id: Option<String>,
    pub control_topic: Option<String>,
    pub status_topic: Option<String>,
    pub audit_topic: Option<String>,
    pub read_only: bool,
    pub max_processing_rate: Option<f64>,
    pub max_replays: Option<u32>,
}

fn check_secs(name: &str, v: f64) -> Result<Duration> {
    if !v.is_finite() || !(0.0..=86_400.0).contains(&v) {
        bail!("{name} must be between 0 and 86400 seconds, got {v}");
    }
    Ok(Duration::from_secs_f64(v))
}

pub fn resolve(o: &Overrides, f: &FileConfig) -> Result<EngineConfig> {
    let data_dir = o
        .data_dir
        .clone()
        .or_else(|| f.data_dir.clone())
        .unwrap_or_else(default_data_dir);
    let mut cfg = EngineConfig::with_data_dir(data_dir);
    let concurrency = o.concurrency.or(f.concurrency).unwrap_or(cfg.concurrency);
    if !(1..=crate::engine::MAX_CONCURRENCY).contains(&concurrency) {
        bail!(
            "MAX_CONCURRENT_ENRICHMENTS (--concurrency) must be between 1 and {}, got {concurrency}",
            crate::engine::MAX_CONCURRENCY
        );
    }
    cfg.concurrency = concurrency;
    if let Some(g) = o.group_id.clone().or_else(|| f.group_id.clone()) {
        cfg.group_id = g;
    }
    if let Some(t) = o
        .enrichment_topic
        .clone()
        .or_else(|| f.enrichment_topic.clone())
    {
        cfg.enrich_topic = t;
    }
    if let Some(t) = o.dlq_topic.clone().or_else(|| f.dlq_topic.clone()) {
        cfg.dlq_topic = t;
    }
    if let Some(t) = o
        .completed_topic
        .clone()
        .or_else(|| f.completed_topic.clone())
    {
        cfg.completed_topic = t;
    }
    if o.progress_events == Some(true) || o.progress_topic.is_some() {
        cfg.progress_topic = Some(
            o.progress_topic
                .clone()
                .unwrap_or_else(|| crate::events::PROGRESS_TOPIC.into()),
        );
    }
    cfg.fleet_topics = crate::backends::control::FleetTopics::beside(&cfg.enrich_topic);
    for (given, topic) in [
        (&o.control_topic, &mut cfg.fleet_topics.control),
        (&o.status_topic, &mut cfg.fleet_topics.status),
        (&o.audit_topic, &mut cfg.fleet_topics.audit),
    ] {
        if let Some(t) = given {
            *topic = t.clone();
        }
    }
    if let Some(id) = &o.member_id {
        if !crate::identity::valid_member_id(id) {
            bail!(
                "ARCHON_MEMBER_ID (--member-id) must be 1..=128 of A-Z a-z 0-9 - _ . :, got {id:?}"
            );
        }
        cfg.member_id = id.clone();
    }
    cfg.read_only = o.read_only;
    if let Some(m) = o.max_replays {
        if !(1..=1000).contains(&m) {
            bail!("--max-replays must be 1..=1000, got {m}");
        }
        cfg.max_replays = m;
    }
    if let Some(r) = o.max_processing_rate {
        if !(r.is_finite() && r > 0.0 && r <= crate::engine::resilience::rate::MAX_RATE) {
            bail!(
                "MAX_PROCESSING_RATE (--max-processing-rate) must be more than 0 and at most {}, got {r}",
                crate::engine::resilience::rate::MAX_RATE
            );
        }
        cfg.max_processing_rate = Some(r);
    }
    for (name, v) in [
        ("KAFKA_CONTROL_TOPIC", &cfg.fleet_topics.control),
        ("KAFKA_STATUS_TOPIC", &cfg.fleet_topics.status),
        ("KAFKA_AUDIT_TOPIC", &cfg.fleet_topics.audit),
        ("KAFKA_GROUP_ID", &cfg.group_id),
        ("KAFKA_ENRICHMENT_TOPIC", &cfg.enrich_topic),
        ("KAFKA_DLQ_TOPIC", &cfg.dlq_topic),
        ("KAFKA_COMPLETED_TOPIC", &cfg.completed_topic),
    ] {
        if v.is_empty() || v.len() > 249 || v.chars().any(|c| c.is_control() || c.is_whitespace()) {
            bail!("{name} must be 1..=249 printable characters without spaces, got {v:?}");
        }
    }
    let percentage = o
        .rollout_percentage
        .or(f.rollout.percentage)
        .unwrap_or(u32::from(cfg.rollout.percentage));
    if percentage > 100 {
        bail!("ASYNC_ENRICHMENT_ROLLOUT_PERCENTAGE (--rollout-percentage) must be 0..=100, got {percentage}");
    }
    cfg.rollout = RolloutState {
        enabled: o.async_enrichment.or(f.rollout.enabled).unwrap_or(true),
        percentage: percentage as u8,
        enabled_projects: o
            .enabled_projects
            .clone()
            .or_else(|| f.rollout.enabled_projects.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
    };
    let max_attempts = o.retry_max_attempts.or(f.retry.max_attempts).unwrap_or(3);
    if !(1..=10).contains(&max_attempts) {
        bail!("RETRY_MAX_ATTEMPTS (--retry-max-attempts) must be 1..=10, got {max_attempts}");
    }
    let jitter = f.retry.jitter.unwrap_or(0.1);
    if !(0.0..=1.0).contains(&jitter) {
        bail!("retry.jitter in the config file must be 0..=1, got {jitter}");
    }
    cfg.retry = RetryConfig {
        max_attempts,
        base_delay: check_secs(
            "RETRY_BACKOFF_BASE (--retry-backoff-base)",
            o.retry_backoff_base
                .or(f.retry.base_delay_secs)
                .unwrap_or(2.0),
        )?,
        max_delay: check_secs(
            "--retry-max-delay",
            o.retry_max_delay.or(f.retry.max_delay_secs).unwrap_or(60.0),
        )?,
        jitter,
    };
    let rate = o
        .inject_failure_rate
        .or(f.faults.failure_rate)
        .unwrap_or(0.0);
    if !(0.0..=1.0).contains(&rate) {
        bail!("--inject-failure-rate must be between 0 and 1, got {rate}");
    }
    let latency = o.inject_latency_ms.or(f.faults.latency_ms).unwrap_or(0);
    if latency > 600_000 {
        bail!("--inject-latency-ms must be at most 600000, got {latency}");
    }
    cfg.faults = FaultConfig {
        failure_rate: rate,
        latency: Duration::from_millis(latency),
        seed: o.seed.or(f.faults.seed).unwrap_or(0),
    };
    cfg.max_file_bytes = o
        .max_file_bytes
        .or(f.max_file_bytes)
        .unwrap_or(cfg.max_file_bytes);
    let threshold = o
        .breaker_failure_threshold
        .or(f.breaker.failure_threshold)
        .unwrap_or(cfg.breaker.failure_threshold);
    if threshold == 0 {
        bail!("--breaker-failure-threshold must be at least 1");
    }
    cfg.breaker.failure_threshold = if o.circuit_breaker.or(f.breaker.enabled).unwrap_or(true) {
        threshold
    } else {
        u32::MAX
    };
    cfg.breaker.recovery_timeout = check_secs(
        "--breaker-recovery-secs",
        o.breaker_recovery_secs
            .or(f.breaker.recovery_timeout_secs)
            .unwrap_or(cfg.breaker.recovery_timeout.as_secs_f64()),
    )?;
    cfg.intelligence_url = o
        .intelligence_url
        .clone()
        .or_else(|| f.intelligence_url.clone())
        .filter(|u| !u.trim().is_empty());
    if let Some(u) = &cfg.intelligence_url {
        crate::backends::intelligence::http::parse_base(u)?;
    }
    let timeout = check_secs(
        "--intelligence-timeout-secs",
        o.intelligence_timeout_secs
            .or(f.intelligence_timeout_secs)
            .unwrap_or(60.0),
    )?;
    if timeout.is_zero() {
        bail!("--intelligence-timeout-secs must be more than 0");
    }
    cfg.intelligence_timeout = timeout;
    if let Some(k) = o
        .kafka
        .clone()
        .filter(|k| !k.bootstrap_servers.trim().is_empty())
    {
        if !matches!(k.auto_offset_reset.as_str(), "earliest" | "latest") {
            bail!(
                "KAFKA_AUTO_OFFSET_RESET must be earliest or latest, got {:?}",
                k.auto_offset_reset
            );
        }
        if !(1_000..=300_000).contains(&k.session_timeout_ms) {
            bail!(
                "KAFKA_SESSION_TIMEOUT_MS must be 1000..=300000, got {}",
                k.session_timeout_ms
            );
        }
        if !(1..=10_000).contains(&k.max_poll_records) {
            bail!(
                "KAFKA_MAX_POLL_RECORDS must be 1..=10000, got {}",
                k.max_poll_records
            );
        }
        if !matches!(
            k.compression.as_str(),
            "none" | "gzip" | "snappy" | "lz4" | "zstd"
        ) {
            bail!(
                "KAFKA_COMPRESSION_TYPE / --kafka-compression must be none, gzip, snappy, lz4 or zstd, got {:?}",
                k.compression
            );
        }
        if !(1..=32).contains(&k.replication_factor) {
            bail!(
                "--kafka-replication-factor must be 1..=32, got {}",
                k.replication_factor
            );
        }
        cfg.kafka = Some(k);
    }
    cfg.qdrant_url = o.qdrant_url.clone().filter(|u| !u.trim().is_empty());
    cfg.qdrant_api_key = o.qdrant_api_key.clone().map(crate::engine::config::Secret);
    if let Some(uri) = o.graph_uri.clone().filter(|u| !u.trim().is_empty()) {
        let scheme = uri.split("://").next().unwrap_or("");
        if uri.contains("://")
            && !matches!(
                scheme,
                "bolt" | "bolt+s" | "bolt+ssc" | "neo4j" | "neo4j+s" | "neo4j+ssc"
            )
        {
            bail!(
                "--graph-uri / MEMGRAPH_URI must be bolt://HOST:PORT (or bolt+s, neo4j), got {uri}"
            );
        }
        cfg.graph = crate::settings::GraphSetting::Bolt(crate::settings::bolt::BoltSettings {
            uri,
            flavour: crate::settings::bolt::BoltFlavour::Detect,
            user: o.graph_user.clone().unwrap_or_default(),
            password: o.graph_password.clone().unwrap_or_default(),
            database: o.graph_database.clone().filter(|d| !d.is_empty()),
            max_message_bytes: match o.graph_max_message_bytes {
                None => crate::backends::graph::bolt::DEFAULT_MAX_MESSAGE_BYTES,
                Some(n) if (1024..=1 << 30).contains(&n) => n,
                Some(n) => bail!("--graph-max-message-bytes must be 1024..=1073741824, got {n}"),
            },
        });
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_and_bad_values_name_the_setting() {
        let file: FileConfig = toml::from_str(
            "concurrency = 7\ngroup_id = \"from-file\"\n[rollout]\npercentage = 20\n",
        )
        .unwrap();
        let cfg = resolve(&Overrides::default(), &file).unwrap();
        assert_eq!(
            (
                cfg.concurrency,
                cfg.group_id.as_str(),
                cfg.rollout.percentage
            ),
            (7, "from-file", 20)
        );
        let o = Overrides {
            concurrency: Some(40),
            ..Default::default()
        };
        assert_eq!(resolve(&o, &file).unwrap().concurrency, 40);
        for (o, needle) in [
            (
                Overrides {
                    concurrency: Some(0),
                    ..Default::default()
                },
                "MAX_CONCURRENT_ENRICHMENTS",
            ),
            (
                Overrides {
                    concurrency: Some(1_000_000_000),
                    ..Default::default()
                },
                "MAX_CONCURRENT_ENRICHMENTS",
            ),
            (
                Overrides {
                    rollout_percentage: Some(101),
                    ..Default::default()
                },
                "ROLLOUT_PERCENTAGE",
            ),
            (
                Overrides {
                    inject_failure_rate: Some(1.5),
                    ..Default::default()
                },
                "--inject-failure-rate",
            ),
            (
                Overrides {
                    group_id: Some("a b".into()),
                    ..Default::default()
                },
                "KAFKA_GROUP_ID",
            ),
        ] {
            let err = resolve(&o, &FileConfig::default()).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn malformed_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "concurency = 3\n").unwrap();
        let err = load_file(Some(&p)).unwrap_err().to_string();
        assert!(
            err.contains("concurency") && err.contains("invalid"),
            "{err}"
        );
        std::fs::write(&p, "concurrency = \n").unwrap();
        assert!(load_file(Some(&p)).is_err());
        assert!(load_file(Some(&dir.path().join("missing.toml"))).is_err());
    }
}
