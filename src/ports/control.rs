//! Operator state shared by every engine of a fleet, as a store keeps it:
//! the levers as keys with JSON values, each member's status report, and the
//! audit trail of operator actions. Adapters: `backends::control`.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BreakerState {
    #[default]
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerSnapshot {
    pub state: BreakerState,
    pub failure_count: u32,
    pub failure_rate: f64,
    pub calls_not_permitted: u64,
    pub last_failure: Option<String>,
    pub last_error: Option<String>,
    pub opened_at: Option<String>,
    /// Milliseconds until an OPEN breaker lets a trial call through.
    pub half_open_in_ms: Option<u64>,
}

/// What each engine reports about itself about once a second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberStatus {
    pub member_id: String,
    pub host: String,
    pub pid: u32,
    pub version: String,
    pub started_ms: i64,
    pub updated_ms: i64,
    /// Request-topic partitions this member's consumer holds now.
    pub partitions: Vec<i32>,
    pub concurrency: usize,
    pub in_flight: i64,
    pub breaker: BreakerSnapshot,
    pub docs_per_sec: f64,
    pub errors: u64,
    /// Paused for any reason (its own pause, a hold).
    pub paused: bool,
    /// Held by the operator (fleet-wide or alone).
    pub held: bool,
    /// Why its writes cannot land (a full disk holds it), if they cannot.
    /// Absent in reports of releases before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalled: Option<String>,
    /// Service calls in progress (of `concurrency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enriching: Option<usize>,
    /// Its service calls' P50 / P95 and its record batches' P95 over the
    /// last one to two minutes, in ms (None: none in that time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_p50_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_p95_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_p95_ms: Option<f64>,
    /// MAX_PROCESSING_RATE in force here (None: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rate: Option<f64>,
}

/// How often members report (the heartbeat also reports at once when the
/// pause or the in-flight count changes).
pub const REPORT_EVERY_MS: i64 = 1_000;

impl MemberStatus {
    /// Silent for more than two reports.
    pub fn is_stale(&self, now_ms: i64) -> bool {
        now_ms - self.updated_ms > 2 * REPORT_EVERY_MS + REPORT_EVERY_MS / 2
    }
    pub fn age_ms(&self, now_ms: i64) -> i64 {
        (now_ms - self.updated_ms).max(0)
    }
}

/// Where an operator action came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Console,
    Cli,
    Http,
    /// The engine recording how work an operator started ended (a redrive
    /// job's final figures), under that operator's name.
    Engine,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Console => "console",
            Origin::Cli => "cli",
            Origin::Http => "http",
            Origin::Engine => "engine",
        }
    }
}

/// Who did what, from where, with what effect: one line per lever pulled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at_ms: i64,
    /// user@host (HTTP: the token's name @ the peer address).
    pub actor: String,
    pub origin: Origin,
    /// The member whose engine ran the command.
    pub member_id: String,
    pub action: String,
    pub before: String,
    pub after: String,
    /// "ok", "refused: …" or "failed: …".
    pub result: String,
}

/// Where the fleet's operator state lives, so it outlives every process and
/// every engine that shares it follows it: lever keys with JSON values
/// (their meaning is the engine's: `engine::fleet::control::ControlChange`), member
/// reports and the audit trail. Each adapter does its own blocking offload
/// (SQLite on the blocking pool; Kafka awaits deliveries).
#[async_trait::async_trait]
pub trait ControlStore: Send + Sync {
    fn kind(&self) -> &'static str;
    /// Every lever key with its value, as last read (Kafka: the control
    /// topic as followed so far).
    async fn entries(&self) -> Result<BTreeMap<String, String>>;
    /// Set one key (Kafka: one record; compaction keeps the last of each).
    async fn put(&self, key: &str, value: &str) -> Result<()>;
    /// Set one key only if it still holds `expected` (None: absent); false,
    /// and nothing written, when another writer changed it first. SQLite
    /// compares and writes in one transaction; Kafka, which has no
    /// compare-and-set, compares with the control topic as this member last
    /// read it.
    async fn put_if(&self, key: &str, expected: Option<&str>, value: &str) -> Result<bool>;
    /// Drop a key (Kafka: a tombstone, so compaction removes it).
    async fn forget(&self, key: &str) -> Result<()>;
    async fn publish_member(&self, s: &MemberStatus) -> Result<()>;
    /// Withdraw a member's report (its clean exit).
    async fn withdraw_member(&self, member_id: &str) -> Result<()>;
    /// Members that reported within `gone_after_ms`, by id.
    async fn members(&self, gone_after_ms: i64) -> Result<Vec<MemberStatus>>;
    async fn append_audit(&self, e: &AuditEntry) -> Result<()>;
    /// The newest `limit` audit entries, oldest first.
    async fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>>;
    /// Why the shared state may be out of date (engines keep the last state
    /// they read and say so), if it may be. In memory: never blocks.
    fn trouble(&self) -> Option<String> {
        None
    }
}
