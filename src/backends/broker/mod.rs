//! Broker: topics with partitions, offsets and consumer-group commits, so
//! lag = end offset − committed offset exactly as on Kafka.
//!
//! The port (the trait and its data types) is `crate::ports::broker`;
//! this folder holds its adapters.

pub mod embedded;
pub mod kafka;

pub use crate::ports::broker::*;
