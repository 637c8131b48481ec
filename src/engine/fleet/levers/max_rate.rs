//! MAX_PROCESSING_RATE: messages a second each member takes from the broker.

use serde::Deserialize;

use super::*;
use crate::engine::resilience::rate::{is_valid_rate, MAX_RATE};

#[derive(Debug, Clone, PartialEq)]
pub struct SetMaxRate {
    /// None: no limit.
    pub per_sec: Option<f64>,
}

/// `N` messages a second, or `off` / `none` / `0` for no limit.
pub fn parse_rate(s: &str) -> Result<Option<f64>, CommandError> {
    match s.trim() {
        "off" | "none" | "0" => Ok(None),
        t => t.parse::<f64>().map(Some).map_err(|_| {
            CommandError::Invalid(format!(
                "rate must be a number of messages a second or `off`, got {t:?}"
            ))
        }),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Body {
    per_sec: Option<f64>,
}

fn from_http(a: &HttpArgs) -> Result<Command, Refusal> {
    let b: Body = a.body()?;
    Ok(SetMaxRate { per_sec: b.per_sec }.into())
}

impl Lever for SetMaxRate {
    const SPEC: &'static Spec = &Spec {
        name: "rate",
        scope: Scope::Control,
        help: "MAX_PROCESSING_RATE: messages a second per member, or off",
        cli: &["rate"],
        palette: &["rate"],
        http: &[Http {
            path: "/rate",
            body: "{\"per_sec\": N} (null: no limit)",
            parse: from_http,
        }],
    };
    type Outcome = Done;

    fn serial(&self) -> bool {
        true
    }
    fn validate(&self) -> Result<(), CommandError> {
        match self.per_sec {
            Some(r) if !is_valid_rate(r) => invalid(format!(
                "max rate must be more than 0 and at most {MAX_RATE} messages a second, got {r}"
            )),
            _ => Ok(()),
        }
    }
    fn describe(&self) -> String {
        match self.per_sec {
            Some(r) => format!("max rate {r}/s"),
            None => "max rate off".into(),
        }
    }
    fn view(&self, engine: &Engine) -> String {
        match engine.rate.get() {
            Some(r) => format!("max rate {r}/s"),
            None => "no rate limit".into(),
        }
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<Done> {
        engine.set_max_rate(self.per_sec).await?;
        Ok(done(match self.per_sec {
            Some(r) => format!("at most {r} messages a second per member"),
            None => "no rate limit".into(),
        }))
    }
}
