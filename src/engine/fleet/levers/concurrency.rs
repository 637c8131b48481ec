//! MAX_CONCURRENT_ENRICHMENTS for the fleet (members with their own value
//! keep it) or for one member.

use serde::Deserialize;

use super::*;
use crate::engine::MAX_CONCURRENCY;

#[derive(Debug, Clone, PartialEq)]
pub struct SetConcurrency {
    pub n: usize,
    /// None: the fleet-wide default.
    pub member: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Body {
    n: Option<usize>,
    member: Option<String>,
}

fn from_http(a: &HttpArgs) -> Result<Command, Refusal> {
    let b: Body = a.body()?;
    let n = b
        .n
        .ok_or_else(|| Refusal::BadRequest("n: give the concurrency, {\"n\": N}".into()))?;
    Ok(SetConcurrency {
        n,
        member: b.member.or(a.member.clone()),
    }
    .into())
}

impl Lever for SetConcurrency {
    const SPEC: &'static Spec = &Spec {
        name: "concurrency",
        scope: Scope::Control,
        help: "enrichments at once, for the fleet or one member",
        cli: &["concurrency"],
        palette: &["concurrency"],
        http: &[Http {
            path: "/concurrency",
            body: "{\"n\": N, \"member\": ID}",
            parse: from_http,
        }],
    };
    type Outcome = Done;

    fn validate(&self) -> Result<(), CommandError> {
        if !(1..=MAX_CONCURRENCY).contains(&self.n) {
            return invalid(format!(
                "concurrency must be between 1 and {MAX_CONCURRENCY}, got {}",
                self.n
            ));
        }
        check_member(self.member.as_deref())
    }
    fn describe(&self) -> String {
        format!("concurrency {} {}", self.n, target(self.member.as_deref()))
    }
    fn view(&self, engine: &Engine) -> String {
        let state = engine.control_state();
        let shown = |n: Option<usize>| n.map_or("flag default".into(), |n| n.to_string());
        match &self.member {
            Some(m) => format!("member {m} concurrency: {}", shown(state.concurrency_for(m))),
            None => format!("fleet concurrency: {}", shown(state.concurrency)),
        }
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<Done> {
        engine.set_concurrency(self.n, self.member.as_deref()).await?;
        Ok(done(format!(
            "concurrency set to {} {}",
            self.n,
            target(self.member.as_deref())
        )))
    }
}
