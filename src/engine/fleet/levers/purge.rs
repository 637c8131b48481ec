//! Drop DLQ entries for good (documents become `failed`, reason kept):
//! always confirmed, admin scope over HTTP.

use serde::{Deserialize, Serialize};

use super::replay::{filter_of, FilterSpec};
use super::*;
use crate::engine::dlq::{self, DlqFilter};

#[derive(Debug, Clone, PartialEq)]
pub struct PurgeDlq {
    pub filter: DlqFilter,
    pub confirmed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Purged {
    pub purged: u64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Body {
    filter: Option<FilterSpec>,
    #[serde(default)]
    confirm: bool,
}

fn from_http(a: &HttpArgs) -> Result<Command, Refusal> {
    let b: Body = a.body()?;
    Ok(PurgeDlq {
        filter: filter_of(b.filter)?,
        confirmed: b.confirm,
    }
    .into())
}

impl Lever for PurgeDlq {
    const SPEC: &'static Spec = &Spec {
        name: "purge",
        scope: Scope::Admin,
        help: "drop the filtered / every DLQ entry for good (confirm)",
        cli: &["dlq purge"],
        palette: &["purge"],
        http: &[Http {
            path: "/dlq/purge",
            body: "{\"filter\": \"type:T\", \"confirm\": true}",
            parse: from_http,
        }],
    };
    type Outcome = Purged;

    fn validate(&self) -> Result<(), CommandError> {
        if !self.confirmed {
            return invalid("purging drops DLQ entries for good; confirm it (CLI --confirm)");
        }
        Ok(())
    }
    fn describe(&self) -> String {
        format!("purge DLQ {}", self.filter.describe())
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<Purged> {
        let entries = dlq::load_matching(engine, &self.filter).await?;
        Ok(Purged {
            purged: dlq::purge(engine, &entries).await?,
        })
    }
}

impl Outcome for Purged {
    fn message(&self) -> String {
        format!("purged {} entries", self.purged)
    }
}

impl From<Purged> for CommandOutcome {
    fn from(p: Purged) -> Self {
        CommandOutcome::Purged { purged: p.purged }
    }
}
