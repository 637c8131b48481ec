//! One answer to "what is this engine (or member) doing?": the state word
//! the header, the Lag panel's note, the Fleet rows, the footer and
//! `/health` all show. Each derives it here from the same snapshot, so no
//! two of them can disagree (issue 28: RUNNING in the header beside OPEN in
//! the breaker panel, an ETA under a hold).

use serde::Serialize;

use crate::engine::resilience::breaker::BreakerState;

/// The facts a state is judged from; see [`RunState::of`].
#[derive(Debug, Clone, Default)]
pub struct StateInputs<'a> {
    /// Why the consumer ended on its own, when it did.
    pub consumer_failed: Option<&'a str>,
    /// No consumer here by design (`attach`).
    pub observing: bool,
    /// Out of the group while an offset reset runs.
    pub resetting: bool,
    /// Writes cannot land: Some(true) for a full disk (intake held).
    pub stalled: Option<bool>,
    pub held: bool,
    /// The kill switch is on (a rollback turns it off and holds).
    pub rollout_enabled: bool,
    pub paused: bool,
    pub breaker: BreakerState,
    /// Messages waiting; None when it could not be read.
    pub lag: Option<i64>,
    /// Fetched and not yet recorded.
    pub in_flight: i64,
    pub docs_per_sec: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "reason")]
pub enum RunState {
    /// The consumer ended on its own (the reason): nothing is consumed.
    ConsumerStopped(String),
    /// `attach`: this process watches the fleet without consuming.
    Observing,
    /// Out of the consumer group while its offsets are reset.
    OffsetReset,
    /// Writes cannot land; `disk_full`: out of space, intake held until
    /// space returns (else retried like an outage).
    Stalled {
        disk_full: bool,
    },
    /// Held by the operator; `rollback`: by the emergency rollback.
    Held {
        rollback: bool,
    },
    Paused,
    /// The breaker is OPEN (nothing is fetched) or HALF_OPEN (trial calls).
    BreakerOpen {
        half_open: bool,
    },
    /// Work is waiting and flowing.
    Draining,
    /// Nothing waiting, nothing in flight.
    CaughtUp,
    /// Consuming, but nothing moved yet (joining the group, lag unread).
    Running,
}

/// How a front end should colour a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Ok,
    Warn,
    Error,
}

impl RunState {
    pub fn of(i: &StateInputs<'_>) -> RunState {
        if let Some(reason) = i.consumer_failed {
            return RunState::ConsumerStopped(reason.to_string());
        }
        if i.resetting {
            return RunState::OffsetReset;
        }
        if let Some(disk_full) = i.stalled {
            return RunState::Stalled { disk_full };
        }
        if i.held {
            return RunState::Held {
                rollback: !i.rollout_enabled,
            };
        }
        if i.paused {
            return RunState::Paused;
        }
        if i.observing {
            return RunState::Observing;
        }
        match i.breaker {
            BreakerState::Open => return RunState::BreakerOpen { half_open: false },
            BreakerState::HalfOpen => return RunState::BreakerOpen { half_open: true },
            BreakerState::Closed => {}
        }
        match i.lag {
            Some(0) if i.in_flight <= 0 => RunState::CaughtUp,
            Some(l) if l > 0 && (i.docs_per_sec > 0.0 || i.in_flight > 0) => RunState::Draining,
            _ => RunState::Running,
        }
    }

