//! Consumer-group offset reset (seed 004 "Procedure 2: Consumer Group
//! Reset") without stopping processes by hand.
//!
//! The seed stops the consumer, seeks the group with `rpk group seek`, and
//! starts the consumer again. Here the same three steps run through the
//! operator state, so every engine of a fleet takes part wherever it runs:
//! 1. the resetter writes a `group_reset` record (phase `requested`);
//!    every member finishes what it has in flight, commits, and leaves the
//!    consumer group (`engine::pipeline::consumer::run`);
//! 2. once the group is empty (Kafka refuses commits for a group with live
//!    members, and each member keeps its own fetch position), the resetter
//!    commits the new offsets as a client outside the group;
//! 3. it marks the record `done` (or `failed`, with why); members rejoin and
//!    fetch from the committed offsets.
//!
//! A resetter that dies mid-way leaves a `requested` record: members rejoin
//! on their own after [`ABANDONED_AFTER_MS`].
//!
//! Nothing is lost by moving forward: documents whose requests are skipped
//! stay `pending` in the graph (visible; `backfill` sends them again).
//! Moving back redelivers requests of documents already enriched, which the
//! engine recognises and skips (`AlreadyEnriched`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::engine::fleet::control::ControlChange;
use crate::engine::fleet::levers::CommandError;
use crate::engine::Engine;
use crate::ports::broker::Broker;

/// A `requested` record older than this is a resetter that died: members
/// rejoin without waiting for it.
pub const ABANDONED_AFTER_MS: i64 = 120_000;
/// How long the resetter waits for every member to leave the group.
pub const MEMBERS_LEAVE_WITHIN: Duration = Duration::from_secs(60);

/// Where to move the committed offsets (kafka-consumer-groups'
/// `--to-earliest`, `--to-latest`, `--to-offset`, `--to-datetime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "to", content = "value")]
pub enum ResetTarget {
    Earliest,
    Latest,
    /// This offset in every chosen partition (kept within what is stored).
    Offset(i64),
    /// The first record at or after this time, epoch milliseconds.
    Time(i64),
}

impl ResetTarget {
    pub fn describe(&self) -> String {
        match self {
            ResetTarget::Earliest => "earliest".into(),
            ResetTarget::Latest => "latest".into(),
            ResetTarget::Offset(o) => format!("offset {o}"),
            ResetTarget::Time(ms) => format!("time {}", format_ms(*ms)),
        }
    }

    /// `earliest`, `latest`, `offset N`, `time 2026-12-01T10:00:00Z` (the
    /// palette's words; the CLI has one flag each).
    pub fn parse(words: &[&str]) -> Result<ResetTarget, String> {
        match words {
            ["earliest"] => Ok(ResetTarget::Earliest),
            ["latest"] => Ok(ResetTarget::Latest),
            ["offset", n] => n
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(ResetTarget::Offset)
                .ok_or_else(|| format!("offset: {n:?} is not an offset (0 or more)")),
            ["time", t] => parse_time(t).map(ResetTarget::Time),
            _ => Err("reset to: earliest | latest | offset N | time 2026-12-01T10:00:00Z".into()),
        }
    }
}

/// RFC 3339 (`2026-12-01T10:00:00Z`, `…+01:00`), a local-less
/// `2026-12-01T10:00:00[.sss]` taken as UTC (kafka-consumer-groups'
/// `--to-datetime` form), or epoch milliseconds.
pub fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, fmt) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    match text.parse::<i64>() {
        Ok(ms) if ms >= 0 => Ok(ms),
        _ => Err(format!(
            "{:?} is not a time: give 2026-12-01T10:00:00Z (RFC 3339, or without a zone for UTC) or epoch milliseconds",
            crate::sanitize::clean(text)
        )),
    }
}

fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// One partition's committed offset and lag, before → after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionMove {
    pub partition: i32,
    pub committed: i64,
    pub new_offset: i64,
    pub end: i64,
    pub lag_before: i64,
    pub lag_after: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResetPhase {
    Requested,
    Done,
    Failed,
}

/// The `group_reset` record of the operator state: one reset at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupReset {
    pub seq: u64,
    pub group: String,
    pub topic: String,
    pub target: ResetTarget,
    /// None: every partition.
    pub partitions: Option<Vec<i32>>,
    pub phase: ResetPhase,
    pub actor: String,
    pub requested_ms: i64,
    #[serde(default)]
    pub finished_ms: Option<i64>,
    /// What was committed (phase `done`).
    #[serde(default)]
    pub moves: Vec<PartitionMove>,
    #[serde(default)]
    pub error: Option<String>,
}

