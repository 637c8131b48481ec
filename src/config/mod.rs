//! The config file (TOML) and the resolution of every setting:
//! command-line flag > environment variable (the seeds' names) > config file >
//! default. The settings are one struct per concern (`sections`), read by
//! clap and serde alike; `Layer::over` puts the command line over the file,
//! and `resolve` checks ranges (naming the offending setting in every
//! error) and fills the defaults.

pub mod sections;
pub mod views;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::engine::config::{EngineConfig, FaultConfig, RetryConfig};
use crate::engine::fleet::rollout::RolloutState;
pub use sections::{Layer, Settings};

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
pub fn load_file(explicit: Option<&Path>) -> Result<Settings> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match default_config_file() {
            Some(p) if p.exists() => p,
            _ => return Ok(Settings::default()),
        },
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("config file {} is invalid: {e}", path.display()))
}

/// The Kafka client settings, when brokers are named (defaults filled in).
fn kafka_settings(k: &sections::KafkaSection) -> Option<crate::settings::kafka::KafkaSettings> {
    let servers = k.kafka_brokers.clone().filter(|b| !b.trim().is_empty())?;
    Some(crate::settings::kafka::KafkaSettings {
        bootstrap_servers: servers,
        security_protocol: k.kafka_security_protocol.clone(),
        sasl_mechanism: k.kafka_sasl_mechanism.clone(),
        sasl_username: k.kafka_sasl_username.clone(),
        sasl_password: k.kafka_sasl_password.clone(),
        ssl_ca_location: k.kafka_ssl_ca_location.clone(),
        auto_offset_reset: k
            .kafka_auto_offset_reset
            .clone()
            .unwrap_or_else(|| "earliest".into()),
        session_timeout_ms: k.kafka_session_timeout_ms.unwrap_or(30_000),
        max_poll_records: k.kafka_max_poll_records.unwrap_or(500),
        replication_factor: k.kafka_replication_factor.unwrap_or(1),
        compression: k
            .kafka_compression
            .clone()
            .unwrap_or_else(|| crate::settings::kafka::DEFAULT_COMPRESSION.into()),
        options: k.kafka_option.clone(),
    })
}

fn check_secs(name: &str, v: f64) -> Result<Duration> {
    if !v.is_finite() || !(0.0..=86_400.0).contains(&v) {
        bail!("{name} must be between 0 and 86400 seconds, got {v}");
    }
    Ok(Duration::from_secs_f64(v))
}

