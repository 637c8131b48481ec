//! The domain types every layer speaks: a document's enrichment status and
//! its transitions, counts by status, lag per partition. No backend, no UI.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Processing,
    Completed,
    Failed,
    Dlq,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Processing,
        Status::Completed,
        Status::Failed,
        Status::Dlq,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Processing => "processing",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Dlq => "dlq",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }
    /// A status this program does not know (written by another tool) is shown
    /// as failed, not hidden.
    pub fn parse_or_failed(s: &str) -> Self {
        Self::parse(s).unwrap_or(Status::Failed)
    }
    /// Which transitions a document may make. `processing → pending` is the
    /// crash-recovery step; `completed/dlq → pending` is re-ingest of changed
    /// content or a DLQ replay; `dlq → failed` is a purge.
    pub fn can_become(self, next: Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (Pending, Processing)
                | (Pending, Completed)
                | (Pending, Dlq)
                | (Pending, Failed)
                | (Processing, Completed)
                | (Processing, Dlq)
                | (Processing, Failed)
                | (Processing, Pending)
                | (Completed, Pending)
                | (Dlq, Pending)
                | (Dlq, Failed)
                | (Failed, Pending)
                | (Failed, Dlq)
        )
    }
}

/// The status moves the engine asks a store to make on a list of documents,
/// each from one status to one other. The one table both stores (SQL and
/// Cypher) build their updates from; a document not in `from` is left alone.
/// Moves that depend on content (completed, DLQ) go through
/// `record_enrichments` / `record_failures`, which judge the content hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// A consumer picked the document up.
    Pick,
    /// Work handed back unfinished (engine stopping, lost assignment).
    HandBack,
    /// A DLQ replay: counted on the document.
    Replay,
    /// The operator purged the DLQ entry; the reason is kept.
    Purge,
}

impl Transition {
    pub const ALL: [Transition; 4] = [
        Transition::Pick,
        Transition::HandBack,
        Transition::Replay,
        Transition::Purge,
    ];
    /// `(from, to)`: the table.
    pub fn statuses(self) -> (Status, Status) {
        match self {
            Transition::Pick => (Status::Pending, Status::Processing),
            Transition::HandBack => (Status::Processing, Status::Pending),
            Transition::Replay => (Status::Dlq, Status::Pending),
            Transition::Purge => (Status::Dlq, Status::Failed),
        }
    }
    pub fn from(self) -> Status {
        self.statuses().0
    }
    pub fn to(self) -> Status {
        self.statuses().1
    }
    /// Prefix a purge puts before the stored failure reason.
    pub const PURGED_PREFIX: &'static str = "purged from the DLQ by the operator: ";
}

/// Counts by status, per project.
pub type ProjectCounts = BTreeMap<String, BTreeMap<Status, u64>>;

pub fn total_counts(by_project: &ProjectCounts) -> BTreeMap<Status, u64> {
    let mut total: BTreeMap<Status, u64> = Status::ALL.iter().map(|s| (*s, 0)).collect();
    for counts in by_project.values() {
        for (s, n) in counts {
            *total.entry(*s).or_default() += n;
        }
    }
    total
}

/// Documents not yet finished: pending, or being processed now. The one
/// definition of "pending" the health documents, metrics and summaries show.
pub fn unfinished(counts: &BTreeMap<Status, u64>) -> u64 {
    [Status::Pending, Status::Processing]
        .iter()
        .map(|s| counts.get(s).copied().unwrap_or(0))
        .sum()
}

/// Where one partition of the request topic stands for the consumer group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PartitionLag {
    pub partition: i32,
    pub end: i64,
    pub committed: i64,
    pub lag: i64,
}

pub fn total_lag(parts: &[PartitionLag]) -> i64 {
    parts.iter().map(|p| p.lag).sum()
}

/// Seed §10.2's "documents pending enrichment (by age)": the ages counted,
/// as (label, seconds); each count is of unfinished documents indexed more
/// than that long ago.
pub const PENDING_AGES: [(&str, i64); 4] = [("1m", 60), ("10m", 600), ("1h", 3600), ("1d", 86_400)];

/// A project name the graph, the topics and a terminal can carry: 1..=255
/// characters, no control characters (they would reach operators' screens and
/// logs, and an ESC in a name is how a terminal gets hijacked).
pub fn check_project_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > 255 {
        return Err("project name must be 1..=255 characters".into());
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!(
            "project name contains the control character U+{:04X}; use letters, digits and punctuation",
            c as u32
        ));
    }
    Ok(())
}

/// `check_project_name` as a clap value parser, so the CLI refuses a bad
/// `--project` before anything starts.
pub fn parse_project_name(name: &str) -> Result<String, String> {
    check_project_name(name).map(|()| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_store_transition_is_allowed_by_the_lifecycle() {
        for t in Transition::ALL {
            let (from, to) = t.statuses();
            assert!(from.can_become(to), "{t:?}: {from:?} → {to:?}");
        }
    }

    #[test]
    fn the_lifecycle_refuses_what_it_must() {
        use Status::*;
        assert!(Processing.can_become(Pending), "crash recovery");
        assert!(!Completed.can_become(Processing));
        assert!(
            !Dlq.can_become(Completed),
            "a DLQ entry is replayed, not completed"
        );
        assert!(!Pending.can_become(Pending));
    }
}
