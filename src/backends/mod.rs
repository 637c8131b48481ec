//! Each outside system behind one small trait, embedded and remote
//! implementations side by side, chosen by config.

pub mod broker;
pub mod control;
pub mod graph;
pub mod history;
pub mod intelligence;
pub mod sqlite;
pub mod vector;

use std::sync::Arc;

use anyhow::Result;

use crate::engine::config::EngineConfig;
use crate::settings::GraphSetting;
use broker::{embedded::EmbeddedBroker, Broker};
use graph::{embedded::EmbeddedGraph, GraphStore};
use intelligence::{
    embedded::EmbeddedIntelligence,
    faults::{FaultDial, FaultInjector},
    http::HttpIntelligence,
    Intelligence,
};
use sqlite::Db;
use vector::{embedded::EmbeddedVectors, VectorStore};

pub use crate::ports::Backends;

impl Backends {
    /// Everything in the data dir, nothing installed; a remote system where
    /// its address is configured. Fault injection wraps whichever
    /// intelligence is in use.
    pub async fn from_config(db: &Db, cfg: &EngineConfig, faults: Arc<FaultDial>) -> Result<Self> {
        let intelligence: Arc<dyn Intelligence> = match &cfg.intelligence_url {
            Some(url) => Arc::new(FaultInjector::with_dial(
                HttpIntelligence::new(url, cfg.intelligence_timeout)?,
                faults,
                cfg.faults.seed,
            )),
            None => Arc::new(FaultInjector::with_dial(
                EmbeddedIntelligence,
                faults,
                cfg.faults.seed,
            )),
        };
        db.set_broker_here(cfg.kafka.is_none());
        Ok(Self {
            broker: match &cfg.kafka {
                Some(k) => remote_broker(k)?,
                None => Arc::new(EmbeddedBroker::new(db.clone())),
            },
            graph: match &cfg.graph {
                GraphSetting::Bolt(s) => remote_graph(s).await?,
                GraphSetting::Embedded => Arc::new(EmbeddedGraph::new(db.clone())),
            },
            vectors: match &cfg.qdrant_url {
                Some(url) => remote_vectors(url, cfg.qdrant_api_key.clone().map(|s| s.0)).await?,
                None => Arc::new(EmbeddedVectors::new(db.clone())),
            },
            intelligence,
        })
    }
}

/// Where the operator state lives: the control, status and audit topics
/// when the engines share Kafka (a fleet across machines), else the data
/// dir's SQLite (every process on one disk).
pub async fn control_store(
    db: &Db,
    cfg: &EngineConfig,
    broker: &dyn Broker,
) -> Result<Arc<dyn crate::engine::fleet::control::ControlStore>> {
    match &cfg.kafka {
        Some(k) => remote_control(k, cfg, broker).await,
        None => Ok(Arc::new(control::SqliteControl::new(db.clone()))),
    }
}

#[cfg(feature = "kafka")]
async fn remote_control(
    k: &broker::kafka::KafkaSettings,
    cfg: &EngineConfig,
    broker: &dyn Broker,
) -> Result<Arc<dyn crate::engine::fleet::control::ControlStore>> {
    Ok(Arc::new(
        control::KafkaControl::open(k, broker, cfg.fleet_topics.clone()).await?,
    ))
}

#[cfg(not(feature = "kafka"))]
async fn remote_control(
    _: &broker::kafka::KafkaSettings,
    _: &EngineConfig,
    _: &dyn Broker,
) -> Result<Arc<dyn crate::engine::fleet::control::ControlStore>> {
    Err(not_built(
        "Kafka",
        "kafka",
        "KAFKA_BOOTSTRAP_SERVERS / --kafka-brokers",
    ))
}

/// What a build without a remote backend says when one is configured.
#[allow(dead_code)]
fn not_built(what: &str, feature: &str, setting: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{setting} is set, but this archon-tui was built without {what} support \
         (cargo feature `{feature}`); rebuild with default features or unset it"
    )
}

#[cfg(feature = "kafka")]
pub(crate) fn remote_broker(k: &broker::kafka::KafkaSettings) -> Result<Arc<dyn Broker>> {
    Ok(Arc::new(broker::kafka::KafkaBroker::new(k.clone())?))
}

#[cfg(not(feature = "kafka"))]
pub(crate) fn remote_broker(_: &broker::kafka::KafkaSettings) -> Result<Arc<dyn Broker>> {
    Err(not_built(
        "Kafka",
        "kafka",
        "KAFKA_BOOTSTRAP_SERVERS / --kafka-brokers",
    ))
}

#[cfg(feature = "bolt")]
pub(crate) async fn remote_graph(s: &graph::bolt::BoltSettings) -> Result<Arc<dyn GraphStore>> {
    Ok(Arc::new(graph::bolt::BoltGraph::connect(s).await?))
}

#[cfg(not(feature = "bolt"))]
pub(crate) async fn remote_graph(_: &graph::bolt::BoltSettings) -> Result<Arc<dyn GraphStore>> {
    Err(not_built(
        "Bolt (Memgraph/Neo4j)",
        "bolt",
        "MEMGRAPH_URI / --graph-uri",
    ))
}

#[cfg(feature = "qdrant")]
pub(crate) async fn remote_vectors(
    url: &str,
    api_key: Option<String>,
) -> Result<Arc<dyn VectorStore>> {
    Ok(Arc::new(
        vector::qdrant::QdrantVectors::connect(
            url,
            api_key,
            vector::qdrant::DEFAULT_COLLECTION,
            crate::embedding::DIM as u64,
        )
        .await?,
    ))
}

#[cfg(not(feature = "qdrant"))]
pub(crate) async fn remote_vectors(_: &str, _: Option<String>) -> Result<Arc<dyn VectorStore>> {
    Err(not_built("Qdrant", "qdrant", "QDRANT_URL / --qdrant-url"))
}

/// The linked librdkafka's version (None: built without Kafka).
pub fn librdkafka_version() -> Option<String> {
    #[cfg(feature = "kafka")]
    {
        Some(rdkafka::util::get_rdkafka_version().1)
    }
    #[cfg(not(feature = "kafka"))]
    {
        None
    }
}
