//! The bridge: walk a tree, index every file (pending), then publish an
//! enrichment request, or enrich inline for projects outside the rollout.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use serde::Serialize;
use serde_json::json;

use crate::embedding::embed;
use crate::engine::pipeline::discover::{document_type_of, language_of, looks_binary, walk};
use crate::engine::pipeline::enrich::{self, dlq_message, Failure, Origin, Outcome};
use crate::engine::pipeline::mirror::{self, Carry};
use crate::engine::Engine;
use crate::events::{now_rfc3339, DocumentType, EnrichmentRequest, Priority, RequestMetadata};
use crate::ports::broker::OutRecord;
use crate::ports::graph::{DocumentRecord, DocumentSource, IndexOutcome, NewDocument};
use crate::ports::vector::VectorPoint;

const BATCH: usize = 256;

/// Namespace for document ids: UUID v5 of "project/relative/path", so the same
/// file of the same project always maps to the same document.
const DOCUMENT_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x6f1c_5e0a_7d2b_4c8e_9a3f_1b2c_3d4e_5f60);

pub fn document_id(project: &str, relative_path: &str) -> String {
    uuid::Uuid::new_v5(
        &DOCUMENT_NAMESPACE,
        format!("{project}/{relative_path}").as_bytes(),
    )
    .to_string()
}

pub fn correlation_id() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct IngestReport {
    pub discovered: u64,
    /// New or changed documents written as pending.
    pub indexed: u64,
    /// Same content as already stored: left alone.
    pub unchanged: u64,
    pub published: u64,
    /// Enriched inline (project outside the rollout, or kill switch off).
    pub enriched_sync: u64,
    /// Indexed but parked in the DLQ at once (too large, unreadable, not UTF-8).
    pub rejected: u64,
    pub skipped_binary: u64,
    /// Files the walk could not even list (permission denied on a directory…).
    pub walk_errors: Vec<String>,
    /// Documents of this tree whose files are gone, now removed.
    pub deleted: u64,
    /// Files moved with their content unchanged: the enrichment moved with
    /// them (not enriched again) and the old path's document was removed.
    pub renamed: u64,
    /// Why documents whose files were not seen were kept (part of the tree
    /// could not be listed, or it has no files at all now).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_skipped: Option<String>,
}

/// One document read (from disk or a request), ready to index.
pub(crate) struct Prepared {
    pub(crate) doc: NewDocument,
    /// Why it cannot be enriched, if so: (exception type, message).
    pub(crate) problem: Option<(&'static str, String)>,
}

/// What indexing did with one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Same content as stored: nothing written, nothing requested.
    Unchanged,
    /// Indexed; its enrichment request is on the topic.
    Async,
    /// Indexed and enriched inline (kill switch off, or outside the rollout).
    Sync,
    /// Indexed, and parked in the DLQ at once (too large, not UTF-8).
    Rejected,
}