impl GroupReset {
    /// Should a member of `group` be out of the group now?
    pub fn asks_to_leave(&self, group: &str, now_ms: i64) -> bool {
        self.phase == ResetPhase::Requested
            && self.group == group
            && now_ms - self.requested_ms < ABANDONED_AFTER_MS
    }
}

/// What a reset did or, on a dry run, would do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResetReport {
    pub group: String,
    pub topic: String,
    pub target: ResetTarget,
    pub dry_run: bool,
    pub moves: Vec<PartitionMove>,
    /// Who was in the group when it was asked (they left and rejoined).
    pub members: Vec<String>,
    /// From the request until the group was empty.
    pub waited_ms: u64,
}

impl ResetReport {
    pub fn lag_before(&self) -> i64 {
        self.moves.iter().map(|m| m.lag_before).sum()
    }
    pub fn lag_after(&self) -> i64 {
        self.moves.iter().map(|m| m.lag_after).sum()
    }

    /// Committed → new offset and lag → new lag per partition, then the
    /// total: the table the CLI prints and the console's confirm shows.
    pub fn table(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "{:>9}  {:>12}    {:>12}  {:>10}    {:>10}",
            "partition", "committed", "new", "lag", "new lag"
        )];
        for m in &self.moves {
            lines.push(format!(
                "{:>9}  {:>12} →  {:>12}  {:>10} →  {:>10}",
                m.partition, m.committed, m.new_offset, m.lag_before, m.lag_after
            ));
        }
        lines.push(format!(
            "{:>9}  {:>12}    {:>12}  {:>10} →  {:>10}",
            "all",
            "",
            "",
            self.lag_before(),
            self.lag_after()
        ));
        lines
    }
}

/// Before → after per partition, from the broker as it is now.
pub async fn plan(
    broker: &dyn Broker,
    group: &str,
    topic: &str,
    target: ResetTarget,
    partitions: Option<&[i32]>,
) -> Result<Vec<PartitionMove>> {
    let lag = broker.lag(group, topic).await?;
    let marks = broker.watermarks(topic).await?;
    if let Some(chosen) = partitions {
        let missing: Vec<i32> = chosen
            .iter()
            .copied()
            .filter(|p| !marks.iter().any(|m| m.partition == *p))
            .collect();
        if !missing.is_empty() {
            return Err(CommandError::Invalid(format!(
                "{topic} has no partition {missing:?} (it has 0..{})",
                marks.len()
            ))
            .into());
        }
    }
    let at_time = match target {
        ResetTarget::Time(ms) => Some(broker.offsets_at(topic, ms).await?),
        _ => None,
    };
    let mut moves = Vec::new();
    for m in &marks {
        if partitions.is_some_and(|chosen| !chosen.contains(&m.partition)) {
            continue;
        }
        let committed = lag
            .iter()
            .find(|l| l.partition == m.partition)
            .map_or(m.low, |l| l.committed);
        let new_offset = match target {
            ResetTarget::Earliest => m.low,
            ResetTarget::Latest => m.high,
            // As kafka-consumer-groups does: kept within what is stored.
            ResetTarget::Offset(o) => o.clamp(m.low, m.high),
            ResetTarget::Time(_) => at_time
                .as_ref()
                .and_then(|a| a.iter().find(|(p, _)| *p == m.partition))
                .map_or(m.high, |(_, o)| *o),
        };
        moves.push(PartitionMove {
            partition: m.partition,
            committed,
            new_offset,
            end: m.high,
            lag_before: (m.high - committed).max(0),
            lag_after: (m.high - new_offset).max(0),
        });
    }
    Ok(moves)
}

