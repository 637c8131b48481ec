//! The dead-letter queue as an operator sees it (Sidekiq's Dead set):
//! browse, filter, group by error type, replay, purge.
//!
//! The DLQ topic is compacted by key (document id): the latest record per key
//! is the entry, an empty record is a tombstone. An entry about a document is
//! shown while that document is still in status `dlq`.

pub mod edit;
pub mod fingerprint;
pub mod index;
pub mod redrive;
pub mod transfer;

use std::borrow::{Borrow, Cow};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;

use crate::engine::pipeline::producer::{dispatch, request_for_record};
use crate::engine::Engine;
use crate::events::{DlqMessage, EnrichmentRequest, Priority};
use crate::model::{Status, Transition};
use crate::ports::broker::{OutRecord, Record};

#[derive(Debug, Clone, Serialize)]
pub struct DlqEntry {
    /// Offset of the record in the DLQ topic: the entry's short id.
    pub id: i64,
    pub partition: i32,
    pub key: String,
    pub message: DlqMessage,
}

impl DlqEntry {
    pub fn error_type(&self) -> &str {
        &self.message.error_details.exception_type
    }

    pub fn file_path(&self) -> String {
        self.message
            .original_message
            .get("file_path")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    }
}

/// The fields a filter and a histogram look at, shared by full entries and
/// the console's rows (`dlq_index::DlqRow`).
pub trait DlqFields {
    fn key(&self) -> &str;
    /// Empty when the payload was undecodable.
    fn document_id(&self) -> &str;
    fn error_type(&self) -> &str;
    fn project(&self) -> &str;
    fn correlation_id(&self) -> &str;
    fn reason(&self) -> &str;
    fn file_path(&self) -> Cow<'_, str>;
    /// The error fingerprint id (`engine::dlq::fingerprint`).
    fn fingerprint(&self) -> Cow<'_, str>;
    /// When it failed (RFC 3339, as the DLQ message says).
    fn failed_at(&self) -> &str;
}

impl DlqFields for DlqEntry {
    fn key(&self) -> &str {
        &self.key
    }
    fn document_id(&self) -> &str {
        &self.message.document_id
    }
    fn error_type(&self) -> &str {
        DlqEntry::error_type(self)
    }
    fn project(&self) -> &str {
        &self.message.project_name
    }
    fn correlation_id(&self) -> &str {
        &self.message.correlation_id
    }
    fn reason(&self) -> &str {
        &self.message.failure_reason
    }
    fn file_path(&self) -> Cow<'_, str> {
        Cow::Owned(DlqEntry::file_path(self))
    }
    fn fingerprint(&self) -> Cow<'_, str> {
        Cow::Owned(crate::engine::dlq::fingerprint::of(
            self.error_type(),
            &self.message.failure_reason,
        ))
    }
    fn failed_at(&self) -> &str {
        &self.message.failure_timestamp
    }
}

/// Which entries an operation applies to. Text form (the console's `/`):
/// `type:EncodingError project:web corr:7DC1 key:ID free words` — every part must
/// match; free words are searched in the reason, path and ids.
/// Also the field form of HTTP's `/dlq/replay` filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlqFilter {
    pub error_type: Option<String>,
    pub correlation_id: Option<String>,
    pub project: Option<String>,
    pub text: Option<String>,
    /// Exactly this entry (its key: the document id, or where an
    /// undecodable message came from).
    pub key: Option<String>,
    /// Entries failing the same way (`fp:ID`, `dlq groups`).
    #[serde(default)]
    pub fingerprint: Option<String>,
}

