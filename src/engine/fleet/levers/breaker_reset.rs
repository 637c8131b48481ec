//! Force the circuit breaker CLOSED in every member of the fleet, or in one.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct ResetBreaker {
    /// None: every member.
    pub member: Option<String>,
}

impl Lever for ResetBreaker {
    const SPEC: &'static Spec = &Spec {
        name: "breaker-reset",
        scope: Scope::Control,
        help: "force the circuit breaker CLOSED, fleet-wide or in one member",
        cli: &["breaker reset"],
        palette: &["reset"],
        http: &[Http {
            path: "/circuit_breaker/reset",
            body: "(none; ?member=ID resets one member)",
            parse: |a| {
                Ok(ResetBreaker {
                    member: a.member.clone(),
                }
                .into())
            },
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
        format!("reset breaker {}", target(self.member.as_deref()))
    }
    fn view(&self, engine: &Engine) -> String {
        match &self.member {
            Some(m) => format!(
                "member {m} resets: {}",
                engine.control_state().member(m).breaker_reset_seq
            ),
            None => format!("breaker here: {}", engine.breaker.state().as_str()),
        }
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<Done> {
        engine.reset_breaker(self.member.as_deref()).await?;
        Ok(done(format!(
            "circuit breaker reset to CLOSED {}",
            target(self.member.as_deref())
        )))
    }
}