/// The engine's configuration from layered settings (`flags.over(file)`),
/// checked, with the defaults filled in.
pub fn resolve(s: &Settings) -> Result<EngineConfig> {
    let data_dir = s.data_dir.clone().unwrap_or_else(default_data_dir);
    let mut cfg = EngineConfig::with_data_dir(data_dir);
    let concurrency = s.concurrency.unwrap_or(cfg.concurrency);
    if !(1..=crate::engine::MAX_CONCURRENCY).contains(&concurrency) {
        bail!(
            "MAX_CONCURRENT_ENRICHMENTS (--concurrency) must be between 1 and {}, got {concurrency}",
            crate::engine::MAX_CONCURRENCY
        );
    }
    cfg.concurrency = concurrency;
    if let Some(g) = s.group_id.clone() {
        cfg.group_id = g;
    }
    if let Some(t) = s.enrichment_topic.clone() {
        cfg.enrich_topic = t;
    }
    if let Some(t) = s.dlq_topic.clone() {
        cfg.dlq_topic = t;
    }
    if let Some(t) = s.completed_topic.clone() {
        cfg.completed_topic = t;
    }
    if s.progress_events == Some(true) || s.progress_topic.is_some() {
        cfg.progress_topic = Some(
            s.progress_topic
                .clone()
                .unwrap_or_else(|| crate::events::PROGRESS_TOPIC.into()),
        );
    }
    cfg.fleet_topics = crate::backends::control::FleetTopics::beside(&cfg.enrich_topic);
    for (given, topic) in [
        (&s.fleet.control_topic, &mut cfg.fleet_topics.control),
        (&s.fleet.status_topic, &mut cfg.fleet_topics.status),
        (&s.fleet.audit_topic, &mut cfg.fleet_topics.audit),
    ] {
        if let Some(t) = given {
            *topic = t.clone();
        }
    }
    if let Some(id) = &s.fleet.member_id {
        if !crate::identity::valid_member_id(id) {
            bail!(
                "ARCHON_MEMBER_ID (--member-id) must be 1..=128 of A-Z a-z 0-9 - _ . :, got {id:?}"
            );
        }
        cfg.member_id = id.clone();
    }
    cfg.read_only = s.read_only;
    if let Some(m) = s.max_replays {
        if !(1..=1000).contains(&m) {
            bail!("--max-replays must be 1..=1000, got {m}");
        }
        cfg.max_replays = m;
    }
    if let Some(r) = s.max_processing_rate {
        if !crate::engine::resilience::rate::is_valid_rate(r) {
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
    let percentage = s
        .rollout
        .rollout_percentage
        .unwrap_or(u32::from(cfg.rollout.percentage));
    if percentage > 100 {
        bail!("ASYNC_ENRICHMENT_ROLLOUT_PERCENTAGE (--rollout-percentage) must be 0..=100, got {percentage}");
    }
    cfg.rollout = RolloutState {
        enabled: s.rollout.async_enrichment.unwrap_or(true),
        percentage: percentage as u8,
        enabled_projects: s
            .rollout
            .enabled_projects
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
    };
    let max_attempts = s.retry.retry_max_attempts.unwrap_or(3);
    if !(1..=10).contains(&max_attempts) {
        bail!("RETRY_MAX_ATTEMPTS (--retry-max-attempts) must be 1..=10, got {max_attempts}");
    }
    let jitter = s.retry.jitter.unwrap_or(0.1);
    if !(0.0..=1.0).contains(&jitter) {
        bail!("retry.jitter in the config file must be 0..=1, got {jitter}");
    }
    cfg.retry = RetryConfig {
        max_attempts,
        base_delay: check_secs(
            "RETRY_BACKOFF_BASE (--retry-backoff-base)",
            s.retry.retry_backoff_base.unwrap_or(2.0),
        )?,
        max_delay: check_secs("--retry-max-delay", s.retry.retry_max_delay.unwrap_or(60.0))?,
        jitter,
    };
    let rate = s.faults.inject_failure_rate.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&rate) {
        bail!("--inject-failure-rate must be between 0 and 1, got {rate}");
    }
    let latency = s.faults.inject_latency_ms.unwrap_or(0);
    if latency > 600_000 {
        bail!("--inject-latency-ms must be at most 600000, got {latency}");
    }
    cfg.faults = FaultConfig {
        failure_rate: rate,
        latency: Duration::from_millis(latency),
        seed: s.faults.seed.unwrap_or(0),
    };
    cfg.max_file_bytes = s.max_file_bytes.unwrap_or(cfg.max_file_bytes);
    let threshold = s
        .breaker
        .breaker_failure_threshold
        .unwrap_or(cfg.breaker.failure_threshold);
    if threshold == 0 {
        bail!("--breaker-failure-threshold must be at least 1");
    }
    cfg.breaker.failure_threshold = if s.breaker.circuit_breaker.unwrap_or(true) {
        threshold
    } else {
        u32::MAX
    };
    cfg.breaker.recovery_timeout = check_secs(
        "--breaker-recovery-secs",
        s.breaker
            .breaker_recovery_secs
            .unwrap_or(cfg.breaker.recovery_timeout.as_secs_f64()),
    )?;
    cfg.intelligence_url = s
        .intelligence
        .intelligence_url
        .clone()
        .filter(|u| !u.trim().is_empty());
    if let Some(u) = &cfg.intelligence_url {
        crate::backends::intelligence::http::parse_base(u)?;
    }
    let timeout = check_secs(
        "--intelligence-timeout-secs",
        s.intelligence.intelligence_timeout_secs.unwrap_or(60.0),
    )?;
    if timeout.is_zero() {
        bail!("--intelligence-timeout-secs must be more than 0");
    }
    cfg.intelligence_timeout = timeout;
    if let Some(k) = kafka_settings(&s.kafka) {
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
    cfg.qdrant_url = s.qdrant.qdrant_url.clone().filter(|u| !u.trim().is_empty());
    cfg.qdrant_api_key = s
        .qdrant
        .qdrant_api_key
        .clone()
        .map(crate::engine::config::Secret);
    if let Some(uri) = s.graph.graph_uri.clone().filter(|u| !u.trim().is_empty()) {
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
            user: s.graph.graph_user.clone().unwrap_or_default(),
            password: s.graph.graph_password.clone().unwrap_or_default(),
            database: s.graph.graph_database.clone().filter(|d| !d.is_empty()),
            max_message_bytes: match s.graph.graph_max_message_bytes {
                None => crate::backends::graph::bolt::DEFAULT_MAX_MESSAGE_BYTES,
                Some(n) if (1024..=1 << 30).contains(&n) => n,
                Some(n) => bail!("--graph-max-message-bytes must be 1024..=1073741824, got {n}"),
            },
        });
    }
    Ok(cfg)
}

