//! Put DLQ entries back into the pipeline at once (documents go back to
//! pending). With a rate, HTTP starts a redrive job instead (`redrive.rs`).

use serde::Deserialize;

use super::redrive::StartRedrive;
use super::*;
use crate::engine::dlq::{self, DlqFilter, ReplayReport};

#[derive(Debug, Clone, PartialEq)]
pub struct ReplayDlq {
    pub filter: DlqFilter,
    pub dry_run: bool,
    /// Replaying every entry (no filter) must be confirmed.
    pub confirmed: bool,
    /// Also replay entries already replayed `max_replays` times (the loop
    /// guard skips them otherwise).
    pub force: bool,
}

/// A DLQ filter as the console's `/` text ("type:Timeout project:web") or
/// as fields.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum FilterSpec {
    Text(String),
    Fields(DlqFilter),
}

/// The filter, or why it is not one (a 400).
pub(super) fn filter_of(spec: Option<FilterSpec>) -> Result<DlqFilter, Refusal> {
    match spec {
        None => Ok(DlqFilter::default()),
        Some(FilterSpec::Text(t)) => {
            DlqFilter::parse(&t).map_err(|e| Refusal::BadRequest(format!("filter: {e}")))
        }
        Some(FilterSpec::Fields(f)) => Ok(f),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Body {
    filter: Option<FilterSpec>,
    #[serde(default)]
    dry_run: bool,
    /// Required to replay every entry (no filter), as on the CLI.
    #[serde(default)]
    confirm: bool,
    /// Past the loop guard, as the CLI's --force.
    #[serde(default)]
    force: bool,
    /// Entries a second: replay as a redrive job (see GET /jobs).
    rate: Option<f64>,
}

fn from_http(a: &HttpArgs) -> Result<Command, Refusal> {
    let b: Body = a.body()?;
    let filter = filter_of(b.filter)?;
    Ok(match b.rate {
        Some(rate) if !b.dry_run => StartRedrive {
            filter,
            rate,
            force: b.force,
            confirmed: b.confirm,
            actor: a.actor.clone(),
        }
        .into(),
        _ => ReplayDlq {
            filter,
            dry_run: b.dry_run,
            confirmed: b.confirm,
            force: b.force,
        }
        .into(),
    })
}

impl Lever for ReplayDlq {
    const SPEC: &'static Spec = &Spec {
        name: "replay",
        scope: Scope::Control,
        help: "replay the filtered / every DLQ entry; with a rate, as a redrive job",
        cli: &["dlq replay"],
        palette: &["replay"],
        http: &[Http {
            path: "/dlq/replay",
            body: "{\"filter\": \"type:Timeout\", \"dry_run\": true, \"rate\": N}",
            parse: from_http,
        }],
    };
    type Outcome = ReplayReport;

    fn changes_anything(&self) -> bool {
        !self.dry_run
    }
    fn validate(&self) -> Result<(), CommandError> {
        if self.filter.is_empty() && !self.dry_run && !self.confirmed {
            return invalid(
                "no filter: this replays every DLQ entry; confirm it (CLI --confirm, HTTP \"confirm\": true) \
                 or preview it with a dry run",
            );
        }
        Ok(())
    }
    fn describe(&self) -> String {
        format!(
            "replay DLQ{}{} {}",
            if self.dry_run { " (dry run)" } else { "" },
            if self.force { " (force)" } else { "" },
            self.filter.describe()
        )
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<ReplayReport> {
        let entries = dlq::load_matching(engine, &self.filter).await?;
        dlq::replay(engine, &entries, self.dry_run, self.force).await
    }
}

impl Outcome for ReplayReport {
    fn message(&self) -> String {
        format!(
            "{} {} entries",
            if self.dry_run {
                "would replay"
            } else {
                "replayed"
            },
            self.replayed
        )
    }
}

impl From<ReplayReport> for CommandOutcome {
    fn from(r: ReplayReport) -> Self {
        CommandOutcome::Replay(r)
    }
}
