//! The kept time series (lag, throughput, DLQ, breaker) of a window.

use serde::Serialize;

use super::*;
use crate::ports::history::Sample;

#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub window_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryWindow {
    pub window_ms: i64,
    pub samples: Vec<Sample>,
    /// The levers pulled in the window (`telemetry::markers`), oldest first.
    pub markers: Vec<crate::engine::telemetry::markers::Marker>,
}

impl Lever for History {
    const SPEC: &'static Spec = &Spec {
        name: "history",
        scope: Scope::Read,
        help: "lag, throughput, DLQ and breaker over 30m..3d",
        cli: &["history"],
        palette: &["history"],
        http: &[],
    };
    type Outcome = HistoryWindow;

    fn describe(&self) -> String {
        format!("history {} s", self.window_ms / 1000)
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<HistoryWindow> {
        let Some(store) = &engine.history else {
            anyhow::bail!("no history is kept in this data dir (see the log)");
        };
        let from = crate::clock::now_ms() - self.window_ms;
        // The trail is kept whole; a lever a minute for 3 days is ~4,300.
        let audit = engine.control.audit(5_000).await.unwrap_or_else(|e| {
            tracing::warn!("no lever markers: the audit trail is unreadable: {e:#}");
            Vec::new()
        });
        Ok(HistoryWindow {
            window_ms: self.window_ms,
            samples: store.since(from).await?,
            markers: crate::engine::telemetry::markers::markers(&audit, from),
        })
    }
}

impl Outcome for HistoryWindow {
    fn message(&self) -> String {
        format!("{} history samples", self.samples.len())
    }
}

impl From<HistoryWindow> for CommandOutcome {
    fn from(h: HistoryWindow) -> Self {
        CommandOutcome::History(Box::new(h))
    }
}
