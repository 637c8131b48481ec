//! A document's history across the topics and the graph (`engine::telemetry::trace`).

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// A document id, a correlation id, or a path.
    pub query: String,
}

impl Lever for Trace {
    const SPEC: &'static Spec = &Spec {
        name: "trace",
        scope: Scope::Read,
        help: "a document's requests, DLQ entries and completed events, and the graph's record",
        cli: &["trace"],
        palette: &[],
        http: &[],
    };
    type Outcome = crate::engine::telemetry::trace::Trace;

    fn describe(&self) -> String {
        format!("trace {}", self.query)
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<crate::engine::telemetry::trace::Trace> {
        engine.trace(&self.query).await
    }
}

impl Outcome for crate::engine::telemetry::trace::Trace {
    fn message(&self) -> String {
        format!(
            "{} events for document {} ({} records read)",
            self.events.len(),
            self.document_id,
            self.scanned
        )
    }
}

impl From<crate::engine::telemetry::trace::Trace> for CommandOutcome {
    fn from(t: crate::engine::telemetry::trace::Trace) -> Self {
        CommandOutcome::Trace(Box::new(t))
    }
}
