//! A tree ingest mirrors its tree: documents whose files are gone are
//! removed (node, content, entities, vector point), and a file moved with
//! its content unchanged keeps its enrichment under its new path instead of
//! being enriched again. Only documents that came from the same tree (same
//! project, same root) are ever removed; documents posted over HTTP, or
//! ingested from another root, are not touched.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;

use crate::engine::pipeline::enrich::{self, Outcome};
use crate::engine::pipeline::producer::IngestReport;
use crate::engine::Engine;
use crate::events::{now_rfc3339, EnrichmentRequest};
use crate::model::Status;
use crate::ports::broker::OutRecord;
use crate::ports::graph::{EnrichmentUpdate, TreeDocument};

/// The error type a DLQ entry of a removed file is marked with (seed 004's
/// FILE_NOT_FOUND: "skip file, do not reprocess"); a replay skips it unless forced.
pub const FILE_NOT_FOUND: &str = "FILE_NOT_FOUND";

/// Enriched documents of a tree by content hash: where a new document's
/// enrichment can be carried from when its file was moved.
pub(crate) struct Carry {
    root: PathBuf,
    by_hash: HashMap<String, Vec<TreeDocument>>,
    /// Old documents whose enrichment moved to a new path (counted as renamed).
    pub(crate) taken: HashSet<String>,
}

impl Carry {
    pub(crate) fn new(root: &Path, docs: &[TreeDocument]) -> Self {
        let mut by_hash: HashMap<String, Vec<TreeDocument>> = HashMap::new();
        // Only enriched documents have an enrichment to carry: only they are copied.
        for d in docs.iter().filter(|d| d.is_enriched()) {
            by_hash
                .entry(d.content_hash.clone())
                .or_default()
                .push(d.clone());
        }
        Self {
            root: root.to_path_buf(),
            by_hash,
            taken: HashSet::new(),
        }
    }

    /// An enriched document of this tree with this content whose file is
    /// gone from the disk: the file `new_id` is, moved.
    pub(crate) fn take(&mut self, content_hash: &str, new_id: &str) -> Option<TreeDocument> {
        let list = self.by_hash.get_mut(content_hash)?;
        let pos = list.iter().position(|d| {
            d.entity_id != new_id
                && !self.taken.contains(&d.entity_id)
                && !self.root.join(&d.source_path).exists()
        })?;
        let d = list.swap_remove(pos);
        self.taken.insert(d.entity_id.clone());
        Some(d)
    }
}

/// Record on each new document the enrichment of the document it was moved
/// from, and announce it (completed event, vector payload) as an enrichment
/// would. Returns the requests whose old enrichment could not be read: they
/// go to the intelligence service after all.
pub(crate) async fn carry_enrichments(
    engine: &Arc<Engine>,
    moved: Vec<(EnrichmentRequest, TreeDocument)>,
) -> Result<Vec<EnrichmentRequest>> {
    let graph = &engine.backends.graph;
    let mut updates = Vec::new();
    let mut carried = Vec::new();
    let mut not_carried = Vec::new();
    for (req, old) in moved {
        let Some(record) = graph.get_document(&old.entity_id).await? else {
            not_carried.push(req);
            continue;
        };
        let Some(results) = record
            .enrichment
            .filter(|_| record.enrichment_status == Status::Completed)
        else {
            not_carried.push(req);
            continue;
        };
        let entities = graph.entities(&old.entity_id).await?;
        updates.push(EnrichmentUpdate {
            document_id: req.document_id.clone(),
            content_hash: req.content_hash.clone(),
            results: results.clone(),
            entities,
            enriched_at: record.enriched_at.unwrap_or_else(now_rfc3339),
        });
        carried.push(Outcome::Carried(Box::new((req, results))));
    }
    if !updates.is_empty() {
        graph.record_enrichments(updates).await?;
        enrich::record(engine, carried).await?;
    }
    Ok(not_carried)
}

