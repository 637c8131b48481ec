//! Read one DLQ entry in full (the snapshot holds summaries).

use super::*;
use crate::engine::dlq::{self, DlqEntry};

#[derive(Debug, Clone, PartialEq)]
pub struct LoadDlqEntry {
    pub partition: i32,
    pub id: i64,
}

impl Lever for LoadDlqEntry {
    const SPEC: &'static Spec = &Spec {
        name: "dlq-entry",
        scope: Scope::Read,
        help: "one DLQ entry in full (the console's Enter on the DLQ list)",
        cli: &[],
        palette: &[],
        http: &[],
    };
    type Outcome = DlqEntry;

    fn describe(&self) -> String {
        format!("open DLQ entry {}/{}", self.partition, self.id)
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<DlqEntry> {
        match dlq::load_one(engine, self.partition, self.id).await? {
            Some(e) => Ok(e),
            None => anyhow::bail!(
                "DLQ entry {} is gone (replayed, purged or compacted)",
                self.id
            ),
        }
    }
}

impl Outcome for DlqEntry {
    fn message(&self) -> String {
        format!("DLQ entry {} loaded", self.id)
    }
}

impl From<DlqEntry> for CommandOutcome {
    fn from(e: DlqEntry) -> Self {
        CommandOutcome::DlqEntry(Box::new(e))
    }
}