fn mtime_rfc3339(meta: &std::fs::Metadata) -> Option<String> {
    let t: chrono::DateTime<chrono::Utc> = meta.modified().ok()?.into();
    Some(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

pub(crate) fn prepare(
    root: &Path,
    path: &Path,
    project: &str,
    max_bytes: u64,
    source: &DocumentSource,
) -> Option<Prepared> {
    let rel = path
        .strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/");
    let meta = std::fs::metadata(path).ok();
    let size = meta.as_ref().map(|m| m.len()).unwrap_or(0);
    let language = language_of(&rel).map(String::from);
    let mut doc = NewDocument {
        entity_id: document_id(project, &rel),
        project_name: project.to_string(),
        document_type: document_type_of(&rel),
        source_path: rel,
        language,
        content_hash: blake3::hash(b"").to_hex().to_string(),
        indexed_at: now_rfc3339(),
        file_size_bytes: size,
        line_count: 0,
        last_modified: meta.as_ref().and_then(mtime_rfc3339),
        correlation_id: correlation_id(),
        content: None,
        source: source.clone(),
    };
    let problem = if size > max_bytes {
        // Judged from its metadata and first bytes, never read whole (a 30 GB
        // sparse file took 34 s to hash). The hash covers size and mtime, so a
        // later change is still detected.
        match sniff(path) {
            Ok(head) if looks_binary(&head) => return None,
            Ok(_) => doc.content_hash = metadata_hash(size, meta.as_ref()),
            Err(e) => return Some(unreadable(doc, e)),
        }
        Some((
            "FileTooLarge",
            format!("{size} bytes is over the {max_bytes}-byte enrichment limit"),
        ))
    } else {
        match std::fs::read(path) {
            Err(e) => return Some(unreadable(doc, e)),
            Ok(bytes) => {
                if looks_binary(&bytes) {
                    return None;
                }
                doc.content_hash = blake3::hash(&bytes).to_hex().to_string();
                doc.line_count = bytecount_lines(&bytes);
                let problem = std::str::from_utf8(&bytes).err().map(|e| {
                    (
                        "EncodingError",
                        format!(
                            "cannot decode file as UTF-8 (invalid byte at offset {})",
                            e.valid_up_to()
                        ),
                    )
                });
                doc.content = Some(bytes.into());
                problem
            }
        }
    };
    Some(Prepared { doc, problem })
}

/// The first bytes of a file, as many as the binary check looks at.
fn sniff(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(crate::engine::pipeline::discover::SNIFF_BYTES);
    std::fs::File::open(path)?
        .take(crate::engine::pipeline::discover::SNIFF_BYTES as u64)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// Content hash of a file too large to read: BLAKE3 of its size and mtime.
fn metadata_hash(size: u64, meta: Option<&std::fs::Metadata>) -> String {
    let mtime_ns = meta
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let mut h = blake3::Hasher::new();
    h.update(b"archon-tui oversized file\0");
    h.update(&size.to_le_bytes());
    h.update(&mtime_ns.to_le_bytes());
    h.finalize().to_hex().to_string()
}

fn unreadable(doc: NewDocument, e: std::io::Error) -> Prepared {
    Prepared {
        doc,
        problem: Some(("UnreadableFile", format!("cannot read file: {e}"))),
    }
}

/// `f` over `items` in order, on rayon's pool (every core; its threads
/// persist, where scoped threads per batch would be started each time).
fn on_all_cores<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    use rayon::prelude::*;
    items.par_iter().map(f).collect()
}

pub(crate) fn bytecount_lines(bytes: &[u8]) -> u64 {
    let n = memchr::memchr_iter(b'\n', bytes).count() as u64;
    n + u64::from(!bytes.is_empty() && !bytes.ends_with(b"\n"))
}

fn request_for(doc: &NewDocument) -> EnrichmentRequest {
    EnrichmentRequest {
        document_id: doc.entity_id.clone(),
        project_name: doc.project_name.clone(),
        content_hash: doc.content_hash.clone(),
        file_path: doc.source_path.clone(),
        document_type: Some(doc.document_type),
        language: doc.language.clone(),
        indexed_at: doc.indexed_at.clone(),
        enrichment_type: Default::default(),
        priority: Priority::Normal,
        correlation_id: doc.correlation_id.clone(),
        metadata: RequestMetadata {
            file_size_bytes: Some(doc.file_size_bytes),
            line_count: Some(doc.line_count),
            git_commit_hash: None,
            last_modified: doc.last_modified.clone(),
        },
        retry_count: 0,
    }
}

/// Request to re-drive a stored document (backfill, orphan recovery).
pub fn request_for_record(d: &DocumentRecord, priority: Priority) -> EnrichmentRequest {
    EnrichmentRequest {
        document_id: d.entity_id.clone(),
        project_name: d.project_name.clone(),
        content_hash: d.content_hash.clone(),
        file_path: d.source_path.clone(),
        document_type: DocumentType::parse(&d.document_type),
        language: d.language.clone(),
        indexed_at: d.indexed_at.clone(),
        enrichment_type: Default::default(),
        priority,
        correlation_id: d.correlation_id.clone(),
        metadata: RequestMetadata {
            file_size_bytes: Some(d.file_size_bytes),
            line_count: Some(d.line_count),
            git_commit_hash: None,
            last_modified: d.last_modified.clone(),
        },
        retry_count: 0,
    }
}

/// Send each request down the path the rollout picks: publish to the topic
/// (async) or enrich now (sync). Returns (published, enriched inline).
pub async fn dispatch(
    engine: &Arc<Engine>,
    requests: Vec<EnrichmentRequest>,
) -> Result<(u64, u64)> {
    let rollout = engine.rollout();
    let (asynchronous, synchronous): (Vec<_>, Vec<_>) = requests
        .into_iter()
        .partition(|r| rollout.use_async(&r.project_name));
    let published = publish(engine, &asynchronous).await?;
    let sync_count = enrich_inline(engine, synchronous).await?;
    Ok((published, sync_count))
}

/// Publish requests to the request topic, keyed by document, counted.
pub async fn publish(engine: &Engine, requests: &[EnrichmentRequest]) -> Result<u64> {
    let n = requests.len() as u64;
    let records = requests
        .iter()
        .map(|r| OutRecord {
            key: r.document_id.clone().into_bytes(),
            value: r.encode(),
        })
        .collect();
    engine
        .backends
        .broker
        .produce(&engine.cfg.enrich_topic, records)
        .await
        .inspect_err(|_| engine.stats.publish_errors.inc_by(n))?;
    crate::engine::telemetry::stats::Stats::add(&engine.stats.published, n);
    Ok(n)
}

/// Enrich now, on this engine's concurrency, and record the outcomes.
pub async fn enrich_inline(engine: &Arc<Engine>, requests: Vec<EnrichmentRequest>) -> Result<u64> {
    if requests.is_empty() {
        return Ok(0);
    }
    let n = requests.len() as u64;
    let outcomes: Vec<Outcome> = futures::stream::iter(requests)
        .map(|r| {
            let engine = engine.clone();
            async move { enrich::enrich(&engine, r, Origin::sync_path()).await }
        })
        .buffer_unordered(engine.limit.get())
        .collect()
        .await;
    enrich::record(engine, outcomes).await?;
    Ok(n)
}

/// Ingest in the background, reporting to the log (console, `serve`).
pub fn spawn_ingest(
    engine: &Arc<Engine>,
    path: std::path::PathBuf,
    project: String,
) -> tokio::task::JoinHandle<()> {
    let engine = engine.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match ingest(&engine, &path, &project, &|_| {}).await {
            Ok(r) => {
                tracing::info!(
                    "ingested {}: {} files, {} indexed, {} published, {} enriched inline",
                    crate::sanitize::clean(&project),
                    r.discovered,
                    r.indexed,
                    r.published,
                    r.enriched_sync
                );
                announce_done(&engine, &project, started).await;
            }
            Err(e) => tracing::error!(
                "ingest failed: {}",
                crate::sanitize::clean(&format!("{e:#}"))
            ),
        }
    })
}

