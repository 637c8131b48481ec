//! Operator state shared by every engine of a fleet: the levers (rollout,
//! holds, concurrency, breaker resets, fleet-wide or per member), each
//! member's status report, and the audit trail of operator actions.
//!
//! Where it lives is a backend (`backends::control`): the data dir's SQLite
//! for the embedded default (every process on one disk), Kafka topics when
//! the engines share brokers (every machine of a consumer group).

use std::collections::BTreeMap;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::engine::dlq::redrive::{JobControl, RedriveJob};
use crate::engine::fleet::group_reset::GroupReset;
use crate::engine::fleet::rollout::RolloutState;

/// The levers as the fleet shares them. Absent values fall back to the
/// engine's flags and env (the operator's choice, once made, beats them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ControlState {
    pub rollout: Option<RolloutState>,
    /// Fleet-wide hold (emergency rollback, `hold`): every member pauses.
    pub held: bool,
    /// Fleet default for MAX_CONCURRENT_ENRICHMENTS.
    pub concurrency: Option<usize>,
    /// Each fleet-wide breaker reset bumps this; members reset when it moves.
    pub breaker_reset_seq: u64,
    /// MAX_PROCESSING_RATE for each member, messages a second; 0: the
    /// operator lifted the limit.
    pub max_rate: Option<f64>,
    /// Per-member levers, by member id.
    pub members: BTreeMap<String, MemberControl>,
    /// Redrive jobs as their engines last saved them, by job id.
    pub jobs: BTreeMap<String, RedriveJob>,
    /// What operators asked of each job.
    pub job_controls: BTreeMap<String, JobControl>,
    /// The last consumer-group offset reset (`engine::fleet::group_reset`).
    pub reset: Option<GroupReset>,
}

/// Levers aimed at one member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberControl {
    #[serde(default)]
    pub held: bool,
    #[serde(default)]
    pub concurrency: Option<usize>,
    #[serde(default)]
    pub breaker_reset_seq: u64,
}

impl ControlState {
    pub fn member(&self, id: &str) -> MemberControl {
        self.members.get(id).cloned().unwrap_or_default()
    }
    /// Is this member to hold (fleet-wide or alone)?
    pub fn holds(&self, id: &str) -> bool {
        self.held || self.member(id).held
    }
    /// The concurrency this member should run at, if the operator chose one.
    pub fn concurrency_for(&self, id: &str) -> Option<usize> {
        self.member(id).concurrency.or(self.concurrency)
    }
    pub fn job_control(&self, id: &str) -> JobControl {
        self.job_controls.get(id).cloned().unwrap_or_default()
    }
    /// Breaker resets asked of this member: fleet-wide plus its own.
    pub fn breaker_resets_for(&self, id: &str) -> u64 {
        self.breaker_reset_seq + self.member(id).breaker_reset_seq
    }
}

/// One write to the shared state: one key (compaction keeps the last of each).
#[derive(Debug, Clone, PartialEq)]
pub enum ControlChange {
    Rollout(RolloutState),
    Held(bool),
    Concurrency(Option<usize>),
    BreakerReset(u64),
    MaxRate(Option<f64>),
    Member(String, MemberControl),
    Job(Box<RedriveJob>),
    JobControl(String, JobControl),
    Reset(Box<GroupReset>),
}

impl ControlChange {
    /// The record key and its JSON value (the Kafka and SQLite layouts).
    pub fn key_value(&self) -> Result<(String, String)> {
        Ok(match self {
            ControlChange::Rollout(r) => ("rollout".into(), serde_json::to_string(r)?),
            // The key the first versions wrote, so a held data dir stays held.
            ControlChange::Held(h) => ("consumer_paused".into(), serde_json::to_string(h)?),
            ControlChange::Concurrency(c) => ("concurrency".into(), serde_json::to_string(c)?),
            ControlChange::BreakerReset(s) => ("breaker_reset_seq".into(), s.to_string()),
            ControlChange::MaxRate(r) => ("max_processing_rate".into(), serde_json::to_string(r)?),
            ControlChange::Member(id, m) => (format!("member/{id}"), serde_json::to_string(m)?),
            ControlChange::Job(j) => (format!("job/{}", j.id), serde_json::to_string(j)?),
            ControlChange::JobControl(id, c) => (format!("jobctl/{id}"), serde_json::to_string(c)?),
            ControlChange::Reset(r) => ("group_reset".into(), serde_json::to_string(r)?),
        })
    }

