//! The console's view of the DLQ, kept up to date incrementally.
//!
//! Re-reading the whole DLQ topic on every change cost memory and time in
//! proportion to its size (100,000 entries: over 500 MiB peak). The index
//! instead reads only the records past the last offset it saw, applies
//! tombstones, and holds one small row per entry (`DlqRow`: ids, path,
//! project, error type, a cut reason — error types and projects shared).
//! Rows are shared (`Arc`) between the index and the published view, so a
//! new view costs one pointer per entry. The full record of an entry is read
//! from the topic when an operator opens it (`dlq::load_one`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::dlq::{self, DlqEntry, DlqFields, DlqRecord};
use crate::engine::Engine;
use crate::events::DlqMessage;
use crate::ports::broker::Record;
use anyhow::Result;

/// How much of a long text a row keeps (the full text is on the topic).
const PATH_CHARS: usize = 256;
const REASON_CHARS: usize = 160;
/// Records read per catch-up step, so one refresh never stalls on a huge
/// backlog (the view fills over a few refreshes instead).
const READ_PER_CATCH_UP: usize = 50_000;
/// A changing view of this many rows or more is rebuilt at most every
/// `REBUILD_EVERY`.
const BIG_VIEW: usize = 1_000;
const REBUILD_EVERY: Duration = Duration::from_secs(2);

/// One DLQ entry as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DlqRow {
    /// Offset of the record in the DLQ topic: the entry's short id.
    pub id: i64,
    pub partition: i32,
    pub failure_count: u32,
    pub key: Arc<str>,
    /// None: the document id is the key (the usual case, stored once).
    document_id: Option<Box<str>>,
    pub correlation_id: Box<str>,
    pub project: Arc<str>,
    pub error_type: Arc<str>,
    pub file_path: Box<str>,
    /// The failure reason, cut to `REASON_CHARS`.
    pub reason: Box<str>,
    /// Inline (an RFC 3339 time of up to 24 bytes needs no allocation):
    /// grouping reads it for every row.
    pub failed_at: compact_str::CompactString,
    /// The error fingerprint, computed once from the whole reason.
    pub fingerprint: Arc<str>,
}

fn cut(s: &str, max: usize) -> Box<str> {
    // At most `max` bytes is at most `max` chars: no need to count.
    if s.len() <= max {
        return s.into();
    }
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]).into(),
        None => s.into(),
    }
}

/// Shares the few distinct error types and project names among all rows.
#[derive(Default)]
pub struct Interner(HashSet<Arc<str>>);

impl Interner {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        // Projects of hostile input could be many; past a bound stop sharing.
        let a: Arc<str> = cut(s, 128).into();
        if self.0.len() < 10_000 {
            self.0.insert(a.clone());
        }
        a
    }
}

impl DlqRow {
    pub fn document_id(&self) -> &str {
        self.document_id.as_deref().unwrap_or(&self.key)
    }

    fn build(id: i64, partition: i32, key: &str, m: &DlqMessage, names: &mut Interner) -> Self {
        let path = m
            .original_message
            .get("file_path")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        Self {
            id,
            partition,
            failure_count: m.failure_count,
            key: key.into(),
            document_id: (m.document_id != key).then(|| cut(&m.document_id, 128)),
            correlation_id: cut(&m.correlation_id, 64),
            project: names.get(&m.project_name),
            error_type: names.get(&m.error_details.exception_type),
            file_path: cut(path, PATH_CHARS),
            reason: cut(&m.failure_reason, REASON_CHARS),
            failed_at: cut(&m.failure_timestamp, 40).as_ref().into(),
            fingerprint: crate::engine::dlq::fingerprint::with_id(
                &m.error_details.exception_type,
                &m.failure_reason,
                |id| names.get(id),
            ),
        }
    }

    /// The rows of full entries, sharing names as the index does.
    pub fn all_of(entries: &[DlqEntry]) -> Vec<Arc<DlqRow>> {
        let mut names = Interner::default();
        entries
            .iter()
            .map(|e| {
                Arc::new(Self::build(
                    e.id,
                    e.partition,
                    &e.key,
                    &e.message,
                    &mut names,
                ))
            })
            .collect()
    }

    /// The row of a full entry (tests, fixtures).
    pub fn of(e: &DlqEntry) -> Self {
        Self::build(
            e.id,
            e.partition,
            &e.key,
            &e.message,
            &mut Interner::default(),
        )
    }

    /// What the detail view shows until the full record has been read.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "partition": self.partition,
            "key": &*self.key,
            "document_id": self.document_id(),
            "project_name": &*self.project,
            "correlation_id": &*self.correlation_id,
            "error_type": &*self.error_type,
            "file_path": &*self.file_path,
            "failure_reason": &*self.reason,
            "failure_timestamp": &*self.failed_at,
            "failure_count": self.failure_count,
        })
    }
}

impl DlqFields for DlqRow {
    fn key(&self) -> &str {
        &self.key
    }
    fn document_id(&self) -> &str {
        DlqRow::document_id(self)
    }
    fn error_type(&self) -> &str {
        &self.error_type
    }
    fn project(&self) -> &str {
        &self.project
    }
    fn correlation_id(&self) -> &str {
        &self.correlation_id
    }
    fn reason(&self) -> &str {
        &self.reason
    }
    fn file_path(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.file_path)
    }
    fn fingerprint(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.fingerprint)
    }
    fn failed_at(&self) -> &str {
        &self.failed_at
    }
}

