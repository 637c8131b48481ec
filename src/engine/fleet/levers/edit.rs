//! Edit one DLQ entry's request (`engine::dlq::edit::EDITABLE` fields) and
//! replay it; a dry run only checks it and gives the diff.

use super::*;
use crate::engine::dlq;
use crate::engine::dlq::edit::EditReport;

#[derive(Debug, Clone, PartialEq)]
pub struct EditReplay {
    pub partition: i32,
    pub id: i64,
    pub changes: Vec<(String, String)>,
    pub dry_run: bool,
}

impl Lever for EditReplay {
    const SPEC: &'static Spec = &Spec {
        name: "edit",
        scope: Scope::Control,
        help: "edit one DLQ entry's request, check it, show the diff, replay it",
        cli: &["dlq edit"],
        palette: &[],
        http: &[],
    };
    type Outcome = EditReport;

    fn changes_anything(&self) -> bool {
        !self.dry_run
    }
    fn describe(&self) -> String {
        format!(
            "edit and replay DLQ entry {}{}: {}",
            self.id,
            if self.dry_run { " (dry run)" } else { "" },
            self.changes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<EditReport> {
        let Some(entry) = dlq::load_one(engine, self.partition, self.id).await? else {
            anyhow::bail!(
                "DLQ entry {} is gone (replayed, purged or compacted)",
                self.id
            );
        };
        engine
            .edit_and_replay(&entry, &self.changes, self.dry_run)
            .await
    }
}

impl Outcome for EditReport {
    fn message(&self) -> String {
        format!(
            "{} entry {}: {}",
            if self.dry_run {
                "would replay"
            } else if self.replayed {
                "replayed"
            } else {
                "not replayed (it left the DLQ meanwhile)"
            },
            self.entry_id,
            self.diff
                .iter()
                .map(|(f, a, b)| format!("{f} {a} → {b}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

impl From<EditReport> for CommandOutcome {
    fn from(r: EditReport) -> Self {
        CommandOutcome::Edited(Box::new(r))
    }
}
