//! The settings, one struct per concern, each deriving clap (flags and
//! the seeds' environment variables, with their `--help`) and serde (its
//! table in the config file). `config::resolve` checks them and builds the
//! engine's configuration; `Settings::over` layers the command line over the
//! file (flags > env > file > defaults, in one place).

use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;

/// Field by field: a value given here wins over `lower`'s.
pub trait Layer {
    fn over(self, lower: Self) -> Self;
}

macro_rules! layered {
    ($ty:ident { $($opt:ident),* $(,)? } $(flags { $($flag:ident),* })? $(lists { $($list:ident),* })? $(sections { $($sec:ident),* })?) => {
        impl Layer for $ty {
            #[allow(unused_variables)]
            fn over(self, lower: Self) -> Self {
                Self {
                    $($opt: self.$opt.or(lower.$opt),)*
                    $($($flag: self.$flag || lower.$flag,)*)?
                    $($($list: if self.$list.is_empty() { lower.$list } else { self.$list },)*)?
                    $($($sec: self.$sec.over(lower.$sec),)*)?
                }
            }
        }
    };
}

/// Every setting, one struct per concern: the command line (flags, then
/// the seeds' environment variables, by clap) and the config file (TOML,
/// by serde) read the same fields; [`Layer::over`] layers them once. The
/// top-level keys are the pipeline's own; each concern is a table.
#[derive(Debug, Clone, Default, Args, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where the embedded default keeps its data [default: the platform data dir]
    #[arg(
        id = "data_dir",
        long = "data-dir",
        global = true,
        env = "ARCHON_DATA_DIR",
        value_name = "DIR"
    )]
    pub data_dir: Option<PathBuf>,
    /// Enrichments running at once
    #[arg(
        id = "concurrency",
        allow_negative_numbers = true,
        long = "concurrency",
        global = true,
        env = "MAX_CONCURRENT_ENRICHMENTS",
        value_name = "N"
    )]
    pub concurrency: Option<usize>,
    /// Consumer group
    #[arg(
        id = "group_id",
        long = "group-id",
        global = true,
        env = "KAFKA_GROUP_ID",
        value_name = "ID"
    )]
    pub group_id: Option<String>,
    /// The request topic (seed 001 §3.1) [default: dev.archon-intelligence.enrich-document.v1]
    #[arg(
        id = "enrichment_topic",
        long = "enrichment-topic",
        global = true,
        env = "KAFKA_ENRICHMENT_TOPIC",
        value_name = "TOPIC",
        hide_short_help = true
    )]
    pub enrichment_topic: Option<String>,
    /// The dead-letter topic [default: dev.archon-intelligence.enrich-document-dlq.v1]
    #[arg(
        id = "dlq_topic",
        long = "dlq-topic",
        global = true,
        env = "KAFKA_DLQ_TOPIC",
        value_name = "TOPIC",
        hide_short_help = true
    )]
    pub dlq_topic: Option<String>,
    /// The completed-event topic [default: dev.archon-intelligence.enrichment-completed.v1]
    #[arg(
        id = "completed_topic",
        long = "completed-topic",
        global = true,
        env = "KAFKA_COMPLETED_TOPIC",
        value_name = "TOPIC",
        hide_short_help = true
    )]
    pub completed_topic: Option<String>,
    /// Publish seed 001 §3.4 progress events (stage analysis / recording)
    #[arg(id = "progress_events", long = "progress-events", global = true, env = "ENABLE_PROGRESS_EVENTS", value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new(), hide_short_help = true)]
    pub progress_events: Option<bool>,
    /// Their topic [default: dev.archon-intelligence.enrichment-progress.v1]; implies --progress-events
    #[arg(
        id = "progress_topic",
        long = "progress-topic",
        global = true,
        env = "KAFKA_PROGRESS_TOPIC",
        value_name = "TOPIC",
        hide_short_help = true
    )]
    pub progress_topic: Option<String>,
    #[command(flatten)]
    #[serde(default)]
    pub rollout: RolloutSection,
    #[command(flatten)]
    #[serde(default)]
    pub retry: RetrySection,
    #[command(flatten)]
    #[serde(default)]
    pub faults: FaultsSection,
    #[command(flatten)]
    #[serde(default)]
    pub breaker: BreakerSection,
    #[command(flatten)]
    #[serde(default)]
    pub kafka: KafkaSection,
    #[command(flatten)]
    #[serde(default)]
    pub qdrant: QdrantSection,
    #[command(flatten)]
    #[serde(default)]
    pub graph: GraphSection,
    #[command(flatten)]
    #[serde(default)]
    pub intelligence: IntelligenceSection,
    /// Files larger than this are indexed but not enriched
    #[arg(
        id = "max_file_bytes",
        allow_negative_numbers = true,
        long = "max-file-bytes",
        global = true,
        value_name = "BYTES",
        hide_short_help = true
    )]
    pub max_file_bytes: Option<u64>,
    /// Refuse every lever (console, CLI, HTTP): look, do not touch
    #[arg(
        id = "read_only",
        long = "read-only",
        global = true,
        env = "ARCHON_READ_ONLY"
    )]
    #[serde(default)]
    pub read_only: bool,
    /// At most N messages a second per engine (backpressure, seed §5.5) [default: no limit]
    #[arg(
        id = "max_processing_rate",
        allow_negative_numbers = true,
        long = "max-processing-rate",
        global = true,
        env = "MAX_PROCESSING_RATE",
        value_name = "N"
    )]
    pub max_processing_rate: Option<f64>,
    /// DLQ loop guard: a document replayed this often is not replayed again without --force
    #[arg(
        id = "max_replays",
        allow_negative_numbers = true,
        long = "max-replays",
        global = true,
        env = "ARCHON_MAX_REPLAYS",
        value_name = "N",
        hide_short_help = true
    )]
    pub max_replays: Option<u32>,
    #[command(flatten)]
    #[serde(default)]
    pub fleet: FleetSection,
    /// Who pulls the levers, for the audit trail [default: $USER, else the login name]
    #[arg(
        id = "operator",
        long = "operator",
        global = true,
        env = "ARCHON_OPERATOR",
        value_name = "NAME"
    )]
    pub operator: Option<String>,
    /// The console's colour theme (the file's key; `--theme` on the console).
    #[arg(skip)]
    pub theme: Option<String>,
    /// `serve --alert-webhook`'s rules (`engine::telemetry::alerts::AlertRules`).
    #[arg(skip)]
    #[serde(default)]
    pub alerts: crate::engine::telemetry::alerts::AlertRules,
    /// Where the previous release's files kept `[intelligence] url`.
    #[arg(skip)]
    pub intelligence_url: Option<String>,
    /// Where the previous release's files kept `[intelligence] timeout_secs`.
    #[arg(skip)]
    pub intelligence_timeout_secs: Option<f64>,
}

