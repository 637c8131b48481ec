//! Circuit breaker in front of the intelligence service (seed §5.2).
//!
//! CLOSED → OPEN after `failure_threshold` consecutive failures; OPEN →
//! HALF_OPEN once `recovery_timeout` has passed; in HALF_OPEN at most
//! `half_open_max_calls` trial calls run; a success closes it, a failure opens
//! it again. Callers that are not permitted wait; they are never failed.
//!
//! A trial goes first to a caller that is not a suspect (one whose own last
//! call failed while the breaker was not closed) when such a caller is
//! waiting: a document the service fails every time would otherwise take
//! every trial and hold the breaker open while healthy work waits.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use crate::ports::control::{BreakerSnapshot, BreakerState};

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "CLOSED",
            Self::Open => "OPEN",
            Self::HalfOpen => "HALF_OPEN",
        }
    }
    /// Gauge value of archon_enrichment_consumer_circuit_breaker_state (the
    /// seed's alert fires on == 1 for OPEN).
    pub fn gauge(self) -> i64 {
        match self {
            Self::Closed => 0,
            Self::Open => 1,
            Self::HalfOpen => 2,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub recovery_timeout: Duration,
    pub half_open_max_calls: u32,
    /// Window over which the failure rate is computed.
    pub rate_window: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            recovery_timeout: Duration::from_secs(60),
            half_open_max_calls: 1,
            rate_window: Duration::from_secs(60),
        }
    }
}

struct Inner {
    state: BreakerState,
    consecutive_failures: u32,
    opened: Option<(Instant, String)>,
    last_failure: Option<String>,
    last_error: Option<String>,
    trials_in_flight: u32,
    calls_not_permitted: u64,
    outcomes: VecDeque<(Instant, bool)>,
    /// The last state changes, oldest first (tests and the reliability suite
    /// check OPEN → HALF_OPEN → CLOSED cycles without sampling).
    transitions: VecDeque<BreakerState>,
    /// When a caller that is not a suspect was last refused: it is waiting
    /// for a trial, and a suspect leaves the trial to it.
    fresh_refused: Option<Instant>,
}

/// How long a refused caller that is not a suspect counts as waiting. The
/// callers poll at least every 250 ms (`enrich`), so one still waiting has
/// asked within this.
const FRESH_WAITING: Duration = Duration::from_millis(300);

pub struct CircuitBreaker {
    cfg: BreakerConfig,
    inner: Mutex<Inner>,
}

/// Proof that a call was admitted; report its result with `success`/`failure`.
#[must_use]
pub struct Permit {
    trial: bool,
}

