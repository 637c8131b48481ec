//! Which offsets may be committed when messages finish out of order: per
//! partition, everything below the lowest offset still in flight.

use std::collections::{BTreeSet, HashMap};

#[derive(Default)]
struct PartitionState {
    in_flight: BTreeSet<i64>,
    /// One past the highest offset ever begun.
    next: i64,
    /// Last position handed to the broker as committed.
    committed: Option<i64>,
}

#[derive(Default)]
pub struct OffsetTracker {
    parts: HashMap<i32, PartitionState>,
}

impl OffsetTracker {
    pub fn begin(&mut self, partition: i32, offset: i64) {
        let p = self.parts.entry(partition).or_default();
        // Redelivery from below what we last committed: the broker never kept
        // that commit (the partition was revoked, or the broker restarted),
        // so commit again as work finishes. Everything below `next` was
        // recorded once, so positions up to it stay safe to commit.
        if p.committed.is_some_and(|c| offset < c) {
            p.committed = Some(offset);
        }
        p.in_flight.insert(offset);
        p.next = p.next.max(offset + 1);
    }

    pub fn finish(&mut self, partition: i32, offset: i64) {
        if let Some(p) = self.parts.get_mut(&partition) {
            p.in_flight.remove(&offset);
        }
    }

    pub fn in_flight(&self) -> usize {
        self.parts.values().map(|p| p.in_flight.len()).sum()
    }

    /// A commit of `offsets` did not land: offer them again next time
    /// (unless a later position was taken since).
    pub fn uncommit(&mut self, offsets: &[(i32, i64)]) {
        for (part, pos) in offsets {
            if let Some(p) = self.parts.get_mut(part) {
                if p.committed == Some(*pos) {
                    p.committed = None;
                }
            }
        }
    }

    /// Positions that advanced since the last call: (partition, next offset).
    pub fn take_commits(&mut self) -> Vec<(i32, i64)> {
        let mut out = Vec::new();
        for (part, p) in &mut self.parts {
            let pos = p.in_flight.first().copied().unwrap_or(p.next);
            if p.committed.is_none_or(|c| pos > c) {
                p.committed = Some(pos);
                out.push((*part, pos));
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_stop_at_the_oldest_unfinished_offset() {
        let mut t = OffsetTracker::default();
        for o in 10..15 {
            t.begin(0, o);
        }
        t.finish(0, 11);
        t.finish(0, 12);
        assert_eq!(t.take_commits(), vec![(0, 10)]);
        t.finish(0, 10);
        assert_eq!(t.take_commits(), vec![(0, 13)]);
        assert_eq!(t.take_commits(), vec![], "nothing new");
        t.finish(0, 13);
        t.finish(0, 14);
        assert_eq!(t.take_commits(), vec![(0, 15)]);
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn redelivery_from_below_the_last_commit_commits_again() {
        let mut t = OffsetTracker::default();
        for o in 0..10 {
            t.begin(0, o);
            t.finish(0, o);
        }
        assert_eq!(t.take_commits(), vec![(0, 10)]);
        // The broker lost that commit: messages come again from 4.
        t.begin(0, 4);
        t.begin(0, 5);
        assert_eq!(t.take_commits(), vec![], "4 is in flight, 4 is our belief");
        t.finish(0, 4);
        assert_eq!(t.take_commits(), vec![(0, 5)]);
        t.finish(0, 5);
        assert_eq!(t.take_commits(), vec![(0, 10)], "all below 10 was recorded");
    }

    #[test]
    fn a_refused_commit_is_offered_again() {
        let mut t = OffsetTracker::default();
        for o in 0..5 {
            t.begin(2, o);
            t.finish(2, o);
        }
        let c = t.take_commits();
        assert_eq!(c, vec![(2, 5)]);
        t.uncommit(&c);
        assert_eq!(t.take_commits(), vec![(2, 5)], "offered again");
        assert_eq!(t.take_commits(), vec![], "then landed");
    }

    #[test]
    fn a_returned_message_blocks_commits_past_it() {
        let mut t = OffsetTracker::default();
        t.begin(1, 0);
        t.begin(1, 1);
        t.finish(1, 1); // offset 0 is returned (never finished)
        assert_eq!(t.take_commits(), vec![(1, 0)]);
    }
}
