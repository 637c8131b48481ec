//! The document's way through: discovering files, indexing them and
//! publishing requests (`producer`), documents POSTed by other services
//! (`bridge`), keeping the index a mirror of its tree (`mirror`) and fresh as
//! it changes (`watch`), consuming them with bounded
//! concurrency (`consumer`), enriching and recording each (`enrich`),
//! which offsets may be committed (`offsets`), and running until drained
//! (`drain`).

pub mod bridge;
pub mod consumer;
pub mod discover;
pub mod drain;
pub mod enrich;
pub mod mirror;
pub mod offsets;
pub mod producer;
pub mod watch;
