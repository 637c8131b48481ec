//! Embedded vector store on the data dir's SQLite file: vectors as f32 blobs,
//! payload as JSON, exact (brute-force) cosine search.

use anyhow::Result;
use async_trait::async_trait;
use rusqlite::params;

use super::{VectorPoint, VectorStore};
use crate::backends::sqlite::Db;
use crate::embedding::cosine;

pub struct EmbeddedVectors {
    db: Db,
}

impl EmbeddedVectors {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[async_trait]
impl VectorStore for EmbeddedVectors {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn upsert(&self, points: Vec<VectorPoint>) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        self.db
            .run_covered(move |conn| {
                let tx = conn.transaction()?;
                {
                    let mut st = tx.prepare_cached(
                        "INSERT OR REPLACE INTO vector_points VALUES (?1, ?2, ?3)",
                    )?;
                    for p in &points {
                        st.execute(params![
                            p.id,
                            to_blob(&p.vector),
                            serde_json::to_string(&p.payload)?
                        ])?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }

    async fn delete(&self, ids: Vec<String>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.db
            .run_covered(move |conn| {
                let tx = conn.transaction()?;
                {
                    let mut st =
                        tx.prepare_cached("DELETE FROM vector_points WHERE point_id = ?1")?;
                    for id in &ids {
                        st.execute([id])?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }

    async fn set_payload(
        &self,
        updates: Vec<(String, serde_json::Map<String, serde_json::Value>)>,
    ) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        self.db
            .run_covered(move |conn| {
                let tx = conn.transaction()?;
                {
                    // Merged inside SQLite (flat fields, never null): no parse
                    // and re-serialisation of the whole payload here.
                    let mut st = tx.prepare_cached(
                        "UPDATE vector_points SET payload = json_patch(payload, ?2) WHERE point_id = ?1",
                    )?;
                    for (id, fields) in &updates {
                        st.execute(params![id, serde_json::to_string(fields)?])?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }

    async fn count(&self, status: Option<String>) -> Result<u64> {
        self.db
            .run(move |conn| {
                let n: i64 = conn.query_row(
                    "SELECT count(*) FROM vector_points
                     WHERE ?1 IS NULL OR json_extract(payload, '$.enrichment_status') = ?1",
                    [status],
                    |r| r.get(0),
                )?;
                Ok(n as u64)
            })
            .await
    }

    async fn search(&self, vector: Vec<f32>, limit: usize) -> Result<Vec<(String, f32)>> {
        self.db
            .run(move |conn| {
                let mut st = conn.prepare_cached("SELECT point_id, vector FROM vector_points")?;
                let mut scored: Vec<(String, f32)> = st
                    .query_map([], |r| {
                        let id: String = r.get(0)?;
                        let blob: Vec<u8> = r.get(1)?;
                        Ok((id, cosine(&vector, &from_blob(&blob))))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                scored.sort_by(|a, b| b.1.total_cmp(&a.1));
                scored.truncate(limit);
                Ok(scored)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedding::embed;

    #[tokio::test]
    async fn upsert_payload_count_and_search() {
        let dir = tempfile::tempdir().unwrap();
        let v = EmbeddedVectors::new(Db::open(dir.path()).unwrap());
        let point = |id: &str, text: &str| VectorPoint {
            id: id.into(),
            vector: embed(text),
            payload: serde_json::json!({"document_id": id, "enrichment_status": "pending"})
                .as_object()
                .unwrap()
                .clone(),
        };
        v.upsert(vec![
            point("a", "parse config file"),
            point("b", "render terminal frame"),
        ])
        .await
        .unwrap();
        assert_eq!(v.count(Some("pending".into())).await.unwrap(), 2);
        let done = serde_json::json!({"enrichment_status": "completed"})
            .as_object()
            .unwrap()
            .clone();
        v.set_payload(vec![("a".into(), done)]).await.unwrap();
        assert_eq!(v.count(Some("completed".into())).await.unwrap(), 1);
        assert_eq!(v.count(None).await.unwrap(), 2);
        let hits = v.search(embed("config parser"), 1).await.unwrap();
        assert_eq!(hits[0].0, "a");
    }
}
