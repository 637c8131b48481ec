//! Undo a rollback: kill switch on and the fleet-wide hold lifted.

use super::hold::Hold;
use super::rollout::rollout_view;
use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Resume;

/// POST /resume: undo what stopped consumption: one member's hold
/// (`?member=ID`), a rollback (kill switch back on, like `archon-tui
/// resume`), or a hold.
fn from_http(a: &HttpArgs) -> Result<Command, Refusal> {
    Ok(match &a.member {
        Some(m) => Hold {
            member: Some(m.clone()),
            held: false,
        }
        .into(),
        None if a.engine.control_state().held && !a.engine.rollout().enabled => Resume.into(),
        None => Hold {
            member: None,
            held: false,
        }
        .into(),
    })
}

impl Lever for Resume {
    const SPEC: &'static Spec = &Spec {
        name: "resume",
        scope: Scope::Control,
        help: "undo a rollback (kill switch on, consumption resumes) or lift a hold",
        cli: &["resume"],
        palette: &["resume"],
        http: &[Http {
            path: "/resume",
            body: "(none; ?member=ID releases one member)",
            parse: from_http,
        }],
    };
    type Outcome = Done;

    fn serial(&self) -> bool {
        true
    }
    fn describe(&self) -> String {
        "resume".into()
    }
    fn view(&self, engine: &Engine) -> String {
        rollout_view(engine)
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<Done> {
        let mut r = engine.rollout();
        r.enabled = true;
        engine.set_rollout(r).await?;
        engine.release().await?;
        Ok(done("async enrichment on, consumption running"))
    }
}
