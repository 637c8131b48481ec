//! A consumer group left with nobody owning any partition, lag standing.
//! Seen with tansu 0.6 (a coordinator that made a just-killed member leader
//! completed the generation with an empty assignment) and with Apache Kafka
//! 4.1 (after a one-node broker restart, librdkafka's cooperative rebalance
//! stayed in `wait-incr-unassign-to-complete` once the revoke's commit was
//! refused with UnknownMemberId: partitions revoked, never assigned again;
//! `tests/reliability.rs` broker restart, 1 run in about 5). Every live
//! member then sits idle. Lag stays, documents stay pending. (The rejoin
//! below does not cure the Apache Kafka case: still open.)
//! The consumer notices (it owns nothing, and the group's commits stand
//! still while there is lag) and rejoins. (Asking the coordinator who owns
//! what — DescribeGroups — is not served by tansu.)

use std::time::{Duration, Instant};

use anyhow::Result;
use rdkafka::consumer::Consumer;

/// When to look at the group: after owning nothing for `after`, at most
/// once per `after`.
pub struct UnassignedWatch {
    after: Duration,
    empty_since: Option<Instant>,
    last_check: Option<Instant>,
}

impl UnassignedWatch {
    pub fn new(after: Duration) -> Self {
        UnassignedWatch {
            after,
            empty_since: None,
            last_check: None,
        }
    }

    /// Whether to look at the group now, given whether this member owns
    /// nothing.
    pub fn due(&mut self, owns_nothing: bool, now: Instant) -> bool {
        if !owns_nothing {
            self.empty_since = None;
            return false;
        }
        let since = *self.empty_since.get_or_insert(now);
        if now.duration_since(since) < self.after
            || self
                .last_check
                .is_some_and(|at| now.duration_since(at) < self.after)
        {
            return false;
        }
        self.last_check = Some(now);
        true
    }
}

/// The group's committed offsets and total lag on `topic` (blocking).
pub fn committed_and_lag<C: Consumer<X>, X: rdkafka::consumer::ConsumerContext>(
    consumer: &C,
    topic: &str,
) -> Result<(Vec<i64>, i64)> {
    let timeout = Duration::from_secs(5);
    let meta = consumer.fetch_metadata(Some(topic), timeout)?;
    let parts: Vec<i32> = meta
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in &parts {
        tpl.add_partition(topic, *p);
    }
    let committed = consumer.committed_offsets(tpl, timeout)?;
    let mut offsets = Vec::new();
    let mut lag = 0;
    for p in parts {
        let (low, high) = consumer.fetch_watermarks(topic, p, timeout)?;
        let at = match committed.find_partition(topic, p).map(|e| e.offset()) {
            Some(rdkafka::Offset::Offset(o)) => o,
            _ => low,
        };
        offsets.push(at);
        lag += (high - at).max(0);
    }
    Ok((offsets, lag))
}

/// Decides from two looks one period apart: this member owned nothing
/// throughout, and the group's commits did not move while there was lag —
/// nobody is consuming. (A member idle because the group has more members
/// than partitions sees the owners' commits move, unless they are all
/// paused; then a rejoin costs one cooperative rebalance, harmlessly.)
#[derive(Default)]
pub struct StalledGroup {
    last: Option<Vec<i64>>,
}

impl StalledGroup {
    pub fn stalled(&mut self, committed: Vec<i64>, lag: i64) -> bool {
        let same = self.last.as_ref() == Some(&committed);
        self.last = Some(committed);
        if same && lag > 0 {
            self.last = None;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_stalled_when_commits_stand_still_with_lag() {
        let mut g = StalledGroup::default();
        assert!(!g.stalled(vec![0, 5], 10), "one look is not enough");
        assert!(g.stalled(vec![0, 5], 10));
        // After a rejoin it takes two looks again.
        assert!(!g.stalled(vec![0, 5], 10));
        assert!(!g.stalled(vec![1, 5], 9), "commits moved");
        assert!(!g.stalled(vec![3, 5], 0));
        assert!(!g.stalled(vec![3, 5], 0), "no lag: nothing to consume");
    }

    #[test]
    fn the_watch_waits_and_then_asks_at_most_once_per_period() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut w = UnassignedWatch::new(s(10));
        assert!(!w.due(true, t0));
        assert!(!w.due(true, t0 + s(9)));
        assert!(w.due(true, t0 + s(10)));
        assert!(!w.due(true, t0 + s(15)));
        assert!(w.due(true, t0 + s(20)));
        // Owning something resets the clock.
        assert!(!w.due(false, t0 + s(21)));
        assert!(!w.due(true, t0 + s(22)));
        assert!(!w.due(true, t0 + s(31)));
        assert!(w.due(true, t0 + s(32)));
    }
}
