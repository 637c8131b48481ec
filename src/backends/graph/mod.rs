//! Graph/document store: Document nodes with the seeds' properties, extracted
//! entities linked to their document, counts by status and project.
//!
//! The port (the trait and its data types) is `crate::ports::graph`;
//! this folder holds its adapters.

pub mod bolt;
pub mod embedded;

pub use crate::ports::graph::*;
