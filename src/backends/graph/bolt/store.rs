//! The graph store over neo4rs: one UNWIND statement per write.

use std::collections::{BTreeMap, HashSet};

use anyhow::{anyhow, Context, Result};
use async_trait::async_trait;
use base64::Engine as _;
use neo4rs::{query, BoltList, BoltMap, BoltType, ConfigBuilder, Graph, Query, Row};
use serde::Deserialize;
use serde_json::{json, Value};

use super::batching::{bolt_size, content_rows, cut_by_size};
use super::{BoltFlavour, BoltSettings};
use crate::backends::graph::*;

pub struct BoltGraph {
    graph: Graph,
    uri: String,
    max_message_bytes: usize,
    flavour: BoltFlavour,
}

/// Follows a `MATCH (d:Document …)` whose write depends on what `d` holds:
/// it takes `d`'s write lock before the condition is read. Neo4j reads at
/// read-committed, so a condition read before the lock may be stale by the
/// time the write lands: Pick read `pending`, waited for the result's lock,
/// then wrote `processing` over `completed` (a lost update; Neo4j's manual,
/// "Isolation levels"). The property is set and removed, so nothing stays.
const LOCK: &str = "SET d._lock = true REMOVE d._lock";

/// Every DocumentRecord column, as the RETURN list of a `MATCH (d:Document)`.
const DOC_RETURN: &str = "d.entity_id AS entity_id, d.project_name AS project_name,
    d.source_path AS source_path, d.document_type AS document_type, d.language AS language,
    d.content_hash AS content_hash, d.enrichment_status AS enrichment_status,
    d.indexed_at AS indexed_at, d.enriched_at AS enriched_at,
    d.file_size_bytes AS file_size_bytes, d.line_count AS line_count,
    d.last_modified AS last_modified, d.correlation_id AS correlation_id,
    d.enrichment_content_hash AS enrichment_content_hash, d.enrichment_json AS enrichment_json,
    d.failure_reason AS failure_reason, d.replay_count AS replay_count,
    d.replayed_at AS replayed_at, coalesce(d.announced, true) AS announced,
    d.source_kind AS source_kind, d.source_root AS source_root";

#[derive(Deserialize)]
struct DocRow {
    entity_id: String,
    project_name: Option<String>,
    source_path: Option<String>,
    document_type: Option<String>,
    language: Option<String>,
    content_hash: Option<String>,
    enrichment_status: Option<String>,
    indexed_at: Option<String>,
    enriched_at: Option<String>,
    file_size_bytes: Option<i64>,
    line_count: Option<i64>,
    last_modified: Option<String>,
    correlation_id: Option<String>,
    enrichment_content_hash: Option<String>,
    enrichment_json: Option<String>,
    failure_reason: Option<String>,
    replay_count: Option<i64>,
    replayed_at: Option<String>,
    announced: Option<bool>,
    source_kind: Option<String>,
    source_root: Option<String>,
}

impl From<DocRow> for DocumentRecord {
    fn from(r: DocRow) -> Self {
        DocumentRecord {
            entity_id: r.entity_id,
            project_name: r.project_name.unwrap_or_default(),
            source_path: r.source_path.unwrap_or_default(),
            document_type: r.document_type.unwrap_or_default(),
            language: r.language,
            content_hash: r.content_hash.unwrap_or_default(),
            // A status another tool wrote that we do not know is shown as failed, not hidden.
            enrichment_status: Status::parse_or_failed(
                r.enrichment_status.as_deref().unwrap_or_default(),
            ),
            indexed_at: r.indexed_at.unwrap_or_default(),
            enriched_at: r.enriched_at,
            file_size_bytes: r.file_size_bytes.unwrap_or(0).max(0) as u64,
            line_count: r.line_count.unwrap_or(0).max(0) as u64,
            last_modified: r.last_modified,
            correlation_id: r.correlation_id.unwrap_or_default(),
            enrichment_content_hash: r.enrichment_content_hash,
            enrichment: r
                .enrichment_json
                .and_then(|j| serde_json::from_str(&j).ok()),
            failure_reason: r.failure_reason,
            replay_count: r.replay_count.unwrap_or(0).clamp(0, u32::MAX as i64) as u32,
            replayed_at: r.replayed_at,
            announced: r.announced.unwrap_or(true),
            source: DocumentSource::from_stored(r.source_kind.as_deref(), r.source_root),
        }
    }
}

/// The label and first property a Memgraph schema statement names.
fn memgraph_label_property(create: &str) -> (String, String) {
    let label = create
        .split(':')
        .nth(1)
        .unwrap_or_default()
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default()
        .to_string();
    let prop = match create.split_once("n.") {
        Some((_, rest)) => rest,
        None => create.split_once('(').map_or("", |x| x.1),
    }
    .split(|c: char| !c.is_alphanumeric() && c != '_')
    .next()
    .unwrap_or_default()
    .to_string();
    (label, prop)
}

/// One stored chunk of a body, as read back.
#[derive(Deserialize)]
struct Chunk {
    hash: String,
    seq: Option<i64>,
    chunks: Option<i64>,
    body: Option<String>,
    b64: Option<String>,
}

/// A body being put together: (bytes so far, chunks expected, seqs seen).
type Parts = (Vec<u8>, i64, HashSet<Option<i64>>);

