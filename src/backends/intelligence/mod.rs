//! Intelligence service: turns a document into enrichment results (seed §3.3
//! shape) plus the entities it found.
//!
//! The port (the trait and its data types) is `crate::ports::intelligence`;
//! this folder holds its adapters.

pub mod analyzer;
pub mod embedded;
pub mod faults;
pub mod http;

pub use crate::ports::intelligence::*;
