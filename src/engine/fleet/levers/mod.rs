//! The operator's levers, one spec each. A lever is one file here: its
//! arguments (the struct), its [`Spec`] (name, scope, help, HTTP route, CLI
//! subcommand, palette verb), its validation, its audit text, the state it
//! shows as the audit trail's before / after, how it runs, and a typed
//! outcome. The registration list at the bottom of this file makes the
//! [`Command`] every front end sends, the HTTP routes and the endpoint index
//! (`serve::routes`); tests check that each named CLI subcommand and palette
//! verb exists. Adding a lever is one new file plus one registration line
//! (docs/design.md walks through the rate lever).
//!
//! Read commands that every front end serves (trace, history, one DLQ
//! entry, export) are specs too, with the `read` scope: they are never
//! audited and run in a read-only session.

use std::future::Future;
use std::sync::Arc;

use anyhow::Result;
use serde::{de::DeserializeOwned, Serialize};

use crate::engine::fleet::control::{AuditEntry, Origin};
use crate::engine::Engine;

/// What a caller needs to pull a lever: over HTTP, the token's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Changes nothing: DLQ entries (documents can hold secrets), the audit
    /// trail, traces, history.
    Read,
    /// Sends documents in (the bridge API): writes data, pulls no lever.
    Write,
    /// The levers: pause, hold, concurrency, rollout, rollback, breaker,
    /// replay, backfill.
    Control,
    /// What drops data or moves offsets for good: purge, offset reset.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Control => "control",
            Scope::Admin => "admin",
        }
    }
}

/// A lever as every front end knows it; the values every door derives.
#[derive(Debug)]
pub struct Spec {
    /// Stable name (the endpoint index, docs).
    pub name: &'static str,
    pub scope: Scope,
    /// One line: what it does.
    pub help: &'static str,
    /// The CLI subcommands that pull it (`dlq replay`), checked by a test.
    pub cli: &'static [&'static str],
    /// The console palette's verbs (`rate`), checked by a test.
    pub palette: &'static [&'static str],
    /// HTTP routes (POST) that pull it, served with this spec's scope.
    pub http: &'static [Http],
}

/// One HTTP route of a lever: `POST path` with a JSON body.
#[derive(Debug)]
pub struct Http {
    /// An axum path (`/jobs/{id}/{action}`).
    pub path: &'static str,
    /// The body as the endpoint index shows it (`{"per_sec": N}`).
    pub body: &'static str,
    /// Request → command (or why not: 400, 404).
    pub parse: fn(&HttpArgs) -> Result<Command, Refusal>,
}

/// What an HTTP request brings to [`Http::parse`].
pub struct HttpArgs<'a> {
    pub engine: &'a Engine,
    /// The JSON body; None when there is none.
    pub body: Option<serde_json::Value>,
    /// `?member=ID`: one member instead of the fleet.
    pub member: Option<String>,
    /// The path's `{…}` segments, in order.
    pub path: Vec<String>,
    /// Who asks (the token's scope @ the peer).
    pub actor: String,
}

impl HttpArgs<'_> {
    /// The body as `T` (an absent body is `T::default()`), or a 400.
    pub fn body<T: DeserializeOwned + Default>(&self) -> Result<T, Refusal> {
        match &self.body {
            None => Ok(T::default()),
            Some(v) => T::deserialize(v).map_err(|e| Refusal::BadRequest(format!("body: {e}"))),
        }
    }
}

/// Why an HTTP request did not become a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// 400 with the reason.
    BadRequest(String),
    /// 404 with the reason.
    NotFound(String),
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

pub(crate) fn invalid<T>(reason: impl Into<String>) -> Result<T, CommandError> {
    Err(CommandError::Invalid(reason.into()))
}

/// What a lever's run gives back: the typed report, its one-line message,
/// and its place in [`CommandOutcome`] (the console's and HTTP's view).
pub trait Outcome: Serialize + Send + Into<CommandOutcome> {
    fn message(&self) -> String;
}

/// One lever: its arguments are the struct.
pub trait Lever: Clone + std::fmt::Debug + Send + Sync + Into<Command> + 'static {
    const SPEC: &'static Spec;
    type Outcome: Outcome;

    /// Does this call change anything (refused in a read-only session,
    /// written to the audit trail)? A dry run does not.
    fn changes_anything(&self) -> bool {
        Self::SPEC.scope != Scope::Read
    }
    /// A setting lever (rollout, concurrency, rate, holds, the breaker):
    /// pulled one at a time in an engine, from the state as stored, so a
    /// burst of key presses neither loses a step nor records a wrong
    /// "before". Long work (replay, backfill, a rollback's wait) is not.
    fn serial(&self) -> bool {
        false
    }
    /// Every check of the input: the console, the CLI and HTTP all get the
    /// same refusal with the same reason.
    fn validate(&self) -> Result<(), CommandError> {
        Ok(())
    }
    /// One line for the audit log (operator input is cleaned by the logger).
    fn describe(&self) -> String;
    /// The state it touches, as the audit trail's before / after.
    fn view(&self, _engine: &Engine) -> String {
        "-".into()
    }
    fn run(self, engine: &Arc<Engine>) -> impl Future<Output = Result<Self::Outcome>> + Send;
}

