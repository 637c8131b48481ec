//! Embedded graph/document store on the data dir's SQLite file.

use anyhow::Result;
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};

use super::*;
use crate::backends::sqlite::Db;

pub struct EmbeddedGraph {
    db: Db,
}

impl EmbeddedGraph {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

const DOC_COLUMNS: &str = "entity_id, project_name, source_path, document_type, language,
    content_hash, enrichment_status, indexed_at, enriched_at, file_size_bytes, line_count,
    last_modified, correlation_id, enrichment_content_hash, enrichment_json, failure_reason,
    replay_count, replayed_at, announced, source_kind, source_root";

fn doc_from_row(r: &Row) -> rusqlite::Result<DocumentRecord> {
    let status: String = r.get(6)?;
    let enrichment: Option<String> = r.get(14)?;
    Ok(DocumentRecord {
        entity_id: r.get(0)?,
        project_name: r.get(1)?,
        source_path: r.get(2)?,
        document_type: r.get(3)?,
        language: r.get(4)?,
        content_hash: r.get(5)?,
        enrichment_status: Status::parse_or_failed(&status),
        indexed_at: r.get(7)?,
        enriched_at: r.get(8)?,
        file_size_bytes: r.get::<_, i64>(9)? as u64,
        line_count: r.get::<_, i64>(10)? as u64,
        last_modified: r.get(11)?,
        correlation_id: r.get(12)?,
        enrichment_content_hash: r.get(13)?,
        enrichment: enrichment.and_then(|j| serde_json::from_str(&j).ok()),
        failure_reason: r.get(15)?,
        replay_count: r.get(16)?,
        replayed_at: r.get(17)?,
        announced: r.get::<_, i64>(18)? != 0,
        source: DocumentSource::from_stored(r.get::<_, Option<String>>(19)?.as_deref(), r.get(20)?),
    })
}

fn document_by_id(conn: &rusqlite::Connection, id: &str) -> Result<Option<DocumentRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {DOC_COLUMNS} FROM documents WHERE entity_id = ?1"
        ))?
        .query_row([id], doc_from_row)
        .optional()?)
}

fn body_by_hash(conn: &rusqlite::Connection, hash: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT body FROM contents WHERE content_hash = ?1")?
        .query_row([hash], |r| r.get(0))
        .optional()?)
}

