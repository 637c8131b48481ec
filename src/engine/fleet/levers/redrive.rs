//! Replay as a background job at a rate (see `engine::dlq::redrive`): progress,
//! pause / resume / cancel (`job.rs`), resumable after a crash.

use super::*;
use crate::engine::dlq::DlqFilter;
use crate::engine::resilience::rate::{is_valid_rate, MAX_RATE};
use crate::engine::dlq::redrive::JobView;

#[derive(Debug, Clone, PartialEq)]
pub struct StartRedrive {
    pub filter: DlqFilter,
    /// Entries a second.
    pub rate: f64,
    pub force: bool,
    /// No filter must be confirmed, as for `ReplayDlq`.
    pub confirmed: bool,
    /// Who asked (user@host, or the HTTP token's name @ peer).
    pub actor: String,
}

/// A redrive rate, checked (also a job's new rate).
pub(super) fn check_rate(r: f64) -> Result<(), CommandError> {
    if !is_valid_rate(r) {
        return invalid(format!(
            "redrive rate must be more than 0 and at most {MAX_RATE} entries a second, got {r}"
        ));
    }
    Ok(())
}

impl Lever for StartRedrive {
    const SPEC: &'static Spec = &Spec {
        name: "redrive",
        scope: Scope::Control,
        help: "replay the filtered DLQ entries as a job at N a second (POST /dlq/replay with a rate)",
        cli: &["dlq replay"],
        palette: &[],
        http: &[],
    };
    type Outcome = JobView;

    fn validate(&self) -> Result<(), CommandError> {
        if self.filter.is_empty() && !self.confirmed {
            return invalid(
                "no filter: this redrives every DLQ entry; confirm it (CLI --confirm, HTTP \"confirm\": true) \
                 or preview it with a dry run",
            );
        }
        check_rate(self.rate)
    }
    fn describe(&self) -> String {
        format!(
            "redrive DLQ at {}/s{} {}",
            self.rate,
            if self.force { " (force)" } else { "" },
            self.filter.describe()
        )
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<JobView> {
        engine
            .start_redrive(self.filter, self.rate, self.force, &self.actor)
            .await
    }
}

impl Outcome for JobView {
    fn message(&self) -> String {
        self.line()
    }
}

impl From<JobView> for CommandOutcome {
    fn from(j: JobView) -> Self {
        CommandOutcome::Job(Box::new(j))
    }
}