/// A plain message as the outcome (levers that only flip a setting).
#[derive(Debug, Clone, Serialize)]
pub struct Done {
    pub message: String,
}

pub(crate) fn done(message: impl Into<String>) -> Done {
    Done {
        message: message.into(),
    }
}

impl Outcome for Done {
    fn message(&self) -> String {
        self.message.clone()
    }
}

impl From<Done> for CommandOutcome {
    fn from(d: Done) -> Self {
        CommandOutcome::Done { message: d.message }
    }
}

/// Every lever's outcome, as the console and HTTP see it (HTTP serialises
/// the inner report as `outcome`).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum CommandOutcome {
    Done { message: String },
    Replay(crate::engine::dlq::ReplayReport),
    Purged { purged: u64 },
    Rollout(crate::engine::fleet::rollout::RolloutState),
    Rollback(rollback::RollbackReport),
    Backfill(backfill::BackfillReport),
    DlqEntry(Box<crate::engine::dlq::DlqEntry>),
    Job(Box<crate::engine::dlq::redrive::JobView>),
    Exported(crate::engine::dlq::transfer::ExportReport),
    Trace(Box<crate::engine::telemetry::trace::Trace>),
    Edited(Box<crate::engine::dlq::edit::EditReport>),
    History(Box<history::HistoryWindow>),
    Imported(crate::engine::dlq::transfer::ImportReport),
    Reset(Box<crate::engine::fleet::group_reset::ResetReport>),
    Doctor(Box<crate::engine::doctor::DoctorReport>),
}

impl CommandOutcome {
    pub fn describe(&self) -> String {
        match self {
            CommandOutcome::Done { message } => message.clone(),
            CommandOutcome::Purged { purged } => purge::Purged { purged: *purged }.message(),
            CommandOutcome::History(h) => h.message(),
            CommandOutcome::Replay(r) => r.message(),
            CommandOutcome::Rollout(r) => r.message(),
            CommandOutcome::Rollback(r) => r.message(),
            CommandOutcome::Backfill(r) => r.message(),
            CommandOutcome::DlqEntry(r) => r.message(),
            CommandOutcome::Job(r) => r.message(),
            CommandOutcome::Exported(r) => r.message(),
            CommandOutcome::Trace(r) => r.message(),
            CommandOutcome::Edited(r) => r.message(),
            CommandOutcome::Imported(r) => r.message(),
            CommandOutcome::Reset(r) => r.message(),
            CommandOutcome::Doctor(r) => r.message(),
        }
    }
}

/// Who pulls a lever, for the audit trail.
#[derive(Debug, Clone)]
pub struct Caller {
    pub origin: Origin,
    /// user@host (HTTP: token scope @ peer).
    pub actor: String,
}

impl Caller {
    /// This process's user at this host, from the console or the CLI.
    pub fn local(origin: Origin) -> Self {
        Self {
            origin,
            actor: crate::identity::actor(),
        }
    }
}

/// Refuse in a read-only session, validate, then run: the only way a lever
/// runs. Not audited (see [`pull`]).
pub async fn execute<L: Lever>(engine: &Arc<Engine>, lever: L) -> Result<L::Outcome, CommandError> {
    if engine.cfg.read_only && lever.changes_anything() {
        return Err(CommandError::ReadOnly(lever.describe()));
    }
    lever.validate()?;
    // A refusal found while running (an import's bad lines) stays a refusal.
    lever.run(engine).await.map_err(|e| {
        e.downcast::<CommandError>()
            .unwrap_or_else(CommandError::Failed)
    })
}

/// Pull a lever for `caller`, with its typed outcome: an audit line in the
/// log (the console's Logs panel, or `serve`'s stderr) and, when it changes
/// anything, an entry in the fleet's audit trail: who, from where, what,
/// before → after, result.
pub async fn pull<L: Lever>(
    engine: &Arc<Engine>,
    caller: &Caller,
    lever: L,
) -> Result<L::Outcome, CommandError> {
    let described = lever.describe();
    let audited = lever.changes_anything();
    // Held through the audit line, so the trail's order is the order the
    // changes took.
    let turn = match lever.serial() {
        true => Some(engine.lever_turn.lock().await),
        false => None,
    };
    if turn.is_some() {
        // "before" is what the store holds, not what this engine last read.
        engine.refresh_control().await;
    }
    let before = lever.view(engine);
    let result = execute(engine, lever.clone()).await;
    let outcome = match &result {
        Ok(o) => {
            let m = o.message();
            tracing::info!("operator: {described} → {m}");
            format!("ok: {m}")
        }
        Err(e @ (CommandError::Invalid(_) | CommandError::ReadOnly(_))) => {
            tracing::warn!("operator: {described} refused: {e}");
            format!("refused: {e}")
        }
        Err(e) => {
            tracing::warn!("operator: {described} failed: {e}");
            format!("failed: {e}")
        }
    };
    if audited {
        let entry = AuditEntry {
            at_ms: crate::clock::now_ms(),
            actor: caller.actor.clone(),
            origin: caller.origin,
            member_id: engine.member_id().to_string(),
            action: described,
            before,
            after: lever.view(engine),
            result: outcome,
        };
        if let Err(err) = engine.control.append_audit(&entry).await {
            tracing::warn!("audit entry not written: {err:#}");
        }
    }
    drop(turn);
    result
}