/// Bodies being put together from their chunks, by content hash.
#[derive(Default)]
struct Bodies(BTreeMap<String, Parts>);

impl Bodies {
    /// Chunks arrive in `seq` order per hash.
    fn add(&mut self, c: Chunk) -> Result<()> {
        let (body, expected, seqs) = self.0.entry(c.hash).or_default();
        // A chunk stored twice (a store written before the uniqueness
        // constraint), or read for two documents with one body, counts once.
        if !seqs.insert(c.seq) {
            return Ok(());
        }
        *expected = c.chunks.unwrap_or(1);
        match (c.body, c.b64) {
            (Some(text), _) => body.extend_from_slice(text.as_bytes()),
            (None, Some(b64)) => body.extend(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .context("stored content is not valid base64")?,
            ),
            (None, None) => {}
        }
        Ok(())
    }

    /// The whole body of `hash`; `None` when there is none or it was cut
    /// short.
    fn get(&self, hash: &str) -> Option<&[u8]> {
        self.0
            .get(hash)
            .filter(|(_, expected, seqs)| *expected == seqs.len() as i64)
            .map(|(b, _, _)| b.as_slice())
    }
}

fn param(value: Value) -> Result<BoltType> {
    BoltType::try_from(value).map_err(|e| anyhow!("cannot encode a Bolt parameter: {e}"))
}

/// The schema, Neo4j 5's dialect: each constraint and index named, so
/// doctor finds it by name (a constraint's own index carries its name).
const NEO4J: [&str; 6] = [
    "CREATE CONSTRAINT archon_document_id IF NOT EXISTS \
         FOR (n:Document) REQUIRE n.entity_id IS UNIQUE",
    "CREATE CONSTRAINT archon_content_chunk IF NOT EXISTS \
         FOR (n:DocumentContent) REQUIRE (n.content_hash, n.seq) IS UNIQUE",
    "CREATE INDEX archon_document_status IF NOT EXISTS \
         FOR (n:Document) ON (n.enrichment_status)",
    "CREATE INDEX archon_content_hash IF NOT EXISTS \
         FOR (n:DocumentContent) ON (n.content_hash)",
    "CREATE CONSTRAINT archon_deleted_id IF NOT EXISTS \
         FOR (n:DeletedDocument) REQUIRE n.entity_id IS UNIQUE",
    "CREATE INDEX archon_document_source IF NOT EXISTS \
         FOR (n:Document) ON (n.source_root)",
];
/// The same in Memgraph's dialect (unnamed: doctor finds it by label and
/// property).
const MEMGRAPH: [&str; 8] = [
    "CREATE CONSTRAINT ON (n:Document) ASSERT n.entity_id IS UNIQUE",
    "CREATE CONSTRAINT ON (n:DocumentContent) ASSERT n.content_hash, n.seq IS UNIQUE",
    "CREATE INDEX ON :Document(entity_id)",
    "CREATE INDEX ON :Document(enrichment_status)",
    "CREATE INDEX ON :DocumentContent(content_hash)",
    "CREATE CONSTRAINT ON (n:DeletedDocument) ASSERT n.entity_id IS UNIQUE",
    "CREATE INDEX ON :DeletedDocument(entity_id)",
    "CREATE INDEX ON :Document(source_root)",
];

impl BoltGraph {
    /// Connects, checks the server answers, and creates the indexes the
    /// queries rely on (entity_id lookups, status counts) when missing.
    pub async fn connect(s: &BoltSettings) -> Result<Self> {
        // neo4rs reads the scheme (bolt, bolt+s, neo4j, …) and the default port itself.
        let mut cfg = ConfigBuilder::default()
            .uri(s.uri.clone())
            .user(s.user.clone())
            .password(s.password.clone())
            .max_connections(16)
            .connection_timeout(std::time::Duration::from_secs(10));
        if let Some(db) = &s.database {
            cfg = cfg.db(db.as_str());
        }
        let graph = Graph::connect(cfg.build().context("invalid Bolt settings")?)
            .with_context(|| format!("cannot use the graph URI {}", s.uri))?;
        let store = Self {
            graph,
            uri: s.uri.clone(),
            max_message_bytes: s.max_message_bytes.max(1024),
            flavour: s.flavour,
        };
        store
            .rows(query("RETURN 1 AS ok"))
            .await
            .with_context(|| format!("cannot reach the graph store at {}", s.uri))?;
        store.ensure_indexes().await;
        Ok(store)
    }

