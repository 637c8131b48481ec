//! This console's own run (the space key after a pause).

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Run;

impl Lever for Run {
    const SPEC: &'static Spec = &Spec {
        name: "run",
        scope: Scope::Control,
        help: "start fetching again in this process (the console's space key)",
        cli: &[],
        palette: &["run"],
        http: &[],
    };
    type Outcome = Done;

    fn serial(&self) -> bool {
        true
    }
    fn describe(&self) -> String {
        "run".into()
    }
    fn view(&self, engine: &Engine) -> String {
        format!("paused here: {}", yes_no(engine.is_paused()))
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<Done> {
        engine.resume();
        Ok(done("consumption running"))
    }
}
