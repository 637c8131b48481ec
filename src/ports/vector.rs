//! Vector store: one point per document (id = document uuid) with a payload
//! mirroring the document's enrichment status.

use anyhow::Result;
use async_trait::async_trait;

#[derive(Debug, Clone)]
pub struct VectorPoint {
    pub id: String,
    pub vector: Vec<f32>,
    pub payload: serde_json::Map<String, serde_json::Value>,
}

#[async_trait]
pub trait VectorStore: Send + Sync {
    fn kind(&self) -> &'static str;
    async fn upsert(&self, points: Vec<VectorPoint>) -> Result<()>;
    /// Merge fields into existing points' payloads (missing points are skipped).
    async fn set_payload(
        &self,
        updates: Vec<(String, serde_json::Map<String, serde_json::Value>)>,
    ) -> Result<()>;
    /// Remove points (missing ones are skipped).
    async fn delete(&self, ids: Vec<String>) -> Result<()>;
    /// Points whose payload `enrichment_status` equals `status` (all when None).
    async fn count(&self, status: Option<String>) -> Result<u64>;
    /// Ids of the `limit` nearest points by cosine similarity.
    async fn search(&self, vector: Vec<f32>, limit: usize) -> Result<Vec<(String, f32)>>;
    /// The collection as the store has it (doctor): its name and the
    /// dimension of its vectors, when the store has such a thing.
    async fn collection(&self) -> Result<Option<(String, u64)>> {
        Ok(None)
    }
}
