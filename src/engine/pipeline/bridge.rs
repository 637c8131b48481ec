//! The seeds' bridge door (seed 001 §2.1, §4.1, §9.2): documents POSTed as
//! JSON (`document_id`, `project_id`, `title`, `full_text`, `source_path`,
//! `document_type`, `metadata`) are checked field by field, then indexed
//! and requested exactly as a tree ingest does (`producer::index_prepared`).
//!
//! Concurrent posts share write transactions: a writer task takes whatever
//! has arrived (up to [`GROUP_MAX`] documents, waiting at most
//! [`GROUP_WAIT`] for company) and indexes it as one batch, so fifty
//! clients posting one document each cost a handful of commits, not fifty.
//!
//! The seeds disagree on ids: §3.1's request schema wants a UUID, §9.2's
//! own test posts `test-doc-<uuid>`. Refusing §9.2's documents would lose
//! them, so any id of 1..=255 visible characters is taken as the graph's
//! `entity_id`, and the request carries it unchanged (our consumer accepts
//! both; the seeds' consumer does not check the pattern).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};

use crate::engine::pipeline::discover::{document_type_of, language_of};
use crate::engine::pipeline::producer::{self, Disposition, IngestReport, Prepared};
use crate::engine::Engine;
use crate::events::{now_rfc3339, DocumentType};
use crate::ports::graph::NewDocument;

/// Documents one write may carry.
pub const GROUP_MAX: usize = 256;
/// How long the writer waits for more posts once one has arrived.
pub const GROUP_WAIT: Duration = Duration::from_millis(2);
/// Documents one `POST /api/bridge/documents` may carry.
pub const MAX_BATCH: usize = 1_000;

/// A request refused before anything was written: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// One posted document, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeDocument {
    pub document_id: String,
    pub project_id: String,
    pub title: Option<String>,
    pub full_text: String,
    pub source_path: String,
    pub document_type: Option<DocumentType>,
    pub language: Option<String>,
    pub metadata: Map<String, Value>,
}

/// The body of `POST /api/bridge/document`, as the OpenAPI document shows
/// it (`serve::openapi`); [`parse`] checks a body against these rules.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema: read by utoipa, never built
pub struct BridgeDocumentSchema {
    /// A UUID, or 1..=255 visible characters (§9.2 posts `test-doc-<uuid>`).
    #[schema(min_length = 1, max_length = 255, pattern = r"^\S+$")]
    document_id: String,
    /// The project (1..=255 characters, no control characters).
    #[schema(min_length = 1, max_length = 255)]
    project_id: String,
    title: Option<String>,
    /// The document's text (at most --max-file-bytes bytes).
    #[schema(min_length = 1)]
    full_text: String,
    #[schema(min_length = 1, max_length = 4096)]
    source_path: String,
    /// code, documentation, configuration, test or other (default: from the path).
    #[schema(value_type = Option<String>)]
    document_type: Option<DocumentTypeName>,
    language: Option<String>,
    #[schema(value_type = Option<Object>)]
    metadata: Option<Map<String, Value>>,
}

/// The document types a client may name.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
enum DocumentTypeName {
    Code,
    Documentation,
    Configuration,
    Test,
    Other,
}

/// What became of one posted document.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub document_id: String,
    pub project_id: String,
    /// The enrichment request's correlation id; None when nothing was
    /// requested (unchanged).
    pub correlation_id: Option<String>,
    pub status: Disposition,
}

fn refuse<T>(field: &str, reason: impl Into<String>) -> Result<T, FieldError> {
    Err(FieldError {
        field: field.to_string(),
        reason: reason.into(),
    })
}

fn required_text<'a>(
    obj: &'a Map<String, Value>,
    at: &str,
    name: &str,
) -> Result<&'a str, FieldError> {
    let field = format!("{at}{name}");
    match obj.get(name) {
        None | Some(Value::Null) => refuse(&field, "is required"),
        Some(Value::String(s)) if s.trim().is_empty() => refuse(&field, "is empty"),
        Some(Value::String(s)) => Ok(s),
        Some(other) => refuse(&field, format!("must be a string, not {}", kind(other))),
    }
}

