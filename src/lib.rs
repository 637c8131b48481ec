//! archon-tui: an embedded document-enrichment engine and its console.
// A panic is a decision: `expect` says why it cannot happen, a poisoned lock
// is taken over (`PoisonError::into_inner`). Unit tests may unwrap
// (clippy.toml: allow-unwrap-in-tests), and so may tests/.
#![deny(clippy::unwrap_used)]

pub mod backends;
pub mod cli;
pub mod clock;
pub mod config;
pub mod corpus;
pub mod embedding;
pub mod engine;
pub mod events;
pub mod identity;
pub mod model;
pub mod ports;
pub mod runtime;
pub mod sanitize;
pub mod serve;
pub mod settings;
pub mod tui;
