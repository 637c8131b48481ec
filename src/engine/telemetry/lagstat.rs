//! Consumer-lag evaluation in the manner of LinkedIn's Burrow: judge each
//! partition from a window of recent (committed offset, lag) samples rather
//! than from one number.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PartitionStatus {
    /// Caught up, or committing and not falling behind.
    Ok,
    /// Committing, but lag grew across the whole window.
    Warn,
    /// Lag > 0 and the committed offset has not moved in the window, while
    /// the consumer is supposed to run.
    Stall,
    /// Lag > 0 and consumption is paused or held (nothing is expected to move).
    Stop,
    /// The committed offset went backwards.
    Rewind,
    /// The broker did not answer: these are the last numbers read.
    Stale,
}

impl PartitionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Warn => "WARN",
            Self::Stall => "STALL",
            Self::Stop => "STOP",
            Self::Rewind => "REWIND",
            Self::Stale => "STALE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub committed: i64,
    pub lag: i64,
}

/// Samples oldest first. `running` is false while paused/held/breaker open.
pub fn evaluate(samples: &[Sample], running: bool) -> PartitionStatus {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return PartitionStatus::Ok;
    };
    if samples.windows(2).any(|w| w[1].committed < w[0].committed) {
        return PartitionStatus::Rewind;
    }
    if last.lag == 0 {
        return PartitionStatus::Ok;
    }
    if !running {
        return PartitionStatus::Stop;
    }
    if samples.len() >= 3 && last.committed == first.committed {
        return PartitionStatus::Stall;
    }
    let growing = samples.len() >= 3 && samples.windows(2).all(|w| w[1].lag > w[0].lag);
    if growing {
        PartitionStatus::Warn
    } else {
        PartitionStatus::Ok
    }
}

/// ↑ growing, ↓ shrinking, → flat, comparing the window's ends.
pub fn trend(lags: &[i64]) -> char {
    match (lags.first(), lags.last()) {
        (Some(a), Some(b)) if b > a => '↑',
        (Some(a), Some(b)) if b < a => '↓',
        _ => '→',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(pairs: &[(i64, i64)]) -> Vec<Sample> {
        pairs
            .iter()
            .map(|&(committed, lag)| Sample { committed, lag })
            .collect()
    }

    #[test]
    fn statuses() {
        use PartitionStatus::*;
        assert_eq!(evaluate(&[], true), Ok);
        assert_eq!(
            evaluate(&s(&[(0, 0), (0, 0), (0, 0)]), true),
            Ok,
            "idle and caught up"
        );
        assert_eq!(
            evaluate(&s(&[(0, 90), (5, 80), (9, 60)]), true),
            Ok,
            "draining"
        );
        assert_eq!(
            evaluate(&s(&[(0, 10), (5, 20), (9, 30)]), true),
            Warn,
            "committing but falling behind"
        );
        assert_eq!(evaluate(&s(&[(7, 10), (7, 10), (7, 12)]), true), Stall);
        assert_eq!(evaluate(&s(&[(7, 10), (7, 10), (7, 10)]), false), Stop);
        assert_eq!(evaluate(&s(&[(9, 0), (4, 5), (6, 3)]), true), Rewind);
        assert_eq!(trend(&[5, 9]), '↑');
        assert_eq!(trend(&[9, 5]), '↓');
        assert_eq!(trend(&[5]), '→');
    }
}
