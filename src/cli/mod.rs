//! Command-line interface. Flags read the seeds' environment variables when
//! not given (clap's `env`), then the config file fills the rest.

pub mod jobs;
pub mod offsets;
pub mod ops;
mod output;
pub mod run;
mod wait;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Overrides;

#[derive(Debug, Parser)]
#[command(
    name = "archon-tui",
    version,
    args_conflicts_with_subcommands = true,
    about = "Console and embedded engine for the async document-enrichment pipeline",
    long_about = "Indexes documents, publishes enrichment requests, consumes them with retries, \
a circuit breaker and a dead-letter queue, and shows it all live. With no address given it runs \
on a durable embedded default in --data-dir: nothing to install."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// With no subcommand the console opens
    #[command(flatten)]
    pub console: ConsoleArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// True when this run opens the full-screen console.
    pub fn is_console(&self) -> bool {
        matches!(
            self.command,
            None | Some(Command::Console(_)) | Some(Command::Attach { .. })
        )
    }

    /// True for the long-running headless engine (logs at info by default).
    pub fn is_serve(&self) -> bool {
        matches!(self.command, Some(Command::Serve { .. }))
    }
}

#[derive(Debug, Args, Clone, Default)]
pub struct ConsoleArgs {
    /// Also ingest this source tree once the console is open
    #[arg(long, value_name = "PATH")]
    pub ingest: Option<PathBuf>,
    /// Project name for --ingest [default: the directory's name]
    #[arg(long, value_parser = crate::model::parse_project_name, value_name = "NAME", requires = "ingest")]
    pub project: Option<String>,
    /// Also serve health, metrics and control over HTTP here (as `serve` does)
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Allow --listen on an address other than loopback
    #[arg(long)]
    pub allow_remote: bool,
    /// Colour theme: dark, light, high-contrast, or NAME.toml in the config dir's themes/
    #[arg(long, env = "ARCHON_THEME", value_name = "NAME")]
    pub theme: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Where the embedded default keeps its data [default: the platform data dir]
    #[arg(long, global = true, env = "ARCHON_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Config file (TOML) [default: config.toml in the platform config dir, if present]
    #[arg(long, global = true, env = "ARCHON_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Enrichments running at once
    #[arg(
        allow_negative_numbers = true,
        long,
        global = true,
        env = "MAX_CONCURRENT_ENRICHMENTS",
        value_name = "N"
    )]
    pub concurrency: Option<usize>,
    /// Consumer group
    #[arg(long, global = true, env = "KAFKA_GROUP_ID", value_name = "ID")]
    pub group_id: Option<String>,
    #[arg(
        long,
        global = true,
        env = "KAFKA_ENRICHMENT_TOPIC",
        value_name = "TOPIC",
        hide_short_help = true
    )]
    pub enrichment_topic: Option<String>,
    #[arg(
        long,
        global = true,
        env = "KAFKA_DLQ_TOPIC",
        value_name = "TOPIC",
        hide_short_help = true
    )]
    pub dlq_topic: Option<String>,
    #[arg(
        long,
        global = true,
        env = "KAFKA_COMPLETED_TOPIC",
        value_name = "TOPIC",
        hide_short_help = true
    )]
    pub completed_topic: Option<String>,
    /// Publish seed 001 §3.4 progress events (stage analysis / recording)
    #[arg(long, global = true, env = "ENABLE_PROGRESS_EVENTS", value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new(), hide_short_help = true)]
    pub progress_events: Option<bool>,
    /// Their topic [default: dev.archon-intelligence.enrichment-progress.v1]; implies --progress-events
    #[arg(
        long,
        global = true,
        env = "KAFKA_PROGRESS_TOPIC",
        value_name = "TOPIC",
        hide_short_help = true
    )]
    pub progress_topic: Option<String>,
    /// Kill switch: false sends every project down the synchronous path
    #[arg(long, global = true, env = "ENABLE_ASYNC_ENRICHMENT", value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub async_enrichment: Option<bool>,
    /// Share of projects (by stable bucket) that use the async path, 0..=100
    #[arg(
        allow_negative_numbers = true,
        long,
        global = true,
        env = "ASYNC_ENRICHMENT_ROLLOUT_PERCENTAGE",
        value_name = "PCT"
    )]
    pub rollout_percentage: Option<u32>,
    /// Projects always on the async path (comma-separated)
    #[arg(
        long,
        global = true,
        env = "ASYNC_ENRICHMENT_ENABLED_PROJECTS",
        value_name = "LIST",
        value_delimiter = ','
    )]
    pub enabled_projects: Option<Vec<String>>,
    /// Attempts per document before the DLQ
    #[arg(
        allow_negative_numbers = true,
        long,
        global = true,
        env = "RETRY_MAX_ATTEMPTS",
        value_name = "N"
    )]
    pub retry_max_attempts: Option<u32>,
    /// First retry delay in seconds (doubles each retry)
    #[arg(
        allow_negative_numbers = true,
        long,
        global = true,
        env = "RETRY_BACKOFF_BASE",
        value_name = "SECS"
    )]
    pub retry_backoff_base: Option<f64>,
    /// Cap on the retry delay in seconds
    #[arg(
        allow_negative_numbers = true,
        long,
        global = true,
        value_name = "SECS",
        hide_short_help = true
    )]
    pub retry_max_delay: Option<f64>,
    /// Rehearsal: fail this fraction of intelligence calls (0..1, deterministic given --seed)
    #[arg(allow_negative_numbers = true, long, global = true, value_name = "F")]
    pub inject_failure_rate: Option<f64>,
    /// Rehearsal: add this latency to every intelligence call
    #[arg(allow_negative_numbers = true, long, global = true, value_name = "MS")]
    pub inject_latency_ms: Option<u64>,
    /// Seed for injected failures
    #[arg(allow_negative_numbers = true, long, global = true, value_name = "N")]
    pub seed: Option<u64>,
    /// Consecutive intelligence failures that open the circuit breaker
    #[arg(
        allow_negative_numbers = true,
        long,
        global = true,
        env = "CIRCUIT_BREAKER_FAILURE_THRESHOLD",
        value_name = "N"
    )]
    pub breaker_failure_threshold: Option<u32>,
    /// Seconds an open breaker waits before a trial call (HALF_OPEN)
    #[arg(
        allow_negative_numbers = true,
        long,
        global = true,
        env = "CIRCUIT_BREAKER_RECOVERY_TIMEOUT",
        value_name = "SECS"
    )]
    pub breaker_recovery_secs: Option<f64>,
    /// false: the breaker never opens
    #[arg(long, global = true, env = "ENABLE_CIRCUIT_BREAKER", value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new(), hide_short_help = true)]
    pub circuit_breaker: Option<bool>,
    /// Kafka / Redpanda bootstrap servers (host:port,…) [default: the embedded broker]
    #[arg(
        long,
        global = true,
        env = "KAFKA_BOOTSTRAP_SERVERS",
        value_name = "HOSTS"
    )]
    pub kafka_brokers: Option<String>,
    #[arg(
        long,
        global = true,
        env = "KAFKA_SECURITY_PROTOCOL",
        value_name = "P",
        hide_short_help = true
    )]
    pub kafka_security_protocol: Option<String>,
    #[arg(
        long,
        global = true,
        env = "KAFKA_SASL_MECHANISM",
        value_name = "M",
        hide_short_help = true
    )]
    pub kafka_sasl_mechanism: Option<String>,
    #[arg(
        long,
        global = true,
        env = "KAFKA_SASL_USERNAME",
        value_name = "U",
        hide_short_help = true
    )]
    pub kafka_sasl_username: Option<String>,
    /// Never shown or logged
    #[arg(
        long,
        global = true,
        env = "KAFKA_SASL_PASSWORD",
        value_name = "P",
        hide_short_help = true,
        hide_env_values = true
    )]
    pub kafka_sasl_password: Option<String>,
    #[arg(
        long,
        global = true,
        env = "KAFKA_SSL_CA_LOCATION",
        value_name = "FILE",
        hide_short_help = true
    )]
    pub kafka_ssl_ca_location: Option<String>,
    /// earliest | latest
    #[arg(
        long,
        global = true,
        env = "KAFKA_AUTO_OFFSET_RESET",
        value_name = "R",
        hide_short_help = true
    )]
    pub kafka_auto_offset_reset: Option<String>,
    #[arg(
        allow_negative_numbers = true,
        long,
        global = true,
        env = "KAFKA_SESSION_TIMEOUT_MS",
        value_name = "MS",
        hide_short_help = true
    )]
    pub kafka_session_timeout_ms: Option<u32>,
    #[arg(
        allow_negative_numbers = true,
        long,
        global = true,
        env = "KAFKA_MAX_POLL_RECORDS",
        value_name = "N",
        hide_short_help = true
    )]
    pub kafka_max_poll_records: Option<usize>,
    /// Extra librdkafka property for every Kafka client, KEY=VALUE (repeatable; overrides the producer's defaults, not the consumer's group/commit settings)
    #[arg(long, global = true, value_name = "KEY=VALUE", hide_short_help = true,
          value_parser = crate::backends::broker::kafka::parse_option)]
    pub kafka_option: Vec<(String, String)>,
    /// Compression of the records archon-tui produces: snappy (seed §3.1), gzip, lz4, zstd or none
    #[arg(
        long,
        global = true,
        env = "KAFKA_COMPRESSION_TYPE",
        value_name = "CODEC",
        hide_short_help = true
    )]
    pub kafka_compression: Option<String>,
    /// Replication factor of topics archon-tui creates
    #[arg(
        allow_negative_numbers = true,
        long,
        global = true,
        value_name = "N",
        hide_short_help = true
    )]
    pub kafka_replication_factor: Option<i32>,
    /// Qdrant gRPC URL (e.g. http://127.0.0.1:6334) [default: the embedded vector store]
    #[arg(long, global = true, env = "QDRANT_URL", value_name = "URL")]
    pub qdrant_url: Option<String>,
    /// Never shown or logged
    #[arg(
        long,
        global = true,
        env = "QDRANT_API_KEY",
        value_name = "KEY",
        hide_short_help = true,
        hide_env_values = true
    )]
    pub qdrant_api_key: Option<String>,
    /// Graph store over Bolt, Memgraph or Neo4j (e.g. bolt://127.0.0.1:7687) [default: the embedded graph store]
    #[arg(long, global = true, env = "MEMGRAPH_URI", value_name = "URI")]
    pub graph_uri: Option<String>,
    #[arg(
        long,
        global = true,
        env = "MEMGRAPH_USER",
        value_name = "USER",
        hide_short_help = true
    )]
    pub graph_user: Option<String>,
    /// Never shown or logged
    #[arg(
        long,
        global = true,
        env = "MEMGRAPH_PASSWORD",
        value_name = "PASSWORD",
        hide_short_help = true,
        hide_env_values = true
    )]
    pub graph_password: Option<String>,
    /// Database name (Neo4j; Memgraph has one) [default: the server's]
    #[arg(
        long,
        global = true,
        env = "MEMGRAPH_DATABASE",
        value_name = "NAME",
        hide_short_help = true
    )]
    pub graph_database: Option<String>,
    /// Largest Bolt message a write sends (batches and file bodies are cut to fit) [default: 1 MiB]
    #[arg(
        allow_negative_numbers = true,
        long,
        global = true,
        env = "ARCHON_GRAPH_MAX_MESSAGE_BYTES",
        value_name = "BYTES",
        hide_short_help = true
    )]
    pub graph_max_message_bytes: Option<usize>,
    /// Intelligence service root URL (POST {URL}/process/document) [default: in-process analyzer]
    #[arg(
        long,
        global = true,
        env = "INTELLIGENCE_SERVICE_URL",
        value_name = "URL"
    )]
    pub intelligence_url: Option<String>,
    /// Timeout of one intelligence call
    #[arg(
        allow_negative_numbers = true,
        long,
        global = true,
        value_name = "SECS",
        hide_short_help = true
    )]
    pub intelligence_timeout_secs: Option<f64>,
    /// Files larger than this are indexed but not enriched
    #[arg(
        allow_negative_numbers = true,
        long,
        global = true,
        value_name = "BYTES",
        hide_short_help = true
    )]
    pub max_file_bytes: Option<u64>,
    /// This engine's id in the fleet [default: host-pid]
    #[arg(long, global = true, env = "ARCHON_MEMBER_ID", value_name = "ID")]
    pub member_id: Option<String>,
    /// The fleet's control topic (compacted) [default: beside the request topic]
    #[arg(
        long,
        global = true,
        env = "KAFKA_CONTROL_TOPIC",
        value_name = "TOPIC",
        hide_short_help = true
    )]
    pub control_topic: Option<String>,
    /// The fleet's status topic (compacted by member) [default: beside the request topic]
    #[arg(
        long,
        global = true,
        env = "KAFKA_STATUS_TOPIC",
        value_name = "TOPIC",
        hide_short_help = true
    )]
    pub status_topic: Option<String>,
    /// The operators' audit topic [default: beside the request topic]
    #[arg(
        long,
        global = true,
        env = "KAFKA_AUDIT_TOPIC",
        value_name = "TOPIC",
        hide_short_help = true
    )]
    pub audit_topic: Option<String>,
    /// Refuse every lever (console, CLI, HTTP): look, do not touch
    #[arg(long, global = true, env = "ARCHON_READ_ONLY")]
    pub read_only: bool,
    /// At most N messages a second per engine (backpressure, seed §5.5) [default: no limit]
    #[arg(
        allow_negative_numbers = true,
        long,
        global = true,
        env = "MAX_PROCESSING_RATE",
        value_name = "N"
    )]
    pub max_processing_rate: Option<f64>,
    /// DLQ loop guard: a document replayed this often is not replayed again without --force
    #[arg(
        allow_negative_numbers = true,
        long,
        global = true,
        env = "ARCHON_MAX_REPLAYS",
        value_name = "N",
        hide_short_help = true
    )]
    pub max_replays: Option<u32>,
}

