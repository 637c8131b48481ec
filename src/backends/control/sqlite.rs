//! Operator state in the data dir's SQLite: the `control` table (one row per
//! lever key), `fleet_members` (each process's report) and `audit`. Every
//! process on the data dir sees it.

use std::collections::BTreeMap;

use anyhow::Result;
use rusqlite::OptionalExtension;

use crate::backends::sqlite::Db;
use crate::ports::control::{AuditEntry, ControlStore, MemberStatus};

/// Audit rows kept (oldest dropped beyond this).
const AUDIT_KEEP: i64 = 10_000;

#[derive(Clone)]
pub struct SqliteControl {
    db: Db,
}

impl SqliteControl {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl ControlStore for SqliteControl {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn entries(&self) -> Result<BTreeMap<String, String>> {
        self.db
            .read(|c| {
                let mut st = c.prepare_cached("SELECT key, value FROM control")?;
                let rows =
                    st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn put(&self, key: &str, value: &str) -> Result<()> {
        let (k, v) = (key.to_string(), value.to_string());
        self.db
            .run(move |c| {
                c.execute("INSERT OR REPLACE INTO control VALUES (?1, ?2)", [&k, &v])?;
                Ok(())
            })
            .await
    }

    async fn put_if(&self, key: &str, expected: Option<&str>, value: &str) -> Result<bool> {
        let (k, v, expected) = (
            key.to_string(),
            value.to_string(),
            expected.map(str::to_string),
        );
        self.db
            .run(move |c| {
                // IMMEDIATE: the write lock before the read, so no other
                // process writes between the compare and the set.
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let now: Option<String> = tx
                    .query_row("SELECT value FROM control WHERE key = ?1", [&k], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if now != expected {
                    return Ok(false);
                }
                tx.execute("INSERT OR REPLACE INTO control VALUES (?1, ?2)", [&k, &v])?;
                tx.commit()?;
                Ok(true)
            })
            .await
    }

    async fn forget(&self, key: &str) -> Result<()> {
        let key = key.to_string();
        self.db
            .run(move |c| {
                c.execute("DELETE FROM control WHERE key = ?1", [key])?;
                Ok(())
            })
            .await
    }

    async fn publish_member(&self, s: &MemberStatus) -> Result<()> {
        let v = serde_json::to_string(s)?;
        let (id, at) = (s.member_id.clone(), s.updated_ms);
        // A report a restart rewrites within a second: no fsync for it.
        self.db
            .run_relaxed(move |c| {
                c.prepare_cached("INSERT OR REPLACE INTO fleet_members VALUES (?1, ?2, ?3)")?
                    .execute(rusqlite::params![id, at, v])?;
                Ok(())
            })
            .await
    }

    async fn withdraw_member(&self, member_id: &str) -> Result<()> {
        let id = member_id.to_string();
        self.db
            .run(move |c| {
                c.execute("DELETE FROM fleet_members WHERE member_id = ?1", [id])?;
                Ok(())
            })
            .await
    }

    async fn members(&self, gone_after_ms: i64) -> Result<Vec<MemberStatus>> {
        let since = crate::clock::now_ms() - gone_after_ms;
        self.db
            .read(move |c| {
                let mut st = c.prepare_cached(
                    "SELECT status FROM fleet_members WHERE updated_ms >= ?1 ORDER BY member_id",
                )?;
                let rows = st.query_map([since], |r| r.get::<_, String>(0))?;
                let mut out = Vec::new();
                for row in rows {
                    match serde_json::from_str(&row?) {
                        Ok(m) => out.push(m),
                        Err(e) => tracing::debug!("unreadable member report skipped: {e}"),
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn append_audit(&self, e: &AuditEntry) -> Result<()> {
        let v = serde_json::to_string(e)?;
        self.db
            .run(move |c| {
                c.execute("INSERT INTO audit (entry) VALUES (?1)", [&v])?;
                c.execute(
                    "DELETE FROM audit WHERE seq <= (SELECT MAX(seq) FROM audit) - ?1",
                    [AUDIT_KEEP],
                )?;
                Ok(())
            })
            .await
    }

    async fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        self.db
            .read(move |c| {
                let mut st =
                    c.prepare_cached("SELECT entry FROM audit ORDER BY seq DESC LIMIT ?1")?;
                let rows = st.query_map([limit as i64], |r| r.get::<_, String>(0))?;
                let mut out: Vec<AuditEntry> = Vec::new();
                for row in rows {
                    if let Ok(e) = serde_json::from_str(&row?) {
                        out.push(e);
                    }
                }
                out.reverse();
                Ok(out)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_if_writes_only_over_the_value_it_expects() {
        let dir = tempfile::tempdir().unwrap();
        let c = SqliteControl::new(Db::open(dir.path()).unwrap());
        assert!(
            c.put_if("k", None, "1").await.unwrap(),
            "absent, as expected"
        );
        assert!(
            !c.put_if("k", None, "2").await.unwrap(),
            "not absent any more"
        );
        assert!(!c.put_if("k", Some("0"), "2").await.unwrap());
        assert!(c.put_if("k", Some("1"), "2").await.unwrap());
        assert_eq!(
            c.entries().await.unwrap().get("k").map(String::as_str),
            Some("2")
        );
    }
}