impl dlq::HasId for DlqRow {
    fn entry_id(&self) -> i64 {
        self.id
    }
}

/// What the snapshot publishes: the current entries newest first, and their
/// counts by error type.
#[derive(Debug, Clone, Default)]
pub struct DlqView {
    pub rows: Arc<Vec<Arc<DlqRow>>>,
    pub by_type: BTreeMap<String, u64>,
    /// The entries by error fingerprint, biggest group first.
    pub groups: Arc<Vec<dlq::DlqGroup>>,
}

#[derive(Default)]
pub struct DlqIndex {
    /// Per partition: the next offset to read.
    next: BTreeMap<i32, i64>,
    rows: HashMap<Arc<str>, Arc<DlqRow>>,
    names: Interner,
    /// Documents in status `dlq` and the status count when they were read.
    in_dlq: HashSet<Box<str>>,
    in_dlq_count: Option<u64>,
    /// A document row arrived that `in_dlq` does not know yet.
    unknown_document: bool,
    /// Documents of entries that the graph does not hold at all (parked by
    /// another producer, e.g. the seeds' Python consumer): they stay listed.
    foreign: HashSet<Box<str>>,
    dirty: bool,
    built: Option<Instant>,
    view: DlqView,
}

impl DlqIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// The view last built (kept while a backend does not answer).
    pub fn view(&self) -> DlqView {
        self.view.clone()
    }

    /// Read what is new on the topic and, when something changed, publish a
    /// new view (at most every `REBUILD_EVERY` once it is big). `dlq_count`
    /// is the graph's count of documents in status `dlq`.
    pub async fn refresh(&mut self, engine: &Engine, dlq_count: u64) -> Result<DlqView> {
        self.catch_up(engine).await?;
        let due = self
            .built
            .is_none_or(|t| t.elapsed() >= REBUILD_EVERY || self.view.rows.len() < BIG_VIEW);
        if due && (self.in_dlq_count != Some(dlq_count) || self.unknown_document) {
            self.read_statuses(engine, dlq_count).await?;
        }
        if due && self.dirty {
            self.rebuild();
        }
        Ok(self.view.clone())
    }

    async fn catch_up(&mut self, engine: &Engine) -> Result<()> {
        let b = &engine.backends;
        let topic = &engine.cfg.dlq_topic;
        let mut budget = READ_PER_CATCH_UP;
        for part in b.broker.lag("archon-tui-dlq-browser", topic).await? {
            let next = self.next.entry(part.partition).or_insert(0);
            if part.end < *next {
                // The topic was recreated: start over.
                *self = Self::new();
                return Ok(());
            }
            while *next < part.end && budget > 0 {
                let max = budget.min(5_000);
                let recs = b.broker.read(topic, part.partition, *next, max).await?;
                let Some(last) = recs.last() else { break };
                *next = last.offset + 1;
                budget = budget.saturating_sub(recs.len());
                for r in &recs {
                    Self::apply(
                        &mut self.rows,
                        &mut self.names,
                        &self.in_dlq,
                        &mut self.unknown_document,
                        r,
                    );
                }
                self.dirty = true;
            }
        }
        Ok(())
    }

    fn apply(
        rows: &mut HashMap<Arc<str>, Arc<DlqRow>>,
        names: &mut Interner,
        in_dlq: &HashSet<Box<str>>,
        unknown_document: &mut bool,
        r: &Record,
    ) {
        let (key, message) = match DlqRecord::of(r) {
            DlqRecord::Tombstone(key) => {
                rows.remove(key.as_str());
                return;
            }
            DlqRecord::Entry(key, message) => (key, message),
            DlqRecord::Unreadable => return,
        };
        let row = DlqRow::build(r.offset, r.partition, &key, &message, names);
        if !message.document_id.is_empty() && !in_dlq.contains(message.document_id.as_str()) {
            *unknown_document = true;
        }
        rows.insert(row.key.clone(), Arc::new(row));
    }

    async fn read_statuses(&mut self, engine: &Engine, dlq_count: u64) -> Result<()> {
        let in_dlq: HashSet<Box<str>> = dlq::documents_in_dlq(engine).await?;
        let unchecked: Vec<String> = self
            .rows
            .values()
            .filter(|r| &*r.error_type != "DocumentNotFound")
            .map(|r| r.document_id())
            .filter(|d| !d.is_empty() && !in_dlq.contains(*d))
            .map(String::from)
            .collect();
        let found: HashSet<Box<str>> = dlq::not_in_graph(engine, unchecked).await?;
        // Not kept across reads: a pending document may complete.
        self.foreign = found;
        self.in_dlq = in_dlq;
        self.in_dlq_count = Some(dlq_count);
        self.unknown_document = false;
        self.dirty = true;
        Ok(())
    }

    fn rebuild(&mut self) {
        let mut rows: Vec<Arc<DlqRow>> = self
            .rows
            .values()
            .filter(|r| dlq::listed(r.document_id(), &r.error_type, &self.in_dlq, &self.foreign))
            .cloned()
            .collect();
        rows.sort_unstable_by_key(|r| std::cmp::Reverse((r.id, r.partition)));
        let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
        for r in &rows {
            *by_type.entry(r.error_type.to_string()).or_default() += 1;
        }
        let groups = Arc::new(dlq::groups(rows.iter().map(|r| &**r)));
        self.view = DlqView {
            rows: Arc::new(rows),
            by_type,
            groups,
        };
        self.dirty = false;
        self.built = Some(Instant::now());
    }
}
