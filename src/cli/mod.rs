//! Command-line interface. Flags read the seeds' environment variables when
//! not given (clap's `env`), then the config file fills the rest.

pub mod run;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Overrides;

#[derive(Debug, Parser)]
#[command(
    name = "archon-tui",
    version,
    about = "Console and embedded engine for the async document-enrichment pipeline",
    long_about = "Indexes documents, publishes enrichment requests, consumes them with retries, \
a circuit breaker and a dead-letter queue, and shows it all live. With no address given it runs \
on a durable embedded default in --data-dir: nothing to install."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
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
    /// Kill switch: false sends every project down the synchronous path
    #[arg(long, global = true, env = "ENABLE_ASYNC_ENRICHMENT", value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub async_enrichment: Option<bool>,
    /// Share of projects (by stable bucket) that use the async path, 0..=100
    #[arg(
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
    #[arg(long, global = true, env = "RETRY_MAX_ATTEMPTS", value_name = "N")]
    pub retry_max_attempts: Option<u32>,
    /// First retry delay in seconds (doubles each retry)
    #[arg(long, global = true, env = "RETRY_BACKOFF_BASE", value_name = "SECS")]
    pub retry_backoff_base: Option<f64>,
    /// Cap on the retry delay in seconds
    #[arg(long, global = true, value_name = "SECS", hide_short_help = true)]
    pub retry_max_delay: Option<f64>,
    /// Rehearsal: fail this fraction of intelligence calls (0..1, deterministic given --seed)
    #[arg(long, global = true, value_name = "F")]
    pub inject_failure_rate: Option<f64>,
    /// Rehearsal: add this latency to every intelligence call
    #[arg(long, global = true, value_name = "MS")]
    pub inject_latency_ms: Option<u64>,
    /// Seed for injected failures
    #[arg(long, global = true, value_name = "N")]
    pub seed: Option<u64>,
    /// Files larger than this are indexed but not enriched
    #[arg(long, global = true, value_name = "BYTES", hide_short_help = true)]
    pub max_file_bytes: Option<u64>,
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
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct WaitArgs {
    /// Print one JSON object on stdout
    #[arg(long)]
    pub json: bool,
    /// Give up waiting after this many seconds (exit code 3)
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Index every file under PATH and publish enrichment requests
    Ingest {
        /// Source tree to ingest (.gitignore is respected)
        path: PathBuf,
        /// Project name [default: the directory's name]
        #[arg(long)]
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
    },
    /// Write a tree of N generated mixed-language files (demos, benchmarks)
    #[command(hide = true)]
    GenCorpus {
        dir: PathBuf,
        #[arg(long, default_value_t = 1000)]
        files: usize,
    },
    /// Counts, lag, breaker, rollout and concurrency
    Status {
        /// Print JSON on stdout
        #[arg(long)]
        json: bool,
    },
}
