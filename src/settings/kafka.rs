//! Connection and consumer settings (the seeds' KAFKA_* variables).

use anyhow::Result;

/// The producer's `compression.type` unless configured: seed §3.1's snappy.
pub const DEFAULT_COMPRESSION: &str = "snappy";

/// Connection and consumer settings (the seeds' KAFKA_* variables).
#[derive(Clone, Default)]
pub struct KafkaSettings {
    pub bootstrap_servers: String,
    pub security_protocol: Option<String>,
    pub sasl_mechanism: Option<String>,
    pub sasl_username: Option<String>,
    pub sasl_password: Option<String>,
    pub ssl_ca_location: Option<String>,
    /// earliest | latest (seed default: earliest).
    pub auto_offset_reset: String,
    pub session_timeout_ms: u32,
    pub max_poll_records: usize,
    pub replication_factor: i32,
    /// `compression.type` of the producer: snappy by default, as seed §3.1
    /// says (the seeds' aiokafka services read snappy without extras; zstd
    /// needs aiokafka's zstd extra).
    pub compression: String,
    /// Extra librdkafka properties (`--kafka-option KEY=VALUE`), applied
    /// last so they win over archon-tui's own choices.
    pub options: Vec<(String, String)>,
}

/// Debug without the password: configs get logged.
impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSettings")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("security_protocol", &self.security_protocol)
            .field("sasl_mechanism", &self.sasl_mechanism)
            .field("sasl_username", &self.sasl_username)
            .field(
                "sasl_password",
                &self.sasl_password.as_ref().map(|_| "<redacted>"),
            )
            .field("ssl_ca_location", &self.ssl_ca_location)
            .field("auto_offset_reset", &self.auto_offset_reset)
            // Keys only: a value may be a secret.
            .field(
                "options",
                &self.options.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Parse `KEY=VALUE` (a librdkafka property).
pub fn parse_option(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!(
            "--kafka-option wants KEY=VALUE (a librdkafka property), got {s:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_appears_in_debug_output() {
        let s = KafkaSettings {
            bootstrap_servers: "b:9092".into(),
            sasl_password: Some("hunter2".into()),
            ..Default::default()
        };
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
