//! Waiting for the pipeline to empty: nothing pending or processing, lag 0.
//! Also re-drives orphans: documents left pending with no message on the
//! topic (a crash between indexing and publishing).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::engine::pipeline::producer::{dispatch, request_for_record};
use crate::engine::telemetry::counts::Fresh;
use crate::engine::Engine;
use crate::events::Priority;
use crate::model::{total_counts, total_lag, PartitionLag, ProjectCounts, Status, Transition};

#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub counts: ProjectCounts,
    pub lag: Vec<PartitionLag>,
    pub in_flight: i64,
}

impl Progress {
    pub fn total(&self, s: Status) -> u64 {
        total_counts(&self.counts)[&s]
    }
    pub fn lag_total(&self) -> i64 {
        total_lag(&self.lag)
    }
    pub fn unfinished(&self) -> u64 {
        crate::model::unfinished(&total_counts(&self.counts))
    }
    /// Pending or processing in one project (None: in all).
    pub fn unfinished_in(&self, project: Option<&str>) -> u64 {
        match project {
            None => self.unfinished(),
            Some(p) => self.counts.get(p).map_or(0, crate::model::unfinished),
        }
    }
}

pub async fn progress(engine: &Engine) -> Result<Progress> {
    progress_counted(engine, |_, _| Fresh::Now).await
}

/// `progress` for a poll: the counts are read afresh only when
/// `fresh(lag, in_flight)` says so, else at their pace (`telemetry::counts`).
async fn progress_counted(
    engine: &Engine,
    fresh: impl FnOnce(i64, i64) -> Fresh,
) -> Result<Progress> {
    let lag = engine
        .backends
        .broker
        .lag(&engine.cfg.group_id, &engine.cfg.enrich_topic)
        .await?;
    let in_flight = engine
        .stats
        .in_flight
        .load(std::sync::atomic::Ordering::Relaxed);
    let want = fresh(total_lag(&lag), in_flight);
    Ok(Progress {
        counts: engine.counts.read(&*engine.backends.graph, want).await?,
        lag,
        in_flight,
    })
}

/// Re-drive documents that are pending (or stuck processing) with nothing
/// on the topic for them, in one project or all.
async fn redrive_orphans(engine: &Arc<Engine>, project: Option<&str>) -> Result<u64> {
    let graph = &engine.backends.graph;
    let project = project.map(str::to_string);
    loop {
        let stuck = graph
            .documents_with_status(Status::Processing, project.clone(), None, 500)
            .await?;
        if stuck.is_empty() {
            break;
        }
        graph
            .transition(
                stuck.into_iter().map(|d| d.entity_id).collect(),
                Transition::HandBack,
            )
            .await?;
    }
    let mut after = None;
    let mut n = 0;
    loop {
        let docs = engine
            .backends
            .graph
            .documents_with_status(Status::Pending, project.clone(), after.clone(), 500)
            .await?;
        let Some(last) = docs.last() else { break };
        after = Some(last.entity_id.clone());
        n += docs.len() as u64;
        dispatch(
            engine,
            docs.iter()
                .map(|d| request_for_record(d, Priority::Low))
                .collect(),
        )
        .await?;
    }
    Ok(n)
}

/// Wait until drained (Ok(true)) or until `timeout` (Ok(false)), calling
/// `tick` about ten times a second. The consumer must be running.
pub async fn wait_drained(
    engine: &Arc<Engine>,
    timeout: Option<Duration>,
    tick: &(dyn Fn(&Progress) + Sync),
) -> Result<bool> {
    wait_drained_in(engine, None, timeout, tick).await
}

/// `wait_drained` for one project's documents: with a graph shared by other
/// projects and engines, theirs are not this caller's to wait for or re-drive.
pub async fn wait_drained_in(
    engine: &Arc<Engine>,
    project: Option<&str>,
    timeout: Option<Duration>,
    tick: &(dyn Fn(&Progress) + Sync),
) -> Result<bool> {
    let started = Instant::now();
    let mut settled = engine.settled.subscribe();
    let mut idle_with_orphans = 0;
    let mut warned: Option<Instant> = None;
    loop {
        // A broker or graph failover (a leader or the group coordinator
        // gone) makes a look fail for a while: wait it out, until the timeout.
        // The counts shown are read at their pace; only a quiet pipeline
        // can be drained, and that is decided from a fresh count of the
        // unfinished documents (on the status index, not every document).
        let looked = match progress_counted(engine, |_, _| Fresh::Paced).await {
            Ok(p) if p.lag_total() == 0 && p.in_flight == 0 => engine
                .backends
                .graph
                .unfinished_count(project.map(str::to_string))
                .await
                .map(|n| (p, Some(n))),
            other => other.map(|p| (p, None)),
        };
        let (p, unfinished_now) = match looked {
            Ok(p) => p,
            Err(e) => {
                if timeout.is_some_and(|t| started.elapsed() >= t) {
                    return Err(e.context("cannot read progress"));
                }
                if warned.is_none_or(|at| at.elapsed() > Duration::from_secs(5)) {
                    tracing::warn!("cannot read progress (retrying): {e:#}");
                    warned = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        tick(&p);
        let quiet = unfinished_now.is_some();
        if unfinished_now == Some(0) {
            return Ok(true);
        }
        // Pending work but nothing queued or running, a few ticks in a row.
        if quiet && !engine.is_paused() {
            idle_with_orphans += 1;
            if idle_with_orphans >= 3 {
                let n = redrive_orphans(engine, project).await?;
                if n > 0 {
                    tracing::info!(
                        "re-drove {n} pending documents that had no request on the topic"
                    );
                }
                idle_with_orphans = 0;
            }
        } else {
            idle_with_orphans = 0;
        }
        if timeout.is_some_and(|t| started.elapsed() >= t) {
            return Ok(false);
        }
        // The next tick, or at once when this process's consumer has
        // committed all it fetched (the end of a drain, not a tick later).
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {},
            _ = settled.changed() => {},
        }
    }
}
