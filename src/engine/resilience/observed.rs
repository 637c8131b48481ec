//! What the engine last saw of its graph and vector stores, from its own
//! reads and writes: the health a DLQ record reports is observed, not assumed.

use std::sync::atomic::{AtomicU8, Ordering};

// 0 (the default): not seen yet.
const HEALTHY: u8 = 1;
const UNHEALTHY: u8 = 2;

#[derive(Default)]
pub struct Observed(AtomicU8);

impl Observed {
    /// Note the outcome of a call and hand it back.
    pub fn note<T, E>(&self, r: Result<T, E>) -> Result<T, E> {
        self.0.store(
            if r.is_ok() { HEALTHY } else { UNHEALTHY },
            Ordering::Relaxed,
        );
        r
    }

    /// "healthy", "unhealthy", or "unknown" before the first call.
    pub fn as_str(&self) -> &'static str {
        match self.0.load(Ordering::Relaxed) {
            HEALTHY => "healthy",
            UNHEALTHY => "unhealthy",
            _ => "unknown",
        }
    }
}

/// The stores a DLQ record reports on.
#[derive(Default)]
pub struct ObservedStores {
    pub graph: Observed,
    pub vectors: Observed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_last_outcome() {
        let o = Observed::default();
        assert_eq!(o.as_str(), "unknown");
        assert!(o.note::<(), &str>(Err("down")).is_err());
        assert_eq!(o.as_str(), "unhealthy");
        assert_eq!(o.note::<u8, &str>(Ok(1)), Ok(1));
        assert_eq!(o.as_str(), "healthy");
    }
}