fn optional_text<'a>(
    obj: &'a Map<String, Value>,
    at: &str,
    name: &str,
) -> Result<Option<&'a str>, FieldError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => refuse(
            &format!("{at}{name}"),
            format!("must be a string, not {}", kind(other)),
        ),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Check one posted document; `at` prefixes field names (`documents[3].`).
pub fn parse(v: &Value, at: &str, max_text_bytes: u64) -> Result<BridgeDocument, FieldError> {
    let Value::Object(obj) = v else {
        let field = if at.is_empty() {
            "body".to_string()
        } else {
            at.trim_end_matches('.').to_string()
        };
        return refuse(&field, format!("must be a JSON object, not {}", kind(v)));
    };
    let document_id = required_text(obj, at, "document_id")?;
    if document_id.chars().count() > 255 {
        return refuse(&format!("{at}document_id"), "is longer than 255 characters");
    }
    if let Some(c) = document_id
        .chars()
        .find(|c| c.is_control() || c.is_whitespace())
    {
        return refuse(
            &format!("{at}document_id"),
            format!("contains U+{:04X}; use visible characters only", c as u32),
        );
    }
    let project_id = required_text(obj, at, "project_id")?;
    crate::model::check_project_name(project_id)
        .or_else(|e| refuse(&format!("{at}project_id"), e))?;
    let full_text = required_text(obj, at, "full_text")?;
    if full_text.len() as u64 > max_text_bytes {
        return refuse(
            &format!("{at}full_text"),
            format!(
                "is {} bytes; the limit is {max_text_bytes} (--max-file-bytes)",
                full_text.len()
            ),
        );
    }
    let source_path = required_text(obj, at, "source_path")?;
    if source_path.chars().count() > 4096 {
        return refuse(
            &format!("{at}source_path"),
            "is longer than 4096 characters",
        );
    }
    if let Some(c) = source_path.chars().find(|c| c.is_control()) {
        return refuse(
            &format!("{at}source_path"),
            format!("contains the control character U+{:04X}", c as u32),
        );
    }
    let title = optional_text(obj, at, "title")?.map(str::to_string);
    let document_type = match optional_text(obj, at, "document_type")? {
        None => None,
        Some(t) => match DocumentType::parse(t) {
            Some(t) => Some(t),
            None => {
                return refuse(
                    &format!("{at}document_type"),
                    "must be one of code, documentation, configuration, test, other",
                )
            }
        },
    };
    let language = optional_text(obj, at, "language")?.map(str::to_string);
    let metadata = match obj.get("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return refuse(
                &format!("{at}metadata"),
                format!("must be an object, not {}", kind(other)),
            )
        }
    };
    Ok(BridgeDocument {
        document_id: document_id.to_string(),
        project_id: project_id.to_string(),
        title,
        full_text: full_text.to_string(),
        source_path: source_path.to_string(),
        document_type,
        language,
        metadata,
    })
}

/// `POST /api/bridge/documents`: a JSON array, or NDJSON (one object a
/// line), of at most [`MAX_BATCH`] documents with distinct ids.
pub fn parse_batch(body: &[u8], max_text_bytes: u64) -> Result<Vec<BridgeDocument>, FieldError> {
    let values: Vec<Value> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items,
        // NDJSON of one line.
        Ok(one @ Value::Object(_)) => vec![one],
        Ok(other) => {
            return refuse(
                "body",
                format!(
                    "must be an array of documents (or NDJSON), not {}",
                    kind(&other)
                ),
            )
        }
        // Not one JSON value: NDJSON, one document a line.
        Err(_) => {
            let text = std::str::from_utf8(body)
                .or_else(|e| refuse("body", format!("is not UTF-8: {e}")))?;
            let mut items = Vec::new();
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str(line) {
                    Ok(v) => items.push(v),
                    Err(e) => {
                        return refuse(&format!("line {}", i + 1), format!("is not JSON: {e}"))
                    }
                }
            }
            items
        }
    };
    if values.is_empty() {
        return refuse("body", "holds no documents");
    }
    if values.len() > MAX_BATCH {
        return refuse(
            "body",
            format!(
                "holds {} documents; at most {MAX_BATCH} a request",
                values.len()
            ),
        );
    }
    let mut seen = std::collections::HashMap::new();
    let mut docs = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let d = parse(v, &format!("documents[{i}]."), max_text_bytes)?;
        if let Some(first) = seen.insert(d.document_id.clone(), i) {
            return refuse(
                &format!("documents[{i}].document_id"),
                format!("repeats documents[{first}]"),
            );
        }
        docs.push(d);
    }
    Ok(docs)
}

