//! Health documents (seed §10.5 shapes, with reasons added) from the latest
//! snapshot. Unhealthy (HTTP 503) means the engine cannot do its work: the
//! graph or broker cannot be read, the status is stale, or the consumer has
//! stopped. An open breaker or a pause is "degraded" (200): restarting the
//! engine would not help, and the console/alerts show why.

use serde_json::{json, Value};

use crate::engine::fleet::rollout::RolloutState;
use crate::engine::handle::Snapshot;
use crate::engine::resilience::breaker::BreakerState;
use crate::model::Status;

/// A status older than this means the refresh is stuck on a backend call.
pub const STALE_AFTER_MS: i64 = 15_000;

#[derive(Debug, Clone, Copy, Default)]
pub struct ConsumerCounters {
    pub consumed: u64,
    pub processed: u64,
    pub errors: u64,
    /// The consumer task is alive (it ends only on stop or a fatal error).
    pub alive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Healthy,
    Degraded,
    Unhealthy,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Healthy => "healthy",
            Level::Degraded => "degraded",
            Level::Unhealthy => "unhealthy",
        }
    }
}

fn snapshot_problems(snap: &Snapshot, now_ms: i64) -> Vec<String> {
    let mut bad = Vec::new();
    if snap.refreshed_ms == 0 {
        bad.push("starting: no status read yet".to_string());
    } else if now_ms - snap.refreshed_ms > STALE_AFTER_MS {
        bad.push(format!(
            "status not refreshed for {} s (a backend call is hanging)",
            (now_ms - snap.refreshed_ms) / 1000
        ));
    }
    if let Some(e) = &snap.error {
        bad.push(format!(
            "cannot read the pipeline state: {}",
            crate::sanitize::clean(e)
        ));
    }
    bad
}

/// GET /health: the consumer side.
pub fn consumer(snap: &Snapshot, c: ConsumerCounters, now_ms: i64) -> (Level, Value) {
    let mut unhealthy = snapshot_problems(snap, now_ms);
    if !c.alive {
        unhealthy.push("consumer stopped".into());
    }
    let mut degraded = Vec::new();
    match snap.breaker.state {
        BreakerState::Closed => {}
        s => degraded.push(format!(
            "circuit breaker {}: intelligence service unhealthy",
            s.as_str()
        )),
    }
    if let Some(s) = &snap.stall {
        // Degraded, not unhealthy: a restart would not make room.
        degraded.push(crate::sanitize::clean(&s.reason));
    }
    if snap.held {
        degraded.push("consumption held by an emergency rollback".into());
    } else if snap.paused {
        degraded.push("consumption paused".into());
    }
    let level = if !unhealthy.is_empty() {
        Level::Unhealthy
    } else if !degraded.is_empty() {
        Level::Degraded
    } else {
        Level::Healthy
    };
    let count = |s: Status| snap.totals.get(&s).copied().unwrap_or(0);
    // The console's state word, from the same function.
    let state = snap.state((!c.alive).then_some("consumer stopped"), false);
    let body = json!({
        "status": level.as_str(),
        "reasons": unhealthy.into_iter().chain(degraded).collect::<Vec<_>>(),
        "consumer": {
            "state": state.name(),
            "state_word": state.word(),
            "running": c.alive && !snap.paused,
            "paused": snap.paused,
            "held": snap.held,
            "stall": snap.stall,
            "messages_consumed": c.consumed,
            "messages_processed": c.processed,
            "errors": c.errors,
            "in_flight": snap.in_flight,
            "concurrency": snap.concurrency,
            "max_processing_rate": snap.max_rate,
            "lag": snap.lag_total,
        },
        "circuit_breaker": {
            "state": snap.breaker.state.as_str(),
            "failure_count": snap.breaker.failure_count,
        },
        "documents": {
            "pending": crate::model::unfinished(&snap.totals),
            "completed": count(Status::Completed),
            "dlq": count(Status::Dlq),
            "failed": count(Status::Failed),
        },
        "backends": snap.backends.iter().map(|b| (b.name.to_string(), json!({
            "kind": b.kind,
            "healthy": b.healthy,
        }))).collect::<serde_json::Map<_, _>>(),
    });
    (level, body)
}

/// GET /health/enrichment: the producer side (seed: kafka_producer status,
/// enabled, topic). "disabled" when the kill switch is off.
pub fn producer(
    snap: &Snapshot,
    rollout: &RolloutState,
    topic: &str,
    published: u64,
    publish_errors: u64,
    now_ms: i64,
) -> (Level, Value) {
    let mut reasons = snapshot_problems(snap, now_ms);
    if let Some(b) = snap.backends.iter().find(|b| b.name == "broker") {
        if !b.healthy && snap.error.is_none() {
            reasons.push(format!("broker ({}) unreachable", b.kind));
        }
    }
    let level = if !reasons.is_empty() {
        Level::Unhealthy
    } else {
        Level::Healthy
    };
    let status = match (level, rollout.enabled) {
        (Level::Unhealthy, _) => "unhealthy",
        (_, false) => "disabled",
        _ => "healthy",
    };
    let body = json!({
        "status": level.as_str(),
        "reasons": reasons,
        "kafka_producer": {
            "status": status,
            "enabled": rollout.enabled,
            "topic": topic,
            "events_published": published,
            "publish_errors": publish_errors,
        },
        "rollout": rollout,
    });
    (level, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> Snapshot {
        let mut s = Snapshot::empty();
        s.refreshed_ms = 1_000_000;
        s
    }

    const ALIVE: ConsumerCounters = ConsumerCounters {
        consumed: 5,
        processed: 4,
        errors: 1,
        alive: true,
    };

    #[test]
    fn healthy_degraded_unhealthy() {
        let (l, b) = consumer(&fresh(), ALIVE, 1_000_100);
        assert_eq!(l, Level::Healthy);
        assert_eq!(b["consumer"]["messages_processed"], 4);
        assert_eq!(b["circuit_breaker"]["state"], "CLOSED");

        let mut open = fresh();
        open.breaker.state = BreakerState::Open;
        let (l, b) = consumer(&open, ALIVE, 1_000_100);
        assert_eq!(l, Level::Degraded);
        assert!(b["reasons"][0].as_str().unwrap().contains("OPEN"));

        let mut broken = fresh();
        broken.error = Some("cannot reach the graph store at bolt://x\x1b[2J".into());
        let (l, b) = consumer(&broken, ALIVE, 1_000_100);
        assert_eq!(l, Level::Unhealthy);
        assert!(!b.to_string().contains('\x1b'), "reasons are sanitised");

        let (l, _) = consumer(&fresh(), ALIVE, 1_000_000 + STALE_AFTER_MS + 1);
        assert_eq!(l, Level::Unhealthy, "a stale status is unhealthy");
        let (l, _) = consumer(&Snapshot::empty(), ALIVE, 5);
        assert_eq!(l, Level::Unhealthy, "no status yet");
        let (l, b) = consumer(
            &fresh(),
            ConsumerCounters {
                alive: false,
                ..ALIVE
            },
            1_000_100,
        );
        assert_eq!(l, Level::Unhealthy);
        assert_eq!(b["consumer"]["running"], false);
    }

    #[test]
    fn producer_is_disabled_by_the_kill_switch() {
        let r = RolloutState {
            enabled: false,
            ..Default::default()
        };
        let (l, b) = producer(&fresh(), &r, "t", 3, 0, 1_000_100);
        assert_eq!(l, Level::Healthy);
        assert_eq!(b["kafka_producer"]["status"], "disabled");
        assert_eq!(b["kafka_producer"]["topic"], "t");
    }
}
