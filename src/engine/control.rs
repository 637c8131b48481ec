//! Operator state: the rollout (kill switch, percentage, project list), the
//! pause, breaker-reset requests and the running engine's live status
//! (breaker, concurrency), refreshed ~1/s.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::breaker::BreakerSnapshot;
use super::rollout::RolloutState;

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

/// Where the operator's state lives, so it outlives a process and every
/// engine that shares it follows it: SQLite in the data dir for the embedded
/// default (`backends::control::SqliteControl`); the fleet issue adds a
/// Kafka one.
pub trait ControlStore: Send + Sync {
    /// The operator's rollout, if one was ever set (it then beats flags/env).
    fn rollout(&self) -> Result<Option<RolloutState>>;
    fn set_rollout(&self, r: &RolloutState) -> Result<()>;
    /// Operator's pause (rollback sets it; `resume` clears it). Running
    /// engines follow it within ~200 ms.
    fn paused(&self) -> Result<bool>;
    fn set_paused(&self, paused: bool) -> Result<()>;
    /// Each manual breaker reset bumps this; engines reset when it moves.
    fn breaker_reset_seq(&self) -> Result<u64>;
    fn request_breaker_reset(&self) -> Result<u64>;
    fn publish_live(&self, s: &LiveStatus) -> Result<()>;
    /// Withdraw this process's live status (clean exit).
    fn clear_live(&self) -> Result<()>;
    /// The running engine's status, if one is running (reported within
    /// the last few seconds).
    fn live(&self) -> Result<Option<LiveStatus>>;
}
