//! Write the matching DLQ entries to a JSON Lines file (masked on request).

use super::*;
use crate::engine::dlq::DlqFilter;
use crate::engine::dlq::transfer::ExportReport;

#[derive(Debug, Clone, PartialEq)]
pub struct ExportDlq {
    pub filter: DlqFilter,
    pub path: std::path::PathBuf,
    /// The fields to hash, when masked.
    pub mask: Option<Vec<String>>,
}

impl Lever for ExportDlq {
    const SPEC: &'static Spec = &Spec {
        name: "export",
        scope: Scope::Read,
        help: "the filtered DLQ entries to a JSON Lines file",
        cli: &["dlq export"],
        palette: &["export"],
        http: &[],
    };
    type Outcome = ExportReport;

    fn describe(&self) -> String {
        format!(
            "export DLQ {} to {}{}",
            self.filter.describe(),
            self.path.display(),
            if self.mask.is_some() { " (masked)" } else { "" }
        )
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<ExportReport> {
        crate::engine::dlq::transfer::export(engine, &self.filter, &self.path, self.mask.as_deref())
            .await
    }
}

impl Outcome for ExportReport {
    fn message(&self) -> String {
        format!(
            "exported {} entries to {}{}",
            self.exported,
            self.path,
            if self.masked { " (masked)" } else { "" }
        )
    }
}

impl From<ExportReport> for CommandOutcome {
    fn from(r: ExportReport) -> Self {
        CommandOutcome::Exported(r)
    }
}
