//! Fault injection for rehearsals: wraps any intelligence backend and fails a
//! deterministic fraction of calls (given the seed) and/or adds latency.

use std::time::Duration;

use async_trait::async_trait;

use super::{Analysis, Intelligence, IntelligenceError, ProcessRequest};

pub use crate::ports::intelligence::FaultDial;

pub struct FaultInjector<I> {
    inner: I,
    dial: std::sync::Arc<FaultDial>,
    seed: u64,
}

impl<I> FaultInjector<I> {
    pub fn new(inner: I, failure_rate: f64, latency: Duration, seed: u64) -> Self {
        Self::with_dial(
            inner,
            std::sync::Arc::new(FaultDial::new(failure_rate, latency)),
            seed,
        )
    }

    pub fn with_dial(inner: I, dial: std::sync::Arc<FaultDial>, seed: u64) -> Self {
        Self { inner, dial, seed }
    }

    /// Same (seed, document, replay, attempt) always gives the same verdict,
    /// so a rehearsal can be re-run and compared; a replay draws afresh, as a
    /// real outage would have passed by then. `attempt` numbers every call
    /// (see `Intelligence::process`): a call repeated after the breaker
    /// opened draws afresh too, instead of failing the same way for ever.
    pub fn should_fail(&self, document_id: &str, replay: u32, attempt: u32) -> bool {
        let rate = self.dial.rate();
        if rate <= 0.0 {
            return false;
        }
        let mut h = blake3::Hasher::new();
        h.update(&self.seed.to_le_bytes());
        h.update(document_id.as_bytes());
        h.update(&attempt.to_le_bytes());
        if replay > 0 {
            h.update(&replay.to_le_bytes());
        }
        let b = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&b.as_bytes()[..8]);
        let x = u64::from_le_bytes(first);
        (x as f64 / u64::MAX as f64) < rate
    }
}

#[async_trait]
impl<I: Intelligence> Intelligence for FaultInjector<I> {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn health(&self) -> anyhow::Result<Option<String>> {
        self.inner.health().await
    }

    async fn process(
        &self,
        req: &ProcessRequest,
        attempt: u32,
    ) -> Result<Analysis, IntelligenceError> {
        let latency = self.dial.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if self.should_fail(&req.document_id, req.replay_count, attempt) {
            return Err(IntelligenceError::transient(
                "InjectedFailure",
                format!(
                    "injected failure (rate {}, attempt {attempt})",
                    self.dial.rate()
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
            .filter(|i| f.should_fail(&format!("doc{i}"), 0, 0))
            .count();
        assert!((2_700..3_300).contains(&fails), "{fails}");
        let again = (0..10_000)
            .filter(|i| f.should_fail(&format!("doc{i}"), 0, 0))
            .count();
        assert_eq!(fails, again);
        // A replayed document draws afresh: ~30 % of the failures fail again.
        let refail = (0..10_000)
            .filter(|i| f.should_fail(&format!("doc{i}"), 0, 0))
            .filter(|i| f.should_fail(&format!("doc{i}"), 1, 0))
            .count();
        assert!((600..1_200).contains(&refail), "{refail}");
        let other_seed = FaultInjector::new(EmbeddedIntelligence, 0.3, Duration::ZERO, 8);
        assert!((0..100).any(|i| f.should_fail(&format!("doc{i}"), 0, 0)
            != other_seed.should_fail(&format!("doc{i}"), 0, 0)));
        let never = FaultInjector::new(EmbeddedIntelligence, 0.0, Duration::ZERO, 7);
        assert!(!(0..1000).any(|i| never.should_fail(&format!("doc{i}"), 0, 0)));
        let always = FaultInjector::new(EmbeddedIntelligence, 1.0, Duration::ZERO, 7);
        assert!((0..1000).all(|i| always.should_fail(&format!("doc{i}"), 0, 0)));
    }
}
