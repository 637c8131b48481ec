//! Bring entries from an export file into the DLQ (idempotent; every line
//! checked first, nothing written if one is refused).

use super::*;
use crate::engine::dlq::transfer::ImportReport;

#[derive(Debug, Clone, PartialEq)]
pub struct ImportDlq {
    pub path: std::path::PathBuf,
    pub dry_run: bool,
}

impl Lever for ImportDlq {
    const SPEC: &'static Spec = &Spec {
        name: "import",
        scope: Scope::Control,
        help: "DLQ entries from an export file back in",
        cli: &["dlq import"],
        palette: &["import"],
        http: &[],
    };
    type Outcome = ImportReport;

    fn changes_anything(&self) -> bool {
        !self.dry_run
    }
    fn describe(&self) -> String {
        format!(
            "import DLQ entries from {}{}",
            self.path.display(),
            if self.dry_run { " (dry run)" } else { "" }
        )
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<ImportReport> {
        let r = crate::engine::dlq::transfer::import(engine, &self.path, self.dry_run).await?;
        if !r.invalid.is_empty() {
            return Err(CommandError::Invalid(format!(
                "nothing imported: {}",
                r.invalid.join("; ")
            ))
            .into());
        }
        Ok(r)
    }
}

impl Outcome for ImportReport {
    fn message(&self) -> String {
        format!(
            "imported {} entries ({} already present)",
            self.imported, self.already_present
        )
    }
}

impl From<ImportReport> for CommandOutcome {
    fn from(r: ImportReport) -> Self {
        CommandOutcome::Imported(r)
    }
}
