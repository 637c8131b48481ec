//! Where the outside systems are and how to reach them: plain data the
//! configuration fills and the adapters read (each adapter's own code, like
//! the Kafka client builder, stays with the adapter). Below the engine and
//! the adapters alike, so neither imports the other for its settings.

pub mod bolt;
pub mod fleet;
pub mod kafka;

/// The graph store an engine runs on.
#[derive(Debug, Clone, Default)]
pub enum GraphSetting {
    /// SQLite in the data dir: nothing to install.
    #[default]
    Embedded,
    /// Memgraph or Neo4j over Bolt.
    Bolt(bolt::BoltSettings),
}

impl GraphSetting {
    /// The Bolt settings, when the graph is remote.
    pub fn bolt(&self) -> Option<&bolt::BoltSettings> {
        match self {
            GraphSetting::Embedded => None,
            GraphSetting::Bolt(b) => Some(b),
        }
    }
}
