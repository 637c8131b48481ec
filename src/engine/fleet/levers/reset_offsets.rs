//! Move the consumer group's committed offsets on the request topic (seed
//! 004 Procedure 2, `engine::fleet::group_reset`): a dry run previews; otherwise
//! the group id must be typed. Admin scope over HTTP.

use serde::Deserialize;

use super::*;
use crate::engine::fleet::group_reset::{ResetReport, ResetTarget};

#[derive(Debug, Clone, PartialEq)]
pub struct ResetOffsets {
    pub target: ResetTarget,
    /// None: every partition.
    pub partitions: Option<Vec<i32>>,
    pub dry_run: bool,
    /// The consumer group id, typed.
    pub confirm: Option<String>,
    pub actor: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Body {
    /// earliest | latest | offset | time
    to: String,
    #[serde(default)]
    offset: Option<i64>,
    /// RFC 3339, or epoch milliseconds as a string.
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    partitions: Option<Vec<i32>>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    confirm: Option<String>,
}

/// Without `confirm` only a dry run is allowed (the run refuses it).
fn from_http(a: &HttpArgs) -> Result<Command, Refusal> {
    let b: Body = a.body()?;
    let mut words = vec![b.to.as_str()];
    let offset = b.offset.map(|o| o.to_string());
    if let Some(o) = &offset {
        words.push(o);
    }
    if let Some(t) = &b.time {
        words.push(t);
    }
    Ok(ResetOffsets {
        target: ResetTarget::parse(&words).map_err(Refusal::BadRequest)?,
        partitions: b.partitions,
        dry_run: b.dry_run,
        confirm: b.confirm,
        actor: a.actor.clone(),
    }
    .into())
}

impl Lever for ResetOffsets {
    const SPEC: &'static Spec = &Spec {
        name: "offsets-reset",
        scope: Scope::Admin,
        help: "reset the group's offsets to earliest|latest|offset N|time T (preview, type the group id)",
        cli: &["offsets reset"],
        palette: &["seek"],
        http: &[Http {
            path: "/offsets/reset",
            body: "{\"to\": \"time\", \"time\": \"2026-12-01T10:00:00Z\", \"dry_run\": true} (run: \"confirm\": GROUP)",
            parse: from_http,
        }],
    };
    type Outcome = ResetReport;

    fn changes_anything(&self) -> bool {
        !self.dry_run
    }
    fn validate(&self) -> Result<(), CommandError> {
        match &self.partitions {
            Some(p) if p.is_empty() || p.iter().any(|p| *p < 0) => {
                invalid("partitions: give partition numbers (0, 1, …) or leave them out for all")
            }
            _ => Ok(()),
        }
    }
    fn describe(&self) -> String {
        format!(
            "reset consumer group offsets to {}{}{}",
            self.target.describe(),
            match &self.partitions {
                Some(p) => format!(" (partitions {p:?})"),
                None => " (all partitions)".into(),
            },
            if self.dry_run { " (dry run)" } else { "" }
        )
    }
    fn view(&self, engine: &Engine) -> String {
        match &engine.control_state().reset {
            Some(r) => format!(
                "last reset #{}: {} {:?}",
                r.seq,
                r.target.describe(),
                r.phase
            ),
            None => "no reset yet".into(),
        }
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<ResetReport> {
        engine
            .reset_offsets(
                self.target,
                self.partitions,
                self.dry_run,
                self.confirm.as_deref(),
                &self.actor,
            )
            .await
    }
}

impl Outcome for ResetReport {
    fn message(&self) -> String {
        format!(
            "{} {} to {}: committed {}; lag {} → {}{}",
            if self.dry_run { "would move" } else { "moved" },
            self.group,
            self.target.describe(),
            self.moves
                .iter()
                .map(|m| format!("{}:{}→{}", m.partition, m.committed, m.new_offset))
                .collect::<Vec<_>>()
                .join(" "),
            self.lag_before(),
            self.lag_after(),
            if self.dry_run {
                String::new()
            } else {
                format!(
                    " ({} member(s) left and rejoined; {} ms)",
                    self.members.len(),
                    self.waited_ms
                )
            }
        )
    }
}

impl From<ResetReport> for CommandOutcome {
    fn from(r: ResetReport) -> Self {
        CommandOutcome::Reset(Box::new(r))
    }
}
