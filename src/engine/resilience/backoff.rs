//! The one backoff every retry loop uses: base · 2ⁿ⁻¹, capped, ± jitter so
//! a fleet of consumers does not retry in lockstep.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    /// Fraction of the delay added or removed at random.
    pub jitter: f64,
}

impl Backoff {
    /// Waiting out a backend that does not answer (broker, graph store):
    /// 100 ms, doubling to 5 s.
    pub const OUTAGE: Backoff = Backoff {
        base: Duration::from_millis(100),
        max: Duration::from_secs(5),
        jitter: 0.1,
    };

    /// Delay before attempt `n` of a retry (1 = the first retry), without
    /// jitter.
    pub fn nominal(&self, n: u32) -> Duration {
        let factor = 2f64.powi(n.saturating_sub(1).min(30) as i32);
        self.base.mul_f64(factor).min(self.max)
    }

    /// Same, with ± jitter, never above `max`.
    pub fn delay(&self, n: u32) -> Duration {
        let nominal = self.nominal(n).as_secs_f64();
        let spread = nominal * self.jitter;
        let jittered = nominal + rand::random_range(-spread..=spread.max(f64::MIN_POSITIVE));
        Duration::from_secs_f64(jittered.clamp(0.0, self.max.as_secs_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_bounded_jitter() {
        let b = Backoff::OUTAGE;
        assert_eq!(b.nominal(1), Duration::from_millis(100));
        assert_eq!(b.nominal(2), Duration::from_millis(200));
        assert_eq!(b.nominal(7), Duration::from_secs(5));
        assert_eq!(b.nominal(u32::MAX), Duration::from_secs(5));
        for n in 1..10 {
            let d = b.delay(n).as_secs_f64();
            let nominal = b.nominal(n).as_secs_f64();
            assert!(
                d >= nominal * 0.9 - 1e-9 && d <= (nominal * 1.1).min(5.0) + 1e-9,
                "{n}: {d}"
            );
        }
    }
}