impl Layer for Settings {
    fn over(self, lower: Self) -> Self {
        Self {
            data_dir: self.data_dir.or(lower.data_dir),
            concurrency: self.concurrency.or(lower.concurrency),
            group_id: self.group_id.or(lower.group_id),
            enrichment_topic: self.enrichment_topic.or(lower.enrichment_topic),
            dlq_topic: self.dlq_topic.or(lower.dlq_topic),
            completed_topic: self.completed_topic.or(lower.completed_topic),
            progress_events: self.progress_events.or(lower.progress_events),
            progress_topic: self.progress_topic.or(lower.progress_topic),
            rollout: self.rollout.over(lower.rollout),
            retry: self.retry.over(lower.retry),
            faults: self.faults.over(lower.faults),
            breaker: self.breaker.over(lower.breaker),
            kafka: self.kafka.over(lower.kafka),
            qdrant: self.qdrant.over(lower.qdrant),
            graph: self.graph.over(lower.graph),
            // The previous release's top-level keys fill the table's.
            intelligence: self
                .intelligence
                .over(lower.intelligence)
                .over(IntelligenceSection {
                    intelligence_url: self.intelligence_url.or(lower.intelligence_url),
                    intelligence_timeout_secs: self
                        .intelligence_timeout_secs
                        .or(lower.intelligence_timeout_secs),
                }),
            max_file_bytes: self.max_file_bytes.or(lower.max_file_bytes),
            read_only: self.read_only || lower.read_only,
            max_processing_rate: self.max_processing_rate.or(lower.max_processing_rate),
            max_replays: self.max_replays.or(lower.max_replays),
            fleet: self.fleet.over(lower.fleet),
            operator: self.operator.or(lower.operator),
            theme: self.theme.or(lower.theme),
            // Only the file has alert rules (serve's flags override them there).
            alerts: lower.alerts,
            intelligence_url: None,
            intelligence_timeout_secs: None,
        }
    }
}