/// Once nothing of `project` is pending or processing: one line saying the
/// ingest is done and how it ended, so the operator need not read counters.
/// A hold or an outage only delays it; a stop ends the wait silently.
async fn announce_done(engine: &Arc<Engine>, project: &str, started: std::time::Instant) {
    loop {
        if engine
            .sleep_or_stop(std::time::Duration::from_millis(500))
            .await
        {
            return;
        }
        // Only the counts say done (the lag is the whole topic's, not this
        // project's): at their pace while work remains, then from a fresh
        // read (a paced one may predate the last batch indexed).
        use crate::engine::telemetry::counts::Fresh;
        let graph = &*engine.backends.graph;
        let unfinished = |counts: &crate::model::ProjectCounts| {
            counts.get(project).map_or(0, crate::model::unfinished)
        };
        let Ok(paced) = engine.counts.read(graph, Fresh::Paced).await else {
            continue;
        };
        if unfinished(&paced) > 0 {
            continue;
        }
        let Ok(now) = engine.counts.read(graph, Fresh::Now).await else {
            continue;
        };
        if unfinished(&now) > 0 {
            continue;
        }
        let c = now.get(project).cloned().unwrap_or_default();
        let n = |s: crate::model::Status| c.get(&s).copied().unwrap_or(0);
        tracing::info!(
            "done: {} enriched in {} ({} in the DLQ, {} failed) after {:.1} s",
            n(crate::model::Status::Completed),
            crate::sanitize::clean(project),
            n(crate::model::Status::Dlq),
            n(crate::model::Status::Failed),
            started.elapsed().as_secs_f64()
        );
        return;
    }
}

