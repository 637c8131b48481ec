//! Graph/document store: Document nodes with the seeds' properties, extracted
//! entities linked to their document, counts by status and project.

use anyhow::Result;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::events::{DocumentType, EnrichmentResults};
// The domain types, where the stores' callers have always found them.
pub use crate::model::{total_counts, unfinished, ProjectCounts, Status, Transition};

/// A code entity the analyzer found (function, class, struct, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    pub kind: String,
    pub name: String,
    pub line: u32,
}

/// What the producer hands the store when it indexes a file.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub entity_id: String,
    pub project_name: String,
    pub source_path: String,
    pub document_type: DocumentType,
    pub language: Option<String>,
    pub content_hash: String,
    pub indexed_at: String,
    pub file_size_bytes: u64,
    pub line_count: u64,
    pub last_modified: Option<String>,
    pub correlation_id: String,
    /// File body, kept content-addressed for the enrichment step. `None` when
    /// the file was not readable or is over the size limit. Shared, so the
    /// indexer's later steps (embedding) need no copy of it.
    pub content: Option<std::sync::Arc<[u8]>>,
    /// Where it came from: a tree ingest removes only its own tree's documents.
    pub source: DocumentSource,
}

/// Where a document came from. Stored on it, so a tree ingest that mirrors
/// its tree removes only documents of that tree, never ones posted over HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DocumentSource {
    /// A file of the tree at this root (absolute, as ingest resolved it).
    Tree { root: String },
    /// Posted to the bridge API.
    Http,
}

impl DocumentSource {
    pub fn kind(&self) -> &'static str {
        match self {
            DocumentSource::Tree { .. } => "tree",
            DocumentSource::Http => "http",
        }
    }

    pub fn root(&self) -> Option<&str> {
        match self {
            DocumentSource::Tree { root } => Some(root),
            DocumentSource::Http => None,
        }
    }

    /// From the stored pair; `None` for documents indexed before sources
    /// were recorded (or an unknown kind another tool wrote).
    pub fn from_stored(kind: Option<&str>, root: Option<String>) -> Option<Self> {
        match (kind, root) {
            (Some("tree"), Some(root)) => Some(DocumentSource::Tree { root }),
            (Some("http"), _) => Some(DocumentSource::Http),
            _ => None,
        }
    }
}

/// Documents of one project from one source (`GraphStore::sources`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceCount {
    pub project: String,
    pub kind: Option<String>,
    pub root: Option<String>,
    pub documents: u64,
}

/// A document of one tree, as mirroring that tree looks at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeDocument {
    pub entity_id: String,
    pub source_path: String,
    pub content_hash: String,
    pub status: Status,
    /// The content hash its recorded enrichment was computed from.
    pub enriched_hash: Option<String>,
}

impl TreeDocument {
    pub fn is_enriched(&self) -> bool {
        self.status == Status::Completed
            && self.enriched_hash.as_deref() == Some(self.content_hash.as_str())
    }
}

/// What a store holds for one document, as far as indexing and recording
/// results decide on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub content_hash: String,
    pub status: Status,
    /// The content hash the recorded enrichment was computed from.
    pub enriched_hash: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexOutcome {
    /// New document, now pending.
    Created,
    /// Content changed, back to pending.
    Changed,
    /// Same content hash as stored; left untouched in this status.
    Unchanged(Status),
}