    /// The header's word.
    pub fn word(&self) -> &'static str {
        match self {
            RunState::ConsumerStopped(_) => "CONSUMER STOPPED",
            RunState::Observing => "ATTACHED",
            RunState::OffsetReset => "OFFSET RESET",
            RunState::Stalled { disk_full: true } => "HELD (disk full)",
            RunState::Stalled { disk_full: false } => "WRITES FAILING",
            RunState::Held { rollback: true } => "HELD (rollback)",
            RunState::Held { rollback: false } => "HELD",
            RunState::Paused => "PAUSED",
            RunState::BreakerOpen { half_open: false } => "BREAKER OPEN",
            RunState::BreakerOpen { half_open: true } => "BREAKER HALF-OPEN",
            RunState::Draining => "DRAINING",
            RunState::CaughtUp => "CAUGHT UP",
            RunState::Running => "RUNNING",
        }
    }

    /// A Fleet row's word (its breaker has a column of its own).
    pub fn short(&self) -> &'static str {
        match self {
            RunState::ConsumerStopped(_) => "stopped",
            RunState::Observing => "attached",
            RunState::OffsetReset => "resetting",
            RunState::Stalled { disk_full: true } => "disk full",
            RunState::Stalled { disk_full: false } => "writes failing",
            RunState::Held { rollback: true } => "rollback",
            RunState::Held { rollback: false } => "held",
            RunState::Paused => "paused",
            RunState::BreakerOpen { half_open: false } => "open",
            RunState::BreakerOpen { half_open: true } => "half-open",
            RunState::Draining => "draining",
            RunState::CaughtUp => "caught up",
            RunState::Running => "running",
        }
    }

    /// The same state as a machine-readable name (`/health`, `--json`).
    pub fn name(&self) -> &'static str {
        match self {
            RunState::ConsumerStopped(_) => "consumer_stopped",
            RunState::Observing => "observing",
            RunState::OffsetReset => "offset_reset",
            RunState::Stalled { disk_full: true } => "disk_full",
            RunState::Stalled { disk_full: false } => "writes_failing",
            RunState::Held { .. } => "held",
            RunState::Paused => "paused",
            RunState::BreakerOpen { half_open: false } => "breaker_open",
            RunState::BreakerOpen { half_open: true } => "breaker_half_open",
            RunState::Draining => "draining",
            RunState::CaughtUp => "caught_up",
            RunState::Running => "running",
        }
    }

    pub fn tone(&self) -> Tone {
        match self {
            RunState::ConsumerStopped(_)
            | RunState::Stalled { .. }
            | RunState::Held { .. }
            | RunState::BreakerOpen { half_open: false } => Tone::Error,
            RunState::OffsetReset
            | RunState::Paused
            | RunState::BreakerOpen { half_open: true } => Tone::Warn,
            RunState::Observing | RunState::Draining | RunState::CaughtUp | RunState::Running => {
                Tone::Ok
            }
        }
    }

    /// Whether messages are being taken off the topic here.
    pub fn consuming(&self) -> bool {
        matches!(
            self,
            RunState::Draining | RunState::CaughtUp | RunState::Running
        )
    }

    /// The Lag panel's note: why nothing drains and what resumes it, or the
    /// time to clear (`eta`, formatted by the front end from the commit
    /// rate) while it drains.
    pub fn lag_note(&self, lag: i64, eta: Option<String>) -> String {
        let waiting = lag > 0;
        match self {
            RunState::ConsumerStopped(_) => {
                "consumer stopped: nothing is consumed (restart the engine)".into()
            }
            RunState::Observing => "attached: this console does not consume".into(),
            RunState::OffsetReset => "offset reset: out of the group until it ends".into(),
            RunState::Stalled { disk_full: true } => {
                "disk full: nothing is fetched; resumes by itself when space returns".into()
            }
            RunState::Stalled { disk_full: false } => {
                "writes failing: the batch held is retried".into()
            }
            RunState::Held { rollback: true } if waiting => {
                "held by the rollback: nothing is consumed (:resume)".into()
            }
            RunState::Held { .. } if waiting => "held: nothing is consumed (:release)".into(),
            RunState::Paused if waiting => "paused: nothing is consumed (space runs)".into(),
            RunState::BreakerOpen { half_open: false } if waiting => {
                "breaker OPEN: nothing is consumed until it half-opens".into()
            }
            RunState::BreakerOpen { half_open: true } if waiting => {
                "breaker HALF-OPEN: trial calls only".into()
            }
            _ if !waiting => "caught up".into(),
            RunState::Draining => match eta {
                Some(e) => format!("clears in ~{e}"),
                None => "draining".into(),
            },
            _ => "not draining".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> StateInputs<'static> {
        StateInputs {
            rollout_enabled: true,
            lag: Some(100),
            docs_per_sec: 50.0,
            in_flight: 4,
            ..Default::default()
        }
    }

    #[test]
    fn the_strongest_reason_wins() {
        let mut i = base();
        assert_eq!(RunState::of(&i), RunState::Draining);
        i.breaker = BreakerState::Open;
        assert_eq!(RunState::of(&i).word(), "BREAKER OPEN");
        i.paused = true;
        assert_eq!(RunState::of(&i), RunState::Paused);
        i.held = true;
        i.rollout_enabled = false;
        assert_eq!(RunState::of(&i).word(), "HELD (rollback)");
        i.stalled = Some(true);
        assert_eq!(RunState::of(&i).word(), "HELD (disk full)");
        assert!(RunState::of(&i)
            .lag_note(100, None)
            .contains("space returns"));
        i.consumer_failed = Some("fenced");
        assert_eq!(RunState::of(&i).name(), "consumer_stopped");
    }

    #[test]
    fn caught_up_needs_no_lag_and_nothing_in_flight() {
        let mut i = base();
        i.lag = Some(0);
        assert_eq!(RunState::of(&i), RunState::Running, "4 still in flight");
        i.in_flight = 0;
        assert_eq!(RunState::of(&i), RunState::CaughtUp);
        i.lag = None;
        assert_eq!(RunState::of(&i), RunState::Running, "lag unread");
    }

    #[test]
    fn no_eta_while_nothing_is_consumed() {
        for (tweak, expect) in [
            (
                (|i: &mut StateInputs| i.held = true) as fn(&mut StateInputs),
                "held",
            ),
            (|i| i.paused = true, "paused"),
            (|i| i.breaker = BreakerState::Open, "breaker OPEN"),
        ] {
            let mut i = base();
            tweak(&mut i);
            let note = RunState::of(&i).lag_note(100, Some("20s".into()));
            assert!(note.starts_with(expect), "{note}");
            assert!(!note.contains("clears"), "{note}");
        }
        assert_eq!(
            RunState::of(&base()).lag_note(100, Some("20s".into())),
            "clears in ~20s"
        );
    }
}