/// `(member id)` or `(fleet)`, for audit lines.
pub(crate) fn target(member: Option<&str>) -> String {
    match member {
        Some(m) => format!("(member {m})"),
        None => "(fleet)".into(),
    }
}

/// A member id as the operator typed it, checked.
pub(crate) fn check_member(member: Option<&str>) -> Result<(), CommandError> {
    match member {
        Some(m) if !crate::identity::valid_member_id(m) => invalid(format!(
            "member id must be 1..=128 of A-Z a-z 0-9 - _ . :, got {:?}",
            crate::sanitize::clean(m)
        )),
        _ => Ok(()),
    }
}

/// "yes" / "no" for the audit trail's views.
pub(crate) fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The registration list: `Variant => module::Type`, one line a lever.
macro_rules! levers {
    ($($variant:ident => $module:ident :: $ty:ident),* $(,)?) => {
        $(pub mod $module;)*
        $(pub use $module::$ty;)*

        /// A lever with its arguments, as the console's channel, the CLI and
        /// HTTP carry it.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Command {
            $($variant($module::$ty),)*
        }

        $(impl From<$module::$ty> for Command {
            fn from(l: $module::$ty) -> Self {
                Command::$variant(l)
            }
        })*

        /// Every lever's spec, in registration order.
        pub static SPECS: &[&Spec] = &[$(<$module::$ty as Lever>::SPEC,)*];

        impl Command {
            pub fn spec(&self) -> &'static Spec {
                match self {
                    $(Command::$variant(_) => <$module::$ty as Lever>::SPEC,)*
                }
            }
            pub fn describe(&self) -> String {
                match self {
                    $(Command::$variant(l) => l.describe(),)*
                }
            }
            /// Does it change anything (refused in a read-only session)?
            pub fn changes_anything(&self) -> bool {
                match self {
                    $(Command::$variant(l) => l.changes_anything(),)*
                }
            }
            pub fn validate(&self) -> Result<(), CommandError> {
                match self {
                    $(Command::$variant(l) => l.validate(),)*
                }
            }
            /// The state it touches, as the audit trail shows it.
            pub fn view(&self, engine: &Engine) -> String {
                match self {
                    $(Command::$variant(l) => l.view(engine),)*
                }
            }
        }

        impl Engine {
            /// [`execute`] for any lever (not audited: tests, tools).
            pub async fn execute(
                self: &Arc<Self>,
                cmd: Command,
            ) -> Result<CommandOutcome, CommandError> {
                match cmd {
                    $(Command::$variant(l) => execute(self, l).await.map(Into::into),)*
                }
            }
        }

        /// [`pull`] for any lever, with the outcome as the console sees it.
        pub async fn execute_logged(
            engine: &Arc<Engine>,
            caller: &Caller,
            cmd: Command,
        ) -> Result<CommandOutcome, CommandError> {
            match cmd {
                $(Command::$variant(l) => pull(engine, caller, l).await.map(Into::into),)*
            }
        }
    };
}

levers! {
    Run => run::Run,
    Pause => pause::Pause,
    SetConcurrency => concurrency::SetConcurrency,
    SetMaxRate => max_rate::SetMaxRate,
    Hold => hold::Hold,
    ReplayDlq => replay::ReplayDlq,
    StartRedrive => redrive::StartRedrive,
    ControlJob => job::ControlJob,
    ExportDlq => export::ExportDlq,
    ImportDlq => import::ImportDlq,
    EditReplay => edit::EditReplay,
    History => history::History,
    Trace => trace::Trace,
    PurgeDlq => purge::PurgeDlq,
    SetRollout => rollout::RolloutChange,
    Rollback => rollback::Rollback,
    Resume => resume::Resume,
    ResetBreaker => breaker_reset::ResetBreaker,
    Backfill => backfill::Backfill,
    LoadDlqEntry => dlq_entry::LoadDlqEntry,
    ResetOffsets => reset_offsets::ResetOffsets,
    InjectFaults => faults::InjectFaults,
    Doctor => doctor::Doctor,
}

pub use job::JobAction;
pub use max_rate::parse_rate;
