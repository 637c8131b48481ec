//! Operator state in the data dir's SQLite `control` table: every process
//! on the data dir sees it.

use anyhow::Result;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::backends::sqlite::Db;
use crate::clock::now_ms;
use crate::engine::control::{ControlStore, LiveStatus};
use crate::engine::rollout::RolloutState;

const ROLLOUT_KEY: &str = "rollout";
const PAUSED_KEY: &str = "consumer_paused";
const BREAKER_RESET_KEY: &str = "breaker_reset_seq";
const LIVE_KEY: &str = "engine_live";
/// A live status older than this belongs to an engine that is gone.
const LIVE_TTL_MS: i64 = 5_000;

#[derive(Clone)]
pub struct SqliteControl {
    db: Db,
}

impl SqliteControl {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, key: &'static str) -> Result<Option<T>> {
        self.db.run_blocking(|c| {
            let v: Option<String> = c
                .query_row("SELECT value FROM control WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?;
            Ok(v.and_then(|v| serde_json::from_str(&v).ok()))
        })
    }

    fn put<T: Serialize>(&self, key: &'static str, value: &T) -> Result<()> {
        let v = serde_json::to_string(value)?;
        self.db.run_blocking(|c| {
            c.execute("INSERT OR REPLACE INTO control VALUES (?1, ?2)", [key, &v])?;
            Ok(())
        })
    }
}

impl ControlStore for SqliteControl {
    /// The operator's rollout, if one was ever set (it then beats flags/env).
    fn rollout(&self) -> Result<Option<RolloutState>> {
        self.get(ROLLOUT_KEY)
    }

    fn set_rollout(&self, r: &RolloutState) -> Result<()> {
        self.put(ROLLOUT_KEY, r)
    }

    /// Operator's pause (rollback sets it; `resume` clears it). Running
    /// engines on this data dir follow it within ~200 ms.
    fn paused(&self) -> Result<bool> {
        Ok(self.get(PAUSED_KEY)?.unwrap_or(false))
    }

    fn set_paused(&self, paused: bool) -> Result<()> {
        self.put(PAUSED_KEY, &paused)
    }

    /// Each manual breaker reset bumps this; engines reset when it moves.
    fn breaker_reset_seq(&self) -> Result<u64> {
        Ok(self.get(BREAKER_RESET_KEY)?.unwrap_or(0))
    }

    fn request_breaker_reset(&self) -> Result<u64> {
        let next = self.breaker_reset_seq()? + 1;
        self.put(BREAKER_RESET_KEY, &next)?;
        Ok(next)
    }

    fn publish_live(&self, s: &LiveStatus) -> Result<()> {
        self.put(LIVE_KEY, s)
    }

    fn clear_live(&self) -> Result<()> {
        let pid = std::process::id();
        self.db.run_blocking(|c| {
            c.execute(
                "DELETE FROM control WHERE key = ?1 AND json_extract(value, '$.pid') = ?2",
                rusqlite::params![LIVE_KEY, pid],
            )?;
            Ok(())
        })
    }

    /// The running engine's status, if one is running on this data dir.
    fn live(&self) -> Result<Option<LiveStatus>> {
        Ok(self
            .get::<LiveStatus>(LIVE_KEY)?
            .filter(|s| now_ms() - s.updated_ms < LIVE_TTL_MS))
    }
}
