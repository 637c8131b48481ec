//! The operator's levers as typed commands. The CLI runs them one at a time;
//! the console sends them over a channel. Each returns what happened.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use serde::Serialize;

use super::dlq::{self, DlqEntry, DlqFilter, ReplayReport};
use super::drain;
use super::producer::{dispatch, request_for_record};
use super::redrive::JobView;
use super::rollout::RolloutState;
use super::{Engine, MAX_CONCURRENCY};
use crate::events::Priority;
use crate::model::{Status, Transition};

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// This engine's own pause and run (the console's space key).
    Run,
    Pause,
    /// Fleet-wide default (`member: None`) or one member's.
    SetConcurrency {
        n: usize,
        member: Option<String>,
    },
    /// MAX_PROCESSING_RATE for every member (None: no limit).
    SetMaxRate {
        per_sec: Option<f64>,
    },
    /// Hold or release the fleet (`member: None`; the kill switch is left
    /// alone) or one member alone.
    Hold {
        member: Option<String>,
        held: bool,
    },
    /// Replaying every entry (no filter) must be `confirmed`.
    ReplayDlq {
        filter: DlqFilter,
        dry_run: bool,
        confirmed: bool,
        /// Also replay entries already replayed `max_replays` times (the
        /// loop guard skips them otherwise).
        force: bool,
    },
    /// Replay as a background job at `rate` entries a second (see
    /// `engine::redrive`); no filter must be `confirmed`, as for `ReplayDlq`.
    StartRedrive {
        filter: DlqFilter,
        rate: f64,
        force: bool,
        confirmed: bool,
        /// Who asked (user@host, or the HTTP token's name @ peer).
        actor: String,
    },
    /// Pause, resume, cancel or re-rate a redrive job.
    ControlJob {
        id: String,
        action: JobAction,
    },
    /// Write the matching entries to a JSON Lines file (masked when
    /// `mask` names the fields to hash).
    ExportDlq {
        filter: DlqFilter,
        path: std::path::PathBuf,
        mask: Option<Vec<String>>,
    },
    /// Bring entries from an export file into the DLQ (idempotent).
    ImportDlq {
        path: std::path::PathBuf,
        dry_run: bool,
    },
    /// Edit one entry's request (`engine::dlq_edit::EDITABLE` fields) and
    /// replay it; a dry run only checks it and gives the diff.
    EditReplay {
        partition: i32,
        id: i64,
        changes: Vec<(String, String)>,
        dry_run: bool,
    },
    /// The kept time series (lag, throughput, DLQ, breaker) of the last
    /// `window_ms`.
    History {
        window_ms: i64,
    },
    /// A document's history across the topics and the graph (`engine::trace`).
    Trace {
        query: String,
    },
    /// Purging drops entries for good: always `confirmed`.
    PurgeDlq {
        filter: DlqFilter,
        confirmed: bool,
    },
    SetRollout(RolloutChange),
    /// Kill switch off and the whole fleet held.
    Rollback,
    /// Kill switch on and the fleet-wide hold lifted.
    Resume,
    ResetBreaker {
        member: Option<String>,
    },
    Backfill {
        project: Option<String>,
        rate: Option<f64>,
        sync: bool,
    },
    /// Read one DLQ entry in full (the snapshot holds summaries).
    LoadDlqEntry {
        partition: i32,
        id: i64,
    },
    /// Move the consumer group's committed offsets on the request topic
    /// (`engine::group_reset`): a dry run previews; otherwise `confirm`
    /// must be the group id, typed.
    ResetOffsets {
        target: super::group_reset::ResetTarget,
        /// None: every partition.
        partitions: Option<Vec<i32>>,
        dry_run: bool,
        confirm: Option<String>,
        actor: String,
    },
    /// Rehearsal: change injected failure rate / latency while running.
    InjectFaults {
        failure_rate: f64,
        latency_ms: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JobAction {
    Pause,
    Resume,
    Cancel,
    Rate(f64),
}

impl JobAction {
    pub fn describe(self) -> String {
        match self {
            JobAction::Pause => "pause".into(),
            JobAction::Resume => "resume".into(),
            JobAction::Cancel => "cancel".into(),
            JobAction::Rate(r) => format!("rate {r}/s"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RolloutChange {
    pub enabled: Option<bool>,
    pub percentage: Option<u8>,
    pub enable_project: Option<String>,
    pub disable_project: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    /// From the command to: kill switch off, consumer paused, nothing in flight.
    pub effective_ms: u64,
    /// Members reporting the hold with nothing in flight, of those alive.
    pub members_confirmed: usize,
    pub members_total: usize,
    /// When the last member confirmed (None: not all did within the wait).
    pub confirmed_ms: Option<u64>,
    pub pending: u64,
    pub in_flight: i64,
    pub next_step: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct BackfillReport {
    pub selected: u64,
    pub published: u64,
    pub enriched_sync: u64,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum CommandOutcome {
    Done {
        message: String,
    },
    Replay(ReplayReport),
    Purged {
        purged: u64,
    },
    Rollout(RolloutState),
    Rollback(RollbackReport),
    Backfill(BackfillReport),
    DlqEntry(Box<DlqEntry>),
    Job(Box<JobView>),
    Exported(super::dlq_transfer::ExportReport),
    Trace(Box<super::trace::Trace>),
    Edited(Box<super::dlq_edit::EditReport>),
    History {
        window_ms: i64,
        samples: Vec<crate::backends::history::Sample>,
    },
    Imported(super::dlq_transfer::ImportReport),
    Reset(Box<super::group_reset::ResetReport>),
}

impl Command {
    /// One line for the audit log (operator input is cleaned by the logger).
    pub fn describe(&self) -> String {
        match self {
            Command::Run => "run".into(),
            Command::Pause => "pause".into(),
            Command::SetConcurrency { n, member } => {
                format!("concurrency {n} {}", target(member.as_deref()))
            }
            Command::SetMaxRate { per_sec } => match per_sec {
                Some(r) => format!("max rate {r}/s"),
                None => "max rate off".into(),
            },
            Command::Hold { member, held } => format!(
                "{} {}",
                if *held { "hold" } else { "release" },
                target(member.as_deref())
            ),
            Command::ReplayDlq {
                filter,
                dry_run,
                force,
                ..
            } => {
                format!(
                    "replay DLQ{}{} {}",
                    if *dry_run { " (dry run)" } else { "" },
                    if *force { " (force)" } else { "" },
                    filter.describe()
                )
            }
            Command::StartRedrive {
                filter,
                rate,
                force,
                ..
            } => format!(
                "redrive DLQ at {rate}/s{} {}",
                if *force { " (force)" } else { "" },
                filter.describe()
            ),
            Command::ControlJob { id, action } => format!("redrive {id}: {}", action.describe()),
            Command::Trace { query } => format!("trace {query}"),
            Command::History { window_ms } => format!("history {} s", window_ms / 1000),
            Command::EditReplay {
                id,
                changes,
                dry_run,
                ..
            } => format!(
                "edit and replay DLQ entry {id}{}: {}",
                if *dry_run { " (dry run)" } else { "" },
                changes
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Command::ExportDlq { filter, path, mask } => format!(
                "export DLQ {} to {}{}",
                filter.describe(),
                path.display(),
                if mask.is_some() { " (masked)" } else { "" }
            ),
            Command::ImportDlq { path, dry_run } => format!(
                "import DLQ entries from {}{}",
                path.display(),
                if *dry_run { " (dry run)" } else { "" }
            ),
            Command::PurgeDlq { filter, .. } => format!("purge DLQ {}", filter.describe()),
            Command::SetRollout(c) => {
                let mut parts = Vec::new();
                if let Some(e) = c.enabled {
                    parts.push(format!("async {}", if e { "on" } else { "OFF" }));
                }
                if let Some(p) = c.percentage {
                    parts.push(format!("{p}%"));
                }
                if let Some(p) = &c.enable_project {
                    parts.push(format!("+{p}"));
                }
                if let Some(p) = &c.disable_project {
                    parts.push(format!("-{p}"));
                }
                format!("rollout {}", parts.join(" "))
            }
            Command::Rollback => "EMERGENCY ROLLBACK".into(),
            Command::Resume => "resume".into(),
            Command::ResetBreaker { member } => {
                format!("reset breaker {}", target(member.as_deref()))
            }
            Command::Backfill {
                project,
                rate,
                sync,
            } => {
                format!("backfill project={project:?} rate={rate:?} sync={sync}")
            }
            Command::InjectFaults {
                failure_rate,
                latency_ms,
            } => {
                format!("faults rate={failure_rate} latency={latency_ms}ms")
            }
            Command::LoadDlqEntry { partition, id } => format!("open DLQ entry {partition}/{id}"),
            Command::ResetOffsets {
                target,
                partitions,
                dry_run,
                ..
            } => format!(
                "reset consumer group offsets to {}{}{}",
                target.describe(),
                match partitions {
                    Some(p) => format!(" (partitions {p:?})"),
                    None => " (all partitions)".into(),
                },
                if *dry_run { " (dry run)" } else { "" }
            ),
        }
    }
}

/// `N` messages a second, or `off` / `none` / `0` for no limit.
pub fn parse_rate(s: &str) -> Result<Option<f64>, CommandError> {
    match s.trim() {
        "off" | "none" | "0" => Ok(None),
        t => t.parse::<f64>().map(Some).map_err(|_| {
            CommandError::Invalid(format!(
                "rate must be a number of messages a second or `off`, got {t:?}"
            ))
        }),
    }
}

fn target(member: Option<&str>) -> String {
    match member {
        Some(m) => format!("(member {m})"),
        None => "(fleet)".into(),
    }
}

impl Command {
    /// Does it change anything (refused in a read-only session)?
    pub fn is_lever(&self) -> bool {
        !matches!(
            self,
            Command::LoadDlqEntry { .. }
                | Command::ReplayDlq { dry_run: true, .. }
                | Command::ExportDlq { .. }
                | Command::Trace { .. }
                | Command::History { .. }
                | Command::EditReplay { dry_run: true, .. }
                | Command::ImportDlq { dry_run: true, .. }
                | Command::ResetOffsets { dry_run: true, .. }
        )
    }

    /// Needs the `admin` scope over HTTP (drops data for good).
    pub fn is_admin(&self) -> bool {
        matches!(self, Command::PurgeDlq { .. })
    }
}

impl CommandOutcome {
    pub fn describe(&self) -> String {
        match self {
            CommandOutcome::Done { message } => message.clone(),
            CommandOutcome::Replay(r) => format!(
                "{} {} entries",
                if r.dry_run {
                    "would replay"
                } else {
                    "replayed"
                },
                r.replayed
            ),
            CommandOutcome::Purged { purged } => format!("purged {purged} entries"),
            CommandOutcome::Rollout(r) => format!(
                "async {} at {}%, always async: {}",
                if r.enabled { "on" } else { "OFF" },
                r.percentage,
                r.enabled_projects.len()
            ),
            CommandOutcome::Rollback(r) => format!(
                "effective in {} ms, {} of {} members confirmed the hold{}, {} pending",
                r.effective_ms,
                r.members_confirmed,
                r.members_total,
                r.confirmed_ms
                    .map(|ms| format!(" in {ms} ms"))
                    .unwrap_or_default(),
                r.pending
            ),
            CommandOutcome::Backfill(b) => format!(
                "{} selected, {} published, {} enriched in {} ms",
                b.selected, b.published, b.enriched_sync, b.elapsed_ms
            ),
            CommandOutcome::DlqEntry(e) => format!("DLQ entry {} loaded", e.id),
            CommandOutcome::Job(j) => j.line(),
            CommandOutcome::Edited(r) => format!(
                "{} entry {}: {}",
                if r.dry_run {
                    "would replay"
                } else if r.replayed {
                    "replayed"
                } else {
                    "not replayed (it left the DLQ meanwhile)"
                },
                r.entry_id,
                r.diff
                    .iter()
                    .map(|(f, a, b)| format!("{f} {a} → {b}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            CommandOutcome::History { samples, .. } => {
                format!("{} history samples", samples.len())
            }
            CommandOutcome::Trace(t) => format!(
                "{} events for document {} ({} records read)",
                t.events.len(),
                t.document_id,
                t.scanned
            ),
            CommandOutcome::Exported(r) => format!(
                "exported {} entries to {}{}",
                r.exported,
                r.path,
                if r.masked { " (masked)" } else { "" }
            ),
            CommandOutcome::Imported(r) => format!(
                "imported {} entries ({} already present)",
                r.imported, r.already_present
            ),
            CommandOutcome::Reset(r) => format!(
                "{} {} to {}: committed {}; lag {} → {}{}",
                if r.dry_run { "would move" } else { "moved" },
                r.group,
                r.target.describe(),
                r.moves
                    .iter()
                    .map(|m| format!("{}:{}→{}", m.partition, m.committed, m.new_offset))
                    .collect::<Vec<_>>()
                    .join(" "),
                r.lag_before(),
                r.lag_after(),
                if r.dry_run {
                    String::new()
                } else {
                    format!(
                        " ({} member(s) left and rejoined; {} ms)",
                        r.members.len(),
                        r.waited_ms
                    )
                }
            ),
        }
    }
}

fn done(message: impl Into<String>) -> CommandOutcome {
    CommandOutcome::Done {
        message: message.into(),
    }
}

impl RolloutChange {
    fn validate(&self) -> Result<(), CommandError> {
        if *self == RolloutChange::default() {
            return invalid(
                "give percentage (0..=100), enabled, enable_project or disable_project",
            );
        }
        if let Some(p) = self.percentage.filter(|p| *p > 100) {
            return invalid(format!("rollout percentage must be 0..=100, got {p}"));
        }
        if let Some(p) = &self.enable_project {
            crate::model::check_project_name(p).or_else(invalid)?;
        }
        Ok(())
    }

    /// The rollout after this change (validated by `Command::validate`).
    pub fn apply(&self, mut r: RolloutState) -> RolloutState {
        if let Some(p) = self.percentage {
            r.percentage = p;
        }
        if let Some(e) = self.enabled {
            r.enabled = e;
        }
        if let Some(p) = &self.enable_project {
            if !r.enabled_projects.contains(p) {
                r.enabled_projects.push(p.clone());
            }
        }
        if let Some(p) = &self.disable_project {
            r.enabled_projects.retain(|x| x != p);
        }
        r
    }
}

/// Why a command did not run.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The input was refused; nothing happened (HTTP 400, CLI exit 2).
    #[error("{0}")]
    Invalid(String),
    /// A read-only session (`--read-only`): no lever is pulled (HTTP 403,
    /// CLI exit 2).
    #[error("read-only session: {0} is disabled (started with --read-only)")]
    ReadOnly(String),
    /// Running it failed (HTTP 500, CLI exit 1).
    #[error("{0:#}")]
    Failed(#[from] anyhow::Error),
}

fn invalid<T>(reason: impl Into<String>) -> Result<T, CommandError> {
    Err(CommandError::Invalid(reason.into()))
}

impl Command {
    /// Every check of a command's input, in one place: the console, the CLI
    /// and HTTP all get the same refusal with the same reason.
    pub fn validate(&self) -> Result<(), CommandError> {
        match self {
            Command::SetConcurrency { n, .. } if !(1..=MAX_CONCURRENCY).contains(n) => invalid(
                format!("concurrency must be between 1 and {MAX_CONCURRENCY}, got {n}"),
            ),
            Command::SetConcurrency {
                member: Some(m), ..
            }
            | Command::Hold { member: Some(m), .. }
            | Command::ResetBreaker { member: Some(m) }
                if !crate::identity::valid_member_id(m) =>
            {
                invalid(format!(
                    "member id must be 1..=128 of A-Z a-z 0-9 - _ . :, got {:?}",
                    crate::sanitize::clean(m)
                ))
            }
            Command::SetRollout(change) => change.validate(),
            Command::SetMaxRate { per_sec: Some(r) }
                if !(r.is_finite() && *r > 0.0 && *r <= super::rate::MAX_RATE) =>
            {
                invalid(format!(
                    "max rate must be more than 0 and at most {} messages a second, got {r}",
                    super::rate::MAX_RATE
                ))
            }
            Command::ReplayDlq {
                filter,
                dry_run: false,
                confirmed: false,
                ..
            } if filter.is_empty() => invalid(
                "no filter: this replays every DLQ entry; confirm it (CLI --confirm, HTTP \"confirm\": true) \
                 or preview it with a dry run",
            ),
            Command::StartRedrive {
                filter,
                confirmed: false,
                ..
            } if filter.is_empty() => invalid(
                "no filter: this redrives every DLQ entry; confirm it (CLI --confirm, HTTP \"confirm\": true) \
                 or preview it with a dry run",
            ),
            Command::StartRedrive { rate: r, .. }
            | Command::ControlJob {
                action: JobAction::Rate(r),
                ..
            } if !(r.is_finite() && *r > 0.0 && *r <= super::rate::MAX_RATE) => invalid(format!(
                "redrive rate must be more than 0 and at most {} entries a second, got {r}",
                super::rate::MAX_RATE
            )),
            Command::PurgeDlq {
                confirmed: false, ..
            } => invalid("purging drops DLQ entries for good; confirm it (CLI --confirm)"),
            Command::Backfill { rate: Some(r), .. } if !(r.is_finite() && *r > 0.0) => {
                invalid("rate must be a positive number of documents per second")
            }
            Command::ResetOffsets {
                partitions: Some(p),
                ..
            } if p.is_empty() || p.iter().any(|p| *p < 0) => {
                invalid("partitions: give partition numbers (0, 1, …) or leave them out for all")
            }
            Command::InjectFaults { failure_rate, .. } if !(0.0..=1.0).contains(failure_rate) => {
                invalid(format!("failure rate must be 0..=1, got {failure_rate}"))
            }
            _ => Ok(()),
        }
    }
}

impl Engine {
    /// The state a command touches, as the audit trail's before / after.
    pub fn lever_view(&self, cmd: &Command) -> String {
        let state = self.control_state();
        let onoff = |b: bool| if b { "yes" } else { "no" };
        match cmd {
            Command::Run | Command::Pause => format!("paused here: {}", onoff(self.is_paused())),
            Command::SetConcurrency { member, .. } => match member {
                Some(m) => format!(
                    "member {m} concurrency: {}",
                    state
                        .concurrency_for(m)
                        .map_or("flag default".into(), |n| n.to_string())
                ),
                None => format!(
                    "fleet concurrency: {}",
                    state
                        .concurrency
                        .map_or("flag default".into(), |n| n.to_string())
                ),
            },
            Command::SetMaxRate { .. } => match self.rate.get() {
                Some(r) => format!("max rate {r}/s"),
                None => "no rate limit".into(),
            },
            Command::Hold { member, .. } => match member {
                Some(m) => format!("member {m} held: {}", onoff(state.member(m).held)),
                None => format!("fleet held: {}", onoff(state.held)),
            },
            Command::SetRollout(_) | Command::Rollback | Command::Resume => {
                let r = self.rollout();
                format!(
                    "async {} at {}% (+{} projects), fleet held: {}",
                    if r.enabled { "on" } else { "OFF" },
                    r.percentage,
                    r.enabled_projects.len(),
                    onoff(state.held)
                )
            }
            Command::ResetBreaker { member } => match member {
                Some(m) => format!("member {m} resets: {}", state.member(m).breaker_reset_seq),
                None => format!("breaker here: {}", self.breaker.state().as_str()),
            },
            Command::InjectFaults { .. } => {
                format!(
                    "faults rate {}, latency {} ms",
                    self.faults.rate(),
                    self.faults.latency().as_millis()
                )
            }
            Command::ControlJob { id, .. } => match self.job(id) {
                Some(j) => format!("{} at {}/s", j.phase.as_str(), j.rate),
                None => "no such job".into(),
            },
            Command::ResetOffsets { .. } => match &state.reset {
                Some(r) => format!(
                    "last reset #{}: {} {:?}",
                    r.seq,
                    r.target.describe(),
                    r.phase
                ),
                None => "no reset yet".into(),
            },
            Command::StartRedrive { .. }
            | Command::ExportDlq { .. }
            | Command::Trace { .. }
            | Command::History { .. }
            | Command::EditReplay { .. }
            | Command::ImportDlq { .. }
            | Command::ReplayDlq { .. }
            | Command::PurgeDlq { .. }
            | Command::Backfill { .. }
            | Command::LoadDlqEntry { .. } => "-".into(),
        }
    }

    /// Validate, then run: the only way a lever is pulled.
    pub async fn execute(self: &Arc<Self>, cmd: Command) -> Result<CommandOutcome, CommandError> {
        if self.cfg.read_only && cmd.is_lever() {
            return Err(CommandError::ReadOnly(cmd.describe()));
        }
        cmd.validate()?;
        // A refusal found while running (an import's bad lines) stays a refusal.
        self.run_command(cmd).await.map_err(|e| {
            e.downcast::<CommandError>()
                .unwrap_or_else(CommandError::Failed)
        })
    }

    async fn run_command(self: &Arc<Self>, cmd: Command) -> Result<CommandOutcome> {
        match cmd {
            Command::Run => {
                self.resume();
                Ok(done("consumption running"))
            }
            Command::Pause => {
                self.pause();
                Ok(done("consumption paused"))
            }
            Command::SetConcurrency { n, member } => {
                self.set_concurrency(n, member.as_deref())?;
                Ok(done(format!(
                    "concurrency set to {n} {}",
                    target(member.as_deref())
                )))
            }
            Command::SetMaxRate { per_sec } => {
                self.set_max_rate(per_sec)?;
                Ok(done(match per_sec {
                    Some(r) => format!("at most {r} messages a second per member"),
                    None => "no rate limit".into(),
                }))
            }
            Command::Hold { member, held } => {
                match (&member, held) {
                    (Some(m), _) => self.hold_member(m, held)?,
                    (None, true) => self.hold()?,
                    (None, false) => self.release()?,
                }
                Ok(done(format!(
                    "{} {}",
                    if held { "held" } else { "released" },
                    target(member.as_deref())
                )))
            }
            Command::ReplayDlq {
                filter,
                dry_run,
                force,
                ..
            } => {
                let entries = dlq::load_matching(self, &filter).await?;
                Ok(CommandOutcome::Replay(
                    dlq::replay(self, &entries, dry_run, force).await?,
                ))
            }
            Command::StartRedrive {
                filter,
                rate,
                force,
                actor,
                ..
            } => Ok(CommandOutcome::Job(Box::new(
                self.start_redrive(filter, rate, force, &actor).await?,
            ))),
            Command::ControlJob { id, action } => {
                let view = self.control_job(&id, |c| match action {
                    JobAction::Pause => c.paused = true,
                    JobAction::Resume => c.paused = false,
                    JobAction::Cancel => c.cancelled = true,
                    JobAction::Rate(r) => c.rate = Some(r),
                })?;
                Ok(CommandOutcome::Job(Box::new(view)))
            }
            Command::EditReplay {
                partition,
                id,
                changes,
                dry_run,
            } => {
                let Some(entry) = dlq::load_one(self, partition, id).await? else {
                    anyhow::bail!("DLQ entry {id} is gone (replayed, purged or compacted)");
                };
                Ok(CommandOutcome::Edited(Box::new(
                    self.edit_and_replay(&entry, &changes, dry_run).await?,
                )))
            }
            Command::Trace { query } => {
                Ok(CommandOutcome::Trace(Box::new(self.trace(&query).await?)))
            }
            Command::History { window_ms } => {
                let Some(store) = &self.history else {
                    anyhow::bail!("no history is kept in this data dir (see the log)");
                };
                let from = crate::clock::now_ms() - window_ms;
                Ok(CommandOutcome::History {
                    window_ms,
                    samples: store.since(from)?,
                })
            }
            Command::ExportDlq { filter, path, mask } => Ok(CommandOutcome::Exported(
                super::dlq_transfer::export(self, &filter, &path, mask.as_deref()).await?,
            )),
            Command::ImportDlq { path, dry_run } => {
                let r = super::dlq_transfer::import(self, &path, dry_run).await?;
                if !r.invalid.is_empty() {
                    return Err(CommandError::Invalid(format!(
                        "nothing imported: {}",
                        r.invalid.join("; ")
                    ))
                    .into());
                }
                Ok(CommandOutcome::Imported(r))
            }
            Command::PurgeDlq { filter, .. } => {
                let entries = dlq::load_matching(self, &filter).await?;
                Ok(CommandOutcome::Purged {
                    purged: dlq::purge(self, &entries).await?,
                })
            }
            Command::SetRollout(change) => {
                let r = change.apply(self.rollout());
                self.set_rollout(r.clone())?;
                Ok(CommandOutcome::Rollout(r))
            }
            Command::Rollback => Ok(CommandOutcome::Rollback(self.rollback().await?)),
            Command::Resume => {
                let mut r = self.rollout();
                r.enabled = true;
                self.set_rollout(r)?;
                self.release()?;
                Ok(done("async enrichment on, consumption running"))
            }
            Command::ResetBreaker { member } => {
                self.reset_breaker(member.as_deref())?;
                Ok(done(format!(
                    "circuit breaker reset to CLOSED {}",
                    target(member.as_deref())
                )))
            }
            Command::Backfill {
                project,
                rate,
                sync,
            } => Ok(CommandOutcome::Backfill(
                self.backfill(project, rate, sync, &|_, _| {}).await?,
            )),
            Command::LoadDlqEntry { partition, id } => {
                match dlq::load_one(self, partition, id).await? {
                    Some(e) => Ok(CommandOutcome::DlqEntry(Box::new(e))),
                    None => anyhow::bail!("DLQ entry {id} is gone (replayed, purged or compacted)"),
                }
            }
            Command::InjectFaults {
                failure_rate,
                latency_ms,
            } => {
                self.faults
                    .set(failure_rate, Duration::from_millis(latency_ms));
                Ok(done(format!(
                    "injecting failure rate {failure_rate}, latency {latency_ms} ms"
                )))
            }
            Command::ResetOffsets {
                target,
                partitions,
                dry_run,
                confirm,
                actor,
            } => Ok(CommandOutcome::Reset(Box::new(
                self.reset_offsets(target, partitions, dry_run, confirm.as_deref(), &actor)
                    .await?,
            ))),
        }
    }

    /// The seeds' emergency rollback as one action: kill switch off (new
    /// documents take the sync path), consumption held in every member of
    /// the fleet, waiting work handed back to the topic. Measures until
    /// every live member reports the hold with nothing in flight.
    pub async fn rollback(self: &Arc<Self>) -> Result<RollbackReport> {
        let started = Instant::now();
        let since_ms = crate::clock::now_ms();
        let mut r = self.rollout();
        r.enabled = false;
        self.set_rollout(r)?;
        self.hold()?;
        let deadline = started + Duration::from_secs(30);
        let me = self.member_id().to_string();
        let (confirmed, total, in_flight) = loop {
            let here = self
                .stats
                .in_flight
                .load(std::sync::atomic::Ordering::Relaxed);
            let now = crate::clock::now_ms();
            // The others as they last reported; a member gone silent cannot
            // confirm and is not waited for.
            let others: Vec<_> = self
                .members()?
                .into_iter()
                .filter(|m| m.member_id != me && !m.is_stale(now))
                .collect();
            let confirmed_others = others
                .iter()
                .filter(|m| m.updated_ms >= since_ms && m.held && m.in_flight == 0)
                .count();
            let elsewhere: i64 = others.iter().map(|m| m.in_flight.max(0)).sum();
            let mine = usize::from(self.reports_here());
            let confirmed = confirmed_others + usize::from(mine == 1 && here == 0);
            let total = others.len() + mine;
            if (confirmed == total && here == 0) || Instant::now() > deadline {
                break (confirmed, total, here + elsewhere);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let effective_ms = started.elapsed().as_millis() as u64;
        let p = drain::progress(self).await?;
        tracing::warn!(
            "emergency rollback effective in {effective_ms} ms: {confirmed} of {total} members \
             confirmed the hold; {} documents pending",
            p.unfinished()
        );
        Ok(RollbackReport {
            effective_ms,
            members_confirmed: confirmed,
            members_total: total,
            confirmed_ms: (confirmed == total).then_some(effective_ms),
            pending: p.unfinished(),
            in_flight,
            next_step: "archon-tui backfill --sync  (enrich pending documents synchronously); archon-tui resume  (undo)"
                .into(),
        })
    }

    /// Re-drive documents still pending or never enriched (`failed`), by
    /// publishing them (async) or enriching them here (`sync`), at most
    /// `rate` documents per second.
    pub async fn backfill(
        self: &Arc<Self>,
        project: Option<String>,
        rate: Option<f64>,
        sync: bool,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<BackfillReport> {
        if let Some(r) = rate {
            ensure!(
                r.is_finite() && r > 0.0,
                "rate must be a positive number of documents per second"
            );
        }
        let started = Instant::now();
        let counts = self.backends.graph.counts().await?;
        let total: u64 = counts
            .iter()
            .filter(|(name, _)| project.as_ref().is_none_or(|p| p == *name))
            .map(|(_, c)| {
                c.get(&Status::Pending).copied().unwrap_or(0)
                    + c.get(&Status::Failed).copied().unwrap_or(0)
            })
            .sum();
        let mut report = BackfillReport::default();
        let chunk = rate
            .map(|r| (r.ceil() as usize).clamp(1, 500))
            .unwrap_or(500);
        for status in [Status::Pending, Status::Failed] {
            let mut after = None;
            loop {
                if self.stopping() {
                    return Ok(report);
                }
                let docs = self
                    .backends
                    .graph
                    .documents_with_status(status, project.clone(), after.clone(), chunk)
                    .await?;
                let Some(last) = docs.last() else { break };
                after = Some(last.entity_id.clone());
                let batch_started = Instant::now();
                let requests: Vec<_> = docs
                    .iter()
                    .map(|d| request_for_record(d, Priority::Low))
                    .collect();
                let n = requests.len() as u64;
                report.selected += n;
                if status == Status::Failed {
                    let ids = docs.iter().map(|d| d.entity_id.clone()).collect();
                    self.backends
                        .graph
                        .transition(ids, Transition::HandBack)
                        .await?;
                }
                if sync {
                    report.enriched_sync += super::producer::enrich_inline(self, requests).await?;
                } else {
                    let (published, enriched) = dispatch_async(self, requests).await?;
                    report.published += published;
                    report.enriched_sync += enriched;
                }
                progress(report.selected, total);
                if let Some(r) = rate {
                    let due = Duration::from_secs_f64(n as f64 / r);
                    if let Some(wait) = due.checked_sub(batch_started.elapsed()) {
                        self.sleep_or_stop(wait).await;
                    }
                }
            }
        }
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }
}

/// Publish regardless of the rollout (backfill without --sync is an explicit
/// request for the async path), unless the kill switch is off.
async fn dispatch_async(
    engine: &Arc<Engine>,
    requests: Vec<crate::events::EnrichmentRequest>,
) -> Result<(u64, u64)> {
    if !engine.rollout().enabled {
        return dispatch(engine, requests).await;
    }
    let n = requests.len() as u64;
    let records = requests
        .iter()
        .map(|r| crate::backends::broker::OutRecord {
            key: r.document_id.clone().into_bytes(),
            value: r.encode(),
        })
        .collect();
    engine
        .backends
        .broker
        .produce(&engine.cfg.enrich_topic, records)
        .await
        .inspect_err(|_| engine.stats.publish_errors.inc_by(n))?;
    super::stats::Stats::add(&engine.stats.published, n);
    Ok((n, 0))
}
