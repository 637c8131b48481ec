//! Where the Bolt server is and how large a message may be.

/// Which server speaks Bolt: the schema statements differ (the rest of
/// the Cypher is what both accept).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BoltFlavour {
    /// Told by the server when it connects.
    #[default]
    Detect,
    Neo4j,
    Memgraph,
}

/// Connection settings; the password never reaches Debug output.
#[derive(Clone)]
pub struct BoltSettings {
    pub uri: String,
    /// The server kind, when the operator knows it.
    pub flavour: BoltFlavour,
    pub user: String,
    pub password: String,
    /// Database name (Neo4j); None: the server's default.
    pub database: Option<String>,
    /// Largest Bolt message a write may send (see the module note).
    pub max_message_bytes: usize,
}

/// Memgraph's and Neo4j's limits are far above this; batches this size keep
/// round trips few without holding much in memory.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1 << 20;

impl std::fmt::Debug for BoltSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoltSettings")
            .field("uri", &self.uri)
            .field("flavour", &self.flavour)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("database", &self.database)
            .field("max_message_bytes", &self.max_message_bytes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_never_print_the_password() {
        let s = BoltSettings {
            uri: "bolt://h:7687".into(),
            flavour: BoltFlavour::Detect,
            user: "u".into(),
            password: "hunter2".into(),
            database: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