/// Index and publish every file under `root` as project `project`.
pub async fn ingest(
    engine: &Arc<Engine>,
    root: &Path,
    project: &str,
    progress: &(dyn Fn(&IngestReport) + Sync),
) -> Result<IngestReport> {
    let meta =
        std::fs::metadata(root).with_context(|| format!("cannot ingest {}", root.display()))?;
    if !meta.is_dir() {
        bail!("cannot ingest {}: not a directory", root.display());
    }
    crate::model::check_project_name(project).map_err(anyhow::Error::msg)?;
    // The tree is known by its absolute path: the same tree from another
    // working directory is the same tree.
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let source = DocumentSource::Tree {
        root: root.to_string_lossy().into_owned(),
    };
    let before = engine
        .backends
        .graph
        .tree_documents(project, source.root().unwrap_or_default())
        .await?;
    let mut carry = Carry::new(&root, &before);
    let mut seen = std::collections::HashSet::new();
    // Each file with its size on disk (0 if it cannot be read now: reading
    // it reports why), so a batch is cut by bytes as well as by count.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<(PathBuf, u64), String>>(4 * BATCH);
    let walk_root = root.clone();
    let walker = tokio::task::spawn_blocking(move || {
        for entry in walk(&walk_root) {
            let entry = entry.map_err(|e| e.to_string()).map(|p| {
                let size = file_size(&p);
                (p, size)
            });
            if tx.blocking_send(entry).is_err() {
                break;
            }
        }
    });
    let mut report = IngestReport::default();
    let mut batch = Batcher::new(BATCH, engine.cfg.max_file_bytes);
    let tree = Tree {
        root: &root,
        project,
        source: &source,
    };
    // One batch is read and hashed while the one before it is written: the
    // store's round trips (a server's above all) overlap the reading.
    let mut reading: Option<Reading> = None;
    loop {
        let next = rx.recv().await;
        let done = next.is_none();
        let full = match next {
            Some(Ok((p, size))) => batch.push(p, size),
            Some(Err(e)) => {
                report.walk_errors.push(e);
                false
            }
            None => !batch.paths.is_empty(),
        };
        if full {
            let paths = batch.take();
            match reading.take() {
                None => reading = Some(read_batch(engine, &tree, paths)),
                Some(previous) => {
                    let read = previous.finish().await?;
                    if read.bytes() > READ_AHEAD_BYTES {
                        // A heavy batch is written before the next is read:
                        // two of them are never in memory at once.
                        write_read(engine, read, &mut report, &mut carry, &mut seen).await?;
                        reading = Some(read_batch(engine, &tree, paths));
                    } else {
                        reading = Some(read_batch(engine, &tree, paths));
                        write_read(engine, read, &mut report, &mut carry, &mut seen).await?;
                    }
                    progress(&report);
                }
            }
        }
        if done {
            if let Some(last) = reading.take() {
                let read = last.finish().await?;
                write_read(engine, read, &mut report, &mut carry, &mut seen).await?;
                progress(&report);
            }
            break;
        }
    }
    walker.await?;
    let carried = std::mem::take(&mut carry.taken);
    mirror::sweep(engine, before, &seen, &carried, &mut report).await?;
    if let Some(why) = &report.deletion_skipped {
        tracing::warn!("ingest {}: {why}", crate::sanitize::clean(project));
    }
    Ok(report)
}

/// A tree being ingested (or watched).
pub(crate) struct Tree<'a> {
    pub(crate) root: &'a Path,
    pub(crate) project: &'a str,
    pub(crate) source: &'a DocumentSource,
}

/// Read, index and dispatch one batch of a tree's files; the ids of the
/// documents they are go into `seen`.
pub(crate) async fn index_batch(
    engine: &Arc<Engine>,
    tree: &Tree<'_>,
    paths: Vec<PathBuf>,
    report: &mut IngestReport,
    carry: &mut Carry,
    seen: &mut std::collections::HashSet<String>,
) -> Result<()> {
    let read = read_batch(engine, tree, paths).finish().await?;
    write_read(engine, read, report, carry, seen).await
}

/// Bodies a batch of a tree ingest holds at most (plus its last file): a
/// batch is cut at `BATCH` files or at this many bytes, whichever comes
/// first. A real tree's 256 files in a row can be 40 MiB of generated
/// bindings, and a batch is in memory three times on its way to a server
/// graph (the bodies, their Bolt values, the encoded message): without
/// the cut such a batch made the peak RSS (docs/performance.md, goal 6).
pub(crate) const BATCH_BYTES: u64 = 8 << 20;