    /// Uniqueness constraints and indexes. The constraints matter for
    /// correctness, not only speed: without one, two transactions that
    /// `MERGE` the same key at once (two engines, or two index batches
    /// sharing a file body) both create a node on Neo4j — seen as duplicate
    /// content chunks, read back as "content missing". Syntax differs: Neo4j 5
    /// takes `CREATE CONSTRAINT … FOR … REQUIRE` and `CREATE INDEX … FOR … ON`
    /// (a constraint brings its own index); Memgraph takes `CREATE CONSTRAINT
    /// ON … ASSERT` and `CREATE INDEX ON :Label(prop)` (a constraint needs an
    /// index beside it). The Neo4j form is tried first; when the server does
    /// not parse it, the Memgraph form (unless the settings name the server).
    /// Existing ones are fine.
    async fn ensure_indexes(&self) {
        let first = match self.flavour {
            BoltFlavour::Memgraph => None,
            BoltFlavour::Neo4j | BoltFlavour::Detect => Some(self.rows(query(NEO4J[0])).await),
        };
        let memgraph = match first {
            None => true,
            // Not Neo4j's dialect: Memgraph's, where existing ones are errors.
            Some(Err(e))
                if self.flavour == BoltFlavour::Detect
                    && format!("{e:#}").to_lowercase().contains("syntax") =>
            {
                true
            }
            Some(Err(e)) => {
                tracing::warn!("graph schema: {}: {e:#}", NEO4J[0]);
                false
            }
            Some(Ok(_)) => false,
        };
        if memgraph {
            for cypher in MEMGRAPH {
                if let Err(e) = self.rows(query(cypher)).await {
                    tracing::debug!("graph schema: {cypher}: {e:#}");
                }
            }
            return;
        }
        for cypher in &NEO4J[1..] {
            if let Err(e) = self.rows(query(cypher)).await {
                tracing::warn!("graph schema: {cypher}: {e:#}");
            }
        }
        if let Err(e) = self.rows(query("CALL db.awaitIndexes(120)")).await {
            // Writes made while a new constraint populates were seen lost on
            // Neo4j 5.26 (a fresh store, concurrent batches): start once the
            // schema is online.
            tracing::warn!("graph schema: waiting for indexes: {e:#}");
        }
    }

    /// Runs a query and reads every row (see the module note on DISCARD).
    async fn rows(&self, q: Query) -> Result<Vec<Row>> {
        // `ARCHON_LOG=archon_tui::backends::graph::bolt=trace`: each
        // statement's time and rows (how docs/performance.md found where a
        // drain's round trips go).
        if !tracing::enabled!(tracing::Level::TRACE) {
            return self.rows_untimed(q).await;
        }
        let started = std::time::Instant::now();
        let statement: String = q.query().split_whitespace().collect::<Vec<_>>().join(" ");
        let rows = self.rows_untimed(q).await;
        tracing::trace!(
            micros = started.elapsed().as_micros() as u64,
            rows = rows.as_ref().map_or(0, Vec::len),
            "{statement}"
        );
        rows
    }

    async fn rows_untimed(&self, q: Query) -> Result<Vec<Row>> {
        let mut stream = self
            .graph
            .execute(q)
            .await
            .with_context(|| format!("graph store {}", self.uri))?;
        let mut out = Vec::new();
        while let Some(row) = stream
            .next()
            .await
            .with_context(|| format!("graph store {}", self.uri))?
        {
            out.push(row);
        }
        Ok(out)
    }

    /// Runs `cypher` (which reads `$rows`) over `rows` in batches that keep
    /// each message under the size limit; the results in order.
    /// A statement that returns one `count(…) AS n` row, as a count.
    async fn count(&self, q: Query) -> Result<u64> {
        let rows = self.rows(q).await?;
        Ok(rows
            .first()
            .and_then(|r| r.get::<i64>("n").ok())
            .unwrap_or(0)
            .max(0) as u64)
    }

    async fn unwind(&self, cypher: &str, rows: Value) -> Result<Vec<Row>> {
        let Value::Array(rows) = rows else {
            return self.rows(query(cypher).param("rows", param(rows)?)).await;
        };
        let rows = rows.into_iter().map(param).collect::<Result<Vec<_>>>()?;
        self.unwind_bolt(cypher, rows).await
    }

    /// `unwind` for rows already built as Bolt values, cut by
    /// `batching::bolt_size`.
    async fn unwind_bolt(&self, cypher: &str, rows: Vec<BoltType>) -> Result<Vec<Row>> {
        let budget = self.max_message_bytes.saturating_sub(cypher.len() + 64);
        let mut out = Vec::new();
        for batch in cut_by_size(rows, bolt_size, budget) {
            let list = BoltType::List(BoltList::from(batch));
            out.extend(self.rows(query(cypher).param("rows", list)).await?);
        }
        Ok(out)
    }