fn current(tx: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<Stored>> {
    tx.prepare_cached(
        "SELECT content_hash, enrichment_status, enrichment_content_hash FROM documents WHERE entity_id = ?1",
    )?
    .query_row([id], |r| {
        let s: String = r.get(1)?;
        Ok(Stored {
            content_hash: r.get(0)?,
            status: Status::parse_or_failed(&s),
            enriched_hash: r.get(2)?,
        })
    })
    .optional()
}

#[async_trait]
impl GraphStore for EmbeddedGraph {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn index_documents(&self, docs: Vec<NewDocument>) -> Result<Vec<IndexOutcome>> {
        self.db
            .run_covered(move |conn| {
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let mut out = Vec::with_capacity(docs.len());
                for d in &docs {
                    let existing = current(&tx, &d.entity_id)?;
                    let outcome = IndexOutcome::judge(existing.as_ref(), &d.content_hash);
                    if let IndexOutcome::Unchanged(_) = outcome {
                        // Stamped with where it comes from now (documents
                        // indexed before sources were recorded, or moved).
                        tx.prepare_cached(
                            "UPDATE documents SET source_kind = ?2, source_root = ?3
                             WHERE entity_id = ?1 AND (source_kind IS NOT ?2 OR source_root IS NOT ?3)",
                        )?
                        .execute(params![d.entity_id, d.source.kind(), d.source.root()])?;
                        out.push(outcome);
                        continue;
                    }
                    if let Some(body) = &d.content {
                        tx.prepare_cached("INSERT OR IGNORE INTO contents VALUES (?1, ?2)")?
                            .execute(params![d.content_hash, &body[..]])?;
                    }
                    tx.prepare_cached(
                        "INSERT INTO documents (entity_id, project_name, source_path, document_type,
                            language, content_hash, enrichment_status, indexed_at, file_size_bytes,
                            line_count, last_modified, correlation_id, source_kind, source_root)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                         ON CONFLICT (entity_id) DO UPDATE SET
                            project_name = excluded.project_name, source_path = excluded.source_path,
                            document_type = excluded.document_type, language = excluded.language,
                            content_hash = excluded.content_hash, enrichment_status = 'pending',
                            indexed_at = excluded.indexed_at, file_size_bytes = excluded.file_size_bytes,
                            line_count = excluded.line_count, last_modified = excluded.last_modified,
                            correlation_id = excluded.correlation_id, failure_reason = NULL,
                            enrichment_applied = 0, source_kind = excluded.source_kind,
                            source_root = excluded.source_root",
                    )?
                    .execute(params![
                        d.entity_id,
                        d.project_name,
                        d.source_path,
                        d.document_type.as_str(),
                        d.language,
                        d.content_hash,
                        d.indexed_at,
                        d.file_size_bytes as i64,
                        d.line_count as i64,
                        d.last_modified,
                        d.correlation_id,
                        d.source.kind(),
                        d.source.root(),
                    ])?;
                    out.push(outcome);
                }
                tx.commit()?;
                Ok(out)
            })
            .await
    }

    async fn get_document(&self, id: &str) -> Result<Option<DocumentRecord>> {
        let id = id.to_string();
        self.db.read(move |conn| document_by_id(conn, &id)).await
    }

    async fn content(&self, content_hash: &str) -> Result<Option<Vec<u8>>> {
        let h = content_hash.to_string();
        self.db.read(move |conn| body_by_hash(conn, &h)).await
    }

    async fn read_for_enrichment(
        &self,
        wanted: Vec<(String, String)>,
    ) -> Result<Option<Vec<ReadForEnrichment>>> {
        // One read turn for the batch instead of two per document: the
        // enrichments of a fetch start together, so their reads can too.
        self.db
            .read(move |conn| {
                let mut out = Vec::with_capacity(wanted.len());
                for (id, hash) in wanted {
                    let document = document_by_id(conn, &id)?;
                    let content = match &document {
                        // Not for a duplicate: it is skipped unread.
                        Some(d) if d.content_hash == hash && !d.is_enriched_for(&hash) => {
                            body_by_hash(conn, &hash)?
                        }
                        _ => None,
                    };
                    out.push(ReadForEnrichment { document, content });
                }
                Ok(Some(out))
            })
            .await
    }

    async fn transition(&self, ids: Vec<String>, t: Transition) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let extra = match t {
            Transition::Replay => {
                ", replay_count = replay_count + 1,
                   replayed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
            }
            Transition::Purge => ", failure_reason = ?4 || COALESCE(failure_reason, '')",
            Transition::Pick | Transition::HandBack => "",
        };
        let sql = format!(
            "UPDATE documents SET enrichment_status = ?2{extra}
             WHERE entity_id = ?1 AND enrichment_status = ?3"
        );
        let write = move |conn: &mut rusqlite::Connection| -> Result<Vec<String>> {
            let tx = conn.transaction()?;
            let mut moved = Vec::new();
            {
                let mut st = tx.prepare_cached(&sql)?;
                for id in ids {
                    let (to, from) = (t.to().as_str(), t.from().as_str());
                    let n = if t == Transition::Purge {
                        st.execute(params![id, to, from, Transition::PURGED_PREFIX])?
                    } else {
                        st.execute(params![id, to, from])?
                    };
                    if n > 0 {
                        moved.push(id);
                    }
                }
            }
            tx.commit()?;
            Ok(moved)
        };
        // Relaxed for a pick: `processing` is reset to pending when an engine starts.
        if t == Transition::Pick {
            self.db.run_relaxed(write).await
        } else {
            self.db.run(write).await
        }
    }

    async fn record_enrichments(&self, updates: Vec<EnrichmentUpdate>) -> Result<Vec<ApplyResult>> {
        self.db
            .run_covered(move |conn| {
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let mut out = Vec::with_capacity(updates.len());
                for u in &updates {
                    let stored = current(&tx, &u.document_id)?;
                    let result = ApplyResult::judge(stored.as_ref(), &u.content_hash);
                    if result == ApplyResult::Applied {
                        tx.prepare_cached(
                            "UPDATE documents SET enrichment_status = 'completed', enriched_at = ?2,
                                enrichment_content_hash = ?3, enrichment_json = ?4, failure_reason = NULL,
                                enrichment_applied = enrichment_applied + 1, announced = 0,
                                entities_json = ?5
                             WHERE entity_id = ?1",
                        )?
                        .execute(params![
                            u.document_id,
                            u.enriched_at,
                            u.content_hash,
                            serde_json::to_string(&u.results)?,
                            serde_json::to_string(&u.entities)?
                        ])?;
                        // Rows an older release wrote for this document (a
                        // new data dir's table is empty: a lookup in an
                        // empty tree).
                        tx.prepare_cached("DELETE FROM entities WHERE document_id = ?1")?
                            .execute([&u.document_id])?;
                    }
                    out.push(result);
                }
                tx.commit()?;
                Ok(out)
            })
            .await
    }

    async fn mark_announced(&self, marks: Vec<(String, String)>) -> Result<()> {
        if marks.is_empty() {
            return Ok(());
        }
        // Relaxed: a lost mark costs one more completed event on redelivery.
        self.db
            .run_relaxed(move |conn| {
                let tx = conn.transaction()?;
                {
                    let mut st = tx.prepare_cached(
                        "UPDATE documents SET announced = 1
                         WHERE entity_id = ?1 AND enrichment_content_hash = ?2",
                    )?;
                    for (id, hash) in &marks {
                        st.execute([id, hash])?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }

    async fn record_failures(&self, failures: Vec<FailureUpdate>) -> Result<()> {
        self.db
            .run_covered(move |conn| {
                let tx = conn.transaction()?;
                {
                    // Only the content the failure is about; a newer version stays pending.
                    let mut st = tx.prepare_cached(
                        "UPDATE documents SET enrichment_status = 'dlq', failure_reason = ?3
                         WHERE entity_id = ?1 AND content_hash = ?2 AND enrichment_status != 'completed'",
                    )?;
                    for f in &failures {
                        st.execute(params![f.document_id, f.content_hash, f.reason])?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }

    async fn reset_processing(&self) -> Result<u64> {
        self.db
            .run(|conn| {
                Ok(conn.execute(
                    "UPDATE documents SET enrichment_status = 'pending' WHERE enrichment_status = 'processing'",
                    [],
                )? as u64)
            })
            .await
    }

    async fn counts(&self) -> Result<ProjectCounts> {
        self.db
            .read(|conn| {
                let mut st = conn.prepare_cached(
                    "SELECT project_name, enrichment_status, count(*) FROM documents GROUP BY 1, 2",
                )?;
                let mut out = ProjectCounts::new();
                let rows = st.query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })?;
                for row in rows {
                    let (project, status, n) = row?;
                    if let Some(s) = Status::parse(&status) {
                        *out.entry(project).or_default().entry(s).or_default() += n as u64;
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn unfinished_count(&self, project: Option<String>) -> Result<u64> {
        // On the (status, project) index.
        self.db
            .read(move |conn| {
                let n: i64 = conn
                    .prepare_cached(
                        "SELECT count(*) FROM documents
                     WHERE enrichment_status IN ('pending', 'processing')
                       AND (?1 IS NULL OR project_name = ?1)",
                    )?
                    .query_row([project], |r| r.get(0))?;
                Ok(n.max(0) as u64)
            })
            .await
    }

    async fn unfinished_indexed_before(&self, cutoffs: Vec<String>) -> Result<Vec<u64>> {
        self.db
            .read(move |conn| {
                let mut st = conn.prepare_cached(
                    "SELECT count(*) FROM documents
                     WHERE enrichment_status IN ('pending', 'processing') AND indexed_at < ?1",
                )?;
                cutoffs
                    .iter()
                    .map(|c| Ok(st.query_row([c], |r| r.get::<_, i64>(0))?.max(0) as u64))
                    .collect()
            })
            .await
    }

    async fn documents_with_status(
        &self,
        status: Status,
        project: Option<String>,
        after_id: Option<String>,
        limit: usize,
    ) -> Result<Vec<DocumentRecord>> {
        self.db
            .run(move |conn| {
                let mut st = conn.prepare_cached(&format!(
                    "SELECT {DOC_COLUMNS} FROM documents
                     WHERE enrichment_status = ?1 AND (?2 IS NULL OR project_name = ?2)
                       AND entity_id > ?3 ORDER BY entity_id LIMIT ?4"
                ))?;
                let rows = st
                    .query_map(
                        params![
                            status.as_str(),
                            project,
                            after_id.unwrap_or_default(),
                            limit as i64
                        ],
                        doc_from_row,
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await
    }

    async fn entities(&self, document_id: &str) -> Result<Vec<Entity>> {
        let id = document_id.to_string();
        self.db
            .run(move |conn| {
                let json: Option<String> = conn
                    .prepare_cached("SELECT entities_json FROM documents WHERE entity_id = ?1")?
                    .query_row([&id], |r| r.get(0))
                    .optional()?
                    .flatten();
                if let Some(json) = json {
                    return Ok(serde_json::from_str(&json)?);
                }
                // Enriched by a release that kept entities in their table.
                let mut st = conn.prepare_cached(
                    "SELECT kind, name, line FROM entities WHERE document_id = ?1 ORDER BY idx",
                )?;
                let rows = st
                    .query_map([id], |r| {
                        Ok(Entity {
                            kind: r.get(0)?,
                            name: r.get(1)?,
                            line: r.get(2)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await
    }

    async fn sources(&self) -> Result<Vec<SourceCount>> {
        self.db
            .read(|conn| {
                let mut st = conn.prepare_cached(
                    "SELECT project_name, source_kind, source_root, count(*) FROM documents
                     GROUP BY 1, 2, 3",
                )?;
                let rows = st
                    .query_map([], |r| {
                        Ok(SourceCount {
                            project: r.get(0)?,
                            kind: r.get(1)?,
                            root: r.get(2)?,
                            documents: r.get::<_, i64>(3)?.max(0) as u64,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await
    }

    async fn tree_documents(&self, project: &str, root: &str) -> Result<Vec<TreeDocument>> {
        let (project, root) = (project.to_string(), root.to_string());
        self.db
            .read(move |conn| {
                let mut st = conn.prepare_cached(
                    "SELECT entity_id, source_path, content_hash, enrichment_status,
                            enrichment_content_hash
                     FROM documents
                     WHERE project_name = ?1 AND source_kind = 'tree' AND source_root = ?2",
                )?;
                let rows = st
                    .query_map([project, root], |r| {
                        Ok(TreeDocument {
                            entity_id: r.get(0)?,
                            source_path: r.get(1)?,
                            content_hash: r.get(2)?,
                            status: Status::parse_or_failed(&r.get::<_, String>(3)?),
                            enriched_hash: r.get(4)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await
    }

    async fn delete_documents(&self, ids: Vec<String>, reason: String) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.db
            .run_covered(move |conn| {
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let now = crate::events::now_rfc3339();
                let mut removed = Vec::new();
                let mut hashes = std::collections::HashSet::new();
                for id in ids {
                    let hash: Option<String> = tx
                        .prepare_cached(
                            "DELETE FROM documents WHERE entity_id = ?1 RETURNING content_hash",
                        )?
                        .query_row([&id], |r| r.get(0))
                        .optional()?;
                    let Some(hash) = hash else { continue };
                    hashes.insert(hash);
                    tx.prepare_cached("DELETE FROM entities WHERE document_id = ?1")?
                        .execute([&id])?;
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO deleted_documents VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![id, now, reason])?;
                    removed.push(id);
                }
                // A body stays while another document still has it.
                if !hashes.is_empty() {
                    let still: std::collections::HashSet<String> = tx
                        .prepare("SELECT DISTINCT content_hash FROM documents")?
                        .query_map([], |r| r.get(0))?
                        .filter_map(|h| h.ok())
                        .filter(|h: &String| hashes.contains(h))
                        .collect();
                    let mut st =
                        tx.prepare_cached("DELETE FROM contents WHERE content_hash = ?1")?;
                    for h in hashes.difference(&still) {
                        st.execute([h])?;
                    }
                }
                tx.commit()?;
                Ok(removed)
            })
            .await
    }

    async fn deleted(&self, id: &str) -> Result<Option<(String, String)>> {
        let id = id.to_string();
        self.db
            .read(move |conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT reason, deleted_at FROM deleted_documents
                         WHERE entity_id = ?1
                           AND NOT EXISTS (SELECT 1 FROM documents WHERE entity_id = ?1)",
                    )?
                    .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{DocumentType, EnrichmentResults};

    fn doc(id: &str, hash: &str) -> NewDocument {
        NewDocument {
            entity_id: id.into(),
            project_name: "p".into(),
            source_path: "a.rs".into(),
            document_type: DocumentType::Code,
            language: Some("rust".into()),
            content_hash: hash.into(),
            indexed_at: crate::events::now_rfc3339(),
            file_size_bytes: 3,
            line_count: 1,
            last_modified: None,
            correlation_id: "C".into(),
            content: Some(b"abc".to_vec().into()),
            source: DocumentSource::Tree { root: "/r".into() },
        }
    }

    fn update(id: &str, hash: &str) -> EnrichmentUpdate {
        EnrichmentUpdate {
            document_id: id.into(),
            content_hash: hash.into(),
            results: EnrichmentResults {
                entities_extracted: 1,
                ..Default::default()
            },
            entities: vec![Entity {
                kind: "function".into(),
                name: "f".into(),
                line: 1,
            }],
            enriched_at: crate::events::now_rfc3339(),
        }
    }

    async fn status_of(g: &EmbeddedGraph) -> Status {
        g.get_document("d1")
            .await
            .unwrap()
            .unwrap()
            .enrichment_status
    }

    /// A data dir from before kept entities in their own table: they are
    /// still read; the next enrichment moves them into the document's row
    /// and leaves no row behind.
    #[tokio::test]
    async fn entities_an_older_release_wrote_are_read_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let g = EmbeddedGraph::new(db.clone());
        g.index_documents(vec![doc("d1", "h1")]).await.unwrap();
        db.run(|conn| {
            conn.execute_batch(
                "INSERT INTO entities VALUES ('d1', 0, 'class', 'Old', 7);
                 INSERT INTO entities VALUES ('d1', 1, 'function', 'old_fn', 9);",
            )?;
            Ok(())
        })
        .await
        .unwrap();
        let old = g.entities("d1").await.unwrap();
        assert_eq!(
            old.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["Old", "old_fn"]
        );
        g.transition(vec!["d1".into()], Transition::Pick)
            .await
            .unwrap();
        g.record_enrichments(vec![update("d1", "h1")])
            .await
            .unwrap();
        assert_eq!(g.entities("d1").await.unwrap(), update("d1", "h1").entities);
        let left: i64 = db
            .run(|conn| Ok(conn.query_row("SELECT count(*) FROM entities", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(left, 0);
    }

    #[tokio::test]
    async fn status_transitions_and_idempotent_enrichment() {
        let dir = tempfile::tempdir().unwrap();
        let g = EmbeddedGraph::new(Db::open(dir.path()).unwrap());
        assert_eq!(
            g.index_documents(vec![doc("d1", "h1")]).await.unwrap(),
            vec![IndexOutcome::Created]
        );
        assert_eq!(status_of(&g).await, Status::Pending);
        g.transition(vec!["d1".into()], Transition::Pick)
            .await
            .unwrap();
        assert_eq!(status_of(&g).await, Status::Processing);
        assert_eq!(
            g.record_enrichments(vec![update("d1", "h1")])
                .await
                .unwrap(),
            vec![ApplyResult::Applied]
        );
        assert_eq!(status_of(&g).await, Status::Completed);
        // Redelivery of the same request changes nothing.
        assert_eq!(
            g.record_enrichments(vec![update("d1", "h1")])
                .await
                .unwrap(),
            vec![ApplyResult::AlreadyEnriched]
        );
        assert_eq!(g.entities("d1").await.unwrap().len(), 1);
        // Same content re-indexed: untouched.
        assert_eq!(
            g.index_documents(vec![doc("d1", "h1")]).await.unwrap(),
            vec![IndexOutcome::Unchanged(Status::Completed)]
        );
        // New content: back to pending; a late result for the old hash is stale.
        assert_eq!(
            g.index_documents(vec![doc("d1", "h2")]).await.unwrap(),
            vec![IndexOutcome::Changed]
        );
        assert_eq!(status_of(&g).await, Status::Pending);
        assert_eq!(
            g.record_enrichments(vec![update("d1", "h1")])
                .await
                .unwrap(),
            vec![ApplyResult::Stale]
        );
        g.record_failures(vec![FailureUpdate {
            document_id: "d1".into(),
            content_hash: "h2".into(),
            reason: "boom".into(),
        }])
        .await
        .unwrap();
        let d = g.get_document("d1").await.unwrap().unwrap();
        assert_eq!(
            (d.enrichment_status, d.failure_reason.as_deref()),
            (Status::Dlq, Some("boom"))
        );
        let counts = total_counts(&g.counts().await.unwrap());
        assert_eq!(counts[&Status::Dlq], 1);
    }

    #[tokio::test]
    async fn crash_recovery_resets_processing() {
        let dir = tempfile::tempdir().unwrap();
        let g = EmbeddedGraph::new(Db::open(dir.path()).unwrap());
        g.index_documents(vec![doc("a", "h"), doc("b", "h")])
            .await
            .unwrap();
        g.transition(vec!["a".into(), "b".into()], Transition::Pick)
            .await
            .unwrap();
        assert_eq!(g.reset_processing().await.unwrap(), 2);
        let c = total_counts(&g.counts().await.unwrap());
        assert_eq!(c[&Status::Pending], 2);
    }

    #[tokio::test]
    async fn a_batch_reads_each_document_and_only_the_bodies_it_will_enrich() {
        let dir = tempfile::tempdir().unwrap();
        let g = EmbeddedGraph::new(Db::open(dir.path()).unwrap());
        g.index_documents(vec![doc("fresh", "h1"), doc("done", "h2")])
            .await
            .unwrap();
        g.record_enrichments(vec![update("done", "h2")])
            .await
            .unwrap();
        let wanted = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(d, h)| (d.to_string(), h.to_string()))
                .collect::<Vec<_>>()
        };
        let reads = g
            .read_for_enrichment(wanted(&[
                ("fresh", "h1"),
                ("gone", "h1"),
                ("fresh", "old-hash"),
                ("done", "h2"),
            ]))
            .await
            .unwrap()
            .expect("the embedded store reads a batch at once");
        let seen: Vec<(Option<&str>, Option<&[u8]>)> = reads
            .iter()
            .map(|r| {
                (
                    r.document.as_ref().map(|d| d.entity_id.as_str()),
                    r.content.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (Some("fresh"), Some(&b"abc"[..])),
                (None, None),
                // A stale request is skipped, a duplicate answered from the record.
                (Some("fresh"), None),
                (Some("done"), None),
            ]
        );
    }
}
