//! The graph's document counts by project and status, read at a pace set by
//! their own cost.
//!
//! On a server graph the counts are a scan of every document (Neo4j keeps no
//! count by property value): 211 ms at 80,000 documents on 2 cores, and the
//! console's refresher, `--wait` and the "done" line each asked every 100–500
//! ms — a third of Neo4j's CPU during a drain (docs/performance.md). A read is
//! reused while it is younger than ten times what it cost, so counting never
//! takes more than a tenth of one graph thread, however large the graph; on
//! SQLite (a few ms) every ask still reads. Callers that decide something
//! from the counts (drained?) ask for a fresh read; concurrent askers share
//! one read.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::model::ProjectCounts;
use crate::ports::graph::GraphStore;

/// How fresh a caller needs the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fresh {
    /// A read younger than ten times its cost will do (displays, polls).
    Paced,
    /// Read now (a decision, or a one-shot report).
    Now,
}

/// Reuse a read for this many times what it cost.
const PACE_FACTOR: u32 = 10;

#[derive(Default)]
pub struct PacedCounts {
    last: tokio::sync::Mutex<Option<LastRead>>,
}

struct LastRead {
    at: Instant,
    cost: Duration,
    counts: ProjectCounts,
}

impl LastRead {
    fn still_good(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.at) < self.cost * PACE_FACTOR
    }
}

impl PacedCounts {
    pub async fn read(&self, graph: &dyn GraphStore, fresh: Fresh) -> Result<ProjectCounts> {
        let asked = Instant::now();
        let mut last = self.last.lock().await;
        if let Some(l) = last.as_ref() {
            // Another asker read while this one waited for the lock: that
            // read started after the ask, so it is fresh enough for both.
            if l.at >= asked || (fresh == Fresh::Paced && l.still_good(asked)) {
                return Ok(l.counts.clone());
            }
        }
        let started = Instant::now();
        let counts = graph.counts().await?;
        *last = Some(LastRead {
            at: started,
            cost: started.elapsed(),
            counts: counts.clone(),
        });
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_is_reused_for_ten_times_its_cost() {
        let at = Instant::now();
        let l = LastRead {
            at,
            cost: Duration::from_millis(200),
            counts: ProjectCounts::new(),
        };
        assert!(l.still_good(at + Duration::from_millis(1_999)));
        assert!(!l.still_good(at + Duration::from_millis(2_000)));
        let cheap = LastRead {
            cost: Duration::from_millis(2),
            ..l
        };
        assert!(!cheap.still_good(at + Duration::from_millis(250)));
    }
}