impl DlqFilter {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// The filter in the `/` syntax ("all" when empty).
    pub fn describe(&self) -> String {
        if self.is_empty() {
            return "all".into();
        }
        let mut parts = Vec::new();
        for (k, v) in [
            ("type", &self.error_type),
            ("project", &self.project),
            ("corr", &self.correlation_id),
            ("key", &self.key),
            ("fp", &self.fingerprint),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}:{v}"));
            }
        }
        if let Some(t) = &self.text {
            parts.push(t.clone());
        }
        parts.join(" ")
    }

    pub fn parse(input: &str) -> Result<Self, String> {
        if input.len() > 1024 {
            return Err("filter is longer than 1024 characters".into());
        }
        let mut f = Self::default();
        let mut words = Vec::new();
        for token in input.split_whitespace() {
            let (field, value) = match token.split_once(':') {
                Some((k, v))
                    if matches!(
                        k,
                        "type" | "error" | "project" | "corr" | "correlation" | "key" | "fp"
                    ) =>
                {
                    (k, v)
                }
                _ => {
                    words.push(token);
                    continue;
                }
            };
            if value.is_empty() {
                return Err(format!("'{field}:' needs a value"));
            }
            let slot = match field {
                "type" | "error" => &mut f.error_type,
                "project" => &mut f.project,
                "key" => &mut f.key,
                "fp" => &mut f.fingerprint,
                _ => &mut f.correlation_id,
            };
            if slot.is_some() {
                return Err(format!("'{field}:' given twice"));
            }
            *slot = Some(value.to_string());
        }
        if !words.is_empty() {
            f.text = Some(words.join(" "));
        }
        Ok(f)
    }

    pub fn matches(&self, e: &impl DlqFields) -> bool {
        self.error_type
            .as_ref()
            .is_none_or(|t| e.error_type().eq_ignore_ascii_case(t))
            && self.project.as_ref().is_none_or(|p| e.project() == p)
            && self.key.as_ref().is_none_or(|k| e.key() == k)
            && self
                .fingerprint
                .as_ref()
                .is_none_or(|f| e.fingerprint().eq_ignore_ascii_case(f))
            && self
                .correlation_id
                .as_ref()
                .is_none_or(|c| starts_with_ignore_case(e.correlation_id(), c))
            // Words match what the list shows (path, project, type) and the
            // selected entry's reason; ids are searched with `key:`/`corr:`,
            // so "d1" does not match a row for a hex digit pair in its UUID.
            && self.text.as_ref().is_none_or(|t| {
                contains_ignore_case(e.reason(), t)
                    || contains_ignore_case(&e.file_path(), t)
                    || contains_ignore_case(e.project(), t)
                    || contains_ignore_case(e.error_type(), t)
            })
    }
}

fn starts_with_ignore_case(hay: &str, prefix: &str) -> bool {
    if hay.is_ascii() && prefix.is_ascii() {
        return hay
            .as_bytes()
            .get(..prefix.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(prefix.as_bytes()));
    }
    hay.to_uppercase().starts_with(&prefix.to_uppercase())
}

/// Case-insensitive substring search without allocating in the ASCII case
/// (the filter runs over 100,000 rows per keystroke).
fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if hay.is_ascii() && needle.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        // Jump between occurrences of the first byte (either case).
        let (lo, up) = (n[0].to_ascii_lowercase(), n[0].to_ascii_uppercase());
        let mut from = 0;
        while let Some(at) = memchr::memchr2(lo, up, &h[from..]) {
            let start = from + at;
            match h.get(start..start + n.len()) {
                Some(w) if w.eq_ignore_ascii_case(n) => return true,
                Some(_) => from = start + 1,
                None => return false,
            }
        }
        return false;
    }
    hay.to_lowercase().contains(&needle.to_lowercase())
}

/// The full record of one entry, read from the topic.
pub async fn load_one(engine: &Engine, partition: i32, id: i64) -> Result<Option<DlqEntry>> {
    let recs = engine
        .backends
        .broker
        .read(&engine.cfg.dlq_topic, partition, id, 1)
        .await?;
    Ok(recs.into_iter().find(|r| r.offset == id).and_then(|r| {
        let DlqRecord::Entry(key, message) = DlqRecord::of(&r) else {
            return None;
        };
        Some(DlqEntry {
            id: r.offset,
            partition: r.partition,
            key,
            message,
        })
    }))
}

/// Current entries, newest first (full records: the CLI and operations;
/// the console holds `dlq_index` rows instead).
/// The current entries `filter` lets through, newest first.
pub async fn load_matching(engine: &Engine, filter: &DlqFilter) -> Result<Vec<DlqEntry>> {
    let mut entries = load(engine).await?;
    entries.retain(|e| filter.matches(e));
    Ok(entries)
}

pub async fn load(engine: &Engine) -> Result<Vec<DlqEntry>> {
    listed_of(engine, load_kept(engine).await?).await
}

