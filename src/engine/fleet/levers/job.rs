//! Pause, resume, cancel or re-rate a redrive job.

use serde::Deserialize;

use super::redrive::check_rate;
use super::*;
use crate::engine::dlq::redrive::JobView;

#[derive(Debug, Clone, PartialEq)]
pub struct ControlJob {
    pub id: String,
    pub action: JobAction,
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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RateBody {
    rate: Option<f64>,
}

/// POST /jobs/ID/pause | resume | cancel, or /jobs/ID/rate {"rate": N}.
fn from_http(a: &HttpArgs) -> Result<Command, Refusal> {
    let (id, action) = match a.path.as_slice() {
        [id, action] => (id.clone(), action.as_str()),
        _ => return Err(Refusal::NotFound("give /jobs/ID/ACTION".into())),
    };
    let action = match action {
        "pause" => JobAction::Pause,
        "resume" => JobAction::Resume,
        "cancel" => JobAction::Cancel,
        "rate" => match a.body::<RateBody>()?.rate {
            Some(r) => JobAction::Rate(r),
            None => return Err(Refusal::BadRequest("rate: give {\"rate\": N}".into())),
        },
        other => {
            return Err(Refusal::NotFound(format!(
                "no job action {:?}: pause, resume, cancel or rate",
                crate::sanitize::clean(other)
            )))
        }
    };
    if a.engine.job(&id).is_none() {
        return Err(Refusal::NotFound(format!(
            "no redrive job {:?}",
            crate::sanitize::clean(&id)
        )));
    }
    Ok(ControlJob { id, action }.into())
}

impl Lever for ControlJob {
    const SPEC: &'static Spec = &Spec {
        name: "job",
        scope: Scope::Control,
        help: "pause, resume, cancel or re-rate a redrive job",
        cli: &["jobs pause", "jobs resume", "jobs cancel", "jobs rate"],
        palette: &["job"],
        http: &[Http {
            path: "/jobs/{id}/{action}",
            body: "(pause | resume | cancel; rate: {\"rate\": N})",
            parse: from_http,
        }],
    };
    type Outcome = JobView;

    fn validate(&self) -> Result<(), CommandError> {
        match self.action {
            JobAction::Rate(r) => check_rate(r),
            _ => Ok(()),
        }
    }
    fn describe(&self) -> String {
        format!("redrive {}: {}", self.id, self.action.describe())
    }
    fn view(&self, engine: &Engine) -> String {
        match engine.job(&self.id) {
            Some(j) => format!("{} at {}/s", j.phase.as_str(), j.rate),
            None => "no such job".into(),
        }
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<JobView> {
        let action = self.action;
        engine
            .control_job(&self.id, |c| match action {
                JobAction::Pause => c.paused = true,
                JobAction::Resume => c.paused = false,
                JobAction::Cancel => c.cancelled = true,
                JobAction::Rate(r) => c.rate = Some(r),
            })
            .await
    }
}
