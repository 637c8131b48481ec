//! Rehearsal: change the injected failure rate and latency while running.

use std::time::Duration;

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct InjectFaults {
    /// 0..=1.
    pub failure_rate: f64,
    pub latency_ms: u64,
}

impl Lever for InjectFaults {
    const SPEC: &'static Spec = &Spec {
        name: "faults",
        scope: Scope::Control,
        help: "rehearsal: inject failures / latency in this process",
        cli: &[],
        palette: &["faults"],
        http: &[],
    };
    type Outcome = Done;

    fn serial(&self) -> bool {
        true
    }
    fn validate(&self) -> Result<(), CommandError> {
        if !(0.0..=1.0).contains(&self.failure_rate) {
            return invalid(format!(
                "failure rate must be 0..=1, got {}",
                self.failure_rate
            ));
        }
        Ok(())
    }
    fn describe(&self) -> String {
        format!(
            "faults rate={} latency={}ms",
            self.failure_rate, self.latency_ms
        )
    }
    fn view(&self, engine: &Engine) -> String {
        format!(
            "faults rate {}, latency {} ms",
            engine.faults.rate(),
            engine.faults.latency().as_millis()
        )
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<Done> {
        engine
            .faults
            .set(self.failure_rate, Duration::from_millis(self.latency_ms));
        Ok(done(format!(
            "injecting failure rate {}, latency {} ms",
            self.failure_rate, self.latency_ms
        )))
    }
}
