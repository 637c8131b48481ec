//! The seeds' emergency rollback as one action: kill switch off (new
//! documents take the sync path), consumption held in every member of the
//! fleet, waiting work handed back to the topic. Measured until every live
//! member reports the hold with nothing in flight.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::rollout::rollout_view;
use super::*;
use crate::engine::pipeline::drain;

#[derive(Debug, Clone, PartialEq)]
pub struct Rollback;

#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    /// From the command to: kill switch off, consumer paused, nothing in flight.
    pub effective_ms: u64,
    /// Members reporting the hold with nothing in flight, of those alive.
    pub members_confirmed: usize,
    pub members_total: usize,
    /// When the last member confirmed (None: not all did within the wait).
    pub confirmed_ms: Option<u64>,
    pub pending: u64,
    pub in_flight: i64,
    pub next_step: String,
}

/// How long a rollback waits for every live member to confirm the hold.
const CONFIRM_WITHIN: Duration = Duration::from_secs(30);
/// How often it looks at the members' reports meanwhile.
const CONFIRM_POLL: Duration = Duration::from_millis(10);

impl Lever for Rollback {
    const SPEC: &'static Spec = &Spec {
        name: "rollback",
        scope: Scope::Control,
        help: "emergency rollback: kill switch off, the fleet held, in-flight work returned",
        cli: &["rollback"],
        palette: &["rollback"],
        http: &[Http {
            path: "/rollback",
            body: "(none)",
            parse: |_| Ok(Rollback.into()),
        }],
    };
    type Outcome = RollbackReport;

    fn describe(&self) -> String {
        "EMERGENCY ROLLBACK".into()
    }
    fn view(&self, engine: &Engine) -> String {
        rollout_view(engine)
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<RollbackReport> {
        let started = Instant::now();
        let since_ms = crate::clock::now_ms();
        let mut r = engine.rollout();
        r.enabled = false;
        engine.set_rollout(r).await?;
        engine.hold().await?;
        let deadline = started + CONFIRM_WITHIN;
        let me = engine.member_id().to_string();
        let (confirmed, total, in_flight) = loop {
            let here = engine
                .stats
                .in_flight
                .load(std::sync::atomic::Ordering::Relaxed);
            let now = crate::clock::now_ms();
            // The others as they last reported; a member gone silent cannot
            // confirm and is not waited for.
            let others: Vec<_> = engine
                .members()
                .await?
                .into_iter()
                .filter(|m| m.member_id != me && !m.is_stale(now))
                .collect();
            let confirmed_others = others
                .iter()
                .filter(|m| m.updated_ms >= since_ms && m.held && m.in_flight == 0)
                .count();
            let elsewhere: i64 = others.iter().map(|m| m.in_flight.max(0)).sum();
            let mine = usize::from(engine.reports_here());
            let confirmed = confirmed_others + usize::from(mine == 1 && here == 0);
            let total = others.len() + mine;
            if (confirmed == total && here == 0) || Instant::now() > deadline {
                break (confirmed, total, here + elsewhere);
            }
            tokio::time::sleep(CONFIRM_POLL).await;
        };
        let effective_ms = started.elapsed().as_millis() as u64;
        let p = drain::progress(engine).await?;
        tracing::warn!(
            "emergency rollback effective in {effective_ms} ms: {confirmed} of {total} members \
             confirmed the hold; {} documents pending",
            p.unfinished()
        );
        Ok(RollbackReport {
            effective_ms,
            members_confirmed: confirmed,
            members_total: total,
            confirmed_ms: (confirmed == total).then_some(effective_ms),
            pending: p.unfinished(),
            in_flight,
            next_step: "archon-tui backfill --sync  (enrich pending documents synchronously); archon-tui resume  (undo)"
                .into(),
        })
    }
}

impl Outcome for RollbackReport {
    fn message(&self) -> String {
        format!(
            "effective in {} ms, {} of {} members confirmed the hold{}, {} pending",
            self.effective_ms,
            self.members_confirmed,
            self.members_total,
            self.confirmed_ms
                .map(|ms| format!(" in {ms} ms"))
                .unwrap_or_default(),
            self.pending
        )
    }
}

impl From<RollbackReport> for CommandOutcome {
    fn from(r: RollbackReport) -> Self {
        CommandOutcome::Rollback(r)
    }
}