    /// The bodies of these content hashes, in one statement: `None` for a
    /// hash with no body, or one cut short (a crash mid-index: re-indexing
    /// stores it again).
    /// A fetched batch's first reads in one statement (each document and,
    /// while it is still to enrich, the chunks of its body: a row per
    /// chunk), and with `pick` its move pending → processing too: one
    /// statement where the pick was one more (docs/performance.md).
    async fn first_reads(
        &self,
        wanted: Vec<(String, String)>,
        pick: bool,
    ) -> Result<Vec<ReadForEnrichment>> {
        let mut rows: Vec<Value> = wanted
            .iter()
            .map(|(id, hash)| json!({"id": id, "hash": hash}))
            .collect();
        // The pick writes: its locks in the one order every write takes.
        let picking = if pick {
            rows.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
            format!(
                "{LOCK} FOREACH (_ IN CASE WHEN d.enrichment_status = 'pending' THEN [1] ELSE [] END |
                   SET d.enrichment_status = 'processing') WITH r, d"
            )
        } else {
            String::new()
        };
        let rows = self
            .unwind(
                &format!(
                    "UNWIND $rows AS r MATCH (d:Document {{entity_id: r.id}}) {picking}
                     OPTIONAL MATCH (x:DocumentContent {{content_hash: r.hash}})
                       WHERE d.content_hash = r.hash AND NOT (d.enrichment_status = 'completed'
                         AND d.enrichment_content_hash = r.hash)
                     RETURN {DOC_RETURN}, x IS NOT NULL AS chunk, r.hash AS hash,
                       x.seq AS seq, x.chunks AS chunks, x.body AS body, x.body_b64 AS b64
                     ORDER BY hash, seq"
                ),
                Value::Array(rows),
            )
            .await?;
        let mut docs: BTreeMap<String, DocumentRecord> = BTreeMap::new();
        let mut bodies = Bodies::default();
        for row in rows {
            if row.get::<bool>("chunk").unwrap_or(false) {
                bodies.add(row.to().context("unexpected DocumentContent properties")?)?;
            }
            let d: DocumentRecord = row
                .to::<DocRow>()
                .context("unexpected Document properties")?
                .into();
            docs.entry(d.entity_id.clone()).or_insert(d);
        }
        Ok(wanted
            .into_iter()
            .map(|(id, hash)| {
                let document = docs.get(&id).cloned();
                let content = match &document {
                    Some(d) if d.content_hash == hash && !d.is_enriched_for(&hash) => {
                        bodies.get(&hash).map(<[u8]>::to_vec)
                    }
                    _ => None,
                };
                ReadForEnrichment { document, content }
            })
            .collect())
    }

    async fn contents(&self, hashes: &[&str]) -> Result<BTreeMap<String, Option<Vec<u8>>>> {
        if hashes.is_empty() {
            return Ok(BTreeMap::new());
        }
        let rows = self
            .unwind(
                "UNWIND $rows AS h MATCH (x:DocumentContent {content_hash: h})
                 RETURN h AS hash, x.seq AS seq, x.chunks AS chunks, x.body AS body,
                        x.body_b64 AS b64
                 ORDER BY hash, seq",
                json!(hashes),
            )
            .await?;
        let mut bodies = Bodies::default();
        for row in &rows {
            bodies.add(row.to().context("unexpected DocumentContent properties")?)?;
        }
        Ok(hashes
            .iter()
            .map(|h| (h.to_string(), bodies.get(h).map(<[u8]>::to_vec)))
            .collect())
    }

    /// What is stored for the given documents, by id.
    async fn current(&self, ids: &[&str]) -> Result<BTreeMap<String, Stored>> {
        #[derive(Deserialize)]
        struct Cur {
            id: String,
            hash: Option<String>,
            status: Option<String>,
            done: Option<String>,
        }
        let rows = self
            .unwind(
                "UNWIND $rows AS id MATCH (d:Document {entity_id: id})
                 RETURN d.entity_id AS id, d.content_hash AS hash,
                        d.enrichment_status AS status, d.enrichment_content_hash AS done",
                json!(ids),
            )
            .await?;
        let mut out = BTreeMap::new();
        for row in rows {
            let c: Cur = row.to().context("unexpected document row")?;
            out.insert(
                c.id,
                Stored {
                    content_hash: c.hash.unwrap_or_default(),
                    status: Status::parse_or_failed(c.status.as_deref().unwrap_or_default()),
                    enriched_hash: c.done,
                },
            );
        }
        Ok(out)
    }
}