fn prepared(d: BridgeDocument) -> Prepared {
    let bytes = d.full_text.into_bytes();
    let lines = producer::bytecount_lines(&bytes);
    let doc = NewDocument {
        entity_id: d.document_id,
        project_name: d.project_id,
        document_type: d
            .document_type
            .unwrap_or_else(|| document_type_of(&d.source_path)),
        language: d
            .language
            .or_else(|| language_of(&d.source_path).map(String::from)),
        source_path: d.source_path,
        content_hash: blake3::hash(&bytes).to_hex().to_string(),
        indexed_at: now_rfc3339(),
        file_size_bytes: bytes.len() as u64,
        line_count: lines,
        last_modified: None,
        correlation_id: producer::correlation_id(),
        content: Some(bytes.into()),
        source: crate::ports::graph::DocumentSource::Http,
    };
    Prepared { doc, problem: None }
}

type Reply = oneshot::Sender<Result<Vec<Accepted>, String>>;

/// The writer that groups concurrent posts into shared batches.
#[derive(Clone)]
pub struct BridgeWriter {
    tx: mpsc::Sender<(Vec<BridgeDocument>, Reply)>,
}

impl BridgeWriter {
    pub fn spawn(engine: &Arc<Engine>) -> Self {
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(write_loop(engine.clone(), rx));
        Self { tx }
    }

    /// Index `docs` (in a batch shared with whatever else arrived) and say
    /// what became of each. Err: the reason nothing (or not all) was done
    /// — documents indexed before the failure stay pending and visible.
    pub async fn submit(&self, docs: Vec<BridgeDocument>) -> Result<Vec<Accepted>, String> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((docs, reply))
            .await
            .map_err(|_| "the engine is stopping".to_string())?;
        answer
            .await
            .map_err(|_| "the engine is stopping".to_string())?
    }
}

async fn write_loop(engine: Arc<Engine>, mut rx: mpsc::Receiver<(Vec<BridgeDocument>, Reply)>) {
    let mut held: Option<(Vec<BridgeDocument>, Reply)> = None;
    loop {
        let first = match held.take() {
            Some(f) => f,
            None => match rx.recv().await {
                Some(f) => f,
                None => return,
            },
        };
        let mut ids: std::collections::HashSet<String> =
            first.0.iter().map(|d| d.document_id.clone()).collect();
        let mut group = vec![first];
        let mut size = group[0].0.len();
        let deadline = tokio::time::Instant::now() + GROUP_WAIT;
        while size < GROUP_MAX {
            let next = match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(n)) => n,
                _ => break,
            };
            // The same document twice in one write: the second waits for
            // the next, so each post sees its own outcome.
            if next.0.iter().any(|d| ids.contains(&d.document_id))
                || size + next.0.len() > GROUP_MAX.max(next.0.len())
            {
                held = Some(next);
                break;
            }
            ids.extend(next.0.iter().map(|d| d.document_id.clone()));
            size += next.0.len();
            group.push(next);
        }
        write_group(&engine, group).await;
    }
}

