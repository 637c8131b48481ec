//! Fault injection for rehearsals: wraps any intelligence backend and fails a
//! deterministic fraction of calls (given the seed) and/or adds latency.

use std::time::Duration;

use async_trait::async_trait;

use super::{Analysis, Intelligence, IntelligenceError, ProcessRequest};

pub struct FaultInjector<I> {
    inner: I,
    failure_rate: f64,
    latency: Duration,
    seed: u64,
}

impl<I> FaultInjector<I> {
    pub fn new(inner: I, failure_rate: f64, latency: Duration, seed: u64) -> Self {
        Self {
            inner,
            failure_rate,
            latency,
            seed,
        }
    }

    /// Same (seed, document, attempt) always gives the same verdict, so a
    /// rehearsal can be re-run and compared.
    pub fn should_fail(&self, document_id: &str, attempt: u32) -> bool {
        if self.failure_rate <= 0.0 {
            return false;
        }
        let mut h = blake3::Hasher::new();
        h.update(&self.seed.to_le_bytes());
        h.update(document_id.as_bytes());
        h.update(&attempt.to_le_bytes());
        let b = h.finalize();
        let x = u64::from_le_bytes(b.as_bytes()[..8].try_into().unwrap());
        (x as f64 / u64::MAX as f64) < self.failure_rate
    }
}

#[async_trait]
impl<I: Intelligence> Intelligence for FaultInjector<I> {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn process(
        &self,
        req: &ProcessRequest,
        attempt: u32,
    ) -> Result<Analysis, IntelligenceError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if self.should_fail(&req.document_id, attempt) {
            return Err(IntelligenceError::transient(
                "InjectedFailure",
                format!(
                    "injected failure (rate {}, attempt {attempt})",
                    self.failure_rate
                ),
            ));
        }
        self.inner.process(req, attempt).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::intelligence::embedded::EmbeddedIntelligence;

    #[test]
    fn rate_is_respected_and_deterministic() {
        let f = FaultInjector::new(EmbeddedIntelligence, 0.3, Duration::ZERO, 7);
        let fails = (0..10_000)
            .filter(|i| f.should_fail(&format!("doc{i}"), 0))
            .count();
        assert!((2_700..3_300).contains(&fails), "{fails}");
        let again = (0..10_000)
            .filter(|i| f.should_fail(&format!("doc{i}"), 0))
            .count();
        assert_eq!(fails, again);
        let other_seed = FaultInjector::new(EmbeddedIntelligence, 0.3, Duration::ZERO, 8);
        assert!((0..100).any(|i| f.should_fail(&format!("doc{i}"), 0)
            != other_seed.should_fail(&format!("doc{i}"), 0)));
        let never = FaultInjector::new(EmbeddedIntelligence, 0.0, Duration::ZERO, 7);
        assert!(!(0..1000).any(|i| never.should_fail(&format!("doc{i}"), 0)));
        let always = FaultInjector::new(EmbeddedIntelligence, 1.0, Duration::ZERO, 7);
        assert!((0..1000).all(|i| always.should_fail(&format!("doc{i}"), 0)));
    }
}
