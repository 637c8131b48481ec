//! Durable embedded broker on the data dir's SQLite file.
//!
//! One consumer per group and topic at a time, enforced by a lease row: a
//! second live process gets a clear error instead of double-processing; a
//! lease left by a killed process is taken over at once (its pid is gone).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use tokio::sync::Notify;

use super::{
    Broker, BrokerConsumer, GroupMember, OutRecord, PartitionLag, Record, TopicSpec, TopicState,
    Watermarks,
};
use crate::backends::sqlite::Db;
use crate::clock::now_ms;

/// A lease not renewed for this long is free even if its pid still exists
/// (pid reuse, or a hung process).
const LEASE_TTL_MS: i64 = 15_000;
const LEASE_RENEW_MS: i64 = 2_000;

pub struct EmbeddedBroker {
    db: Db,
    /// Wakes in-process consumers as soon as something is produced; other
    /// processes' writes are seen by polling.
    produced: Arc<Notify>,
}

impl EmbeddedBroker {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            produced: Arc::new(Notify::new()),
        }
    }
}

/// Stable key → partition mapping (same key, same partition, forever).
pub fn partition_for(key: &[u8], partitions: u32) -> i32 {
    let h = blake3::hash(key);
    let b = h.as_bytes();
    (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) % partitions.max(1)) as i32
}

fn topic_partitions(conn: &rusqlite::Connection, topic: &str) -> Result<u32> {
    conn.query_row(
        "SELECT partitions FROM broker_topics WHERE name = ?1",
        [topic],
        |r| r.get::<_, u32>(0),
    )
    .optional()?
    .with_context(|| format!("topic {topic} does not exist"))
}