/// `[rollout]`: the async rollout and its kill switch (seed 001 §7).
#[derive(Debug, Clone, Default, Args, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutSection {
    /// Kill switch: false sends every project down the synchronous path
    #[arg(id = "rollout.enabled", long = "async-enrichment", global = true, env = "ENABLE_ASYNC_ENRICHMENT", value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new())]
    #[serde(rename = "enabled")]
    pub async_enrichment: Option<bool>,
    /// Share of projects (by stable bucket) that use the async path, 0..=100
    #[arg(
        id = "rollout.percentage",
        allow_negative_numbers = true,
        long = "rollout-percentage",
        global = true,
        env = "ASYNC_ENRICHMENT_ROLLOUT_PERCENTAGE",
        value_name = "PCT"
    )]
    #[serde(rename = "percentage")]
    pub rollout_percentage: Option<u32>,
    /// Projects always on the async path (comma-separated)
    #[arg(
        id = "rollout.enabled_projects",
        long = "enabled-projects",
        global = true,
        env = "ASYNC_ENRICHMENT_ENABLED_PROJECTS",
        value_name = "LIST",
        value_delimiter = ','
    )]
    pub enabled_projects: Option<Vec<String>>,
}

layered!(RolloutSection {
    async_enrichment,
    rollout_percentage,
    enabled_projects
});

/// `[retry]`: retries of a failed enrichment, with backoff and jitter.
#[derive(Debug, Clone, Default, Args, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySection {
    /// Attempts per document before the DLQ
    #[arg(
        id = "retry.max_attempts",
        allow_negative_numbers = true,
        long = "retry-max-attempts",
        global = true,
        env = "RETRY_MAX_ATTEMPTS",
        value_name = "N"
    )]
    #[serde(rename = "max_attempts")]
    pub retry_max_attempts: Option<u32>,
    /// First retry delay in seconds (doubles each retry)
    #[arg(
        id = "retry.base_delay_secs",
        allow_negative_numbers = true,
        long = "retry-backoff-base",
        global = true,
        env = "RETRY_BACKOFF_BASE",
        value_name = "SECS"
    )]
    #[serde(rename = "base_delay_secs")]
    pub retry_backoff_base: Option<f64>,
    /// Cap on the retry delay in seconds
    #[arg(
        id = "retry.max_delay_secs",
        allow_negative_numbers = true,
        long = "retry-max-delay",
        global = true,
        value_name = "SECS",
        hide_short_help = true
    )]
    #[serde(rename = "max_delay_secs")]
    pub retry_max_delay: Option<f64>,
    /// Jitter of each delay, 0..=1 [default: 0.1] (the file only)
    #[arg(skip)]
    pub jitter: Option<f64>,
}

layered!(RetrySection {
    retry_max_attempts,
    retry_backoff_base,
    retry_max_delay,
    jitter
});

/// `[faults]`: injected failures and latency (rehearsals).
#[derive(Debug, Clone, Default, Args, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsSection {
    /// Rehearsal: fail this fraction of intelligence calls (0..1, deterministic given --seed)
    #[arg(
        id = "faults.failure_rate",
        allow_negative_numbers = true,
        long = "inject-failure-rate",
        global = true,
        value_name = "F"
    )]
    #[serde(rename = "failure_rate")]
    pub inject_failure_rate: Option<f64>,
    /// Rehearsal: add this latency to every intelligence call
    #[arg(
        id = "faults.latency_ms",
        allow_negative_numbers = true,
        long = "inject-latency-ms",
        global = true,
        value_name = "MS"
    )]
    #[serde(rename = "latency_ms")]
    pub inject_latency_ms: Option<u64>,
    /// Seed for injected failures
    #[arg(
        id = "faults.seed",
        allow_negative_numbers = true,
        long = "seed",
        global = true,
        value_name = "N"
    )]
    pub seed: Option<u64>,
}

