//! Each outside system behind one small trait, embedded and remote
//! implementations side by side, chosen by config.

pub mod broker;
pub mod graph;
pub mod intelligence;
pub mod sqlite;
pub mod vector;