#[async_trait]
impl GraphStore for BoltGraph {
    fn kind(&self) -> &'static str {
        "bolt"
    }

    /// Batches recorded at once: a server commits them in parallel (each
    /// commit waits on its own log flush), so the others overlap the first's
    /// wait. Kafka + Neo4j, 5,000 files: 1 → 436 docs/s, 2 → 742, 3 → 816,
    /// 6 → 926 (docs/performance.md); 4 keeps lock conflicts rare.
    async fn schema(&self) -> Result<Vec<SchemaItem>> {
        let neo4j = self
            .rows(query("SHOW INDEXES YIELD name, state RETURN name, state"))
            .await;
        match neo4j {
            Ok(rows) => {
                let online: Vec<String> = rows
                    .iter()
                    .filter(|r| r.get::<String>("state").is_ok_and(|s| s == "ONLINE"))
                    .filter_map(|r| r.get::<String>("name").ok())
                    .collect();
                Ok(NEO4J
                    .iter()
                    .map(|create| {
                        let name = create.split_whitespace().nth(2).unwrap_or_default();
                        SchemaItem {
                            name: name.to_string(),
                            present: online.iter().any(|n| n == name),
                            create: create.to_string(),
                        }
                    })
                    .collect())
            }
            Err(_) => {
                // Memgraph: unnamed, listed as rows of label and properties.
                let mut seen = Vec::new();
                for q in ["SHOW INDEX INFO", "SHOW CONSTRAINT INFO"] {
                    for r in self.rows(query(q)).await? {
                        let text = format!("{r:?}");
                        seen.push(text);
                    }
                }
                Ok(MEMGRAPH
                    .iter()
                    .map(|create| {
                        let (label, prop) = memgraph_label_property(create);
                        SchemaItem {
                            name: format!(":{label}({prop})"),
                            present: seen.iter().any(|t| t.contains(&label) && t.contains(&prop)),
                            create: create.to_string(),
                        }
                    })
                    .collect())
            }
        }
    }

    fn parallel_writes(&self) -> usize {
        4
    }

    async fn index_documents(&self, docs: Vec<NewDocument>) -> Result<Vec<IndexOutcome>> {
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = docs.iter().map(|d| d.entity_id.as_str()).collect();
        let current = self.current(&ids).await?;
        let mut outcomes = Vec::with_capacity(docs.len());
        let mut writes = Vec::new();
        let mut contents = Vec::new();
        let mut seen = HashSet::new();
        let mut stamps = Vec::new();
        for d in &docs {
            let outcome = IndexOutcome::judge(current.get(&d.entity_id), &d.content_hash);
            outcomes.push(outcome);
            if matches!(outcome, IndexOutcome::Unchanged(_)) {
                stamps.push(json!({
                    "entity_id": d.entity_id,
                    "kind": d.source.kind(),
                    "root": d.source.root(),
                }));
                continue;
            }
            if let Some(body) = &d.content {
                if seen.insert(d.content_hash.clone()) {
                    contents.extend(content_rows(
                        &d.content_hash,
                        body,
                        self.max_message_bytes / 2,
                    ));
                }
            }
            writes.push(json!({
                "entity_id": d.entity_id,
                "project_name": d.project_name,
                "source_path": d.source_path,
                "document_type": d.document_type.as_str(),
                "language": d.language,
                "content_hash": d.content_hash,
                "indexed_at": d.indexed_at,
                "file_size_bytes": d.file_size_bytes,
                "line_count": d.line_count,
                "last_modified": d.last_modified,
                "correlation_id": d.correlation_id,
                "source_kind": d.source.kind(),
                "source_root": d.source.root(),
            }));
        }
        // One lock order for every batch (no deadlocks between engines).
        contents.sort_by(|a, b| {
            (a["hash"].as_str(), a["seq"].as_i64()).cmp(&(b["hash"].as_str(), b["seq"].as_i64()))
        });
        writes.sort_by(|a, b| a["entity_id"].as_str().cmp(&b["entity_id"].as_str()));
        // Content first: a pending document always has its body stored.
        if !contents.is_empty() {
            self.unwind(
                "UNWIND $rows AS c MERGE (x:DocumentContent {content_hash: c.hash, seq: c.seq})
                 SET x.chunks = c.chunks, x.body = c.body, x.body_b64 = c.b64",
                Value::Array(contents),
            )
            .await?;
        }
        if !writes.is_empty() {
            self.unwind(
                "UNWIND $rows AS row
                 MERGE (d:Document {entity_id: row.entity_id})
                 SET d.entity_type = 'document', d.project_name = row.project_name,
                     d.source_path = row.source_path, d.document_type = row.document_type,
                     d.language = row.language, d.content_hash = row.content_hash,
                     d.enrichment_status = 'pending', d.indexed_at = row.indexed_at,
                     d.file_size_bytes = row.file_size_bytes, d.line_count = row.line_count,
                     d.last_modified = row.last_modified, d.correlation_id = row.correlation_id,
                     d.failure_reason = null, d.enrichment_applied = 0,
                     d.source_kind = row.source_kind, d.source_root = row.source_root",
                Value::Array(writes),
            )
            .await?;
        }
        if !stamps.is_empty() {
            // Where an unchanged document comes from now (documents indexed
            // before sources were recorded, or moved): written only where it differs.
            stamps.sort_by(|a, b| a["entity_id"].as_str().cmp(&b["entity_id"].as_str()));
            self.unwind(
                "UNWIND $rows AS row
                 MATCH (d:Document {entity_id: row.entity_id})
                 WHERE d.source_kind IS NULL OR d.source_kind <> row.kind
                    OR coalesce(d.source_root, '') <> coalesce(row.root, '')
                 SET d.source_kind = row.kind, d.source_root = row.root",
                Value::Array(stamps),
            )
            .await?;
        }
        Ok(outcomes)
    }

    async fn get_document(&self, id: &str) -> Result<Option<DocumentRecord>> {
        let rows = self
            .rows(
                query(&format!(
                    "MATCH (d:Document {{entity_id: $id}}) RETURN {DOC_RETURN}"
                ))
                .param("id", id),
            )
            .await?;
        match rows.first() {
            None => Ok(None),
            Some(row) => Ok(Some(
                row.to::<DocRow>()
                    .context("unexpected Document properties")?
                    .into(),
            )),
        }
    }

    async fn content(&self, content_hash: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .contents(&[content_hash])
            .await?
            .remove(content_hash)
            .flatten())
    }

    async fn read_for_enrichment(
        &self,
        wanted: Vec<(String, String)>,
    ) -> Result<Option<Vec<ReadForEnrichment>>> {
        self.first_reads(wanted, false).await.map(Some)
    }

    async fn pick_and_read(
        &self,
        wanted: Vec<(String, String)>,
    ) -> Result<Option<Vec<ReadForEnrichment>>> {
        self.first_reads(wanted, true).await.map(Some)
    }

    async fn transition(&self, ids: Vec<String>, t: Transition) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let extra = match t {
            Transition::Replay => {
                ", d.replay_count = coalesce(d.replay_count, 0) + 1, d.replayed_at = r.at"
            }
            Transition::Purge => ", d.failure_reason = r.prefix + coalesce(d.failure_reason, '')",
            Transition::Pick | Transition::HandBack => "",
        };
        let cypher = format!(
            "UNWIND $rows AS r MATCH (d:Document {{entity_id: r.id}}) {LOCK}
             WITH r, d WHERE d.enrichment_status = r.from SET d.enrichment_status = r.to{extra}
             RETURN r.id AS id"
        );
        let now = crate::events::now_rfc3339();
        let mut ids = ids;
        ids.sort_unstable();
        let rows: Vec<Value> = ids
            .iter()
            .map(|id| {
                json!({"id": id, "from": t.from().as_str(), "to": t.to().as_str(),
                       "at": now, "prefix": Transition::PURGED_PREFIX})
            })
            .collect();
        self.unwind(&cypher, Value::Array(rows))
            .await?
            .into_iter()
            .map(|row| row.get::<String>("id").context("unexpected result row"))
            .collect()
    }

    async fn record_enrichments(&self, updates: Vec<EnrichmentUpdate>) -> Result<Vec<ApplyResult>> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        // Seed §5.4: only the content the result was computed from, and only
        // once per content hash. One statement (one transaction, one commit)
        // judges, replaces the entities and sets the status for the whole
        // batch: the condition is read under the document's lock, so of two
        // engines racing on one document (a rebalance) one applies and one
        // finds it done. Separate statements for the entities and the status
        // cost three commits and lock waits each (docs/performance.md).
        let mut order: Vec<&EnrichmentUpdate> = updates.iter().collect();
        // One lock order for every write (fewer deadlocks with Pick).
        order.sort_unstable_by_key(|u| u.document_id.as_str());
        // Rows built as Bolt values (no JSON on the way), the entities as
        // three lists rather than a map each: a real tree's batch holds
        // thousands of entities, and a map apiece was the largest live
        // allocation at the peak (docs/performance.md).
        let mut rows = Vec::with_capacity(order.len());
        for u in &order {
            let strings = |v: &[String]| -> BoltType {
                BoltType::List(v.iter().map(String::as_str).collect())
            };
            let mut m = BoltMap::with_capacity(12);
            let mut put = |k: &str, v: BoltType| m.put(k.into(), v);
            put("id", u.document_id.as_str().into());
            put("hash", u.content_hash.as_str().into());
            put("at", u.enriched_at.as_str().into());
            put("json", serde_json::to_string(&u.results)?.into());
            put(
                "entities_extracted",
                i64::try_from(u.results.entities_extracted)
                    .unwrap_or(i64::MAX)
                    .into(),
            );
            put("quality_score", u.results.quality_score.into());
            put("complexity_score", u.results.complexity_score.into());
            put("patterns", strings(&u.results.patterns_detected));
            put("anti_patterns", strings(&u.results.anti_patterns_detected));
            put(
                "kinds",
                BoltType::List(u.entities.iter().map(|e| e.kind.as_str()).collect()),
            );
            put(
                "names",
                BoltType::List(u.entities.iter().map(|e| e.name.as_str()).collect()),
            );
            put(
                "lines",
                BoltType::List(u.entities.iter().map(|e| i64::from(e.line)).collect()),
            );
            rows.push(BoltType::Map(m));
        }
        let applied_rows = self
            .unwind_bolt(
                &format!("UNWIND $rows AS u
                 MATCH (d:Document {{entity_id: u.id}}) {LOCK}
                 WITH u, d WHERE d.content_hash = u.hash
                   AND NOT (d.enrichment_status = 'completed' AND d.enrichment_content_hash = u.hash)
                 OPTIONAL MATCH (d)-[:HAS_ENTITY]->(old:Entity)
                 WITH u, d, collect(old) AS olds
                 FOREACH (o IN olds | DETACH DELETE o)
                 FOREACH (i IN range(0, size(u.kinds) - 1) |
                     CREATE (d)-[:HAS_ENTITY]->(:Entity {{document_id: u.id, idx: i,
                         kind: u.kinds[i], name: u.names[i], line: u.lines[i]}}))
                 SET d.enrichment_status = 'completed', d.enriched_at = u.at,
                     d.enrichment_content_hash = u.hash, d.enrichment_json = u.json,
                     d.entities_extracted = u.entities_extracted,
                     d.quality_score = u.quality_score, d.complexity_score = u.complexity_score,
                     d.patterns_detected = u.patterns, d.anti_patterns_detected = u.anti_patterns,
                     d.failure_reason = null,
                     d.enrichment_applied = coalesce(d.enrichment_applied, 0) + 1,
                     d.announced = false
                 RETURN d.entity_id AS id"),
                rows,
            )
            .await?;
        let mut applied = HashSet::new();
        for row in applied_rows {
            applied.insert(row.get::<String>("id").context("unexpected result row")?);
        }
        // Why the others were not applied: read after the write.
        let others: Vec<&str> = updates
            .iter()
            .filter(|u| !applied.contains(&u.document_id))
            .map(|u| u.document_id.as_str())
            .collect();
        let after = if others.is_empty() {
            BTreeMap::new()
        } else {
            self.current(&others).await?
        };
        Ok(updates
            .iter()
            .map(|u| {
                if applied.contains(&u.document_id) {
                    ApplyResult::Applied
                } else {
                    match ApplyResult::judge(after.get(&u.document_id), &u.content_hash) {
                        // An equal write got there first.
                        ApplyResult::Applied => ApplyResult::AlreadyEnriched,
                        other => other,
                    }
                }
            })
            .collect())
    }

    async fn mark_announced(&self, marks: Vec<(String, String)>) -> Result<()> {
        if marks.is_empty() {
            return Ok(());
        }
        let mut rows: Vec<Value> = marks
            .iter()
            .map(|(id, hash)| json!({"id": id, "hash": hash}))
            .collect();
        rows.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        self.unwind(
            "UNWIND $rows AS m MATCH (d:Document {entity_id: m.id})
             WHERE d.enrichment_content_hash = m.hash SET d.announced = true",
            Value::Array(rows),
        )
        .await?;
        Ok(())
    }

    async fn record_failures(&self, failures: Vec<FailureUpdate>) -> Result<()> {
        if failures.is_empty() {
            return Ok(());
        }
        let mut failures: Vec<&FailureUpdate> = failures.iter().collect();
        failures.sort_unstable_by_key(|f| f.document_id.as_str());
        let rows: Vec<Value> = failures
            .iter()
            .map(|f| json!({"id": f.document_id, "hash": f.content_hash, "reason": f.reason}))
            .collect();
        // Only the content the failure is about; a newer version stays pending.
        self.unwind(
            &format!(
                "UNWIND $rows AS f MATCH (d:Document {{entity_id: f.id}}) {LOCK}
             WITH f, d WHERE d.content_hash = f.hash AND d.enrichment_status <> 'completed'
             SET d.enrichment_status = 'dlq', d.failure_reason = f.reason"
            ),
            Value::Array(rows),
        )
        .await
        .map(|_| ())
    }

    async fn reset_processing(&self) -> Result<u64> {
        self.count(query(&format!(
            "MATCH (d:Document) WHERE d.enrichment_status = 'processing' {LOCK}
             WITH d WHERE d.enrichment_status = 'processing'
             SET d.enrichment_status = 'pending' RETURN count(d) AS n"
        )))
        .await
    }

    async fn counts(&self) -> Result<ProjectCounts> {
        #[derive(Deserialize)]
        struct C {
            project: Option<String>,
            status: Option<String>,
            n: i64,
        }
        let rows = self
            .rows(query(
                "MATCH (d:Document)
                 RETURN d.project_name AS project, d.enrichment_status AS status, count(d) AS n",
            ))
            .await?;
        let mut out = ProjectCounts::new();
        for row in rows {
            let c: C = row.to().context("unexpected count row")?;
            let status = Status::parse_or_failed(c.status.as_deref().unwrap_or_default());
            *out.entry(c.project.unwrap_or_default())
                .or_default()
                .entry(status)
                .or_default() += c.n.max(0) as u64;
        }
        Ok(out)
    }

    async fn unfinished_count(&self, project: Option<String>) -> Result<u64> {
        // On the status index: the unfinished documents only, not a scan of
        // every document as `counts` is (~0.4 s at 500,000 documents).
        self.count(
            query(
                "MATCH (d:Document)
                 WHERE d.enrichment_status IN ['pending', 'processing']
                   AND ($project IS NULL OR d.project_name = $project)
                 RETURN count(d) AS n",
            )
            .param("project", param(json!(project))?),
        )
        .await
    }

    async fn unfinished_indexed_before(&self, cutoffs: Vec<String>) -> Result<Vec<u64>> {
        let mut out = Vec::with_capacity(cutoffs.len());
        for c in cutoffs {
            out.push(
                self.count(
                    query(
                        "MATCH (d:Document)
                         WHERE d.enrichment_status IN ['pending', 'processing']
                           AND d.indexed_at < $cutoff
                         RETURN count(d) AS n",
                    )
                    .param("cutoff", c),
                )
                .await?,
            );
        }
        Ok(out)
    }

    async fn documents_with_status(
        &self,
        status: Status,
        project: Option<String>,
        after_id: Option<String>,
        limit: usize,
    ) -> Result<Vec<DocumentRecord>> {
        let rows = self
            .rows(
                query(&format!(
                    "MATCH (d:Document)
                     WHERE d.enrichment_status = $status
                       AND ($project IS NULL OR d.project_name = $project)
                       AND d.entity_id > $after
                     RETURN {DOC_RETURN} ORDER BY d.entity_id LIMIT $limit"
                ))
                .param("status", status.as_str())
                .param("project", param(json!(project))?)
                .param("after", after_id.unwrap_or_default())
                .param("limit", limit.min(i64::MAX as usize) as i64),
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(r.to::<DocRow>()
                    .context("unexpected Document properties")?
                    .into())
            })
            .collect()
    }

    async fn entities(&self, document_id: &str) -> Result<Vec<Entity>> {
        #[derive(Deserialize)]
        struct E {
            kind: Option<String>,
            name: Option<String>,
            line: Option<i64>,
        }
        let rows = self
            .rows(
                query(
                    "MATCH (d:Document {entity_id: $id})-[:HAS_ENTITY]->(e:Entity)
                     RETURN e.kind AS kind, e.name AS name, e.line AS line, e.idx AS idx
                     ORDER BY idx",
                )
                .param("id", document_id),
            )
            .await?;
        rows.iter()
            .map(|r| {
                let e: E = r.to().context("unexpected Entity properties")?;
                Ok(Entity {
                    kind: e.kind.unwrap_or_default(),
                    name: e.name.unwrap_or_default(),
                    line: e.line.unwrap_or(0).clamp(0, u32::MAX as i64) as u32,
                })
            })
            .collect()
    }

    async fn sources(&self) -> Result<Vec<SourceCount>> {
        #[derive(Deserialize)]
        struct SourceRow {
            project: Option<String>,
            kind: Option<String>,
            root: Option<String>,
            n: i64,
        }
        let rows = self
            .rows(query(
                "MATCH (d:Document)
                 RETURN d.project_name AS project, d.source_kind AS kind,
                        d.source_root AS root, count(*) AS n",
            ))
            .await?;
        rows.into_iter()
            .map(|row| {
                let r: SourceRow = row.to().context("unexpected source row")?;
                Ok(SourceCount {
                    project: r.project.unwrap_or_default(),
                    kind: r.kind,
                    root: r.root,
                    documents: r.n.max(0) as u64,
                })
            })
            .collect()
    }

    async fn tree_documents(&self, project: &str, root: &str) -> Result<Vec<TreeDocument>> {
        #[derive(Deserialize)]
        struct TreeRow {
            id: String,
            path: Option<String>,
            hash: Option<String>,
            status: Option<String>,
            done: Option<String>,
        }
        let rows = self
            .rows(
                query(
                    "MATCH (d:Document) WHERE d.source_root = $root AND d.project_name = $project
                       AND d.source_kind = 'tree'
                     RETURN d.entity_id AS id, d.source_path AS path, d.content_hash AS hash,
                            d.enrichment_status AS status, d.enrichment_content_hash AS done",
                )
                .param("root", root)
                .param("project", project),
            )
            .await?;
        rows.into_iter()
            .map(|row| {
                let r: TreeRow = row.to().context("unexpected document row")?;
                Ok(TreeDocument {
                    entity_id: r.id,
                    source_path: r.path.unwrap_or_default(),
                    content_hash: r.hash.unwrap_or_default(),
                    status: Status::parse_or_failed(r.status.as_deref().unwrap_or_default()),
                    enriched_hash: r.done,
                })
            })
            .collect()
    }

    async fn delete_documents(&self, ids: Vec<String>, reason: String) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = ids;
        ids.sort();
        let now = crate::events::now_rfc3339();
        // The mark first: a request arriving between the two writes finds
        // the mark and the document, and is enriched or skipped, never parked.
        let marks: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": id, "at": now, "reason": reason}))
            .collect();
        self.unwind(
            "UNWIND $rows AS m
             MERGE (t:DeletedDocument {entity_id: m.id})
             SET t.deleted_at = m.at, t.reason = m.reason",
            Value::Array(marks),
        )
        .await?;
        self.unwind(
            "UNWIND $rows AS id MATCH (:Document {entity_id: id})-[:HAS_ENTITY]->(e:Entity)
             DETACH DELETE e",
            json!(ids),
        )
        .await?;
        let removed_rows = self
            .unwind(
                "UNWIND $rows AS id
                 MATCH (d:Document {entity_id: id})
                 WITH d, d.entity_id AS id, d.content_hash AS hash
                 DETACH DELETE d
                 RETURN id, hash",
                json!(ids),
            )
            .await?;
        let mut removed = Vec::new();
        let mut hashes = HashSet::new();
        for row in removed_rows {
            removed.push(row.get::<String>("id").context("unexpected result row")?);
            if let Ok(h) = row.get::<String>("hash") {
                hashes.insert(h);
            }
        }
        if !hashes.is_empty() {
            let hashes: Vec<String> = hashes.into_iter().collect();
            // A body stays while another document still has it (one scan).
            let still: HashSet<String> = self
                .rows(
                    query(
                        "MATCH (d:Document) WHERE d.content_hash IN $hashes
                         RETURN DISTINCT d.content_hash AS hash",
                    )
                    .param("hashes", hashes.clone()),
                )
                .await?
                .into_iter()
                .filter_map(|r| r.get::<String>("hash").ok())
                .collect();
            let gone: Vec<String> = hashes.into_iter().filter(|h| !still.contains(h)).collect();
            if !gone.is_empty() {
                self.rows(
                    query(
                        "UNWIND $hashes AS h MATCH (x:DocumentContent {content_hash: h}) DELETE x",
                    )
                    .param("hashes", gone),
                )
                .await?;
            }
        }
        Ok(removed)
    }

    async fn deleted(&self, id: &str) -> Result<Option<(String, String)>> {
        let rows = self
            .rows(
                query(
                    "MATCH (t:DeletedDocument {entity_id: $id})
                     OPTIONAL MATCH (d:Document {entity_id: $id})
                     WITH t, d WHERE d IS NULL
                     RETURN t.reason AS reason, t.deleted_at AS at",
                )
                .param("id", id),
            )
            .await?;
        Ok(rows
            .first()
            .and_then(|r| Some((r.get::<String>("reason").ok()?, r.get::<String>("at").ok()?))))
    }
}