layered!(FaultsSection {
    inject_failure_rate,
    inject_latency_ms,
    seed
});

/// `[breaker]`: the circuit breaker around the intelligence service.
#[derive(Debug, Clone, Default, Args, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSection {
    /// Consecutive intelligence failures that open the circuit breaker
    #[arg(
        id = "breaker.failure_threshold",
        allow_negative_numbers = true,
        long = "breaker-failure-threshold",
        global = true,
        env = "CIRCUIT_BREAKER_FAILURE_THRESHOLD",
        value_name = "N"
    )]
    #[serde(rename = "failure_threshold")]
    pub breaker_failure_threshold: Option<u32>,
    /// Seconds an open breaker waits before a trial call (HALF_OPEN)
    #[arg(
        id = "breaker.recovery_timeout_secs",
        allow_negative_numbers = true,
        long = "breaker-recovery-secs",
        global = true,
        env = "CIRCUIT_BREAKER_RECOVERY_TIMEOUT",
        value_name = "SECS"
    )]
    #[serde(rename = "recovery_timeout_secs")]
    pub breaker_recovery_secs: Option<f64>,
    /// false: the breaker never opens
    #[arg(id = "breaker.enabled", long = "circuit-breaker", global = true, env = "ENABLE_CIRCUIT_BREAKER", value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new(), hide_short_help = true)]
    #[serde(rename = "enabled")]
    pub circuit_breaker: Option<bool>,
}

layered!(BreakerSection {
    breaker_failure_threshold,
    breaker_recovery_secs,
    circuit_breaker
});

