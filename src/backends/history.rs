//! The console's history, kept in the data dir so it outlives the process:
//! lag, throughput, DLQ size and breaker state, sampled every few seconds
//! (and at once when the breaker changes), for a few days, bounded. A small
//! SQLite file of its own (`history.sqlite3`): losing the last sample in a
//! crash costs nothing, so it is written without fsync per sample, and it
//! never contends with the documents' database.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use rusqlite::{params, Connection};

use crate::ports::history::{HistoryStore, Sample, KEEP_MS};

/// The samples in `history.sqlite3`.
#[derive(Clone)]
pub struct SqliteHistory {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteHistory {
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
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Append a sample; samples older than `KEEP_MS` go.
    fn append_now(&self, s: &Sample) -> Result<()> {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
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

    fn since_now(&self, from_ms: i64) -> Result<Vec<Sample>> {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut st = conn.prepare_cached(
            "SELECT at_ms, lag, docs_per_sec, dlq, breaker FROM samples
             WHERE at_ms >= ?1 ORDER BY at_ms",
        )?;
        let rows = st.query_map([from_ms], sample_of)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn last_now(&self, n: usize) -> Result<Vec<Sample>> {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
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

#[async_trait::async_trait]
impl HistoryStore for SqliteHistory {
    async fn append(&self, s: &Sample) -> Result<()> {
        let (me, s) = (self.clone(), *s);
        tokio::task::spawn_blocking(move || me.append_now(&s)).await?
    }
    async fn since(&self, from_ms: i64) -> Result<Vec<Sample>> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.since_now(from_ms)).await?
    }
    async fn last(&self, n: usize) -> Result<Vec<Sample>> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.last_now(n)).await?
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::history::sample as s;

    #[tokio::test]
    async fn samples_survive_a_reopen_and_old_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let h = Arc::new(SqliteHistory::open(dir.path()).unwrap());
        h.append(&s(1_000, 5)).await.unwrap();
        h.append(&s(2_000, 7)).await.unwrap();
        drop(h);
        let h = Arc::new(SqliteHistory::open(dir.path()).unwrap());
        assert_eq!(h.since(0).await.unwrap(), vec![s(1_000, 5), s(2_000, 7)]);
        assert_eq!(h.last(1).await.unwrap(), vec![s(2_000, 7)]);
        // A sample KEEP_MS later prunes the old ones: the file stays bounded.
        h.append(&s(2_000 + KEEP_MS, 9)).await.unwrap();
        assert_eq!(
            h.since(0).await.unwrap(),
            vec![s(2_000, 7), s(2_000 + KEEP_MS, 9)]
        );
    }
}
