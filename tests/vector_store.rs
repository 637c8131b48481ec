//! One conformance suite for every VectorStore: the embedded store always,
//! and the Qdrant adapter when QDRANT_URL names a server (no Qdrant can be
//! installed on these machines: a loud skip otherwise). What the engine
//! relies on: one point per document id, payload merges that leave other
//! fields and missing points alone, counts by `enrichment_status`, and
//! nearest-neighbour search by cosine.

mod common;

use std::sync::Arc;

use archon_tui::backends::sqlite::Db;
use archon_tui::backends::vector::embedded::EmbeddedVectors;
use archon_tui::embedding::embed;
use archon_tui::ports::vector::{VectorPoint, VectorStore};
use serde_json::{json, Map, Value};

const TEXTS: [&str; 6] = [
    "fn parse_config(path: &Path) -> Result<Config>",
    "class UserRepository: def find_by_email(self, email)",
    "SELECT id, name FROM users WHERE email = ?",
    "async function fetchOrders(customerId) { return api.get(customerId) }",
    "struct CircuitBreaker { failures: u32, opened_at: Instant }",
    "# Deployment\nRun the migration, then restart the consumer group.",
];

fn payload(status: &str, project: &str) -> Map<String, Value> {
    let Value::Object(m) = json!({"enrichment_status": status, "project_name": project}) else {
        unreachable!()
    };
    m
}

/// Uuid-shaped ids (Qdrant takes uuids or integers), of this run.
fn id(run: u128, i: usize) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", run % 0xffff_ffff, i)
}

async fn conformance(v: Arc<dyn VectorStore>, name: &str) {
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let project = format!("conformance-{run}");
    let points: Vec<VectorPoint> = TEXTS
        .iter()
        .enumerate()
        .map(|(i, t)| VectorPoint {
            id: id(run, i),
            vector: embed(t),
            payload: payload("pending", &project),
        })
        .collect();
    let before_pending = v.count(Some("pending".into())).await.unwrap();
    let before_all = v.count(None).await.unwrap();
    v.upsert(points.clone()).await.unwrap();
    assert_eq!(
        v.count(None).await.unwrap(),
        before_all + TEXTS.len() as u64,
        "{name}"
    );
    // The same ids again: replaced, not added.
    v.upsert(points.clone()).await.unwrap();
    assert_eq!(
        v.count(None).await.unwrap(),
        before_all + TEXTS.len() as u64,
        "{name}: one point per id"
    );
    assert_eq!(
        v.count(Some("pending".into())).await.unwrap(),
        before_pending + TEXTS.len() as u64,
        "{name}"
    );

    // Two enriched, and an update for a point that does not exist.
    let mut done = Map::new();
    done.insert("enrichment_status".into(), json!("completed"));
    let before_completed = v.count(Some("completed".into())).await.unwrap();
    v.set_payload(vec![
        (id(run, 0), done.clone()),
        (id(run, 3), done.clone()),
        (id(run, 999), done),
    ])
    .await
    .unwrap();
    assert_eq!(
        v.count(Some("completed".into())).await.unwrap(),
        before_completed + 2,
        "{name}: merged into the two that exist"
    );
    assert_eq!(
        v.count(None).await.unwrap(),
        before_all + TEXTS.len() as u64,
        "{name}: a missing point is skipped, not created"
    );

    // Each text finds its own point first.
    for (i, t) in TEXTS.iter().enumerate() {
        let hits = v.search(embed(t), 3).await.unwrap();
        assert_eq!(
            hits.first().map(|h| h.0.as_str()),
            Some(id(run, i).as_str()),
            "{name}: {hits:?}"
        );
        assert!(hits[0].1 > 0.99, "{name}: cosine of itself {hits:?}");
        assert!(
            hits.windows(2).all(|w| w[0].1 >= w[1].1),
            "{name}: best first"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_vector_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    conformance(Arc::new(EmbeddedVectors::new(db)), "embedded").await;
}

#[cfg(feature = "qdrant")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_qdrant_vector_store_conforms() {
    use archon_tui::backends::vector::qdrant::QdrantVectors;
    let Ok(url) = std::env::var("QDRANT_URL") else {
        common::skip("QDRANT_URL is not set (no Qdrant server is installable here)");
        return;
    };
    let collection = format!(
        "archon_conformance_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let v = QdrantVectors::connect(
        &url,
        std::env::var("QDRANT_API_KEY").ok(),
        &collection,
        archon_tui::embedding::DIM as u64,
    )
    .await
    .unwrap();
    conformance(Arc::new(v), "qdrant").await;
}

#[cfg(not(feature = "qdrant"))]
#[test]
fn the_qdrant_vector_store_conforms() {
    common::built_with("qdrant", false);
}
