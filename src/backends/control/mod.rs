//! Operator state (`engine::control::ControlStore`): the SQLite one for a
//! data dir.

mod sqlite;
pub use sqlite::SqliteControl;