/// A file's size on disk for weighing it in a [`Batcher`]: 0 when it cannot
/// be read now (reading it then reports why). Blocking.
pub(crate) fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The files of the batch being gathered, and the bytes they will read: a
/// tree ingest's batches and a watched tree's.
pub(crate) struct Batcher {
    pub(crate) paths: Vec<PathBuf>,
    bytes: u64,
    max_files: usize,
    max_file_bytes: u64,
}

impl Batcher {
    pub(crate) fn new(max_files: usize, max_file_bytes: u64) -> Self {
        Self {
            paths: Vec::with_capacity(max_files),
            bytes: 0,
            max_files,
            max_file_bytes,
        }
    }

    /// Add a file of `size` bytes; true when the batch is full (by count or
    /// by `BATCH_BYTES`). A file over the size limit is refused unread: 0
    /// bytes.
    pub(crate) fn push(&mut self, path: PathBuf, size: u64) -> bool {
        self.paths.push(path);
        if size <= self.max_file_bytes {
            self.bytes += size;
        }
        self.paths.len() >= self.max_files || self.bytes >= BATCH_BYTES
    }

    pub(crate) fn take(&mut self) -> Vec<PathBuf> {
        self.bytes = 0;
        std::mem::replace(&mut self.paths, Vec::with_capacity(self.max_files))
    }
}

/// Bodies a tree ingest reads ahead of the batch being written: a batch
/// heavier than this (large files) is written before the next one is read.
/// Unbounded, reading ahead took a real tree's peak RSS from 87 to 117–120
/// MiB at the same docs/s; with this bound 87 MiB (docs/performance.md).
const READ_AHEAD_BYTES: u64 = 8 << 20;

/// A batch of files being read and hashed on every core: (files listed, the
/// documents they make).
struct Reading(u64, tokio::task::JoinHandle<Vec<Prepared>>);

/// A batch read: (files listed, the documents they make).
struct Read(u64, Vec<Prepared>);

impl Reading {
    async fn finish(self) -> Result<Read> {
        Ok(Read(self.0, self.1.await?))
    }
}

impl Read {
    fn bytes(&self) -> u64 {
        self.1.iter().map(|p| p.doc.file_size_bytes).sum()
    }
}

fn read_batch(engine: &Engine, tree: &Tree<'_>, paths: Vec<PathBuf>) -> Reading {
    let listed = paths.len() as u64;
    let (root, project, max, source) = (
        tree.root.to_path_buf(),
        tree.project.to_string(),
        engine.cfg.max_file_bytes,
        tree.source.clone(),
    );
    Reading(
        listed,
        tokio::task::spawn_blocking(move || {
            on_all_cores(&paths, |p| prepare(&root, p, &project, max, &source))
                .into_iter()
                .flatten()
                .collect()
        }),
    )
}

async fn write_read(
    engine: &Arc<Engine>,
    Read(listed, prepared): Read,
    report: &mut IngestReport,
    carry: &mut Carry,
    seen: &mut std::collections::HashSet<String>,
) -> Result<()> {
    report.discovered += listed;
    crate::engine::telemetry::stats::Stats::add(&engine.stats.discovered, listed);
    report.skipped_binary += listed - prepared.len() as u64;
    seen.extend(prepared.iter().map(|p| p.doc.entity_id.clone()));
    index_prepared(engine, prepared, report, Some(carry)).await?;
    Ok(())
}

