//! Operator state kept in the data dir so it outlives a process and other
//! processes see it: the rollout (kill switch, percentage, project list) and
//! the running engine's live status (breaker, concurrency), refreshed ~1/s.

use anyhow::Result;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use super::breaker::BreakerSnapshot;
use super::rollout::RolloutState;
use crate::backends::sqlite::{now_ms, Db};

const ROLLOUT_KEY: &str = "rollout";
const PAUSED_KEY: &str = "consumer_paused";
const BREAKER_RESET_KEY: &str = "breaker_reset_seq";
const LIVE_KEY: &str = "engine_live";
/// A live status older than this belongs to an engine that is gone.
const LIVE_TTL_MS: i64 = 5_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveStatus {
    pub pid: u32,
    pub updated_ms: i64,
    pub breaker: BreakerSnapshot,
    pub concurrency: usize,
    pub in_flight: i64,
    pub paused: bool,
    pub docs_per_sec: f64,
}

#[derive(Clone)]
pub struct ControlStore {
    db: Db,
}

impl ControlStore {
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

    /// The operator's rollout, if one was ever set (it then beats flags/env).
    pub fn rollout(&self) -> Result<Option<RolloutState>> {
        self.get(ROLLOUT_KEY)
    }

    pub fn set_rollout(&self, r: &RolloutState) -> Result<()> {
        self.put(ROLLOUT_KEY, r)
    }

    /// Operator's pause (rollback sets it; `resume` clears it). Running
    /// engines on this data dir follow it within ~200 ms.
    pub fn paused(&self) -> Result<bool> {
        Ok(self.get(PAUSED_KEY)?.unwrap_or(false))
    }

    pub fn set_paused(&self, paused: bool) -> Result<()> {
        self.put(PAUSED_KEY, &paused)
    }

    /// Each manual breaker reset bumps this; engines reset when it moves.
    pub fn breaker_reset_seq(&self) -> Result<u64> {
        Ok(self.get(BREAKER_RESET_KEY)?.unwrap_or(0))
    }

    pub fn request_breaker_reset(&self) -> Result<u64> {
        let next = self.breaker_reset_seq()? + 1;
        self.put(BREAKER_RESET_KEY, &next)?;
        Ok(next)
    }

    pub fn publish_live(&self, s: &LiveStatus) -> Result<()> {
        self.put(LIVE_KEY, s)
    }

    pub fn clear_live(&self) -> Result<()> {
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
    pub fn live(&self) -> Result<Option<LiveStatus>> {
        Ok(self
            .get::<LiveStatus>(LIVE_KEY)?
            .filter(|s| now_ms() - s.updated_ms < LIVE_TTL_MS))
    }
}
