//! Qdrant over gRPC (qdrant-client): one point per document, id = document
//! uuid, payload mirroring its enrichment status. The collection is created
//! (cosine, the embedding's dimension) and the status payload indexed when
//! missing.

use anyhow::{Context, Result};
use async_trait::async_trait;
use qdrant_client::qdrant::{
    point_id::PointIdOptions, points_selector::PointsSelectorOneOf, points_update_operation,
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    Distance, FieldType, Filter, PointStruct, PointsIdsList, PointsSelector, PointsUpdateOperation,
    QueryPointsBuilder, UpdateBatchPointsBuilder, UpsertPointsBuilder, VectorParamsBuilder,
};
use qdrant_client::{Payload, Qdrant};

use super::{VectorPoint, VectorStore};

pub const DEFAULT_COLLECTION: &str = "archon_vectors";

/// Points (or payload updates) per request: Qdrant's guidance is batches of
/// 64–256 points.
const PER_REQUEST: usize = 256;

pub struct QdrantVectors {
    client: Qdrant,
    collection: String,
}

impl QdrantVectors {
    /// Connect and make sure the collection exists with vectors of `dim`.
    pub async fn connect(
        url: &str,
        api_key: Option<String>,
        collection: &str,
        dim: u64,
    ) -> Result<Self> {
        let client = Qdrant::from_url(url)
            .api_key(api_key)
            .skip_compatibility_check()
            .build()
            .with_context(|| format!("--qdrant-url / QDRANT_URL {url:?}"))?;
        let exists = client
            .collection_exists(collection)
            .await
            .with_context(|| format!("cannot reach Qdrant at {url}"))?;
        if !exists {
            client
                .create_collection(
                    CreateCollectionBuilder::new(collection)
                        .vectors_config(VectorParamsBuilder::new(dim, Distance::Cosine)),
                )
                .await
                .with_context(|| format!("cannot create Qdrant collection {collection}"))?;
            client
                .create_field_index(CreateFieldIndexCollectionBuilder::new(
                    collection,
                    "enrichment_status",
                    FieldType::Keyword,
                ))
                .await
                .context("cannot index enrichment_status")?;
        }
        Ok(Self {
            client,
            collection: collection.to_string(),
        })
    }
}

fn payload(map: serde_json::Map<String, serde_json::Value>) -> Payload {
    Payload::from(map)
}

fn ids(ids: Vec<String>) -> PointsSelector {
    PointsSelector {
        points_selector_one_of: Some(PointsSelectorOneOf::Points(PointsIdsList {
            ids: ids.into_iter().map(Into::into).collect(),
        })),
    }
}

#[async_trait]
impl VectorStore for QdrantVectors {
    fn kind(&self) -> &'static str {
        "qdrant"
    }

    async fn collection(&self) -> Result<Option<(String, u64)>> {
        use qdrant_client::qdrant::vectors_config::Config;
        let info = self
            .client
            .collection_info(&self.collection)
            .await
            .with_context(|| format!("cannot describe Qdrant collection {}", self.collection))?;
        let dim = info
            .result
            .and_then(|r| r.config)
            .and_then(|c| c.params)
            .and_then(|p| p.vectors_config)
            .and_then(|v| v.config)
            .and_then(|c| match c {
                Config::Params(p) => Some(p.size),
                Config::ParamsMap(_) => None,
            })
            .unwrap_or(0);
        Ok(Some((self.collection.clone(), dim)))
    }

    async fn upsert(&self, points: Vec<VectorPoint>) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let mut points = points
            .into_iter()
            .map(|p| PointStruct::new(p.id, p.vector, payload(p.payload)))
            .peekable();
        // In requests of at most `PER_REQUEST` points (Qdrant's guidance for
        // batch sizes: an index batch of 1,000 is four requests, not one
        // oversized one, nor a thousand).
        while points.peek().is_some() {
            let chunk: Vec<PointStruct> = points.by_ref().take(PER_REQUEST).collect();
            self.client
                .upsert_points(UpsertPointsBuilder::new(&self.collection, chunk).wait(true))
                .await
                .context("Qdrant upsert")?;
        }
        Ok(())
    }

    async fn delete(&self, ids: Vec<String>) -> Result<()> {
        for chunk in ids.chunks(PER_REQUEST) {
            self.client
                .delete_points(
                    qdrant_client::qdrant::DeletePointsBuilder::new(&self.collection)
                        .points(PointsIdsList {
                            ids: chunk.iter().cloned().map(Into::into).collect(),
                        })
                        .wait(true),
                )
                .await
                .context("Qdrant delete")?;
        }
        Ok(())
    }

    async fn set_payload(
        &self,
        updates: Vec<(String, serde_json::Map<String, serde_json::Value>)>,
    ) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        let mut ops = updates
            .into_iter()
            .map(|(id, fields)| PointsUpdateOperation {
                operation: Some(points_update_operation::Operation::SetPayload(
                    points_update_operation::SetPayload {
                        payload: payload(fields).into(),
                        points_selector: Some(ids(vec![id])),
                        shard_key_selector: None,
                        key: None,
                    },
                )),
            })
            .peekable();
        // One request per `PER_REQUEST` payload updates, never one per document.
        while ops.peek().is_some() {
            let chunk: Vec<PointsUpdateOperation> = ops.by_ref().take(PER_REQUEST).collect();
            self.client
                .update_points_batch(
                    UpdateBatchPointsBuilder::new(&self.collection, chunk).wait(true),
                )
                .await
                .context("Qdrant set payload")?;
        }
        Ok(())
    }

    async fn count(&self, status: Option<String>) -> Result<u64> {
        let mut req = CountPointsBuilder::new(&self.collection).exact(true);
        if let Some(s) = status {
            req = req.filter(Filter::must([Condition::matches("enrichment_status", s)]));
        }
        let r = self.client.count(req).await.context("Qdrant count")?;
        Ok(r.result.map(|c| c.count).unwrap_or(0))
    }

    async fn search(&self, vector: Vec<f32>, limit: usize) -> Result<Vec<(String, f32)>> {
        let r = self
            .client
            .query(
                QueryPointsBuilder::new(&self.collection)
                    .query(vector)
                    .limit(limit as u64),
            )
            .await
            .context("Qdrant query")?;
        Ok(r.result
            .into_iter()
            .filter_map(|p| {
                let id = match p.id?.point_id_options? {
                    PointIdOptions::Uuid(u) => u,
                    PointIdOptions::Num(n) => n.to_string(),
                };
                Some((id, p.score))
            })
            .collect())
    }
}