/// `[kafka]`: Kafka / Redpanda; none given, the embedded broker.
#[derive(Debug, Clone, Default, Args, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSection {
    /// Kafka / Redpanda bootstrap servers (host:port,…) [default: the embedded broker]
    #[arg(
        id = "kafka.bootstrap_servers",
        long = "kafka-brokers",
        global = true,
        env = "KAFKA_BOOTSTRAP_SERVERS",
        value_name = "HOSTS"
    )]
    #[serde(rename = "bootstrap_servers")]
    pub kafka_brokers: Option<String>,
    /// PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
    #[arg(
        id = "kafka.security_protocol",
        long = "kafka-security-protocol",
        global = true,
        env = "KAFKA_SECURITY_PROTOCOL",
        value_name = "P",
        hide_short_help = true
    )]
    #[serde(rename = "security_protocol")]
    pub kafka_security_protocol: Option<String>,
    /// PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
    #[arg(
        id = "kafka.sasl_mechanism",
        long = "kafka-sasl-mechanism",
        global = true,
        env = "KAFKA_SASL_MECHANISM",
        value_name = "M",
        hide_short_help = true
    )]
    #[serde(rename = "sasl_mechanism")]
    pub kafka_sasl_mechanism: Option<String>,
    /// SASL user
    #[arg(
        id = "kafka.sasl_username",
        long = "kafka-sasl-username",
        global = true,
        env = "KAFKA_SASL_USERNAME",
        value_name = "U",
        hide_short_help = true
    )]
    #[serde(rename = "sasl_username")]
    pub kafka_sasl_username: Option<String>,
    /// Never shown or logged
    #[arg(
        id = "kafka.sasl_password",
        long = "kafka-sasl-password",
        global = true,
        env = "KAFKA_SASL_PASSWORD",
        value_name = "P",
        hide_short_help = true,
        hide_env_values = true
    )]
    #[serde(rename = "sasl_password")]
    pub kafka_sasl_password: Option<String>,
    /// CA certificate file for SSL
    #[arg(
        id = "kafka.ssl_ca_location",
        long = "kafka-ssl-ca-location",
        global = true,
        env = "KAFKA_SSL_CA_LOCATION",
        value_name = "FILE",
        hide_short_help = true
    )]
    #[serde(rename = "ssl_ca_location")]
    pub kafka_ssl_ca_location: Option<String>,
    /// earliest | latest
    #[arg(
        id = "kafka.auto_offset_reset",
        long = "kafka-auto-offset-reset",
        global = true,
        env = "KAFKA_AUTO_OFFSET_RESET",
        value_name = "R",
        hide_short_help = true
    )]
    #[serde(rename = "auto_offset_reset")]
    pub kafka_auto_offset_reset: Option<String>,
    /// Consumer group session timeout [default: 30000]
    #[arg(
        id = "kafka.session_timeout_ms",
        allow_negative_numbers = true,
        long = "kafka-session-timeout-ms",
        global = true,
        env = "KAFKA_SESSION_TIMEOUT_MS",
        value_name = "MS",
        hide_short_help = true
    )]
    #[serde(rename = "session_timeout_ms")]
    pub kafka_session_timeout_ms: Option<u32>,
    /// Records a fetch returns at most [default: 500]
    #[arg(
        id = "kafka.max_poll_records",
        allow_negative_numbers = true,
        long = "kafka-max-poll-records",
        global = true,
        env = "KAFKA_MAX_POLL_RECORDS",
        value_name = "N",
        hide_short_help = true
    )]
    #[serde(rename = "max_poll_records")]
    pub kafka_max_poll_records: Option<usize>,
    /// Extra librdkafka property for every Kafka client, KEY=VALUE (repeatable; overrides the producer's defaults, not the consumer's group/commit settings)
    #[arg(id = "kafka.options", long = "kafka-option", global = true, value_name = "KEY=VALUE", hide_short_help = true,
          value_parser = crate::backends::broker::kafka::parse_option)]
    #[serde(rename = "options")]
    #[serde(default)]
    pub kafka_option: Vec<(String, String)>,
    /// Compression of the records archon-tui produces: snappy (seed §3.1), gzip, lz4, zstd or none
    #[arg(
        id = "kafka.compression",
        long = "kafka-compression",
        global = true,
        env = "KAFKA_COMPRESSION_TYPE",
        value_name = "CODEC",
        hide_short_help = true
    )]
    #[serde(rename = "compression")]
    pub kafka_compression: Option<String>,
    /// Replication factor of topics archon-tui creates
    #[arg(
        id = "kafka.replication_factor",
        allow_negative_numbers = true,
        long = "kafka-replication-factor",
        global = true,
        value_name = "N",
        hide_short_help = true
    )]
    #[serde(rename = "replication_factor")]
    pub kafka_replication_factor: Option<i32>,
}

layered!(KafkaSection { kafka_brokers, kafka_security_protocol, kafka_sasl_mechanism, kafka_sasl_username, kafka_sasl_password, kafka_ssl_ca_location, kafka_auto_offset_reset, kafka_session_timeout_ms, kafka_max_poll_records, kafka_compression, kafka_replication_factor } lists { kafka_option });

/// `[qdrant]`: the Qdrant vector store; none given, the embedded one.
#[derive(Debug, Clone, Default, Args, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct QdrantSection {
    /// Qdrant gRPC URL (e.g. http://127.0.0.1:6334) [default: the embedded vector store]
    #[arg(
        id = "qdrant.url",
        long = "qdrant-url",
        global = true,
        env = "QDRANT_URL",
        value_name = "URL"
    )]
    #[serde(rename = "url")]
    pub qdrant_url: Option<String>,
    /// Never shown or logged
    #[arg(
        id = "qdrant.api_key",
        long = "qdrant-api-key",
        global = true,
        env = "QDRANT_API_KEY",
        value_name = "KEY",
        hide_short_help = true,
        hide_env_values = true
    )]
    #[serde(rename = "api_key")]
    pub qdrant_api_key: Option<String>,
}

layered!(QdrantSection {
    qdrant_url,
    qdrant_api_key
});