/// Index prepared documents in one write, embed what changed, then publish
/// their requests or enrich them inline as the rollout says. One
/// disposition per document, in order. An error before the graph write
/// leaves nothing written; one after it leaves the documents pending (and
/// visible), and a backfill or `drain` re-drives them.
pub(crate) async fn index_prepared(
    engine: &Arc<Engine>,
    prepared: Vec<Prepared>,
    report: &mut IngestReport,
    mut carry: Option<&mut Carry>,
) -> Result<Vec<Disposition>> {
    let started = Instant::now();
    let outcomes = engine
        .backends
        .graph
        .index_documents(prepared.iter().map(|p| p.doc.clone()).collect())
        .await?;
    // Embed what changed, on every core too.
    let bodies: Vec<Option<std::sync::Arc<[u8]>>> = prepared
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| !matches!(o, IndexOutcome::Unchanged(_)))
        .map(|(p, _)| p.doc.content.clone())
        .collect();
    let mut vectors = tokio::task::spawn_blocking(move || {
        on_all_cores(&bodies, |b| {
            embed(&String::from_utf8_lossy(b.as_deref().unwrap_or_default()))
        })
    })
    .await?
    .into_iter();
    let mut points = Vec::new();
    let mut requests = Vec::new();
    let mut rejected = Vec::new();
    let mut moved = Vec::new();
    let rollout = engine.rollout();
    let mut dispositions = Vec::with_capacity(outcomes.len());
    for (p, outcome) in prepared.into_iter().zip(outcomes) {
        if let IndexOutcome::Unchanged(_) = outcome {
            report.unchanged += 1;
            dispositions.push(Disposition::Unchanged);
            continue;
        }
        report.indexed += 1;
        dispositions.push(match &p.problem {
            Some(_) => Disposition::Rejected,
            None if rollout.use_async(&p.doc.project_name) => Disposition::Async,
            None => Disposition::Sync,
        });
        points.push(VectorPoint {
            id: p.doc.entity_id.clone(),
            vector: vectors.next().unwrap_or_default(),
            payload: json!({
                "document_id": p.doc.entity_id,
                "project_name": p.doc.project_name,
                "source_path": p.doc.source_path,
                "document_type": p.doc.document_type.as_str(),
                "language": p.doc.language,
                "content_hash": p.doc.content_hash,
                "enrichment_status": "pending",
                "embedding_version": crate::embedding::EMBEDDING_VERSION,
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        });
        let req = request_for(&p.doc);
        match p.problem {
            Some((exception_type, message)) => {
                engine.stats.error(exception_type);
                rejected.push(Outcome::Dlq {
                    message: dlq_message(
                        engine,
                        serde_json::to_value(&req)?,
                        Some(&req),
                        Failure {
                            exception_type,
                            message,
                            failure_count: 1,
                            attempts: Vec::new(),
                        },
                        &Origin {
                            topic: "ingest".into(),
                            partition: -1,
                            offset: -1,
                        },
                    ),
                    document: Some((req.document_id.clone(), req.content_hash.clone())),
                })
            }
            None => {
                // A file moved with its content: its enrichment moves too.
                let from = match (&mut carry, outcome) {
                    (Some(c), IndexOutcome::Created) => c.take(&req.content_hash, &req.document_id),
                    _ => None,
                };
                match from {
                    Some(old) => moved.push((req, old)),
                    None => requests.push(req),
                }
            }
        }
    }
    engine.backends.vectors.upsert(points).await?;
    if !moved.is_empty() {
        requests.extend(mirror::carry_enrichments(engine, moved).await?);
    }
    let indexed_now = requests.len() as u64 + rejected.len() as u64;
    report.rejected += rejected.len() as u64;
    enrich::record(engine, rejected).await?;
    // Indexing is done once documents are stored and their requests are
    // published; inline (sync) enrichment is timed separately.
    let (asynchronous, synchronous): (Vec<_>, Vec<_>) = requests
        .into_iter()
        .partition(|r| rollout.use_async(&r.project_name));
    let (published, _) = dispatch(engine, asynchronous).await?;
    engine.stats.record_index(started.elapsed(), indexed_now);
    crate::engine::telemetry::stats::Stats::add(&engine.stats.indexed, indexed_now);
    let (_, sync) = dispatch(engine, synchronous).await?;
    report.published += published;
    report.enriched_sync += sync;
    Ok(dispositions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_cut_at_its_file_count_or_its_bytes_whichever_comes_first() {
        let max = 5 << 20;
        let mut b = Batcher::new(BATCH, max);
        // Small files: cut at BATCH files.
        let cuts: Vec<bool> = (0..BATCH)
            .map(|i| b.push(format!("s{i}").into(), 400))
            .collect();
        assert!(cuts[..BATCH - 1].iter().all(|c| !c) && cuts[BATCH - 1]);
        assert_eq!(b.take().len(), BATCH);
        // Files of 3 MiB: the third reaches 8 MiB.
        assert!(!b.push("a".into(), 3 << 20));
        assert!(!b.push("b".into(), 3 << 20));
        assert!(b.push("c".into(), 3 << 20));
        assert_eq!(b.take().len(), 3);
        // A file over the limit is refused unread: it weighs nothing.
        for i in 0..20 {
            assert!(!b.push(format!("big{i}").into(), max + 1));
        }
        assert_eq!(b.take().len(), 20);
    }
}
