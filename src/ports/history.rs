//! The console's history as a store keeps it: lag, throughput, DLQ size
//! and breaker state, sampled every few seconds, for a few days. Adapter:
//! `backends::history` (a SQLite file in the data dir).

use anyhow::Result;
use serde::Serialize;

/// How long samples are kept.
pub const KEEP_MS: i64 = 3 * 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    pub at_ms: i64,
    pub lag: i64,
    pub docs_per_sec: f64,
    pub dlq: u64,
    /// 0 CLOSED, 1 OPEN, 2 HALF_OPEN (the Prometheus gauge's values).
    pub breaker: i64,
}

/// Where samples are kept.
#[async_trait::async_trait]
pub trait HistoryStore: Send + Sync {
    /// Append a sample; samples older than `KEEP_MS` go.
    async fn append(&self, s: &Sample) -> Result<()>;
    /// Samples since `from_ms`, oldest first.
    async fn since(&self, from_ms: i64) -> Result<Vec<Sample>>;
    /// The newest `n` samples, oldest first.
    async fn last(&self, n: usize) -> Result<Vec<Sample>>;
}

/// `samples` into at most `buckets` points (the max of each bucket: a spike
/// stays visible), for a sparkline over a long window.
pub fn downsample(samples: &[Sample], buckets: usize, value: impl Fn(&Sample) -> u64) -> Vec<u64> {
    if samples.is_empty() || buckets == 0 {
        return Vec::new();
    }
    let per = samples.len().div_ceil(buckets);
    samples
        .chunks(per)
        .map(|c| c.iter().map(&value).max().unwrap_or(0))
        .collect()
}

/// `6h`, `30m`, `2d`, `90s` → milliseconds.
pub fn parse_window(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| format!("{t:?} is not a window like 6h, 30m, 2d"))?;
    let ms = match unit {
        "s" => 1_000,
        "m" | "" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{t:?}: use s, m, h or d")),
    };
    if n <= 0 || n * ms > KEEP_MS {
        return Err(format!(
            "the window must be more than 0 and at most 3d, got {t:?}"
        ));
    }
    Ok(n * ms)
}

/// A sample for tests: `lag` at `at_ms`.
#[cfg(test)]
pub(crate) fn sample(at_ms: i64, lag: i64) -> Sample {
    Sample {
        at_ms,
        lag,
        docs_per_sec: lag as f64 / 2.0,
        dlq: 1,
        breaker: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::sample as s;

    #[test]
    fn windows_and_downsampling() {
        assert_eq!(parse_window("6h"), Ok(6 * 3_600_000));
        assert_eq!(parse_window("30m"), Ok(30 * 60_000));
        assert!(parse_window("4d").is_err());
        assert!(parse_window("0h").is_err());
        assert!(parse_window("h").is_err());
        let samples: Vec<Sample> = (0..10).map(|i| s(i, i)).collect();
        assert_eq!(
            downsample(&samples, 5, |x| x.lag as u64),
            vec![1, 3, 5, 7, 9]
        );
        assert_eq!(downsample(&samples, 20, |x| x.lag as u64).len(), 10);
    }
}
