//! Kafka / Redpanda through rdkafka (librdkafka). Producer: acks=all,
//! idempotent, snappy (configurable), keyed by document id. Consumer: manual commits of the offsets
//! the engine hands over (after the outcome is recorded); paused partitions
//! while the engine is paused or the breaker is open, still polling so the
//! group membership holds. Lag from watermarks and the group's commits.

//!
//! Its settings are `crate::settings::kafka` (always built: the
//! configuration names them); the clients need the `kafka` feature.

pub use crate::settings::kafka::{parse_option, KafkaSettings, DEFAULT_COMPRESSION};

#[cfg(feature = "kafka")]
mod client;
#[cfg(feature = "kafka")]
mod consumer;
#[cfg(feature = "kafka")]
pub use client::KafkaBroker;
#[cfg(feature = "kafka")]
mod assignment;