async fn write_group(engine: &Arc<Engine>, group: Vec<(Vec<BridgeDocument>, Reply)>) {
    let mut sizes = Vec::with_capacity(group.len());
    let mut replies = Vec::with_capacity(group.len());
    let mut prepared_docs = Vec::new();
    for (docs, reply) in group {
        sizes.push(docs.len());
        replies.push(reply);
        prepared_docs.extend(docs.into_iter().map(prepared));
    }
    let summary: Vec<(String, String, String)> = prepared_docs
        .iter()
        .map(|p| {
            (
                p.doc.entity_id.clone(),
                p.doc.project_name.clone(),
                p.doc.correlation_id.clone(),
            )
        })
        .collect();
    let mut report = IngestReport::default();
    crate::engine::telemetry::stats::Stats::add(
        &engine.stats.discovered,
        prepared_docs.len() as u64,
    );
    let result = producer::index_prepared(engine, prepared_docs, &mut report, None).await;
    engine.stats.bridge_received.inc_by(summary.len() as u64);
    engine.stats.bridge_batches.inc();
    match result {
        Ok(dispositions) => {
            let mut all = summary.into_iter().zip(dispositions).map(
                |((document_id, project_id, corr), status)| Accepted {
                    document_id,
                    project_id,
                    correlation_id: (status != Disposition::Unchanged).then_some(corr),
                    status,
                },
            );
            for (n, reply) in sizes.into_iter().zip(replies) {
                reply.send(Ok(all.by_ref().take(n).collect())).ok();
            }
        }
        Err(e) => {
            let why = crate::sanitize::clean(&format!("{e:#}"));
            tracing::warn!("bridge: {} documents not indexed: {why}", summary.len());
            for reply in replies {
                reply.send(Err(why.clone())).ok();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seed_doc() -> Value {
        json!({
            "document_id": "test-doc-6f9619ff-8b86-d011-b42d-00cf4fc964ff",
            "project_id": "test-project",
            "title": "test.py",
            "full_text": "def hello(): print('world')",
            "source_path": "test.py",
            "document_type": "code",
            "metadata": {}
        })
    }

    #[test]
    fn the_seeds_document_parses() {
        let d = parse(&seed_doc(), "", 1 << 20).unwrap();
        assert_eq!(d.project_id, "test-project");
        assert_eq!(d.document_type, Some(DocumentType::Code));
    }

    #[test]
    fn every_refusal_names_its_field() {
        let cases: &[(&str, Value, &str)] = &[
            ("document_id", Value::Null, "is required"),
            ("document_id", json!(""), "is empty"),
            ("document_id", json!(7), "must be a string"),
            ("document_id", json!("a b"), "U+0020"),
            ("project_id", json!("p\u{1b}[31m"), "control character"),
            ("full_text", json!(["x"]), "must be a string"),
            ("source_path", Value::Null, "is required"),
            ("document_type", json!("novel"), "must be one of"),
            ("metadata", json!("x"), "must be an object"),
            ("title", json!(1.5), "must be a string"),
        ];
        for (field, value, reason) in cases {
            let mut v = seed_doc();
            if value.is_null() {
                v.as_object_mut().unwrap().remove(*field);
            } else {
                v[*field] = value.clone();
            }
            let e = parse(&v, "", 1 << 20).unwrap_err();
            assert_eq!(e.field, *field, "{e}");
            assert!(e.reason.contains(reason), "{field}: {e}");
        }
        let e = parse(&seed_doc(), "", 10).unwrap_err();
        assert_eq!(e.field, "full_text");
        assert!(e.reason.contains("limit is 10"), "{e}");
        assert_eq!(parse(&json!([1]), "", 10).unwrap_err().field, "body");
    }

    #[test]
    fn batches_are_arrays_or_ndjson_with_distinct_ids() {
        let one = seed_doc();
        let mut two = seed_doc();
        two["document_id"] = json!("second");
        let array = serde_json::to_vec(&json!([one, two])).unwrap();
        assert_eq!(parse_batch(&array, 1 << 20).unwrap().len(), 2);
        let ndjson = format!("{one}\n\n{two}\n");
        assert_eq!(parse_batch(ndjson.as_bytes(), 1 << 20).unwrap().len(), 2);
        let twice = serde_json::to_vec(&json!([one, one])).unwrap();
        let e = parse_batch(&twice, 1 << 20).unwrap_err();
        assert_eq!(e.field, "documents[1].document_id");
        let mut bad = seed_doc();
        bad["project_id"] = json!(3);
        let e = parse_batch(format!("{one}\n{bad}").as_bytes(), 1 << 20).unwrap_err();
        assert_eq!(e.field, "documents[1].project_id");
        assert_eq!(
            parse_batch(b"[]", 1).unwrap_err().reason,
            "holds no documents"
        );
        assert_eq!(parse_batch(b"{\"a\":1} x", 1).unwrap_err().field, "line 1");
    }
}