impl IndexOutcome {
    /// Indexing `content_hash` over what is stored.
    pub fn judge(stored: Option<&Stored>, content_hash: &str) -> Self {
        match stored {
            Some(s) if s.content_hash == content_hash => IndexOutcome::Unchanged(s.status),
            Some(_) => IndexOutcome::Changed,
            None => IndexOutcome::Created,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentRecord {
    pub entity_id: String,
    pub project_name: String,
    pub source_path: String,
    pub document_type: String,
    pub language: Option<String>,
    pub content_hash: String,
    pub enrichment_status: Status,
    pub indexed_at: String,
    pub enriched_at: Option<String>,
    pub file_size_bytes: u64,
    pub line_count: u64,
    pub last_modified: Option<String>,
    pub correlation_id: String,
    pub enrichment_content_hash: Option<String>,
    pub enrichment: Option<EnrichmentResults>,
    pub failure_reason: Option<String>,
    pub replay_count: u32,
    pub replayed_at: Option<String>,
    /// The completed event and vector update of the current enrichment were
    /// written (`mark_announced`). False between recording an enrichment and
    /// announcing it: a crash there leaves it false, and the redelivered
    /// request announces it again instead of skipping a duplicate.
    pub announced: bool,
    /// Where it came from; `None` for documents indexed before sources were
    /// recorded.
    pub source: Option<DocumentSource>,
}

impl DocumentRecord {
    /// Its current enrichment is for `content_hash`: a request for it is a duplicate.
    pub fn is_enriched_for(&self, content_hash: &str) -> bool {
        self.enrichment_status == Status::Completed
            && self.enrichment_content_hash.as_deref() == Some(content_hash)
    }
}

/// A successful enrichment to record, keyed by the content hash it was
/// computed from (seed §5.4).
#[derive(Debug, Clone)]
pub struct EnrichmentUpdate {
    pub document_id: String,
    pub content_hash: String,
    pub results: EnrichmentResults,
    pub entities: Vec<Entity>,
    pub enriched_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyResult {
    Applied,
    /// Already enriched from this content hash: nothing written (idempotent).
    AlreadyEnriched,
    /// The document has newer content (or is gone); a newer request exists.
    Stale,
}

impl ApplyResult {
    /// Recording a result computed from `content_hash` over what is stored
    /// (seed §5.4: only for that content, and only once).
    pub fn judge(stored: Option<&Stored>, content_hash: &str) -> Self {
        match stored {
            None => ApplyResult::Stale,
            Some(s) if s.content_hash != content_hash => ApplyResult::Stale,
            Some(s)
                if s.status == Status::Completed
                    && s.enriched_hash.as_deref() == Some(content_hash) =>
            {
                ApplyResult::AlreadyEnriched
            }
            Some(_) => ApplyResult::Applied,
        }
    }
}

/// A document as an enrichment first reads it (`GraphStore::read_for_enrichment`).
#[derive(Debug, Clone, Default)]
pub struct ReadForEnrichment {
    pub document: Option<DocumentRecord>,
    /// The body, read only when the document's content hash is the one asked for.
    pub content: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct FailureUpdate {
    pub document_id: String,
    pub content_hash: String,
    pub reason: String,
}

/// A constraint or index a graph store needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaItem {
    pub name: String,
    pub present: bool,
    /// The statement that creates it, in the server's dialect.
    pub create: String,
}

#[async_trait]
pub trait GraphStore: Send + Sync {
    fn kind(&self) -> &'static str;
    /// How many write batches gain from running at once: 1 for a store with
    /// a single writer (the default), more for a server whose commits overlap.
    fn parallel_writes(&self) -> usize {
        1
    }
    /// The constraints and indexes the store's queries rely on, each with
    /// whether the server has it and the statement that makes it (doctor).
    /// Empty for a store that keeps its own schema.
    async fn schema(&self) -> Result<Vec<SchemaItem>> {
        Ok(Vec::new())
    }
    /// Index documents as pending unless their content hash is unchanged.
    async fn index_documents(&self, docs: Vec<NewDocument>) -> Result<Vec<IndexOutcome>>;
    async fn get_document(&self, id: &str) -> Result<Option<DocumentRecord>>;
    async fn content(&self, content_hash: &str) -> Result<Option<Vec<u8>>>;
    /// The first reads of a fetched batch's enrichments in one go: for each
    /// (document id, content hash), the document and, when its content hash
    /// is that one, its body. `None`: this store reads one at a time (the
    /// default; the enrichments then call `get_document` and `content`).
    async fn read_for_enrichment(
        &self,
        _wanted: Vec<(String, String)>,
    ) -> Result<Option<Vec<ReadForEnrichment>>> {
        Ok(None)
    }
    /// `read_for_enrichment` that also picks the documents (pending →
    /// processing, as `transition(…, Transition::Pick)`) in the same
    /// statement. `None`: this store picks apart (the default: on SQLite the
    /// pick is a write for the one writer and the read a reader's).
    async fn pick_and_read(
        &self,
        _wanted: Vec<(String, String)>,
    ) -> Result<Option<Vec<ReadForEnrichment>>> {
        Ok(None)
    }
    /// Move the documents that are in `t.from()` to `t.to()` (the table in
    /// `model::Transition`); returns the ids it moved (the others were elsewhere), so a caller acts once per move.
    async fn transition(&self, ids: Vec<String>, t: Transition) -> Result<Vec<String>>;
    async fn record_enrichments(&self, updates: Vec<EnrichmentUpdate>) -> Result<Vec<ApplyResult>>;
    /// The completed events (and vector updates) of these (document, content
    /// hash) enrichments are written: the outbox mark `DocumentRecord::announced`.
    /// A document enriched since for other content keeps its mark unset.
    async fn mark_announced(&self, marks: Vec<(String, String)>) -> Result<()>;
    /// Documents parked in the DLQ, with their reason.
    async fn record_failures(&self, failures: Vec<FailureUpdate>) -> Result<()>;
    /// processing → pending after a crash; returns how many.
    async fn reset_processing(&self) -> Result<u64>;
    async fn counts(&self) -> Result<ProjectCounts>;
    /// Documents pending or processing, in one project (None: in all): what
    /// a drain waits on. `counts` reads every document (a server keeps no
    /// count by property value); a store with an index on the status
    /// answers this from the unfinished ones alone.
    async fn unfinished_count(&self, project: Option<String>) -> Result<u64> {
        let counts = self.counts().await?;
        Ok(match project {
            None => unfinished(&total_counts(&counts)),
            Some(p) => counts.get(&p).map_or(0, unfinished),
        })
    }
    /// For each cutoff (RFC 3339, UTC), how many documents still pending or
    /// processing were indexed before it (seed §10.2: pending by age).
    async fn unfinished_indexed_before(&self, cutoffs: Vec<String>) -> Result<Vec<u64>>;
    /// Documents in `status`, ordered by id, after `after_id` (paging).
    async fn documents_with_status(
        &self,
        status: Status,
        project: Option<String>,
        after_id: Option<String>,
        limit: usize,
    ) -> Result<Vec<DocumentRecord>>;
    async fn entities(&self, document_id: &str) -> Result<Vec<Entity>>;
    /// How many documents each project holds from each source: (project,
    /// source kind, tree root, documents); kind `None` for documents indexed
    /// before sources were recorded.
    async fn sources(&self) -> Result<Vec<SourceCount>>;
    /// The documents of project `project` that came from the tree at `root`.
    async fn tree_documents(&self, project: &str, root: &str) -> Result<Vec<TreeDocument>>;
    /// Remove documents with their entities, their content when no other
    /// document shares it, and leave a deletion mark (`deleted`) so a request
    /// still on its way for one is skipped. Returns the ids it removed.
    async fn delete_documents(&self, ids: Vec<String>, reason: String) -> Result<Vec<String>>;
    /// Why and when a document that is gone was removed ((reason, RFC 3339
    /// time)); `None` when it never was (or the document exists again).
    async fn deleted(&self, id: &str) -> Result<Option<(String, String)>>;
}
