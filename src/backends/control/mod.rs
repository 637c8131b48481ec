//! Operator state (`engine::fleet::control::ControlStore`): SQLite in the data dir
//! for the embedded default, Kafka topics for a fleet on shared brokers.

#[cfg(feature = "kafka")]
mod kafka;
mod sqlite;
#[cfg(feature = "kafka")]
pub use kafka::KafkaControl;
pub use sqlite::SqliteControl;

pub use crate::settings::fleet::FleetTopics;
