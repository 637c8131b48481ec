//! This console's own pause (the space key): fetching stops here only.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Pause;

impl Lever for Pause {
    const SPEC: &'static Spec = &Spec {
        name: "pause",
        scope: Scope::Control,
        help: "stop fetching in this process; waiting work goes back to the topic",
        cli: &[],
        palette: &["pause"],
        http: &[],
    };
    type Outcome = Done;

    fn serial(&self) -> bool {
        true
    }
    fn describe(&self) -> String {
        "pause".into()
    }
    fn view(&self, engine: &Engine) -> String {
        format!("paused here: {}", yes_no(engine.is_paused()))
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<Done> {
        engine.pause();
        Ok(done("consumption paused"))
    }
}