impl Engine {
    /// Preview (`dry_run`) or run a reset of this engine's group on the
    /// request topic; `confirm` must be the group id (typed by the operator).
    pub async fn reset_offsets(
        self: &Arc<Self>,
        target: ResetTarget,
        partitions: Option<Vec<i32>>,
        dry_run: bool,
        confirm: Option<&str>,
        actor: &str,
    ) -> Result<ResetReport> {
        let (group, topic) = (self.cfg.group_id.clone(), self.cfg.enrich_topic.clone());
        let broker = self.backends.broker.as_ref();
        let members = broker.group_members(&group, &topic).await?;
        let moves = plan(broker, &group, &topic, target, partitions.as_deref()).await?;
        let report = |moves, waited_ms| ResetReport {
            group: group.clone(),
            topic: topic.clone(),
            target,
            dry_run,
            moves,
            members: members.clone(),
            waited_ms,
        };
        if dry_run {
            return Ok(report(moves, 0));
        }
        if confirm != Some(group.as_str()) {
            return Err(CommandError::Invalid(format!(
                "type the consumer group id to confirm: {group}"
            ))
            .into());
        }
        let state = self.read_control().await?;
        if let Some(r) = &state.reset {
            if r.asks_to_leave(&group, now_ms()) {
                bail!(
                    "a reset of {group} asked by {} is still running (since {})",
                    r.actor,
                    format_ms(r.requested_ms)
                );
            }
        }
        let mut record = GroupReset {
            seq: state.reset.as_ref().map_or(0, |r| r.seq) + 1,
            group: group.clone(),
            topic: topic.clone(),
            target,
            partitions: partitions.clone(),
            phase: ResetPhase::Requested,
            actor: actor.to_string(),
            requested_ms: now_ms(),
            finished_ms: None,
            moves: Vec::new(),
            error: None,
        };
        self.put_control(&ControlChange::Reset(Box::new(record.clone())))
            .await?;
        self.refresh_control().await;
        tracing::info!(
            "offset reset of {group} to {}: asking the members to leave the group",
            target.describe()
        );
        let started = Instant::now();
        let result = self
            .commit_reset(broker, &group, &topic, target, partitions.as_deref())
            .await;
        record.finished_ms = Some(now_ms());
        match &result {
            Ok(moves) => {
                record.phase = ResetPhase::Done;
                record.moves = moves.clone();
            }
            Err(e) => {
                record.phase = ResetPhase::Failed;
                record.error = Some(format!("{e:#}"));
            }
        }
        // Members rejoin on this record, done or failed.
        self.put_control(&ControlChange::Reset(Box::new(record)))
            .await?;
        self.refresh_control().await;
        let moves = result?;
        tracing::info!("offset reset of {group} done; the members rejoin");
        Ok(report(moves, started.elapsed().as_millis() as u64))
    }

    /// Wait for the group to be empty, then commit the plan made then.
    async fn commit_reset(
        &self,
        broker: &dyn Broker,
        group: &str,
        topic: &str,
        target: ResetTarget,
        partitions: Option<&[i32]>,
    ) -> Result<Vec<PartitionMove>> {
        let deadline = Instant::now() + MEMBERS_LEAVE_WITHIN;
        loop {
            let members = broker.group_members(group, topic).await?;
            if members.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} member(s) still in consumer group {group} after {} s: {} (an archon-tui older than this one, or another client in the group?)",
                    members.len(),
                    MEMBERS_LEAVE_WITHIN.as_secs(),
                    members.join(", ")
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Planned again: members committed what they finished as they left.
        let moves = plan(broker, group, topic, target, partitions).await?;
        let offsets: Vec<(i32, i64)> = moves.iter().map(|m| (m.partition, m.new_offset)).collect();
        broker.set_group_offsets(group, topic, &offsets).await?;
        Ok(moves)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_from_the_palette_words() {
        assert_eq!(ResetTarget::parse(&["earliest"]), Ok(ResetTarget::Earliest));
        assert_eq!(
            ResetTarget::parse(&["offset", "12"]),
            Ok(ResetTarget::Offset(12))
        );
        assert!(ResetTarget::parse(&["offset", "-1"]).is_err());
        assert_eq!(
            ResetTarget::parse(&["time", "2026-12-01T10:00:00Z"]),
            Ok(ResetTarget::Time(1_796_119_200_000))
        );
        assert_eq!(
            parse_time("2026-12-01T10:00:00.500"),
            Ok(1_796_119_200_500),
            "no zone: UTC, as kafka-consumer-groups takes it"
        );
        assert_eq!(parse_time("1796119200000"), Ok(1_796_119_200_000));
        let err = parse_time("yesterday\u{1b}[2J").unwrap_err();
        assert!(!err.contains('\u{1b}'), "{err}");
        assert!(ResetTarget::parse(&["sideways"]).is_err());
    }

    #[test]
    fn an_old_request_no_longer_holds_members_out() {
        let r = GroupReset {
            seq: 1,
            group: "g".into(),
            topic: "t".into(),
            target: ResetTarget::Latest,
            partitions: None,
            phase: ResetPhase::Requested,
            actor: "a".into(),
            requested_ms: 1_000,
            finished_ms: None,
            moves: vec![],
            error: None,
        };
        assert!(r.asks_to_leave("g", 2_000));
        assert!(!r.asks_to_leave("other", 2_000));
        assert!(!r.asks_to_leave("g", 1_000 + ABANDONED_AFTER_MS));
        let done = GroupReset {
            phase: ResetPhase::Done,
            ..r
        };
        assert!(!done.asks_to_leave("g", 2_000));
    }
}
