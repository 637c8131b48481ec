//! `:doctor`: the deployment checked through this engine's own adapters
//! (`engine::doctor`; the CLI's `doctor` builds them cold instead).

use super::*;
use crate::engine::doctor::{DoctorReport, Level, Parts};

#[derive(Debug, Clone, PartialEq)]
pub struct Doctor;

impl Lever for Doctor {
    const SPEC: &'static Spec = &Spec {
        name: "doctor",
        scope: Scope::Read,
        help: "check brokers, topics, group, graph schema, Qdrant, the service and the data dir",
        cli: &["doctor"],
        palette: &["doctor"],
        http: &[],
    };
    type Outcome = DoctorReport;

    fn describe(&self) -> String {
        "doctor".into()
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<DoctorReport> {
        let b = &engine.backends;
        let remote = |kind: &str| kind != "embedded";
        let parts = Parts {
            broker: Ok(remote(b.broker.kind()).then(|| b.broker.clone())),
            graph: Ok(remote(b.graph.kind()).then(|| b.graph.clone())),
            vectors: Ok(remote(b.vectors.kind()).then(|| b.vectors.clone())),
            intelligence: Ok(Some(b.intelligence.clone())),
        };
        Ok(crate::engine::doctor::check(&engine.cfg, parts).await)
    }
}

impl Outcome for DoctorReport {
    fn message(&self) -> String {
        format!(
            "doctor: {} ok, {} warnings, {} failures",
            self.count(Level::Ok),
            self.count(Level::Warn),
            self.count(Level::Fail)
        )
    }
}

impl From<DoctorReport> for CommandOutcome {
    fn from(r: DoctorReport) -> Self {
        CommandOutcome::Doctor(Box::new(r))
    }
}