/// The entries of `latest` (see `load_kept`) the DLQ shows, newest first:
/// those whose document is still in status `dlq`, or is not in the graph.
pub async fn listed_of(
    engine: &Engine,
    latest: HashMap<String, DlqEntry>,
) -> Result<Vec<DlqEntry>> {
    let in_dlq: HashSet<String> = documents_in_dlq(engine).await?;
    let unchecked: Vec<String> = latest
        .values()
        .filter(|e| e.error_type() != "DocumentNotFound")
        .map(|e| e.message.document_id.clone())
        .filter(|d| !d.is_empty() && !in_dlq.contains(d))
        .collect();
    let foreign: HashSet<String> = not_in_graph(engine, unchecked).await?;
    let mut entries: Vec<DlqEntry> = latest
        .into_values()
        .filter(|e| listed(&e.message.document_id, e.error_type(), &in_dlq, &foreign))
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.id));
    Ok(entries)
}

/// Every entry the topic still holds (the latest record per key, not a
/// tombstone), whatever its document's status: also those a crash left
/// behind after their document was replayed.
pub async fn load_kept(engine: &Engine) -> Result<HashMap<String, DlqEntry>> {
    let b = &engine.backends;
    let topic = &engine.cfg.dlq_topic;
    let mut latest: HashMap<String, DlqEntry> = HashMap::new();
    for part in b.broker.lag("archon-tui-dlq-browser", topic).await? {
        let mut from = 0;
        while from < part.end {
            let recs = b.broker.read(topic, part.partition, from, 5_000).await?;
            let Some(last) = recs.last() else { break };
            from = last.offset + 1;
            for r in recs {
                match DlqRecord::of(&r) {
                    DlqRecord::Tombstone(key) => {
                        latest.remove(&key);
                    }
                    DlqRecord::Entry(key, message) => {
                        latest.insert(
                            key.clone(),
                            DlqEntry {
                                id: r.offset,
                                partition: r.partition,
                                key,
                                message,
                            },
                        );
                    }
                    DlqRecord::Unreadable => {}
                }
            }
        }
    }
    Ok(latest)
}

/// What one record of the DLQ topic is to the browser.
// Matched as soon as it is made; boxing the message would cost an
// allocation per record read.
#[allow(clippy::large_enum_variant)]
pub(crate) enum DlqRecord {
    /// An empty value: the entry of this key is gone (replayed or purged).
    Tombstone(String),
    /// The entry's key (see `DlqMessage::entry_key`) and message.
    Entry(String, DlqMessage),
    /// Not a DLQ message (logged).
    Unreadable,
}

impl DlqRecord {
    pub(crate) fn of(r: &Record) -> Self {
        if r.value.is_empty() {
            return DlqRecord::Tombstone(
                String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned(),
            );
        }
        match DlqMessage::decode(&r.value) {
            Some(m) => DlqRecord::Entry(m.entry_key(r.key.as_deref(), r.partition, r.offset), m),
            None => {
                tracing::warn!("unreadable DLQ record at offset {}", r.offset);
                DlqRecord::Unreadable
            }
        }
    }
}

/// Ids of the documents in status `dlq`.
pub(crate) async fn documents_in_dlq<S: From<String> + Eq + Hash>(
    engine: &Engine,
) -> Result<HashSet<S>> {
    let mut in_dlq = HashSet::new();
    let mut after = None;
    loop {
        let docs = engine
            .backends
            .graph
            .documents_with_status(Status::Dlq, None, after.clone(), 5_000)
            .await?;
        let Some(last) = docs.last() else { break };
        after = Some(last.entity_id.clone());
        in_dlq.extend(docs.into_iter().map(|d| S::from(d.entity_id)));
    }
    Ok(in_dlq)
}

/// Of `docs`, those the graph holds no document for (their entries were
/// parked by another producer, e.g. the seeds' Python consumer).
/// Of these documents (not in status `dlq`), those whose entry still says
/// something: not in the graph, or in it but not completed. A document
/// the seeds' consumer parked (seed §4.2 never sets a status) is still
/// `pending` in the graph: without this its entry would be hidden, the
/// failure visible nowhere.
pub(crate) async fn not_in_graph<S: From<String> + Eq + Hash>(
    engine: &Engine,
    docs: Vec<String>,
) -> Result<HashSet<S>> {
    let mut out = HashSet::new();
    for doc in docs {
        let moved_on = engine
            .backends
            .graph
            .get_document(&doc)
            .await?
            .is_some_and(|d| d.enrichment_status == Status::Completed);
        if !moved_on {
            out.insert(S::from(doc));
        }
    }
    Ok(out)
}

