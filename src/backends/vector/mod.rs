//! Vector store: one point per document (id = document uuid) with a payload
//! mirroring the document's enrichment status.
//!
//! The port (the trait and its data types) is `crate::ports::vector`;
//! this folder holds its adapters.

pub mod embedded;
#[cfg(feature = "qdrant")]
pub mod qdrant;

pub use crate::ports::vector::*;