/// `[graph]`: Memgraph / Neo4j over Bolt; none given, the embedded graph.
#[derive(Debug, Clone, Default, Args, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSection {
    /// Graph store over Bolt, Memgraph or Neo4j (e.g. bolt://127.0.0.1:7687) [default: the embedded graph store]
    #[arg(
        id = "graph.uri",
        long = "graph-uri",
        global = true,
        env = "MEMGRAPH_URI",
        value_name = "URI"
    )]
    #[serde(rename = "uri")]
    pub graph_uri: Option<String>,
    /// Bolt user
    #[arg(
        id = "graph.user",
        long = "graph-user",
        global = true,
        env = "MEMGRAPH_USER",
        value_name = "USER",
        hide_short_help = true
    )]
    #[serde(rename = "user")]
    pub graph_user: Option<String>,
    /// Never shown or logged
    #[arg(
        id = "graph.password",
        long = "graph-password",
        global = true,
        env = "MEMGRAPH_PASSWORD",
        value_name = "PASSWORD",
        hide_short_help = true,
        hide_env_values = true
    )]
    #[serde(rename = "password")]
    pub graph_password: Option<String>,
    /// Database name (Neo4j; Memgraph has one) [default: the server's]
    #[arg(
        id = "graph.database",
        long = "graph-database",
        global = true,
        env = "MEMGRAPH_DATABASE",
        value_name = "NAME",
        hide_short_help = true
    )]
    #[serde(rename = "database")]
    pub graph_database: Option<String>,
    /// Largest Bolt message a write sends (batches and file bodies are cut to fit) [default: 1 MiB]
    #[arg(
        id = "graph.max_message_bytes",
        allow_negative_numbers = true,
        long = "graph-max-message-bytes",
        global = true,
        env = "ARCHON_GRAPH_MAX_MESSAGE_BYTES",
        value_name = "BYTES",
        hide_short_help = true
    )]
    #[serde(rename = "max_message_bytes")]
    pub graph_max_message_bytes: Option<usize>,
}

layered!(GraphSection {
    graph_uri,
    graph_user,
    graph_password,
    graph_database,
    graph_max_message_bytes
});

/// `[intelligence]`: the intelligence service; none given, the in-process analyzer.
#[derive(Debug, Clone, Default, Args, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct IntelligenceSection {
    /// Intelligence service root URL (POST {URL}/process/document) [default: in-process analyzer]
    #[arg(
        id = "intelligence.url",
        long = "intelligence-url",
        global = true,
        env = "INTELLIGENCE_SERVICE_URL",
        value_name = "URL"
    )]
    #[serde(rename = "url")]
    pub intelligence_url: Option<String>,
    /// Timeout of one intelligence call
    #[arg(
        id = "intelligence.timeout_secs",
        allow_negative_numbers = true,
        long = "intelligence-timeout-secs",
        global = true,
        value_name = "SECS",
        hide_short_help = true
    )]
    #[serde(rename = "timeout_secs")]
    pub intelligence_timeout_secs: Option<f64>,
}

layered!(IntelligenceSection {
    intelligence_url,
    intelligence_timeout_secs
});

/// `[fleet]`: this engine in the fleet and the fleet's topics.
#[derive(Debug, Clone, Default, Args, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSection {
    /// This engine's id in the fleet [default: host-pid]
    #[arg(
        id = "fleet.member_id",
        long = "member-id",
        global = true,
        env = "ARCHON_MEMBER_ID",
        value_name = "ID"
    )]
    pub member_id: Option<String>,
    /// The fleet's control topic (compacted) [default: beside the request topic]
    #[arg(
        id = "fleet.control_topic",
        long = "control-topic",
        global = true,
        env = "KAFKA_CONTROL_TOPIC",
        value_name = "TOPIC",
        hide_short_help = true
    )]
    pub control_topic: Option<String>,
    /// The fleet's status topic (compacted by member) [default: beside the request topic]
    #[arg(
        id = "fleet.status_topic",
        long = "status-topic",
        global = true,
        env = "KAFKA_STATUS_TOPIC",
        value_name = "TOPIC",
        hide_short_help = true
    )]
    pub status_topic: Option<String>,
    /// The operators' audit topic [default: beside the request topic]
    #[arg(
        id = "fleet.audit_topic",
        long = "audit-topic",
        global = true,
        env = "KAFKA_AUDIT_TOPIC",
        value_name = "TOPIC",
        hide_short_help = true
    )]
    pub audit_topic: Option<String>,
}

layered!(FleetSection {
    member_id,
    control_topic,
    status_topic,
    audit_topic
});