/// The configuration reference (docs/configuration.md), made from the
/// same structs as `--help`: each setting's flag, environment variable,
/// config-file key and help.
pub fn reference() -> String {
    use clap::Args;
    let cmd = Settings::augment_args(clap::Command::new("settings"));
    let mut rows: Vec<(String, String)> = Vec::new();
    for a in cmd.get_arguments() {
        let id = a.get_id().as_str();
        let (table, key) = id.split_once('.').unwrap_or(("", id));
        let flag = a.get_long().map(|l| format!("`--{l}`")).unwrap_or_default();
        let env = a
            .get_env()
            .map(|e| format!("`{}`", e.to_string_lossy()))
            .unwrap_or_default();
        let help = a
            .get_help()
            .map(|h| h.to_string().replace('|', "\\|"))
            .unwrap_or_default();
        let file = if table.is_empty() {
            format!("`{key}`")
        } else {
            format!("`[{table}]` `{key}`")
        };
        rows.push((
            table.to_string(),
            format!("| {flag} | {env} | {file} | {help} |"),
        ));
    }
    // Top-level keys first, then each table in the order of the structs.
    rows.sort_by_key(|(t, _)| !t.is_empty());
    let mut out = String::from(
        "# Configuration reference\n\n\
         Generated from the settings structs (`src/config/sections.rs`) that `--help` is \
         made from; `cargo test --lib config::tests::the_configuration_reference_is_current` \
         fails when this page is stale, and `ARCHON_WRITE_DOCS=1` with the same command \
         rewrites it.\n\n\
         Each setting is read from, first to last: its flag, its environment variable (the \
         seeds' names), the config file (`--config`, `ARCHON_CONFIG`, or `config.toml` in the \
         platform config dir), its default.\n\n\
         | flag | environment | config file | what |\n| --- | --- | --- | --- |\n",
    );
    for (_, row) in rows {
        out.push_str(&row);
        out.push('\n');
    }
    out.push_str(
        "\nIn the file only: `theme` (the console's colour theme), `[retry]` `jitter` (0..=1, \
         default 0.1) and the `[alerts]` table (`serve --alert-webhook`'s rules: \
         `lag_over`, `seconds_behind_over`, `for_secs`). A file written for the previous \
         release keeps working: its top-level `intelligence_url` and \
         `intelligence_timeout_secs` fill the `[intelligence]` table.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Settings {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(
            std::iter::once("archon-tui").chain(args.iter().copied()),
        )
        .unwrap();
        cli.global.settings
    }

    #[test]
    fn flags_beat_file_and_bad_values_name_the_setting() {
        let file: Settings = toml::from_str(
            "concurrency = 7\ngroup_id = \"from-file\"\n[rollout]\npercentage = 20\n",
        )
        .unwrap();
        let cfg = resolve(&Settings::default().over(file.clone())).unwrap();
        assert_eq!(
            (
                cfg.concurrency,
                cfg.group_id.as_str(),
                cfg.rollout.percentage
            ),
            (7, "from-file", 20)
        );
        let o = flags(&["--concurrency", "40"]);
        assert_eq!(resolve(&o.over(file)).unwrap().concurrency, 40);
        for (args, needle) in [
            (&["--concurrency", "0"][..], "MAX_CONCURRENT_ENRICHMENTS"),
            (
                &["--concurrency", "1000000000"][..],
                "MAX_CONCURRENT_ENRICHMENTS",
            ),
            (&["--rollout-percentage", "101"][..], "ROLLOUT_PERCENTAGE"),
            (
                &["--inject-failure-rate", "1.5"][..],
                "--inject-failure-rate",
            ),
            (&["--group-id", "a b"][..], "KAFKA_GROUP_ID"),
        ] {
            let err = resolve(&flags(args)).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    /// A file written for the previous release keeps working: its
    /// top-level intelligence keys fill the `[intelligence]` table, and
    /// each concern's table reads what its flags read.
    #[test]
    fn the_previous_releases_file_and_the_new_tables_both_read() {
        let old: Settings = toml::from_str(
            "intelligence_url = \"http://127.0.0.1:8053\"\nintelligence_timeout_secs = 5\n\
             [breaker]\nenabled = true\nfailure_threshold = 9\n[retry]\njitter = 0.2\n",
        )
        .unwrap();
        let cfg = resolve(&Settings::default().over(old)).unwrap();
        assert_eq!(
            cfg.intelligence_url.as_deref(),
            Some("http://127.0.0.1:8053")
        );
        assert_eq!(cfg.intelligence_timeout, Duration::from_secs(5));
        assert_eq!(cfg.breaker.failure_threshold, 9);
        assert_eq!(cfg.retry.jitter, 0.2);
        let new: Settings = toml::from_str(
            "[kafka]\nbootstrap_servers = \"127.0.0.1:9092\"\ncompression = \"zstd\"\n\
             [graph]\nuri = \"bolt://127.0.0.1:7687\"\n[fleet]\nmember_id = \"m-1\"\n",
        )
        .unwrap();
        let cfg = resolve(&Settings::default().over(new.clone())).unwrap();
        let k = cfg.kafka.as_ref().unwrap();
        assert_eq!(
            (k.bootstrap_servers.as_str(), k.compression.as_str()),
            ("127.0.0.1:9092", "zstd")
        );
        assert!(cfg.graph.bolt().is_some());
        assert_eq!(cfg.member_id, "m-1");
        // A flag beats the file's table.
        let cfg = resolve(&flags(&["--kafka-compression", "lz4"]).over(new)).unwrap();
        assert_eq!(cfg.kafka.unwrap().compression, "lz4");
    }

    #[test]
    fn the_configuration_reference_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md");
        let made = reference();
        if std::env::var_os("ARCHON_WRITE_DOCS").is_some() {
            std::fs::write(&path, &made).unwrap();
        }
        let kept = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            kept == made,
            "docs/configuration.md is stale: run ARCHON_WRITE_DOCS=1 cargo test --lib \
             config::tests::the_configuration_reference_is_current"
        );
    }

    /// The README's example config file is one this release reads.
    #[test]
    fn the_readmes_example_file_reads() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
        let end = start + readme[start..].find("```").unwrap();
        let file: Settings = toml::from_str(&readme[start..end]).unwrap();
        let cfg = resolve(&Settings::default().over(file)).unwrap();
        assert_eq!(cfg.concurrency, 20);
        assert!(cfg.kafka.is_some() && cfg.graph.bolt().is_some());
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