impl CircuitBreaker {
    pub fn new(cfg: BreakerConfig) -> Self {
        Self {
            cfg,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                consecutive_failures: 0,
                opened: None,
                last_failure: None,
                last_error: None,
                trials_in_flight: 0,
                calls_not_permitted: 0,
                outcomes: VecDeque::new(),
                transitions: VecDeque::from([BreakerState::Closed]),
                fresh_refused: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn enter(i: &mut Inner, state: BreakerState) {
        if i.state != state {
            i.state = state;
            if i.transitions.len() == 64 {
                i.transitions.pop_front();
            }
            i.transitions.push_back(state);
        }
    }

    /// States entered, oldest first (the last 64).
    pub fn transitions(&self) -> Vec<BreakerState> {
        let mut i = self.lock();
        self.advance(&mut i);
        i.transitions.iter().copied().collect()
    }

    fn advance(&self, i: &mut Inner) {
        if i.state == BreakerState::Open {
            if let Some((at, _)) = &i.opened {
                if at.elapsed() >= self.cfg.recovery_timeout {
                    Self::enter(i, BreakerState::HalfOpen);
                    i.trials_in_flight = 0;
                }
            }
        }
    }

    pub fn state(&self) -> BreakerState {
        let mut i = self.lock();
        self.advance(&mut i);
        i.state
    }

    /// Admit a call, or say how long to wait before asking again.
    pub fn try_acquire(&self) -> Result<Permit, Duration> {
        self.try_acquire_as(false)
    }

    /// [`try_acquire`](Self::try_acquire) for a caller that says whether it
    /// is a suspect: in HALF_OPEN a suspect gets no trial while a caller
    /// that is not one is waiting.
    pub fn try_acquire_as(&self, suspect: bool) -> Result<Permit, Duration> {
        let mut i = self.lock();
        self.advance(&mut i);
        let fresh_waiting = i
            .fresh_refused
            .is_some_and(|at| at.elapsed() < FRESH_WAITING);
        if !suspect && i.state != BreakerState::Closed {
            // This caller is waiting, unless the trial below admits it.
            i.fresh_refused = Some(Instant::now());
        }
        match i.state {
            BreakerState::Closed => Ok(Permit { trial: false }),
            BreakerState::HalfOpen
                if i.trials_in_flight < self.cfg.half_open_max_calls
                    && !(suspect && fresh_waiting) =>
            {
                i.trials_in_flight += 1;
                if !suspect {
                    i.fresh_refused = None;
                }
                Ok(Permit { trial: true })
            }
            BreakerState::HalfOpen => {
                i.calls_not_permitted += 1;
                Err(Duration::from_millis(20))
            }
            BreakerState::Open => {
                i.calls_not_permitted += 1;
                let left = i
                    .opened
                    .as_ref()
                    .map(|(at, _)| self.cfg.recovery_timeout.saturating_sub(at.elapsed()))
                    .unwrap_or_default();
                Err(left.max(Duration::from_millis(5)))
            }
        }
    }

    fn record(&self, i: &mut Inner, ok: bool) {
        let now = Instant::now();
        i.outcomes.push_back((now, ok));
        while i
            .outcomes
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > self.cfg.rate_window)
            || i.outcomes.len() > 10_000
        {
            i.outcomes.pop_front();
        }
    }

    pub fn success(&self, permit: Permit) {
        let mut i = self.lock();
        self.record(&mut i, true);
        if permit.trial {
            i.trials_in_flight = i.trials_in_flight.saturating_sub(1);
        }
        i.consecutive_failures = 0;
        if i.state != BreakerState::Closed {
            Self::enter(&mut i, BreakerState::Closed);
            i.opened = None;
            tracing::info!("circuit breaker CLOSED: intelligence service recovered");
        }
    }

    pub fn failure(&self, permit: Permit, error: &str) {
        let mut i = self.lock();
        self.record(&mut i, false);
        if permit.trial {
            i.trials_in_flight = i.trials_in_flight.saturating_sub(1);
        }
        i.consecutive_failures += 1;
        i.last_failure = Some(crate::events::now_rfc3339());
        i.last_error = Some(error.chars().take(500).collect());
        let trip = match i.state {
            BreakerState::HalfOpen => true,
            BreakerState::Closed => i.consecutive_failures >= self.cfg.failure_threshold,
            BreakerState::Open => false,
        };
        if trip {
            Self::enter(&mut i, BreakerState::Open);
            i.opened = Some((Instant::now(), crate::events::now_rfc3339()));
            tracing::warn!(
                "circuit breaker OPEN after {} consecutive failures; consumption pauses for {:?}",
                i.consecutive_failures,
                self.cfg.recovery_timeout
            );
        }
    }

    /// A call that ended without saying anything about the service's health
    /// (a permanent error for one document, or abandoned at shutdown): its
    /// trial slot, if it had one, is free again.
    pub fn release(&self, permit: Permit) {
        if permit.trial {
            let mut i = self.lock();
            i.trials_in_flight = i.trials_in_flight.saturating_sub(1);
        }
    }

    /// Operator's manual reset.
    pub fn reset(&self) {
        let mut i = self.lock();
        Self::enter(&mut i, BreakerState::Closed);
        i.consecutive_failures = 0;
        i.opened = None;
        i.trials_in_flight = 0;
    }

    pub fn snapshot(&self) -> BreakerSnapshot {
        let mut i = self.lock();
        self.advance(&mut i);
        let total = i.outcomes.len();
        let failed = i.outcomes.iter().filter(|(_, ok)| !ok).count();
        BreakerSnapshot {
            state: i.state,
            failure_count: i.consecutive_failures,
            failure_rate: if total == 0 {
                0.0
            } else {
                failed as f64 / total as f64
            },
            calls_not_permitted: i.calls_not_permitted,
            last_failure: i.last_failure.clone(),
            last_error: i.last_error.clone(),
            opened_at: i.opened.as_ref().map(|(_, w)| w.clone()),
            half_open_in_ms: match (i.state, &i.opened) {
                (BreakerState::Open, Some((at, _))) => Some(
                    self.cfg
                        .recovery_timeout
                        .saturating_sub(at.elapsed())
                        .as_millis() as u64,
                ),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(timeout_ms: u64) -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            failure_threshold: 3,
            recovery_timeout: Duration::from_millis(timeout_ms),
            half_open_max_calls: 1,
            rate_window: Duration::from_secs(60),
        })
    }

    /// Open `b` (threshold 3, 10 ms recovery), wait until HALF_OPEN and
    /// take its one trial permit.
    fn trip_then_take_the_trial(b: &CircuitBreaker) -> Permit {
        for _ in 0..3 {
            let p = b.try_acquire().unwrap();
            b.failure(p, "x");
        }
        std::thread::sleep(Duration::from_millis(15));
        b.try_acquire().unwrap()
    }

    #[test]
    fn a_suspect_leaves_the_trial_to_a_waiting_caller_and_takes_it_alone() {
        let b = breaker(10);
        let trial = trip_then_take_the_trial(&b);
        b.failure(trial, "this document again");
        // Open: a caller that is not a suspect asks and is told to wait.
        assert!(b.try_acquire_as(false).is_err());
        std::thread::sleep(Duration::from_millis(15));
        assert!(
            b.try_acquire_as(true).is_err(),
            "the suspect defers while another caller waits"
        );
        let fresh = b.try_acquire_as(false).expect("the waiting caller's trial");
        assert!(fresh.trial);
        b.failure(fresh, "down for everyone");
        // Nobody else has asked for FRESH_WAITING: the suspect gets its trial.
        std::thread::sleep(FRESH_WAITING + Duration::from_millis(15));
        let alone = b.try_acquire_as(true).expect("a suspect alone still tries");
        b.success(alone);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn opens_after_threshold_then_half_opens_then_closes() {
        let b = breaker(30);
        for _ in 0..2 {
            let p = b.try_acquire().unwrap();
            b.failure(p, "x");
        }
        assert_eq!(b.state(), BreakerState::Closed);
        let p = b.try_acquire().unwrap();
        b.failure(p, "503");
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire().is_err());
        assert_eq!(b.snapshot().calls_not_permitted, 1);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let trial = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_err(), "only one trial at a time");
        b.success(trial);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.snapshot().failure_count, 0);
    }

    #[test]
    fn a_released_trial_frees_its_slot() {
        // A trial that ended in a permanent (per-document) error must not
        // leave the breaker HALF_OPEN with no trial slot left for ever.
        let b = breaker(10);
        let trial = trip_then_take_the_trial(&b);
        assert!(b.try_acquire().is_err());
        b.release(trial);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let next = b.try_acquire().expect("the slot is free again");
        b.success(next);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn failed_trial_reopens_and_success_resets_count() {
        let b = breaker(10);
        let trial = trip_then_take_the_trial(&b);
        b.failure(trial, "still down");
        assert_eq!(b.state(), BreakerState::Open);
        let s = b.snapshot();
        assert!(s.opened_at.is_some() && s.half_open_in_ms.is_some());
        assert_eq!(s.last_error.as_deref(), Some("still down"));
        assert!((s.failure_rate - 1.0).abs() < 1e-9);
        b.reset();
        assert_eq!(b.state(), BreakerState::Closed);
        let p = b.try_acquire().unwrap();
        b.failure(p, "x");
        let p = b.try_acquire().unwrap();
        b.success(p);
        let p = b.try_acquire().unwrap();
        b.failure(p, "x");
        assert_eq!(
            b.snapshot().failure_count,
            1,
            "success resets the consecutive count"
        );
    }
}