impl GlobalArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: self.data_dir.clone(),
            concurrency: self.concurrency,
            group_id: self.group_id.clone(),
            enrichment_topic: self.enrichment_topic.clone(),
            dlq_topic: self.dlq_topic.clone(),
            completed_topic: self.completed_topic.clone(),
            progress_events: self.progress_events,
            progress_topic: self.progress_topic.clone(),
            async_enrichment: self.async_enrichment,
            rollout_percentage: self.rollout_percentage,
            enabled_projects: self.enabled_projects.clone(),
            retry_max_attempts: self.retry_max_attempts,
            retry_backoff_base: self.retry_backoff_base,
            retry_max_delay: self.retry_max_delay,
            inject_failure_rate: self.inject_failure_rate,
            inject_latency_ms: self.inject_latency_ms,
            seed: self.seed,
            max_file_bytes: self.max_file_bytes,
            breaker_failure_threshold: self.breaker_failure_threshold,
            breaker_recovery_secs: self.breaker_recovery_secs,
            circuit_breaker: self.circuit_breaker,
            intelligence_url: self.intelligence_url.clone(),
            qdrant_url: self.qdrant_url.clone(),
            qdrant_api_key: self.qdrant_api_key.clone(),
            graph_uri: self.graph_uri.clone(),
            graph_user: self.graph_user.clone(),
            graph_password: self.graph_password.clone(),
            graph_database: self.graph_database.clone(),
            graph_max_message_bytes: self.graph_max_message_bytes,
            member_id: self.member_id.clone(),
            control_topic: self.control_topic.clone(),
            status_topic: self.status_topic.clone(),
            audit_topic: self.audit_topic.clone(),
            read_only: self.read_only,
            max_processing_rate: self.max_processing_rate,
            max_replays: self.max_replays,
            kafka: self.kafka_brokers.clone().map(|b| {
                crate::backends::broker::kafka::KafkaSettings {
                    bootstrap_servers: b,
                    security_protocol: self.kafka_security_protocol.clone(),
                    sasl_mechanism: self.kafka_sasl_mechanism.clone(),
                    sasl_username: self.kafka_sasl_username.clone(),
                    sasl_password: self.kafka_sasl_password.clone(),
                    ssl_ca_location: self.kafka_ssl_ca_location.clone(),
                    auto_offset_reset: self
                        .kafka_auto_offset_reset
                        .clone()
                        .unwrap_or_else(|| "earliest".into()),
                    session_timeout_ms: self.kafka_session_timeout_ms.unwrap_or(30_000),
                    max_poll_records: self.kafka_max_poll_records.unwrap_or(500),
                    replication_factor: self.kafka_replication_factor.unwrap_or(1),
                    compression: self.kafka_compression.clone().unwrap_or_else(|| {
                        crate::backends::broker::kafka::DEFAULT_COMPRESSION.into()
                    }),
                    options: self.kafka_option.clone(),
                }
            }),
            intelligence_timeout_secs: self.intelligence_timeout_secs,
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct WaitArgs {
    /// Print one JSON object on stdout
    #[arg(long)]
    pub json: bool,
    /// Give up waiting after this many seconds (exit code 3)
    #[arg(allow_negative_numbers = true, long, value_name = "SECS")]
    pub timeout: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the full-screen console (the default with no subcommand)
    Console(ConsoleArgs),
    /// Index every file under PATH and publish enrichment requests
    Ingest {
        /// Source tree to ingest (.gitignore is respected)
        path: PathBuf,
        /// Project name [default: the directory's name]
        #[arg(long, value_parser = crate::model::parse_project_name)]
        project: Option<String>,
        /// Also run the consumer until nothing is pending and lag is 0
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        wait_args: WaitArgs,
    },
    /// Run the consumer until nothing is pending and lag is 0
    Drain {
        #[command(flatten)]
        wait_args: WaitArgs,
        /// Only this project's documents (others sharing the graph are left alone)
        #[arg(long, value_parser = crate::model::parse_project_name)]
        project: Option<String>,
    },
    /// Browse, replay and purge the dead-letter queue
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Show or change the async rollout (persisted; running engines follow within 100 ms)
    Rollout {
        #[command(subcommand)]
        command: RolloutCommand,
    },
    /// Emergency rollback: kill switch off, consumption held, in-flight work returned
    Rollback {
        #[arg(long)]
        json: bool,
    },
    /// Undo a rollback: kill switch on, consumption resumes
    Resume {
        #[arg(long)]
        json: bool,
    },
    /// Re-drive documents still pending or never enriched
    Backfill {
        /// Only this project
        #[arg(long, value_parser = crate::model::parse_project_name)]
        project: Option<String>,
        /// At most this many documents per second
        #[arg(allow_negative_numbers = true, long, value_name = "N")]
        rate: Option<f64>,
        /// Enrich here and now instead of publishing to the topic
        #[arg(long)]
        sync: bool,
        #[arg(long)]
        json: bool,
    },
    /// Circuit breaker controls
    Breaker {
        #[command(subcommand)]
        command: BreakerCommand,
    },
    /// Write a tree of N generated mixed-language files (demos, benchmarks)
    #[command(hide = true)]
    GenCorpus {
        dir: PathBuf,
        #[arg(long, default_value_t = 1000)]
        files: usize,
    },
    /// Run the engine headless with health, Prometheus metrics and control over HTTP
    #[command(
        long_about = "Run the engine headless (no terminal) until SIGTERM/SIGINT, serving \
GET /health, /health/enrichment, /metrics (Prometheus), /metrics/circuit_breaker, and the control \
endpoints POST /pause, /resume, /concurrency, /rollout, /rollback, /dlq/replay, /backfill, \
/circuit_breaker/reset. Control needs `Authorization: Bearer TOKEN`: ARCHON_CONTROL_TOKEN, or the \
token generated on first start into DATA_DIR/control-token (mode 0600)."
    )]
    Serve {
        /// Address to listen on (port 0: any free port; the first stdout line says which)
        #[arg(long, env = "ARCHON_LISTEN", value_name = "ADDR", default_value = crate::serve::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
        /// Also ingest this source tree once serving
        #[arg(long, value_name = "PATH")]
        ingest: Option<PathBuf>,
        /// Project name for --ingest [default: the directory's name]
        #[arg(long, value_parser = crate::model::parse_project_name, value_name = "NAME", requires = "ingest")]
        project: Option<String>,
        /// Allow --listen on an address other than loopback (control then
        /// crosses the network: put TLS and a firewall in front)
        #[arg(long)]
        allow_remote: bool,
        /// POST lag alerts (JSON) here: a partition turning STALL/STOP, or
        /// over the lag rules for their duration; and when each clears
        #[arg(long, env = "ARCHON_ALERT_WEBHOOK", value_name = "URL")]
        alert_webhook: Option<String>,
        /// Alert when a partition's lag stays above N messages [config: alerts.lag_over]
        #[arg(long, value_name = "N")]
        alert_lag_over: Option<i64>,
        /// Alert when a partition stays this many seconds behind [config: alerts.seconds_behind_over]
        #[arg(long, value_name = "SECS")]
        alert_seconds_behind_over: Option<f64>,
        /// How long a lag rule must hold before it fires [config: alerts.for_secs, default 60]
        #[arg(long, value_name = "SECS")]
        alert_for: Option<f64>,
    },
    /// Counts, lag, breaker, rollout and concurrency
    Status {
        /// Print JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Open the console on the fleet without consuming: no consumer-group
    /// membership, no ingest; levers reach every member through the control topic
    Attach {
        /// Colour theme: dark, light, high-contrast, or NAME.toml in the config dir's themes/
        #[arg(long, env = "ARCHON_THEME", value_name = "NAME")]
        theme: Option<String>,
    },
    /// A document's whole history (seed 004 "Trace Complete Event Flow"):
    /// its requests, DLQ entries and completed events with topic / partition /
    /// offset, time, attempt and outcome, and what the graph holds
    Trace {
        /// A document id, a correlation id, or a path (`project/path` or `path`)
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// The time series kept in the data dir: lag, docs/s, DLQ size and
    /// breaker state, sampled every 10 s for 3 days
    History {
        /// The window: 30m, 6h, 2d… (at most 3d)
        #[arg(long, default_value = "6h", value_name = "WINDOW")]
        since: String,
        #[arg(long)]
        json: bool,
    },
    /// Redrive jobs: list, pause, resume, cancel, change rate
    Jobs {
        /// The list as JSON (`jobs` with no subcommand lists them)
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        command: Option<jobs::JobsCommand>,
    },
    /// The consumer group's committed offsets and lag per partition;
    /// `offsets reset --to-…` moves them (seed 004 Procedure 2)
    Offsets {
        /// The table as JSON (`offsets` with no subcommand shows it)
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        command: Option<offsets::OffsetsCommand>,
    },
    /// The fleet's members: partitions, rate, in flight, breaker, last report
    Fleet {
        #[arg(long)]
        json: bool,
    },
    /// The operators' audit trail: who did what, from where, before → after
    Audit {
        /// The newest N entries
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Hold consumption: the whole fleet, or one member (kill switch left alone)
    Hold {
        /// Only this member (see `archon-tui fleet`)
        #[arg(long, value_name = "ID")]
        member: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Lift a hold: the fleet-wide one, or one member's
    Release {
        #[arg(long, value_name = "ID")]
        member: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Set MAX_PROCESSING_RATE for the fleet: N messages a second per engine, or `off`
    Rate {
        /// Messages a second, or `off`
        #[arg(allow_hyphen_values = true)]
        rate: String,
        #[arg(long)]
        json: bool,
    },
    /// Set concurrency for the fleet (members with their own value keep it) or one member
    Concurrency {
        #[arg(allow_negative_numbers = true)]
        n: i64,
        #[arg(long, value_name = "ID")]
        member: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args, Clone, Default)]
pub struct DlqFilterArgs {
    /// Only entries with this error type (e.g. EncodingError, InjectedFailure)
    #[arg(long, value_name = "T")]
    pub error_type: Option<String>,
    /// Only entries whose correlation id starts with this
    #[arg(long, value_name = "ID")]
    pub correlation_id: Option<String>,
    /// Only entries of this project
    #[arg(long, value_name = "P")]
    pub project: Option<String>,
    /// Only entries whose reason, path or ids contain this text
    #[arg(long, value_name = "TEXT")]
    pub text: Option<String>,
    /// Only entries of this error fingerprint (`dlq groups` lists them)
    #[arg(long, value_name = "FP")]
    pub fingerprint: Option<String>,
}

impl DlqFilterArgs {
    pub fn filter(&self) -> crate::engine::dlq::DlqFilter {
        crate::engine::dlq::DlqFilter {
            error_type: self.error_type.clone(),
            correlation_id: self.correlation_id.clone(),
            project: self.project.clone(),
            text: self.text.clone(),
            key: None,
            fingerprint: self.fingerprint.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List entries, newest first, with counts by error type
    List {
        #[command(flatten)]
        filter: DlqFilterArgs,
        /// At most N entries
        #[arg(allow_negative_numbers = true, long, value_name = "N")]
        limit: Option<usize>,
        #[arg(long)]
        json: bool,
    },
    /// Show one entry in full (by id, document id or key)
    Show { id: String },
    /// Entries grouped by error fingerprint (error type + reason with ids,
    /// numbers, paths and hashes masked): count, first/last seen, projects, a sample
    Groups {
        #[command(flatten)]
        filter: DlqFilterArgs,
        #[arg(long)]
        json: bool,
    },
    /// Put entries back into the pipeline (documents go back to pending)
    Replay {
        #[command(flatten)]
        filter: DlqFilterArgs,
        /// Only say what would be replayed, with a histogram of failure reasons
        #[arg(long)]
        dry_run: bool,
        /// Required to replay every entry (no filter)
        #[arg(long)]
        confirm: bool,
        /// Also replay documents already replayed --max-replays times (the loop guard)
        #[arg(long)]
        force: bool,
        /// Replay as a redrive job at N entries a second: progress, pause /
        /// resume / cancel (`archon-tui jobs`), resumable after a crash
        #[arg(long, value_name = "N")]
        rate: Option<f64>,
        /// With --rate: start the job and leave it to the engine running here
        #[arg(long, requires = "rate")]
        detach: bool,
        /// Then run the consumer until drained
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        wait_args: WaitArgs,
    },
    /// Edit one entry's request (project_name, file_path, enrichment_type,
    /// retry_count; never document_id), check it against the request schema,
    /// show the diff, and replay it
    Edit {
        /// Entry id, document id or key (as `dlq show`)
        id: String,
        /// FIELD=VALUE (repeat)
        #[arg(long = "set", value_name = "FIELD=VALUE", required = true)]
        set: Vec<String>,
        /// Only check the edit and show the diff
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Write the matching entries to a JSON Lines file, one entry a line
    Export {
        #[command(flatten)]
        filter: DlqFilterArgs,
        /// Where to write (written whole or not at all)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Hash payload bodies, paths and the --mask-field fields; reasons
        /// keep only their fingerprint pattern (for a ticket or a vendor)
        #[arg(long)]
        mask: bool,
        /// Also mask this field, at any depth (repeat, or comma-separate)
        #[arg(
            long,
            value_name = "NAME",
            env = "ARCHON_DLQ_MASK_FIELDS",
            value_delimiter = ','
        )]
        mask_field: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Bring entries from an export file into the DLQ: every line checked
    /// first (nothing is written if one is refused); entries already
    /// current are left alone, so importing twice changes nothing
    Import {
        file: PathBuf,
        /// Only check the file and say what would be imported
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Drop entries (documents become `failed`, reason kept); needs --confirm
    Purge {
        #[command(flatten)]
        filter: DlqFilterArgs,
        #[arg(long)]
        confirm: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Set the share of projects on the async path (0..=100)
    Set {
        percentage: u8,
        #[arg(long)]
        json: bool,
    },
    /// Always use the async path for PROJECT
    Enable {
        #[arg(value_parser = crate::model::parse_project_name)]
        project: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove PROJECT from the always-async list
    Disable {
        #[arg(value_parser = crate::model::parse_project_name)]
        project: String,
        #[arg(long)]
        json: bool,
    },
    /// Show the rollout in force
    Show {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BreakerCommand {
    /// Force the breaker CLOSED in every member of the fleet, or in one
    Reset {
        #[arg(long, value_name = "ID")]
        member: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use crate::engine::fleet::levers::SPECS;

    /// Each lever's spec names the CLI subcommands that pull it: they must
    /// exist (a lever added without its subcommand fails here).
    #[test]
    fn every_cli_subcommand_a_lever_names_exists() {
        let cli = super::Cli::command();
        for spec in SPECS {
            for path in spec.cli {
                let mut at = &cli;
                for word in path.split_whitespace() {
                    at = at.find_subcommand(word).unwrap_or_else(|| {
                        panic!("lever {}: no CLI subcommand `{path}`", spec.name)
                    });
                }
            }
        }
    }

    /// A lever no door reaches is dead code.
    #[test]
    fn every_lever_has_a_door() {
        for spec in SPECS {
            assert!(
                !(spec.cli.is_empty() && spec.palette.is_empty() && spec.http.is_empty())
                    || matches!(spec.name, "dlq-entry"),
                "lever {} has no CLI subcommand, palette verb or HTTP route",
                spec.name
            );
        }
        let mut names: Vec<_> = SPECS.iter().map(|s| s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SPECS.len(), "lever names are unique");
    }
}