/// After a full walk of `root`: remove the documents of this tree whose
/// files were not seen. Nothing is removed when part of the tree could not
/// be listed, or when the walk found no file at all while the index holds
/// some (an unmounted or emptied directory is not taken for a deletion).
pub(crate) async fn sweep(
    engine: &Arc<Engine>,
    before: Vec<TreeDocument>,
    seen: &HashSet<String>,
    carried: &HashSet<String>,
    report: &mut IngestReport,
) -> Result<()> {
    let gone: Vec<TreeDocument> = before
        .into_iter()
        .filter(|d| !seen.contains(&d.entity_id))
        .collect();
    if gone.is_empty() {
        return Ok(());
    }
    if let Some(why) = deletion_blocked(report.walk_errors.len(), seen.len(), gone.len()) {
        report.deletion_skipped = Some(why);
        return Ok(());
    }
    remove(engine, gone, carried, report).await
}

/// Why a walk cannot be trusted to say which files are gone, if so.
fn deletion_blocked(walk_errors: usize, seen: usize, gone: usize) -> Option<String> {
    if walk_errors > 0 {
        return Some(format!(
            "{gone} document(s) whose files were not seen are kept: {walk_errors} path(s) \
             could not be listed"
        ));
    }
    if seen == 0 {
        return Some(format!(
            "{gone} document(s) are kept: the tree has no files now (an unmounted or emptied \
             directory is not taken for deleting every file)"
        ));
    }
    None
}

/// Remove documents whose files are gone (a sweep, or a watch that saw the
/// delete). DLQ entries of those in the DLQ are marked FILE_NOT_FOUND.
pub(crate) async fn remove(
    engine: &Arc<Engine>,
    gone: Vec<TreeDocument>,
    carried: &HashSet<String>,
    report: &mut IngestReport,
) -> Result<()> {
    if gone.is_empty() {
        return Ok(());
    }
    let parked: HashMap<String, String> = gone
        .iter()
        .filter(|d| matches!(d.status, Status::Dlq | Status::Failed))
        .map(|d| (d.entity_id.clone(), d.source_path.clone()))
        .collect();
    if !parked.is_empty() {
        mark_file_not_found(engine, &parked).await?;
    }
    let ids: Vec<String> = gone.into_iter().map(|d| d.entity_id).collect();
    let removed = engine
        .backends
        .graph
        .delete_documents(ids, "file removed from the tree".into())
        .await?;
    engine.backends.vectors.delete(removed.clone()).await?;
    let renamed = removed.iter().filter(|id| carried.contains(*id)).count() as u64;
    report.renamed += renamed;
    report.deleted += removed.len() as u64 - renamed;
    Ok(())
}

/// Write each document's DLQ entry again, marked FILE_NOT_FOUND: the entry
/// stays visible (its reason says the file is gone) and a replay skips it.
async fn mark_file_not_found(engine: &Arc<Engine>, parked: &HashMap<String, String>) -> Result<()> {
    let kept = crate::engine::dlq::load_kept(engine).await?;
    let records: Vec<OutRecord> = kept
        .into_values()
        .filter_map(|e| {
            let path = parked.get(&e.message.document_id)?;
            let mut m = e.message;
            let before = format!(
                "{}: {}",
                m.error_details.exception_type, m.error_details.exception_message
            );
            let reason = format!("File '{path}' not found: removed from the tree");
            m.error_details.exception_type = FILE_NOT_FOUND.into();
            m.error_details.exception_message = format!("{reason} (was {before})");
            m.failure_reason = format!("{FILE_NOT_FOUND}: {reason}");
            m.failure_timestamp = now_rfc3339();
            Some(OutRecord {
                key: e.key.into_bytes(),
                value: serde_json::to_vec(&m).ok()?,
            })
        })
        .collect();
    if records.is_empty() {
        return Ok(());
    }
    engine
        .backends
        .broker
        .produce(&engine.cfg.dlq_topic, records)
        .await
}

#[cfg(test)]
mod tests {
    use super::deletion_blocked;

    #[test]
    fn a_walk_with_errors_or_no_files_removes_nothing() {
        assert!(deletion_blocked(1, 10, 3)
            .unwrap()
            .contains("1 path(s) could not be listed"));
        assert!(deletion_blocked(0, 0, 3).unwrap().contains("no files"));
        assert_eq!(deletion_blocked(0, 10, 3), None);
    }
}