    /// Apply one stored key to a state; unknown keys and unreadable values
    /// (another version wrote them) are skipped with a log line.
    pub fn apply_stored(state: &mut ControlState, key: &str, value: Option<&str>) {
        fn parse<T: for<'de> Deserialize<'de>>(key: &str, v: &str) -> Option<T> {
            serde_json::from_str(v)
                .map_err(|e| tracing::warn!("control key {key:?} unreadable, skipped: {e}"))
                .ok()
        }
        match (key, value) {
            // An unreadable value keeps the last state (a hold stays a hold).
            ("rollout", Some(v)) => {
                if let Some(r) = parse(key, v) {
                    state.rollout = Some(r)
                }
            }
            ("rollout", None) => state.rollout = None,
            ("consumer_paused", Some(v)) => state.held = parse(key, v).unwrap_or(state.held),
            ("consumer_paused", None) => state.held = false,
            ("concurrency", Some(v)) => {
                state.concurrency = parse(key, v).unwrap_or(state.concurrency)
            }
            ("concurrency", None) => state.concurrency = None,
            ("max_processing_rate", Some(v)) => {
                state.max_rate = parse(key, v).unwrap_or(state.max_rate)
            }
            ("max_processing_rate", None) => state.max_rate = None,
            ("group_reset", Some(v)) => {
                if let Some(r) = parse(key, v) {
                    state.reset = Some(r)
                }
            }
            ("group_reset", None) => state.reset = None,
            ("breaker_reset_seq", v) => {
                state.breaker_reset_seq = v.and_then(|v| parse(key, v)).unwrap_or(0)
            }
            (k, v) if k.starts_with("member/") => {
                let id = k["member/".len()..].to_string();
                match v.and_then(|v| parse::<MemberControl>(key, v)) {
                    Some(m) if m != MemberControl::default() => {
                        state.members.insert(id, m);
                    }
                    _ => {
                        state.members.remove(&id);
                    }
                }
            }
            (k, v) if k.starts_with("job/") => {
                let id = k["job/".len()..].to_string();
                match v.and_then(|v| parse::<RedriveJob>(key, v)) {
                    Some(j) => {
                        state.jobs.insert(id, j);
                    }
                    None => {
                        state.jobs.remove(&id);
                    }
                }
            }
            (k, v) if k.starts_with("jobctl/") => {
                let id = k["jobctl/".len()..].to_string();
                match v.and_then(|v| parse::<JobControl>(key, v)) {
                    Some(c) => {
                        state.job_controls.insert(id, c);
                    }
                    None => {
                        state.job_controls.remove(&id);
                    }
                }
            }
            (k, _) => tracing::debug!("control key {k:?} not known to this version, skipped"),
        }
    }
}

pub use crate::ports::control::{AuditEntry, ControlStore, MemberStatus, Origin, REPORT_EVERY_MS};

impl ControlState {
    /// The state a store's entries give, read over `prev` (the last state
    /// read): a key gone from the store is dropped, and a value this
    /// version cannot read keeps what `prev` had (a hold stays a hold).
    pub fn from_entries(prev: &ControlState, entries: &BTreeMap<String, String>) -> ControlState {
        let mut state = prev.clone();
        for key in prev.stored_keys() {
            if !entries.contains_key(&key) {
                ControlChange::apply_stored(&mut state, &key, None);
            }
        }
        for (k, v) in entries {
            ControlChange::apply_stored(&mut state, k, Some(v));
        }
        state
    }

    /// The store keys this state was read from.
    fn stored_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        let mut add = |present: bool, key: &str| {
            if present {
                keys.push(key.to_string());
            }
        };
        add(self.rollout.is_some(), "rollout");
        add(self.held, "consumer_paused");
        add(self.concurrency.is_some(), "concurrency");
        add(self.max_rate.is_some(), "max_processing_rate");
        add(self.reset.is_some(), "group_reset");
        add(self.breaker_reset_seq != 0, "breaker_reset_seq");
        keys.extend(self.members.keys().map(|id| format!("member/{id}")));
        keys.extend(self.jobs.keys().map(|id| format!("job/{id}")));
        keys.extend(self.job_controls.keys().map(|id| format!("jobctl/{id}")));
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_keys_rebuild_the_state_and_member_levers_win() {
        let mut s = ControlState::default();
        let changes = [
            ControlChange::Held(true),
            ControlChange::Concurrency(Some(8)),
            ControlChange::Member(
                "m1".into(),
                MemberControl {
                    concurrency: Some(2),
                    ..Default::default()
                },
            ),
            ControlChange::BreakerReset(3),
        ];
        for c in &changes {
            let (k, v) = c.key_value().unwrap();
            ControlChange::apply_stored(&mut s, &k, Some(&v));
        }
        assert!(s.holds("m1") && s.holds("m2"));
        assert_eq!(s.concurrency_for("m1"), Some(2));
        assert_eq!(s.concurrency_for("m2"), Some(8));
        assert_eq!(s.breaker_resets_for("m2"), 3);
        ControlChange::apply_stored(&mut s, "member/m1", None);
        assert_eq!(
            s.concurrency_for("m1"),
            Some(8),
            "a tombstone drops the override"
        );
        ControlChange::apply_stored(&mut s, "consumer_paused", Some("not json"));
        assert!(
            s.held,
            "an unreadable value keeps the last state, and no panic"
        );
        ControlChange::apply_stored(&mut s, "from-the-future", Some("1"));
    }
}
