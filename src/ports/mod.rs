//! The ports: every store and service the engine runs on, as async traits
//! with their data types, and nothing else. No adapter crate (rdkafka,
//! neo4rs, qdrant-client) and no UI crate (ratatui, axum) is reachable from
//! here (tests/layers.rs checks it): the adapters under `backends/` depend
//! on these traits, the engine calls them, and neither knows the other.

pub mod broker;
pub mod control;
pub mod graph;
pub mod history;
pub mod intelligence;
pub mod vector;

use std::sync::Arc;

/// The four outside systems an engine runs on.
pub struct Backends {
    pub broker: Arc<dyn broker::Broker>,
    pub graph: Arc<dyn graph::GraphStore>,
    pub vectors: Arc<dyn vector::VectorStore>,
    pub intelligence: Arc<dyn intelligence::Intelligence>,
}