/// Whether an entry is listed. Entries that belong to no indexed document
/// (undecodable, a request for an unknown document, a document this graph
/// does not hold) stay until purged: nothing else tracks them. Others show
/// while their document is in status `dlq`, or not completed (parked by a
/// consumer that does not set the status).
pub(crate) fn listed<S: Borrow<str> + Eq + Hash, T: Borrow<str> + Eq + Hash>(
    document_id: &str,
    error_type: &str,
    in_dlq: &HashSet<S>,
    not_in_graph: &HashSet<T>,
) -> bool {
    document_id.is_empty()
        || error_type == "DocumentNotFound"
        || in_dlq.contains(document_id)
        || not_in_graph.contains(document_id)
}

pub fn find<'a>(entries: &'a [DlqEntry], id: &str) -> Option<&'a DlqEntry> {
    entries
        .iter()
        .find(|e| e.id.to_string() == id || e.message.document_id == id || e.key == id)
}

/// Entries that failed the same way: one error fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DlqGroup {
    pub fingerprint: String,
    pub error_type: String,
    /// The reason with its variable parts masked.
    pub pattern: String,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// Entries per project.
    pub projects: BTreeMap<String, u64>,
    /// One entry of the group: its id and its reason as written.
    pub sample_id: i64,
    pub sample_reason: String,
}

/// Group entries by fingerprint, biggest group first (then newest).
///
/// Accumulated with borrowed strings and hash maps (owned strings and
/// ordered maps only for the few groups at the end): this runs on every
/// console refresh of a grouped view over up to 100,000 entries.
pub fn groups<'a, T: DlqFields + HasId + 'a>(
    entries: impl IntoIterator<Item = &'a T>,
) -> Vec<DlqGroup> {
    struct Acc<'a, T> {
        /// The group's sample: its first entry.
        sample: &'a T,
        count: u64,
        first_seen: &'a str,
        last_seen: &'a str,
        projects: HashMap<&'a str, u64>,
    }
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut accs: Vec<Acc<'a, T>> = Vec::new();
    for e in entries {
        let fp = e.fingerprint();
        let at = e.failed_at();
        let i = match index.get(fp.as_ref()) {
            Some(i) => *i,
            None => {
                index.insert(fp.into_owned(), accs.len());
                accs.push(Acc {
                    sample: e,
                    count: 0,
                    first_seen: at,
                    last_seen: at,
                    projects: HashMap::new(),
                });
                accs.len() - 1
            }
        };
        let a = &mut accs[i];
        a.count += 1;
        if at < a.first_seen {
            a.first_seen = at;
        }
        if at > a.last_seen {
            a.last_seen = at;
        }
        *a.projects.entry(e.project()).or_insert(0) += 1;
    }
    let mut out: Vec<DlqGroup> = accs
        .into_iter()
        .map(|a| DlqGroup {
            fingerprint: a.sample.fingerprint().into_owned(),
            error_type: a.sample.error_type().to_string(),
            pattern: crate::engine::dlq::fingerprint::pattern(a.sample.reason()),
            count: a.count,
            first_seen: a.first_seen.to_string(),
            last_seen: a.last_seen.to_string(),
            projects: a
                .projects
                .into_iter()
                .map(|(p, n)| (p.to_string(), n))
                .collect(),
            sample_id: a.sample.entry_id(),
            sample_reason: a.sample.reason().to_string(),
        })
        .collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| b.last_seen.cmp(&a.last_seen))
            .then_with(|| a.fingerprint.cmp(&b.fingerprint))
    });
    out
}

/// The entry's short id (its offset on the DLQ topic).
pub trait HasId {
    fn entry_id(&self) -> i64;
}

impl HasId for DlqEntry {
    fn entry_id(&self) -> i64 {
        self.id
    }
}

