//! The console's history, kept in the data dir so it outlives the process:
//! lag, throughput, DLQ size and breaker state, sampled every few seconds
//! (and at once when the breaker changes), for a few days, bounded. A small
//! SQLite file of its own (`history.sqlite3`): losing the last sample in a
//! crash costs nothing, so it is written without fsync per sample, and it
//! never contends with the documents' database.

use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};
use rusqlite::{params, Connection};
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

pub struct HistoryStore {
    conn: Mutex<Connection>,
}

impl HistoryStore {
    pub fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join("history.sqlite3");
        let conn =
            Connection::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS samples (
                 at_ms INTEGER NOT NULL,
                 lag INTEGER NOT NULL,
                 docs_per_sec REAL NOT NULL,
                 dlq INTEGER NOT NULL,
                 breaker INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS samples_at ON samples(at_ms);",
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Append a sample; samples older than `KEEP_MS` go.
    pub fn append(&self, s: &Sample) -> Result<()> {
        let conn = self.conn.lock().unwrap();
        conn.execute(
            "INSERT INTO samples (at_ms, lag, docs_per_sec, dlq, breaker) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![s.at_ms, s.lag, s.docs_per_sec, s.dlq as i64, s.breaker],
        )?;
        conn.execute(
            "DELETE FROM samples WHERE at_ms < ?1",
            params![s.at_ms - KEEP_MS],
        )?;
        Ok(())
    }

    /// Samples since `from_ms`, oldest first.
    pub fn since(&self, from_ms: i64) -> Result<Vec<Sample>> {
        let conn = self.conn.lock().unwrap();
        let mut st = conn.prepare_cached(
            "SELECT at_ms, lag, docs_per_sec, dlq, breaker FROM samples
             WHERE at_ms >= ?1 ORDER BY at_ms",
        )?;
        let rows = st.query_map([from_ms], sample_of)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The newest `n` samples, oldest first.
    pub fn last(&self, n: usize) -> Result<Vec<Sample>> {
        let conn = self.conn.lock().unwrap();
        let mut st = conn.prepare_cached(
            "SELECT at_ms, lag, docs_per_sec, dlq, breaker FROM samples
             ORDER BY at_ms DESC LIMIT ?1",
        )?;
        let rows = st.query_map([n as i64], sample_of)?;
        let mut out: Vec<Sample> = rows.collect::<rusqlite::Result<_>>()?;
        out.reverse();
        Ok(out)
    }
}

/// One row of `SELECT at_ms, lag, docs_per_sec, dlq, breaker`.
fn sample_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<Sample> {
    Ok(Sample {
        at_ms: r.get(0)?,
        lag: r.get(1)?,
        docs_per_sec: r.get(2)?,
        dlq: r.get::<_, i64>(3)?.max(0) as u64,
        breaker: r.get(4)?,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn s(at_ms: i64, lag: i64) -> Sample {
        Sample {
            at_ms,
            lag,
            docs_per_sec: lag as f64 / 2.0,
            dlq: 1,
            breaker: 0,
        }
    }

    #[test]
    fn samples_survive_a_reopen_and_old_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let h = HistoryStore::open(dir.path()).unwrap();
        h.append(&s(1_000, 5)).unwrap();
        h.append(&s(2_000, 7)).unwrap();
        drop(h);
        let h = HistoryStore::open(dir.path()).unwrap();
        assert_eq!(h.since(0).unwrap(), vec![s(1_000, 5), s(2_000, 7)]);
        assert_eq!(h.last(1).unwrap(), vec![s(2_000, 7)]);
        // A sample KEEP_MS later prunes the old ones: the file stays bounded.
        h.append(&s(2_000 + KEEP_MS, 9)).unwrap();
        assert_eq!(
            h.since(0).unwrap(),
            vec![s(2_000, 7), s(2_000 + KEEP_MS, 9)]
        );
    }

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
