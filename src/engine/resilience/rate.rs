//! MAX_PROCESSING_RATE (seed 001 §5.5): at most N messages a second are
//! taken from the broker, live-adjustable, fleet-wide through the operator
//! state. A token bucket with one second of burst; messages wait on the
//! broker (lag shows them) rather than in memory.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Highest rate accepted: beyond this a typo, not a plan.
pub const MAX_RATE: f64 = 1_000_000.0;

/// A rate a lever or setting accepts: more than 0, at most `MAX_RATE`.
pub fn is_valid_rate(r: f64) -> bool {
    r.is_finite() && r > 0.0 && r <= MAX_RATE
}

#[derive(Debug)]
struct Bucket {
    /// None: no limit.
    per_sec: Option<f64>,
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
pub struct RateLimit(Mutex<Bucket>);

impl RateLimit {
    pub fn new(per_sec: Option<f64>) -> Self {
        Self(Mutex::new(Bucket {
            per_sec,
            tokens: per_sec.unwrap_or(0.0).max(1.0),
            at: Instant::now(),
        }))
    }

    pub fn get(&self) -> Option<f64> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .per_sec
    }

    pub fn set(&self, per_sec: Option<f64>) {
        let mut b = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if b.per_sec != per_sec {
            b.per_sec = per_sec;
            b.tokens = b.tokens.min(per_sec.unwrap_or(f64::MAX).max(1.0));
            b.at = Instant::now();
        }
    }

    /// Take up to `want` (≥ 1) tokens now: how many were taken, or how long
    /// to wait before one is there.
    pub fn try_take(&self, want: usize) -> Result<usize, Duration> {
        let mut b = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(rate) = b.per_sec else {
            return Ok(want);
        };
        let now = Instant::now();
        let burst = rate.max(1.0);
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            let n = (b.tokens.floor() as usize).min(want).max(1);
            b.tokens -= n as f64;
            Ok(n)
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / rate).min(Duration::from_millis(200)))
        }
    }

    /// Give back tokens taken but not used (the broker had fewer messages).
    pub fn refund(&self, n: usize) {
        let mut b = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(rate) = b.per_sec {
            b.tokens = (b.tokens + n as f64).min(rate.max(1.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_takes_everything() {
        let r = RateLimit::new(None);
        assert_eq!(r.try_take(500), Ok(500));
    }

    #[test]
    fn a_limit_allows_one_second_of_burst_then_paces() {
        let r = RateLimit::new(Some(100.0));
        assert_eq!(r.try_take(500), Ok(100), "one second of burst");
        let wait = r.try_take(10).unwrap_err();
        assert!(wait <= Duration::from_millis(11), "{wait:?}");
        std::thread::sleep(Duration::from_millis(55));
        let n = r.try_take(500).unwrap();
        assert!((4..=7).contains(&n), "about 5 after 55 ms at 100/s: {n}");
        r.refund(3);
        assert!(r.try_take(500).unwrap() >= 3);
        r.set(None);
        assert_eq!(r.try_take(7), Ok(7));
    }

    #[test]
    fn a_slow_rate_still_lets_one_through() {
        let r = RateLimit::new(Some(0.5));
        assert_eq!(r.try_take(10), Ok(1));
        assert!(r.try_take(1).is_err());
    }
}
