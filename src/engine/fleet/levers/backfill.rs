//! Re-drive documents still pending or never enriched (`failed`), by
//! publishing them (async) or enriching them here (`sync`), at most `rate`
//! documents a second.

use std::time::{Duration, Instant};

use anyhow::ensure;
use serde::{Deserialize, Serialize};

use super::*;
use crate::engine::pipeline::producer::{dispatch, publish, request_for_record};
use crate::events::Priority;
use crate::model::{Status, Transition};

#[derive(Debug, Clone, PartialEq)]
pub struct Backfill {
    /// None: every project.
    pub project: Option<String>,
    /// Documents a second (None: as fast as it goes).
    pub rate: Option<f64>,
    /// Enrich here and now instead of publishing.
    pub sync: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct BackfillReport {
    pub selected: u64,
    pub published: u64,
    pub enriched_sync: u64,
    pub elapsed_ms: u64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Body {
    project: Option<String>,
    rate: Option<f64>,
}

/// Documents a backfill reads and publishes at a time (fewer at a low rate).
const CHUNK: usize = 500;

impl Lever for Backfill {
    const SPEC: &'static Spec = &Spec {
        name: "backfill",
        scope: Scope::Control,
        help: "re-drive pending documents (publish them, or enrich them here: sync)",
        cli: &["backfill"],
        palette: &["backfill"],
        http: &[Http {
            path: "/backfill",
            body: "{\"project\": P, \"rate\": R}",
            parse: |a| {
                let b: Body = a.body()?;
                Ok(Backfill {
                    project: b.project,
                    rate: b.rate,
                    sync: false,
                }
                .into())
            },
        }],
    };
    type Outcome = BackfillReport;

    fn validate(&self) -> Result<(), CommandError> {
        match self.rate {
            Some(r) if !(r.is_finite() && r > 0.0) => {
                invalid("rate must be a positive number of documents per second")
            }
            _ => Ok(()),
        }
    }
    fn describe(&self) -> String {
        format!(
            "backfill project={:?} rate={:?} sync={}",
            self.project, self.rate, self.sync
        )
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<BackfillReport> {
        backfill(engine, self.project, self.rate, self.sync, &|_, _| {}).await
    }
}

/// The backfill itself, with progress (selected so far, of all) for the CLI.
pub async fn backfill(
    engine: &Arc<Engine>,
    project: Option<String>,
    rate: Option<f64>,
    sync: bool,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<BackfillReport> {
    if let Some(r) = rate {
        ensure!(
            r.is_finite() && r > 0.0,
            "rate must be a positive number of documents per second"
        );
    }
    let started = Instant::now();
    let counts = engine.backends.graph.counts().await?;
    let total: u64 = counts
        .iter()
        .filter(|(name, _)| project.as_ref().is_none_or(|p| p == *name))
        .map(|(_, c)| {
            c.get(&Status::Pending).copied().unwrap_or(0)
                + c.get(&Status::Failed).copied().unwrap_or(0)
        })
        .sum();
    let mut report = BackfillReport::default();
    let chunk = rate
        .map(|r| (r.ceil() as usize).clamp(1, CHUNK))
        .unwrap_or(CHUNK);
    for status in [Status::Pending, Status::Failed] {
        let mut after = None;
        loop {
            if engine.stopping() {
                return Ok(report);
            }
            let docs = engine
                .backends
                .graph
                .documents_with_status(status, project.clone(), after.clone(), chunk)
                .await?;
            let Some(last) = docs.last() else { break };
            after = Some(last.entity_id.clone());
            let batch_started = Instant::now();
            let requests: Vec<_> = docs
                .iter()
                .map(|d| request_for_record(d, Priority::Low))
                .collect();
            let n = requests.len() as u64;
            report.selected += n;
            if status == Status::Failed {
                let ids = docs.iter().map(|d| d.entity_id.clone()).collect();
                engine
                    .backends
                    .graph
                    .transition(ids, Transition::HandBack)
                    .await?;
            }
            if sync {
                report.enriched_sync +=
                    crate::engine::pipeline::producer::enrich_inline(engine, requests).await?;
            } else {
                let (published, enriched) = dispatch_async(engine, requests).await?;
                report.published += published;
                report.enriched_sync += enriched;
            }
            progress(report.selected, total);
            if let Some(r) = rate {
                let due = Duration::from_secs_f64(n as f64 / r);
                if let Some(wait) = due.checked_sub(batch_started.elapsed()) {
                    engine.sleep_or_stop(wait).await;
                }
            }
        }
    }
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Publish regardless of the rollout (backfill without --sync is an explicit
/// request for the async path), unless the kill switch is off.
async fn dispatch_async(
    engine: &Arc<Engine>,
    requests: Vec<crate::events::EnrichmentRequest>,
) -> Result<(u64, u64)> {
    if !engine.rollout().enabled {
        return dispatch(engine, requests).await;
    }
    Ok((publish(engine, &requests).await?, 0))
}

impl Outcome for BackfillReport {
    fn message(&self) -> String {
        format!(
            "{} selected, {} published, {} enriched in {} ms",
            self.selected, self.published, self.enriched_sync, self.elapsed_ms
        )
    }
}

impl From<BackfillReport> for CommandOutcome {
    fn from(r: BackfillReport) -> Self {
        CommandOutcome::Backfill(r)
    }
}
