//! Hold or release consumption: the whole fleet (the kill switch is left
//! alone) or one member.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Hold {
    /// None: the fleet.
    pub member: Option<String>,
    /// false: release.
    pub held: bool,
}

/// POST /pause: hold the fleet, or one member (`?member=ID`).
fn from_http(a: &HttpArgs) -> Result<Command, Refusal> {
    Ok(Hold {
        member: a.member.clone(),
        held: true,
    }
    .into())
}

impl Lever for Hold {
    const SPEC: &'static Spec = &Spec {
        name: "hold",
        scope: Scope::Control,
        help: "hold / release the fleet or one member (the kill switch is left alone)",
        cli: &["hold", "release"],
        palette: &["hold", "release"],
        http: &[Http {
            path: "/pause",
            body: "(none; ?member=ID holds one member)",
            parse: from_http,
        }],
    };
    type Outcome = Done;

    fn serial(&self) -> bool {
        true
    }
    fn validate(&self) -> Result<(), CommandError> {
        check_member(self.member.as_deref())
    }
    fn describe(&self) -> String {
        format!(
            "{} {}",
            if self.held { "hold" } else { "release" },
            target(self.member.as_deref())
        )
    }
    fn view(&self, engine: &Engine) -> String {
        let state = engine.control_state();
        match &self.member {
            Some(m) => format!("member {m} held: {}", yes_no(state.member(m).held)),
            None => format!("fleet held: {}", yes_no(state.held)),
        }
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<Done> {
        match (&self.member, self.held) {
            (Some(m), held) => engine.hold_member(m, held).await?,
            (None, true) => engine.hold().await?,
            (None, false) => engine.release().await?,
        }
        Ok(done(format!(
            "{} {}",
            if self.held { "held" } else { "released" },
            target(self.member.as_deref())
        )))
    }
}