/// Entry counts by error type.
pub fn histogram<'a, T: DlqFields + 'a>(
    entries: impl IntoIterator<Item = &'a T>,
) -> BTreeMap<String, u64> {
    let mut h = BTreeMap::new();
    for e in entries {
        *h.entry(e.error_type().to_string()).or_default() += 1;
    }
    h
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplayReport {
    pub dry_run: bool,
    /// Entries that were (or, dry run, would be) replayed.
    pub replayed: u64,
    /// Entries that cannot be replayed (the payload was never a valid request).
    pub not_replayable: u64,
    pub by_error_type: BTreeMap<String, u64>,
    /// Entries per error fingerprint: (fingerprint, error type, pattern, count), biggest first.
    pub by_fingerprint: Vec<(String, String, String, u64)>,
    pub by_project: BTreeMap<String, u64>,
    /// Entries the loop guard held back: their documents were replayed
    /// `max_replays` times already (`force` replays them anyway).
    pub looping: u64,
    pub max_replays: u32,
    /// Entries of files removed from their tree (FILE_NOT_FOUND: seed 004
    /// says do not reprocess) left out; `force` replays them anyway.
    pub file_not_found: u64,
    pub ids: Vec<i64>,
}

/// An entry of a file removed from its tree (see `mirror::FILE_NOT_FOUND`):
/// not replayed unless forced.
pub fn is_file_not_found(e: &DlqEntry) -> bool {
    e.error_type() == crate::engine::pipeline::mirror::FILE_NOT_FOUND
}

async fn tombstone(engine: &Engine, keys: Vec<String>) -> Result<()> {
    let records = keys
        .into_iter()
        .map(|k| OutRecord {
            key: k.into_bytes(),
            value: Vec::new(),
        })
        .collect();
    engine
        .backends
        .broker
        .produce(&engine.cfg.dlq_topic, records)
        .await
}

/// Replay the entries: documents go back to pending (the replay is counted on
/// them), their requests are dispatched again, and the entries leave the DLQ.
/// Replaying an entry twice does nothing the second time: it is gone.
pub async fn replay(
    engine: &Arc<Engine>,
    entries: &[DlqEntry],
    dry_run: bool,
    force: bool,
) -> Result<ReplayReport> {
    let mut by_project: BTreeMap<String, u64> = BTreeMap::new();
    for e in entries {
        *by_project
            .entry(e.message.project_name.clone())
            .or_default() += 1;
    }
    let mut report = ReplayReport {
        dry_run,
        by_error_type: histogram(entries),
        by_fingerprint: groups(entries)
            .into_iter()
            .map(|g| (g.fingerprint, g.error_type, g.pattern, g.count))
            .collect(),
        by_project,
        ..Default::default()
    };
    let (replayable, broken): (Vec<&DlqEntry>, Vec<&DlqEntry>) = entries
        .iter()
        .partition(|e| !e.message.document_id.is_empty());
    report.not_replayable = broken.len() as u64;
    let replayable: Vec<&DlqEntry> = if force {
        replayable
    } else {
        let (gone, rest): (Vec<&DlqEntry>, Vec<&DlqEntry>) =
            replayable.into_iter().partition(|e| is_file_not_found(e));
        report.file_not_found = gone.len() as u64;
        rest
    };
    // The loop guard: a document that keeps coming back is not sent round
    // again without `force`.
    let max = engine.cfg.max_replays;
    report.max_replays = max;
    let replayable: Vec<&DlqEntry> = if force {
        replayable
    } else {
        let counts = replay_counts(engine).await?;
        let (again, looping): (Vec<&DlqEntry>, Vec<&DlqEntry>) =
            replayable.into_iter().partition(|e| {
                counts
                    .get(e.message.document_id.as_str())
                    .is_none_or(|n| *n < max)
            });
        report.looping = looping.len() as u64;
        again
    };
    report.replayed = replayable.len() as u64;
    report.ids = replayable.iter().map(|e| e.id).collect();
    if dry_run {
        return Ok(report);
    }
    let mut replayed = 0;
    for chunk in replayable.chunks(500) {
        replayed += send_back(engine, chunk).await?.0;
    }
    // Others that left the DLQ between the load and the replay are not counted.
    report.replayed = replayed;
    tracing::info!("replayed {} DLQ entries", report.replayed);
    Ok(report)
}

/// Send entries' documents back: each document still in the DLQ goes back
/// to pending (counted on it), its request is dispatched again and its entry
/// tombstoned — once: a document another replay moved first (or that left
/// the DLQ meanwhile) is skipped, so a resumed or doubled redrive never
/// replays an entry twice. Entries of documents this graph does not hold,
/// and entries another producer wrote (no origin: seed §4.2's consumer)
/// whose document is not completed, are dispatched and tombstoned as they
/// are.
/// Returns (replayed, skipped).
pub async fn send_back(engine: &Arc<Engine>, chunk: &[&DlqEntry]) -> Result<(u64, u64)> {
    send_back_with(engine, chunk, true).await
}

/// `send_back`, keeping each request's retry_count unless `reset_retries`
/// (an operator's edit sets it on purpose).
pub async fn send_back_with(
    engine: &Arc<Engine>,
    chunk: &[&DlqEntry],
    reset_retries: bool,
) -> Result<(u64, u64)> {
    let graph = &engine.backends.graph;
    let requests = requests_of(engine, chunk, reset_retries).await?;
    let ids = chunk
        .iter()
        .map(|e| e.message.document_id.clone())
        .collect();
    let mut go: HashSet<String> = graph
        .transition(ids, Transition::Replay)
        .await?
        .into_iter()
        .collect();
    for e in chunk {
        let doc = &e.message.document_id;
        if go.contains(doc) {
            continue;
        }
        let foreign = e.message.original_topic.is_empty();
        match graph.get_document(doc).await? {
            None => {
                go.insert(doc.clone());
            }
            // Parked by a consumer that never sets a status (seed §4.2's:
            // no origin on its records): the document is still pending
            // here, and its entry is the only trace of the failure.
            Some(d) if foreign && d.enrichment_status != Status::Completed => {
                go.insert(doc.clone());
            }
            Some(_) => {}
        }
    }
    let send: Vec<_> = requests
        .into_iter()
        .filter(|(e, _)| go.contains(&e.message.document_id))
        .collect();
    let keys = send.iter().map(|(e, _)| e.key.clone()).collect();
    let replayed = send.len() as u64;
    dispatch(engine, send.into_iter().map(|(_, r)| r).collect()).await?;
    tombstone(engine, keys).await?;
    Ok((replayed, chunk.len() as u64 - replayed))
}

/// The entries' requests: the original message when it is a valid request,
/// else one rebuilt from the document (entries whose document is gone and
/// whose message is unusable have none).
async fn requests_of<'e>(
    engine: &Engine,
    chunk: &[&'e DlqEntry],
    reset_retries: bool,
) -> Result<Vec<(&'e DlqEntry, EnrichmentRequest)>> {
    let mut requests = Vec::new();
    for &e in chunk {
        let from_message =
            serde_json::from_value::<EnrichmentRequest>(e.message.original_message.clone())
                .ok()
                .filter(|r| r.validate().is_ok());
        let request = match from_message {
            Some(r) => r,
            None => match engine
                .backends
                .graph
                .get_document(&e.message.document_id)
                .await?
            {
                Some(d) => request_for_record(&d, Priority::Normal),
                None => continue,
            },
        };
        let retry_count = if reset_retries {
            0
        } else {
            request.retry_count
        };
        requests.push((
            e,
            EnrichmentRequest {
                retry_count,
                ..request
            },
        ));
    }
    Ok(requests)
}

/// Finish a send-back a crash cut short after its graph transaction: the
/// entries whose request is not in `sent` get it now, and every entry
/// leaves the DLQ. Returns how many requests went now.
pub async fn finish_send_back(
    engine: &Arc<Engine>,
    chunk: &[&DlqEntry],
    sent: &HashSet<String>,
) -> Result<u64> {
    let unsent: Vec<&DlqEntry> = chunk
        .iter()
        .copied()
        .filter(|e| !sent.contains(&e.message.document_id))
        .collect();
    let requests = requests_of(engine, &unsent, true).await?;
    let n = requests.len() as u64;
    dispatch(engine, requests.into_iter().map(|(_, r)| r).collect()).await?;
    tombstone(engine, chunk.iter().map(|e| e.key.clone()).collect()).await?;
    Ok(n)
}

/// Which documents of `since` have a request on the request topic produced
/// at or after their time there (a replay's request follows the graph
/// transaction that stamped `replayed_at`, on the same engine's clock),
/// reading records up to `window_ms` past the earliest time and at most
/// `cap` a partition: the evidence of what a cut-short step had sent.
pub async fn requested_since(
    engine: &Engine,
    since: &HashMap<String, i64>,
    window_ms: i64,
    cap: usize,
) -> Result<HashSet<String>> {
    let Some(from_ms) = since.values().copied().min() else {
        return Ok(HashSet::new());
    };
    let broker = &engine.backends.broker;
    let topic = &engine.cfg.enrich_topic;
    let ends: HashMap<i32, i64> = broker
        .watermarks(topic)
        .await?
        .into_iter()
        .map(|w| (w.partition, w.high))
        .collect();
    let mut found = HashSet::new();
    for (partition, mut at) in broker.offsets_at(topic, from_ms).await? {
        let end = ends.get(&partition).copied().unwrap_or(at);
        let mut read = 0;
        while at < end && read < cap {
            let page = broker.read(topic, partition, at, 2000).await?;
            let Some(last) = page.last() else { break };
            at = last.offset + 1;
            read += page.len();
            let mut past = false;
            for r in &page {
                past |= r.timestamp_ms > from_ms + window_ms;
                let key = r.key.as_deref().and_then(|k| std::str::from_utf8(k).ok());
                if let Some((id, t)) = key.and_then(|k| since.get_key_value(k)) {
                    if r.timestamp_ms >= *t && !r.value.is_empty() {
                        found.insert(id.clone());
                    }
                }
            }
            if past {
                break;
            }
        }
    }
    Ok(found)
}

/// How often each document now in the DLQ was replayed before.
pub async fn replay_counts(engine: &Engine) -> Result<HashMap<String, u32>> {
    let mut out = HashMap::new();
    let mut after = None;
    loop {
        let page = engine
            .backends
            .graph
            .documents_with_status(Status::Dlq, None, after.clone(), 1000)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.entity_id.clone());
        for d in page {
            out.insert(d.entity_id, d.replay_count);
        }
    }
    Ok(out)
}

