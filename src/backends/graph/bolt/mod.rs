//! Graph store over Bolt (Memgraph, Neo4j) via neo4rs.
//!
//! One node per document, `(:Document {entity_id, …, enrichment_status})`, its
//! extracted entities as `(:Document)-[:HAS_ENTITY]->(:Entity)`, and file bodies
//! content-addressed in `(:DocumentContent {content_hash, body})` so every engine
//! in a consumer group can enrich what another one indexed.
//!
//! Cypher kept to what Memgraph and Neo4j 5 both accept: every write is an
//! UNWIND statement (atomic on its own, no explicit transactions), rows sorted
//! by key so concurrent batches take their locks in one order, and every query
//! returns scalars, lists and maps only. Result streams are always read to the
//! end. Only the schema statements differ (see `ensure_indexes`).
//!
//! UNWIND batches are cut so no Bolt message exceeds `max_message_bytes`
//! (default 1 MiB), and file bodies are stored in chunks under that size.
//!
//! Its settings are `crate::settings::bolt` (always built: the configuration
//! names them); the store needs the `bolt` feature (neo4rs).

pub use crate::settings::bolt::{BoltFlavour, BoltSettings, DEFAULT_MAX_MESSAGE_BYTES};

#[cfg(feature = "bolt")]
mod batching;
#[cfg(feature = "bolt")]
mod store;
#[cfg(feature = "bolt")]
pub use store::BoltGraph;