fn lag_of(conn: &rusqlite::Connection, group: &str, topic: &str) -> Result<Vec<PartitionLag>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.partition, p.next_offset, COALESCE(c.committed, 0)
         FROM broker_partitions p LEFT JOIN broker_commits c
           ON c.group_id = ?1 AND c.topic = p.topic AND c.partition = p.partition
         WHERE p.topic = ?2 ORDER BY p.partition",
    )?;
    let rows = stmt
        .query_map(params![group, topic], |r| {
            let (partition, end, committed): (i32, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            Ok(PartitionLag {
                partition,
                end,
                committed,
                lag: (end - committed).max(0),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The lease holder, when it is alive: the group's one member.
fn live_holder(conn: &rusqlite::Connection, group: &str, topic: &str) -> Result<Option<i64>> {
    let holder: Option<(i64, i64)> = conn
        .query_row(
            "SELECT owner_pid, heartbeat_ms FROM broker_leases WHERE group_id = ?1 AND topic = ?2",
            params![group, topic],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(holder
        .filter(|(pid, beat)| pid_alive(*pid) && now_ms() - beat < LEASE_TTL_MS)
        .map(|(pid, _)| pid))
}

fn pid_alive(pid: i64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[async_trait]
impl Broker for EmbeddedBroker {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn group_is_exclusive(&self) -> bool {
        true
    }

    async fn ensure_topics(&self, specs: &[TopicSpec]) -> Result<()> {
        let specs = specs.to_vec();
        self.db
            .run(move |conn| {
                let tx = conn.transaction()?;
                for s in &specs {
                    tx.execute(
                        "INSERT OR IGNORE INTO broker_topics VALUES (?1, ?2, ?3, ?4)",
                        params![s.name, s.partitions, s.retention_ms, s.compact],
                    )?;
                    for p in 0..s.partitions {
                        tx.execute(
                            "INSERT OR IGNORE INTO broker_partitions VALUES (?1, ?2, 0)",
                            params![s.name, p],
                        )?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }

    async fn produce(&self, topic: &str, records: Vec<OutRecord>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let topic = topic.to_string();
        self.db
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let partitions = topic_partitions(&tx, &topic)?;
                let mut next: HashMap<i32, i64> = HashMap::new();
                {
                    let mut get = tx.prepare_cached(
                        "SELECT next_offset FROM broker_partitions WHERE topic = ?1 AND partition = ?2",
                    )?;
                    let mut ins = tx.prepare_cached(
                        "INSERT INTO broker_log (topic, partition, offset, key, value, timestamp_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?;
                    let ts = now_ms();
                    for rec in &records {
                        let p = partition_for(&rec.key, partitions);
                        let off = match next.get(&p) {
                            Some(o) => *o,
                            None => get.query_row(params![topic, p], |r| r.get(0))?,
                        };
                        ins.execute(params![topic, p, off, rec.key, rec.value, ts])?;
                        next.insert(p, off + 1);
                    }
                }
                for (p, off) in next {
                    tx.execute(
                        "UPDATE broker_partitions SET next_offset = ?3 WHERE topic = ?1 AND partition = ?2",
                        params![topic, p, off],
                    )?;
                }
                tx.commit()?;
                Ok(())
            })
            .await?;
        self.produced.notify_waiters();
        Ok(())
    }

    async fn consumer(&self, group: &str, topic: &str) -> Result<Box<dyn BrokerConsumer>> {
        let (group, topic) = (group.to_string(), topic.to_string());
        let (g, t) = (group.clone(), topic.clone());
        let positions = self
            .db
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                topic_partitions(&tx, &t)?;
                let me = std::process::id() as i64;
                if let Some(pid) = live_holder(&tx, &g, &t)?.filter(|pid| *pid != me) {
                    bail!(
                        "consumer group {g} on {t} is already being consumed by another archon-tui process (pid {pid}) using this data dir; stop it or use --group-id"
                    );
                }
                tx.execute(
                    "INSERT OR REPLACE INTO broker_leases VALUES (?1, ?2, ?3, ?4)",
                    params![g, t, me, now_ms()],
                )?;
                let positions: HashMap<i32, i64> = lag_of(&tx, &g, &t)?
                    .into_iter()
                    .map(|p| (p.partition, p.committed))
                    .collect();
                tx.commit()?;
                Ok(positions)
            })
            .await?;
        Ok(Box::new(EmbeddedConsumer {
            db: self.db.clone(),
            produced: self.produced.clone(),
            group,
            topic,
            state: Mutex::new(ConsumerState {
                positions,
                last_renew_ms: now_ms(),
                next_partition: 0,
            }),
        }))
    }

    async fn lag(&self, group: &str, topic: &str) -> Result<Vec<PartitionLag>> {
        let (group, topic) = (group.to_string(), topic.to_string());
        self.db.read(move |conn| lag_of(conn, &group, &topic)).await
    }

    async fn read(
        &self,
        topic: &str,
        partition: i32,
        from: i64,
        max: usize,
    ) -> Result<Vec<Record>> {
        let topic = topic.to_string();
        self.db
            .run(move |conn| read_records(conn, &topic, partition, from, max))
            .await
    }

    async fn watermarks(&self, topic: &str) -> Result<Vec<Watermarks>> {
        let topic = topic.to_string();
        self.db.run(move |conn| watermarks_of(conn, &topic)).await
    }

    async fn offsets_at(&self, topic: &str, at_ms: i64) -> Result<Vec<(i32, i64)>> {
        let topic = topic.to_string();
        self.db
            .run(move |conn| {
                let marks = watermarks_of(conn, &topic)?;
                let mut stmt = conn.prepare_cached(
                    "SELECT MIN(offset) FROM broker_log
                     WHERE topic = ?1 AND partition = ?2 AND timestamp_ms >= ?3",
                )?;
                let mut out = Vec::with_capacity(marks.len());
                for m in marks {
                    let first: Option<i64> =
                        stmt.query_row(params![topic, m.partition, at_ms], |r| r.get(0))?;
                    out.push((m.partition, first.unwrap_or(m.high)));
                }
                Ok(out)
            })
            .await
    }

    async fn group_members(&self, group: &str, topic: &str) -> Result<Vec<String>> {
        let (group, topic) = (group.to_string(), topic.to_string());
        self.db
            .run(move |conn| {
                Ok(live_holder(conn, &group, &topic)?
                    .map(|pid| vec![format!("archon-tui pid {pid} on this data dir")])
                    .unwrap_or_default())
            })
            .await
    }

    async fn group_detail(&self, group: &str, topic: &str) -> Result<Vec<GroupMember>> {
        let (group, topic) = (group.to_string(), topic.to_string());
        self.db
            .run(move |conn| {
                let Some(pid) = live_holder(conn, &group, &topic)? else {
                    return Ok(Vec::new());
                };
                let partitions: Vec<i32> = conn
                    .prepare("SELECT partition FROM broker_partitions WHERE topic = ?1 ORDER BY partition")?
                    .query_map(params![topic], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(vec![GroupMember {
                    member_id: format!("pid {pid}"),
                    client_id: "archon-tui".into(),
                    host: crate::identity::hostname(),
                    partitions,
                }])
            })
            .await
    }

    async fn describe_topics(&self, names: &[String]) -> Result<Vec<TopicState>> {
        let names = names.to_vec();
        self.db
            .run(move |conn| {
                let mut out = Vec::new();
                let mut q = conn.prepare(
                    "SELECT partitions, retention_ms, compact FROM broker_topics WHERE name = ?1",
                )?;
                for name in names {
                    let row = q
                        .query_row(params![name], |r| {
                            Ok((
                                r.get::<_, u32>(0)?,
                                r.get::<_, i64>(1)?,
                                r.get::<_, bool>(2)?,
                            ))
                        })
                        .optional()?;
                    if let Some((partitions, retention, compact)) = row {
                        out.push(TopicState {
                            name,
                            partitions,
                            replication_factor: 1,
                            configs: [
                                (
                                    "cleanup.policy".to_string(),
                                    if compact { "compact" } else { "delete" }.to_string(),
                                ),
                                ("retention.ms".to_string(), retention.to_string()),
                            ]
                            .into_iter()
                            .collect(),
                        });
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn set_group_offsets(
        &self,
        group: &str,
        topic: &str,
        offsets: &[(i32, i64)],
    ) -> Result<()> {
        let (group, topic, offsets) = (group.to_string(), topic.to_string(), offsets.to_vec());
        self.db
            .run(move |conn| {
                // Immediate: no consumer can take the lease between the check
                // and the write.
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                if let Some(pid) = live_holder(&tx, &group, &topic)? {
                    bail!("consumer group {group} has a member (pid {pid}): offsets are only set in an empty group");
                }
                for (p, off) in offsets {
                    tx.execute(
                        "INSERT INTO broker_commits VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (group_id, topic, partition) DO UPDATE
                         SET committed = excluded.committed",
                        params![group, topic, p, off],
                    )?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }
}

fn watermarks_of(conn: &rusqlite::Connection, topic: &str) -> Result<Vec<Watermarks>> {
    topic_partitions(conn, topic)?;
    let mut stmt = conn.prepare_cached(
        "SELECT p.partition, p.next_offset,
                (SELECT MIN(l.offset) FROM broker_log l
                  WHERE l.topic = p.topic AND l.partition = p.partition)
         FROM broker_partitions p WHERE p.topic = ?1 ORDER BY p.partition",
    )?;
    let rows = stmt
        .query_map([topic], |r| {
            let (partition, high, low): (i32, i64, Option<i64>) = (r.get(0)?, r.get(1)?, r.get(2)?);
            Ok(Watermarks {
                partition,
                low: low.unwrap_or(high),
                high,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn read_records(
    conn: &rusqlite::Connection,
    topic: &str,
    partition: i32,
    from: i64,
    max: usize,
) -> Result<Vec<Record>> {
    let mut stmt = conn.prepare_cached(
        "SELECT offset, key, value, timestamp_ms FROM broker_log
         WHERE topic = ?1 AND partition = ?2 AND offset >= ?3 ORDER BY offset LIMIT ?4",
    )?;
    let rows = stmt
        .query_map(params![topic, partition, from, max as i64], |r| {
            Ok(Record {
                partition,
                offset: r.get(0)?,
                key: r.get(1)?,
                value: r.get(2)?,
                timestamp_ms: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

struct ConsumerState {
    /// Next offset to fetch per partition (starts at the committed offset).
    positions: HashMap<i32, i64>,
    last_renew_ms: i64,
    /// Round-robin start so one busy partition cannot starve the others.
    next_partition: usize,
}

pub struct EmbeddedConsumer {
    db: Db,
    produced: Arc<Notify>,
    group: String,
    topic: String,
    state: Mutex<ConsumerState>,
}

impl EmbeddedConsumer {
    async fn fetch_once(&self, max: usize) -> Result<Vec<Record>> {
        let (positions, start, renew) = {
            let mut st = self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut parts: Vec<(i32, i64)> = st.positions.iter().map(|(p, o)| (*p, *o)).collect();
            parts.sort();
            let n = parts.len().max(1);
            let start = st.next_partition % n;
            st.next_partition = st.next_partition.wrapping_add(1);
            let renew = now_ms() - st.last_renew_ms > LEASE_RENEW_MS;
            if renew {
                st.last_renew_ms = now_ms();
            }
            (parts, start, renew)
        };
        let (group, topic) = (self.group.clone(), self.topic.clone());
        let records = self
            .db
            .run(move |conn| {
                if renew {
                    conn.execute(
                        "UPDATE broker_leases SET heartbeat_ms = ?3 WHERE group_id = ?1 AND topic = ?2",
                        params![group, topic, now_ms()],
                    )?;
                }
                let mut out = Vec::new();
                let n = positions.len();
                // Fair share per partition first, then fill up from the rest.
                let share = (max / n.max(1)).max(1);
                for i in 0..n {
                    let (p, from) = positions[(start + i) % n];
                    let room = max.saturating_sub(out.len()).min(share);
                    if room == 0 {
                        break;
                    }
                    out.extend(read_records(conn, &topic, p, from, room)?);
                }
                if out.len() < max {
                    for i in 0..n {
                        let (p, _) = positions[(start + i) % n];
                        let from = out
                            .iter()
                            .filter(|r| r.partition == p)
                            .map(|r| r.offset + 1)
                            .max()
                            .unwrap_or(positions[(start + i) % n].1);
                        let room = max - out.len();
                        if room == 0 {
                            break;
                        }
                        out.extend(read_records(conn, &topic, p, from, room)?);
                    }
                }
                Ok(out)
            })
            .await?;
        let mut st = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for r in &records {
            let pos = st.positions.entry(r.partition).or_insert(0);
            *pos = (*pos).max(r.offset + 1);
        }
        Ok(records)
    }
}

#[async_trait]
impl BrokerConsumer for EmbeddedConsumer {
    /// The lease holder reads every partition.
    fn assignment(&self) -> Vec<i32> {
        let mut parts: Vec<i32> = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .positions
            .keys()
            .copied()
            .collect();
        parts.sort_unstable();
        parts
    }

    /// Paused, or the breaker open: keep the lease, as a Kafka member keeps
    /// its membership by polling (a held member stays in the group; one that
    /// is asked to leave for an offset reset closes instead).
    async fn idle(&self) -> Result<()> {
        let renew = {
            let mut st = self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let due = now_ms() - st.last_renew_ms > LEASE_RENEW_MS;
            if due {
                st.last_renew_ms = now_ms();
            }
            due
        };
        if renew {
            let (group, topic) = (self.group.clone(), self.topic.clone());
            self.db
                .run_relaxed(move |conn| {
                    conn.execute(
                        "UPDATE broker_leases SET heartbeat_ms = ?3 WHERE group_id = ?1 AND topic = ?2",
                        params![group, topic, now_ms()],
                    )?;
                    Ok(())
                })
                .await?;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    }

    async fn fetch(&self, max: usize, wait: Duration) -> Result<Vec<Record>> {
        let notified = self.produced.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let recs = self.fetch_once(max).await?;
        if !recs.is_empty() || wait.is_zero() {
            return Ok(recs);
        }
        // Another process may produce too: wake on our own produce or a poll tick.
        // Timing out is the poll tick, not an error.
        let _tick = tokio::time::timeout(wait.min(Duration::from_millis(100)), notified).await;
        self.fetch_once(max).await
    }

    async fn commit(&self, offsets: &[(i32, i64)]) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let (group, topic, offsets) = (self.group.clone(), self.topic.clone(), offsets.to_vec());
        // Relaxed: a commit lost in a power cut means redelivery.
        self.db
            .run_relaxed(move |conn| {
                let tx = conn.transaction()?;
                for (p, off) in offsets {
                    tx.execute(
                        "INSERT INTO broker_commits VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (group_id, topic, partition) DO UPDATE
                         SET committed = max(committed, excluded.committed)",
                        params![group, topic, p, off],
                    )?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }

    async fn close(&self) -> Result<()> {
        let (group, topic) = (self.group.clone(), self.topic.clone());
        self.db
            .run(move |conn| {
                conn.execute(
                    "DELETE FROM broker_leases WHERE group_id = ?1 AND topic = ?2 AND owner_pid = ?3",
                    params![group, topic, std::process::id() as i64],
                )?;
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::broker::total_lag;

    fn spec(name: &str, partitions: u32) -> TopicSpec {
        TopicSpec {
            name: name.into(),
            partitions,
            retention_ms: 1000,
            compact: false,
        }
    }

    #[tokio::test]
    async fn lag_is_end_minus_committed_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let b = EmbeddedBroker::new(Db::open(dir.path()).unwrap());
            b.ensure_topics(&[spec("t", 4)]).await.unwrap();
            let recs = (0..100)
                .map(|i| OutRecord {
                    key: format!("k{i}").into_bytes(),
                    value: vec![i as u8],
                })
                .collect();
            b.produce("t", recs).await.unwrap();
            assert_eq!(total_lag(&b.lag("g", "t").await.unwrap()), 100);
            let c = b.consumer("g", "t").await.unwrap();
            let got = c.fetch(1000, Duration::ZERO).await.unwrap();
            assert_eq!(got.len(), 100);
            // Fetching moves positions but not the committed offsets.
            assert_eq!(total_lag(&b.lag("g", "t").await.unwrap()), 100);
            let p0: Vec<_> = got.iter().filter(|r| r.partition == 0).collect();
            c.commit(&[(0, p0.len() as i64)]).await.unwrap();
            let lag = b.lag("g", "t").await.unwrap();
            assert_eq!(lag[0].lag, 0);
            assert_eq!(total_lag(&lag), 100 - p0.len() as i64);
            c.close().await.unwrap();
        }
        let b = EmbeddedBroker::new(Db::open(dir.path()).unwrap());
        let lag = b.lag("g", "t").await.unwrap();
        assert_eq!(lag.iter().map(|p| p.end).sum::<i64>(), 100);
        assert_eq!(lag[0].lag, 0);
        // A new consumer resumes at the committed offsets.
        let c = b.consumer("g", "t").await.unwrap();
        let again = c.fetch(1000, Duration::ZERO).await.unwrap();
        assert_eq!(again.len() as i64, total_lag(&lag));
        assert!(again.iter().all(|r| r.partition != 0));
    }

    #[tokio::test]
    async fn same_key_same_partition_and_offsets_are_dense() {
        let dir = tempfile::tempdir().unwrap();
        let b = EmbeddedBroker::new(Db::open(dir.path()).unwrap());
        b.ensure_topics(&[spec("t", 4)]).await.unwrap();
        for _ in 0..3 {
            b.produce(
                "t",
                vec![OutRecord {
                    key: b"doc".to_vec(),
                    value: b"v".to_vec(),
                }],
            )
            .await
            .unwrap();
        }
        let p = partition_for(b"doc", 4);
        let recs = b.read("t", p, 0, 10).await.unwrap();
        assert_eq!(
            recs.iter().map(|r| r.offset).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
    }

    #[tokio::test]
    async fn second_live_consumer_in_group_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let b = EmbeddedBroker::new(db.clone());
        b.ensure_topics(&[spec("t", 1)]).await.unwrap();
        // Pretend pid 1 (always alive) holds the lease.
        db.run(|c| {
            c.execute(
                "INSERT INTO broker_leases VALUES ('g','t',1,?1)",
                [now_ms()],
            )?;
            Ok(())
        })
        .await
        .unwrap();
        let err = b.consumer("g", "t").await.err().unwrap().to_string();
        assert!(err.contains("pid 1"), "{err}");
        // A different group is free.
        assert!(b.consumer("g2", "t").await.is_ok());
    }
}