/// Drop entries: documents become `failed` with the reason kept.
pub async fn purge(engine: &Engine, entries: &[DlqEntry]) -> Result<u64> {
    for chunk in entries.chunks(500) {
        let ids = chunk
            .iter()
            .filter(|e| !e.message.document_id.is_empty())
            .map(|e| e.message.document_id.clone())
            .collect();
        engine
            .backends
            .graph
            .transition(ids, Transition::Purge)
            .await?;
        tombstone(engine, chunk.iter().map(|e| e.key.clone()).collect()).await?;
    }
    Ok(entries.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_fields_and_free_text() {
        let f = DlqFilter::parse("type:EncodingError project:web corr:7dc1 bad byte").unwrap();
        assert_eq!(f.error_type.as_deref(), Some("EncodingError"));
        assert_eq!(f.project.as_deref(), Some("web"));
        assert_eq!(f.correlation_id.as_deref(), Some("7dc1"));
        assert_eq!(f.text.as_deref(), Some("bad byte"));
        assert!(DlqFilter::parse("").unwrap().is_empty());
        assert!(DlqFilter::parse("type:").is_err());
        assert!(DlqFilter::parse("type:a type:b").is_err());
        assert_eq!(
            DlqFilter::parse("url:http://x").unwrap().text.as_deref(),
            Some("url:http://x")
        );
    }

    #[test]
    fn case_insensitive_search_agrees_with_lowercasing() {
        for (hay, needle) in [
            ("EncodingError: bad byte", "BAD B"),
            ("pkg/Ünïcode.rs", "ÜNÏ"),
            ("abc", ""),
            ("ab", "abc"),
            ("x", "X"),
        ] {
            assert_eq!(
                contains_ignore_case(hay, needle),
                hay.to_lowercase().contains(&needle.to_lowercase()),
                "{hay} / {needle}"
            );
        }
        assert!(starts_with_ignore_case("7dc1746a-42a0", "7DC1"));
        assert!(!starts_with_ignore_case("7d", "7DC1"));
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in any::<String>()) {
            let _parsed = DlqFilter::parse(&s);
        }

        #[test]
        fn ascii_search_agrees_with_lowercasing(hay in "[a-cA-C:_ ]{0,12}", needle in "[a-cA-C]{0,3}") {
            prop_assert_eq!(
                contains_ignore_case(&hay, &needle),
                hay.to_lowercase().contains(&needle.to_lowercase())
            );
        }
    }
}
