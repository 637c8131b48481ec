//! MAX_CONCURRENT_ENRICHMENTS for the fleet (members with their own value
//! keep it) or for one member.

use serde::Deserialize;

use super::*;
use crate::engine::fleet::control::ControlChange;
use crate::engine::MAX_CONCURRENCY;

#[derive(Debug, Clone, PartialEq)]
pub struct SetConcurrency {
    /// The new value (unless `nudge` is given).
    pub n: usize,
    /// None: the fleet-wide default.
    pub member: Option<String>,
    /// A step from the value stored when the lever runs: the console's +/-.
    pub nudge: Option<Nudge>,
}

/// One step up or down: 5 at a time above 10, else 1 (never below 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nudge {
    Up,
    Down,
}

impl Nudge {
    pub fn apply(self, cur: usize) -> usize {
        match self {
            Nudge::Down => cur.saturating_sub(if cur > 10 { 5 } else { 1 }).max(1),
            Nudge::Up => (cur + if cur >= 10 { 5 } else { 1 }).min(MAX_CONCURRENCY),
        }
    }
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
        nudge: None,
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

    fn serial(&self) -> bool {
        true
    }
    fn validate(&self) -> Result<(), CommandError> {
        if self.nudge.is_none() && !(1..=MAX_CONCURRENCY).contains(&self.n) {
            return invalid(format!(
                "concurrency must be between 1 and {MAX_CONCURRENCY}, got {}",
                self.n
            ));
        }
        check_member(self.member.as_deref())
    }
    fn describe(&self) -> String {
        let what = match self.nudge {
            None => self.n.to_string(),
            Some(Nudge::Up) => "up".into(),
            Some(Nudge::Down) => "down".into(),
        };
        format!("concurrency {what} {}", target(self.member.as_deref()))
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
        // A nudge starts from the stored value, else from what the member
        // last reported running, else from this engine's own.
        let reported = match (&self.member, self.nudge) {
            (Some(m), Some(_)) => engine
                .members()
                .await?
                .into_iter()
                .find(|s| &s.member_id == m)
                .map(|s| s.concurrency),
            _ => None,
        };
        let here = engine.limit.get();
        let changed = engine
            .change_control(|s| {
                let current = match &self.member {
                    Some(m) => s.concurrency_for(m).or(reported).unwrap_or(here),
                    None => s.concurrency.unwrap_or(here),
                };
                let n = self.nudge.map_or(self.n, |d| d.apply(current));
                Ok(Some(match &self.member {
                    None => ControlChange::Concurrency(Some(n)),
                    Some(id) => {
                        let mut m = s.member(id);
                        m.concurrency = Some(n);
                        ControlChange::Member(id.clone(), m)
                    }
                }))
            })
            .await?;
        let n = match changed {
            Some(ControlChange::Concurrency(Some(n))) => n,
            Some(ControlChange::Member(_, m)) => m.concurrency.unwrap_or(self.n),
            _ => self.n,
        };
        Ok(done(format!(
            "concurrency set to {n} {}",
            target(self.member.as_deref())
        )))
    }
}
