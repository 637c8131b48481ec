//! Command-line interface. Flags read the seeds' environment variables when
//! not given (clap's `env`), then the config file fills the rest.

mod bundle;
mod docs;
pub mod jobs;
pub mod offsets;
pub mod ops;
mod output;
pub mod run;
mod wait;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// With no subcommand the console opens
    #[command(flatten)]
    pub console: ConsoleArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl ConsoleArgs {
    /// Was any console-only flag given? (Not `--theme`: ARCHON_THEME in the
    /// environment names it for every command, harmlessly.)
    pub fn any_given(&self) -> bool {
        self.ingest.is_some()
            || self.watch.is_some()
            || self.project.is_some()
            || self.listen.is_some()
            || self.allow_remote
            || self.view.is_some()
    }
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
#[command(group(clap::ArgGroup::new("tree").multiple(true)))]
pub struct ConsoleArgs {
    /// Also ingest this source tree once the console is open
    #[arg(long, value_name = "PATH", group = "tree")]
    pub ingest: Option<PathBuf>,
    /// Also watch this tree: mirror it, then re-index what changes as it changes
    #[arg(long, value_name = "PATH", group = "tree")]
    pub watch: Option<PathBuf>,
    /// Project name for --ingest / --watch [default: the directory's name]
    #[arg(long, value_parser = crate::model::parse_project_name, value_name = "NAME", requires = "tree")]
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
    /// Open on this saved view (a DLQ filter and layout: `:view save NAME`)
    #[arg(long, value_name = "NAME")]
    pub view: Option<String>,
}

/// The settings every subcommand takes (`config::sections`, one struct per
/// concern), and where the config file is.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Config file (TOML) [default: config.toml in the platform config dir, if present]
    #[arg(long, global = true, env = "ARCHON_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub settings: crate::config::Settings,
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
    /// Keep PATH indexed as it changes: mirror it (removed files leave the
    /// index), then re-index every change as it happens, and enrich it
    #[command(
        long_about = "Keep PATH indexed as it changes, until SIGTERM/SIGINT. First a full ingest mirrors the tree (documents of removed files are removed, moved files keep their enrichment); then every change is re-indexed as it happens: debounced, filtered by the same .gitignore rules as ingest, in batches. The consumer runs too, so changes are enriched. One line per batch of changes (--json: one JSON object per line)."
    )]
    Watch {
        /// Source tree to watch (.gitignore is respected)
        path: PathBuf,
        /// Project name [default: the directory's name]
        #[arg(long, value_parser = crate::model::parse_project_name)]
        project: Option<String>,
        /// One JSON object per batch of changes on stdout
        #[arg(long)]
        json: bool,
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
        #[arg(long, value_name = "PATH", group = "tree")]
        ingest: Option<PathBuf>,
        /// Also watch this tree: mirror it, then re-index what changes as it changes
        #[arg(long, value_name = "PATH", group = "tree")]
        watch: Option<PathBuf>,
        /// Project name for --ingest / --watch [default: the directory's name]
        #[arg(long, value_parser = crate::model::parse_project_name, value_name = "NAME", requires = "tree")]
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
    /// Check a deployment before or while it runs: brokers, topics against
    /// seed §3 (and settings that lose data), the consumer group, the graph's
    /// constraints, Qdrant, the intelligence service, the data dir. Each
    /// finding names its fix; exit 1 when something fails
    Doctor {
        /// Print JSON on stdout
        #[arg(long)]
        json: bool,
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
    /// Why is it lagging? Watches the fleet for --window seconds without
    /// consuming, then ranks the causes (seed 004's High Consumer Lag
    /// runbook) from the engine's measurements, each with the lever that
    /// fixes it
    Why {
        /// Seconds of lag and rates to judge from
        #[arg(long, default_value_t = 5, value_name = "SECS")]
        window: u64,
        #[arg(long)]
        json: bool,
    },
    /// Write a tar.gz for a bug report: status, settings (secrets masked),
    /// versions, doctor, fleet, audit, 6 h of history, DLQ groups (samples
    /// masked) and the tail of any --log file; says what it holds and masked
    Bundle {
        /// The archive [default: archon-tui-bundle-<UTC time>.tar.gz here]
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
        /// Add the last 5,000 lines of this log file, secrets masked (repeat)
        #[arg(long, value_name = "FILE")]
        log: Vec<std::path::PathBuf>,
    },
    /// The saved views (`:view save NAME` in the console; `--view NAME`)
    Views {
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script: `archon-tui completions bash > …`
    /// (README "Shell completions and man pages")
    Completions {
        /// bash, zsh, fish, powershell or elvish
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or with --out DIR write archon-tui.1 and
    /// one page per subcommand there
    Man {
        /// Directory for archon-tui.1, archon-tui-serve.1, …
        #[arg(long, value_name = "DIR")]
        out: Option<std::path::PathBuf>,
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

impl Command {
    /// The name of a command that only reads (status, lists, traces), or
    /// None for one that writes or runs the engine.
    pub fn read_only_name(&self) -> Option<&'static str> {
        Some(match self {
            Command::Status { .. } => "status",
            Command::Trace { .. } => "trace",
            Command::History { .. } => "history",
            Command::Audit { .. } => "audit",
            Command::Fleet { .. } => "fleet",
            Command::Why { .. } => "why",
            Command::Bundle { .. } => "bundle",
            Command::Jobs { command: None, .. } => "jobs",
            Command::Offsets { command: None, .. } => "offsets",
            Command::Dlq { command } => match command {
                DlqCommand::List { .. } => "dlq list",
                DlqCommand::Show { .. } => "dlq show",
                DlqCommand::Groups { .. } => "dlq groups",
                _ => return None,
            },
            _ => return None,
        })
    }
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
