//! The embedded default keeps every backend in one SQLite file in the data dir.
//!
//! Why SQLite (WAL): several archon-tui processes must share a data dir at once
//! (the console runs while an operator types `status`, `dlq list` or `rollout
//! set` in another terminal), and one file gives a consistent prefix after a
//! crash: an offset commit can never survive while the outcome it acknowledges
//! was lost. Each backend opens its own connection; writes are batched.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use rusqlite::Connection;

pub const DB_FILE: &str = "archon.sqlite3";

/// Schema of every embedded backend. Idempotent; run on every open.
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS broker_topics (
    name TEXT PRIMARY KEY, partitions INTEGER NOT NULL,
    retention_ms INTEGER NOT NULL, compact INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS broker_partitions (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS broker_log (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    key BLOB, value BLOB NOT NULL, timestamp_ms INTEGER NOT NULL,
    PRIMARY KEY (topic, partition, offset)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS broker_commits (
    group_id TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL,
    committed INTEGER NOT NULL, PRIMARY KEY (group_id, topic, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS broker_leases (
    group_id TEXT NOT NULL, topic TEXT NOT NULL, owner_pid INTEGER NOT NULL,
    heartbeat_ms INTEGER NOT NULL, PRIMARY KEY (group_id, topic)) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS documents (
    entity_id TEXT PRIMARY KEY,
    project_name TEXT NOT NULL,
    source_path TEXT NOT NULL,
    document_type TEXT NOT NULL,
    language TEXT,
    content_hash TEXT NOT NULL,
    enrichment_status TEXT NOT NULL,
    indexed_at TEXT NOT NULL,
    enriched_at TEXT,
    file_size_bytes INTEGER NOT NULL,
    line_count INTEGER NOT NULL,
    last_modified TEXT,
    correlation_id TEXT NOT NULL,
    enrichment_content_hash TEXT,
    enrichment_json TEXT,
    failure_reason TEXT,
    replay_count INTEGER NOT NULL DEFAULT 0,
    replayed_at TEXT,
    -- Enrichments applied for the current content (the reliability suite's
    -- duplicate check: never above 1).
    enrichment_applied INTEGER NOT NULL DEFAULT 0,
    -- The current enrichment's completed event is written (the outbox mark).
    announced INTEGER NOT NULL DEFAULT 1,
    -- Where it came from ('tree' with its root, or 'http'): a tree ingest
    -- removes only its own tree's documents. NULL: indexed before this.
    source_kind TEXT,
    source_root TEXT,
    -- The current enrichment's entities, a JSON array of {kind, name, line}.
    -- NULL: none recorded here; a data dir from before keeps them in the
    -- entities table, which is still read (see the graph store).
    entities_json TEXT);
-- Documents a tree ingest removed (their files are gone): a request still
-- on its way for one is skipped instead of parked as DocumentNotFound.
CREATE TABLE IF NOT EXISTS deleted_documents (
    entity_id TEXT PRIMARY KEY, deleted_at TEXT NOT NULL, reason TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS documents_status ON documents (enrichment_status, project_name);
-- Entities as data dirs before kept them: one row each, in a b-tree keyed
-- by the random document id (181 B a document, the largest randomly filled
-- tree in the file). New enrichments write documents.entities_json instead
-- (docs/performance.md, "Scale: entities in the document's row").
CREATE TABLE IF NOT EXISTS entities (
    document_id TEXT NOT NULL, idx INTEGER NOT NULL, kind TEXT NOT NULL,
    name TEXT NOT NULL, line INTEGER NOT NULL,
    PRIMARY KEY (document_id, idx)) WITHOUT ROWID;
-- A rowid table: bodies are appended in rowid order and only the small
-- hash index takes random inserts. (As WITHOUT ROWID, each ~20 KiB body sat
-- in the hash-ordered b-tree itself: every insert a random leaf split and
-- its overflow chain rewritten, 57 % of the index phase on real trees. Data
-- dirs made before keep that table; the same statements work on both.)
CREATE TABLE IF NOT EXISTS contents (
    content_hash TEXT PRIMARY KEY, body BLOB NOT NULL);

CREATE TABLE IF NOT EXISTS vector_points (
    point_id TEXT PRIMARY KEY, vector BLOB NOT NULL, payload TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS control (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fleet_members (
    member_id TEXT PRIMARY KEY, updated_ms INTEGER NOT NULL, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL);
"#;

/// The data dir's database: one writer connection (all writes go through
/// `run`), and read-only connections for `read` — in WAL mode a reader sees
/// every committed transaction without waiting for the writer, whose
/// commits hold its lock through an fsync.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    /// Taken before a write goes to the blocking pool: writes queue here,
    /// not as blocking threads parked on `conn`'s lock.
    write_turn: Arc<tokio::sync::Semaphore>,
    /// At most `READERS` reads on the blocking pool, each with a pooled
    /// connection (so no connection is opened and parsed per read).
    read_turns: Arc<tokio::sync::Semaphore>,
    path: PathBuf,
    /// The broker lives in this file too (see `run_covered`).
    broker_here: Arc<std::sync::atomic::AtomicBool>,
    /// The writer's `wal_autocheckpoint` as last set (see `pace_checkpoints`).
    checkpoint_pages: Arc<std::sync::atomic::AtomicI64>,
}

/// Reads at once, and the read connections kept open for them. Without the
/// bound, 32 enrichments' reads took 32 blocking threads and as many
/// connections (each its own page cache and malloc arena): ~80 threads and
/// an RSS that grew with the run (docs/performance.md).
const READERS: usize = 4;

/// The most WAL pages the writer lets accumulate before it checkpoints them
/// into the database (SQLite's default is 1,000, 4 MiB). Each checkpoint
/// writes every page the WAL touched since the last one, and on a large data
/// dir those are scattered leaf pages of the id indexes, about one per
/// document: at 300,000 documents the default cadence spent 11 % of the run
/// in checkpoints. The writer's cadence is an eighth of the database's pages
/// between the default and this bound (64 MiB), so the WAL grows to about an
/// eighth of what the data itself takes on disk: a small data dir on a small
/// disk checkpoints as before (docs/performance.md, "Scale").
const WAL_CHECKPOINT_PAGES_MAX: i64 = 16_384;
const WAL_CHECKPOINT_PAGES_MIN: i64 = 1_000;
/// After a checkpoint restarts the WAL, its file is cut back to this.
const WAL_SIZE_LIMIT_BYTES: i64 = 64 << 20;

impl Db {
    /// Open (creating if needed) the data dir's database with the pragmas the
    /// durability argument above relies on.
    pub fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
        let path = data_dir.join(DB_FILE);
        let conn =
            Connection::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let setup = || {
            conn.pragma_update(None, "journal_mode", "WAL")
                .and_then(|_| conn.pragma_update(None, "synchronous", "FULL"))
                .and_then(|_| conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES))
                .and_then(|_| conn.execute_batch(SCHEMA))
                .and_then(|_| add_missing_columns(&conn))
        };
        // SQLite answers some lock conflicts at open (a WAL recovery or
        // checkpoint in another process) with SQLITE_BUSY without waiting on
        // the busy timeout: CI saw `status` beside a busy engine refused so.
        // Such a refusal is brief; it is retried, not reported as corrupt.
        let deadline = std::time::Instant::now() + OPEN_BUSY_WAIT;
        let mut result = setup();
        while matches!(&result, Err(e) if is_busy(e)) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
            result = setup();
        }
        if let Err(e) = result {
            anyhow::bail!(
                "the data dir database {} is unreadable or corrupt ({e}); move it aside or pass another --data-dir",
                path.display()
            );
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            readers: Arc::new(Mutex::new(Vec::new())),
            write_turn: Arc::new(tokio::sync::Semaphore::new(1)),
            read_turns: Arc::new(tokio::sync::Semaphore::new(READERS)),
            path,
            broker_here: Arc::default(),
            checkpoint_pages: Arc::new(WAL_CHECKPOINT_PAGES_MIN.into()),
        })
    }

    fn reader(&self) -> Result<Connection> {
        if let Some(c) = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(c);
        }
        let c = Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("cannot open {} for reading", self.path.display()))?;
        c.busy_timeout(std::time::Duration::from_secs(30))?;
        Ok(c)
    }

    /// Run a read-only query off the async runtime on a reader connection
    /// (a write there fails: SQLITE_READONLY).
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let db = self.clone();
        let turn = self.read_turns.clone().acquire_owned().await?;
        tokio::task::spawn_blocking(move || {
            let conn = db.reader()?;
            let out = f(&conn);
            let mut idle = db.readers.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < READERS {
                idle.push(conn);
            }
            drop(turn);
            out
        })
        .await
        .context("database task panicked")?
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run blocking database work off the async runtime.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        let checkpoint_pages = self.checkpoint_pages.clone();
        let turn = self.write_turn.clone().acquire_owned().await?;
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            let out = f(&mut guard);
            pace_checkpoints(&guard, &checkpoint_pages);
            drop(turn);
            out
        })
        .await
        .context("database task panicked")?
    }

    /// `run` for writes that are harmless to lose in a power cut (not in a
    /// process crash: the page cache keeps them): the commit skips its fsync.
    /// WAL frames are written in order, so the next fsynced commit makes
    /// these durable too, and a power cut can only drop a suffix of them.
    /// For marks that a restart recomputes (documents `processing`) and
    /// consumer offsets (a lost commit means redelivery, which is
    /// idempotent by content hash).
    pub async fn run_relaxed<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        self.run(move |conn| {
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            let out = f(conn);
            conn.pragma_update(None, "synchronous", "FULL")?;
            out
        })
        .await
    }

    /// Say that the embedded broker keeps its log in this file (the graph and
    /// vectors then write with `run_covered`).
    pub fn set_broker_here(&self, here: bool) {
        self.broker_here
            .store(here, std::sync::atomic::Ordering::Relaxed);
    }

    /// A graph or vector write that a broker commit always follows (index:
    /// the requests; record: the completed or DLQ events, then the offsets).
    /// With the broker in this file it skips its own fsync: the broker's
    /// fsynced commit makes it durable (WAL frames are written in order),
    /// so a recorded batch costs one fsync, not three; a power cut can only
    /// drop a suffix, which redelivery or re-indexing repairs, and a process
    /// crash loses nothing committed. With a remote broker it is `run`.
    pub async fn run_covered<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        if self.broker_here.load(std::sync::atomic::Ordering::Relaxed) {
            self.run_relaxed(f).await
        } else {
            self.run(f).await
        }
    }

    /// Synchronous access for code already off the runtime (tests, CLI reads).
    pub fn run_blocking<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

/// Set the writer's checkpoint cadence to an eighth of the database's pages,
/// within `WAL_CHECKPOINT_PAGES_MIN..=MAX` (the reason is at the bounds).
/// Reading the page count is a look at the pager, so this runs after every
/// write; the pragma is only issued when the cadence moves by a sixteenth.
fn pace_checkpoints(conn: &Connection, current: &std::sync::atomic::AtomicI64) {
    use std::sync::atomic::Ordering::Relaxed;
    let Ok(pages) = conn.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0)) else {
        return;
    };
    let want = checkpoint_cadence(pages);
    let now = current.load(Relaxed);
    if (want - now).abs() > now / 16 && conn.pragma_update(None, "wal_autocheckpoint", want).is_ok()
    {
        current.store(want, Relaxed);
    }
}

/// The writer's `wal_autocheckpoint` for a database of `pages` pages.
fn checkpoint_cadence(pages: i64) -> i64 {
    (pages / 8).clamp(WAL_CHECKPOINT_PAGES_MIN, WAL_CHECKPOINT_PAGES_MAX)
}

/// How long opening retries a database another process holds locked.
const OPEN_BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// SQLITE_BUSY / SQLITE_LOCKED: another connection holds a lock now.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Columns added after a data dir was created (ADD COLUMN is cheap; a
/// concurrent opener adding it first is fine).
fn add_missing_columns(conn: &Connection) -> rusqlite::Result<()> {
    const ADDED: &[(&str, &str, &str)] = &[
        (
            "documents",
            "enrichment_applied",
            "INTEGER NOT NULL DEFAULT 0",
        ),
        ("documents", "announced", "INTEGER NOT NULL DEFAULT 1"),
        ("documents", "source_kind", "TEXT"),
        ("documents", "source_root", "TEXT"),
        ("documents", "entities_json", "TEXT"),
    ];
    for (table, column, decl) in ADDED {
        let present = conn
            .prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")?
            .exists([table, column])?;
        if !present {
            match conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}")) {
                Err(e) if e.to_string().contains("duplicate column") => {}
                r => r?,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_dir_from_before_a_column_gains_it() {
        let dir = tempfile::tempdir().unwrap();
        {
            let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
            // The schema as it was before enrichment_applied.
            let old = SCHEMA.replace(
                ",\n    -- Enrichments applied for the current content (the reliability suite's\n    -- duplicate check: never above 1).\n    enrichment_applied INTEGER NOT NULL DEFAULT 0,\n    -- The current enrichment's completed event is written (the outbox mark).\n    announced INTEGER NOT NULL DEFAULT 1,\n    -- Where it came from ('tree' with its root, or 'http'): a tree ingest\n    -- removes only its own tree's documents. NULL: indexed before this.\n    source_kind TEXT,\n    source_root TEXT,\n    -- The current enrichment's entities, a JSON array of {kind, name, line}.\n    -- NULL: none recorded here; a data dir from before keeps them in the\n    -- entities table, which is still read (see the graph store).\n    entities_json TEXT)",
                ")",
            );
            assert_ne!(old, SCHEMA);
            c.execute_batch(&old).unwrap();
            c.execute(
                "INSERT INTO documents (entity_id, project_name, source_path, document_type,
                    content_hash, enrichment_status, indexed_at, file_size_bytes, line_count,
                    correlation_id) VALUES ('a', 'p', 'x', 'code', 'h', 'pending', 't', 1, 1, 'c')",
                [],
            )
            .unwrap();
        }
        let db = Db::open(dir.path()).unwrap();
        let (applied, announced, source, entities): (i64, i64, Option<String>, Option<String>) = db
            .run_blocking(|c| {
                Ok(c.query_row(
                    "SELECT enrichment_applied, announced, source_kind, entities_json FROM documents WHERE entity_id = 'a'",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?)
            })
            .unwrap();
        assert_eq!((applied, announced, source, entities), (0, 1, None, None));
        // Opening again (the column is there now) is a no-op.
        Db::open(dir.path()).unwrap();
    }

    #[tokio::test]
    async fn readers_see_commits_cannot_write_and_relaxed_writes_restore_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        db.run_relaxed(|c| {
            c.execute("INSERT INTO control VALUES ('k', 'v1')", [])?;
            Ok(())
        })
        .await
        .unwrap();
        let sync: i64 = db
            .run(|c| Ok(c.query_row("PRAGMA synchronous", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(sync, 2, "FULL again after a relaxed write");
        let read = |db: Db| async move {
            db.read(|c| {
                Ok(
                    c.query_row("SELECT value FROM control WHERE key = 'k'", [], |r| {
                        r.get::<_, String>(0)
                    })?,
                )
            })
            .await
        };
        assert_eq!(read(db.clone()).await.unwrap(), "v1");
        db.run(|c| {
            c.execute("UPDATE control SET value = 'v2' WHERE key = 'k'", [])?;
            Ok(())
        })
        .await
        .unwrap();
        // The pooled reader sees the newer commit.
        assert_eq!(read(db.clone()).await.unwrap(), "v2");
        let write = db.read(|c| Ok(c.execute("DELETE FROM control", [])?)).await;
        assert!(write.is_err(), "a reader cannot write");
    }

    /// The writer's checkpoint cadence follows the database's size: SQLite's
    /// default while small (a small disk loses no more room to the WAL than
    /// before), an eighth of the pages as it grows, never above the bound.
    #[tokio::test]
    async fn the_checkpoint_cadence_grows_with_the_database_within_its_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let cadence = |db: Db| async move {
            db.run(|c| Ok(c.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get::<_, i64>(0))?))
                .await
                .unwrap()
        };
        assert_eq!(cadence(db.clone()).await, WAL_CHECKPOINT_PAGES_MIN);
        // ~40 MiB of rows: ~10,000 pages, an eighth is ~1,250.
        let grow = |db: Db, rows: i64| async move {
            db.run(move |c| {
                c.execute(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
                     INSERT INTO contents (content_hash, body)
                     SELECT 'h' || i, zeroblob(4000) FROM n",
                    [rows],
                )?;
                Ok(())
            })
            .await
            .unwrap()
        };
        grow(db.clone(), 10_000).await;
        let pages: i64 = db
            .run(|c| Ok(c.query_row("PRAGMA page_count", [], |r| r.get(0))?))
            .await
            .unwrap();
        let want = pages / 8;
        assert!(want > WAL_CHECKPOINT_PAGES_MIN && want < WAL_CHECKPOINT_PAGES_MAX);
        assert_eq!(cadence(db.clone()).await, want, "{pages} pages");
        // Far past the bound (512 MiB and more): the bound.
        assert_eq!(checkpoint_cadence(131_072), WAL_CHECKPOINT_PAGES_MAX);
        assert_eq!(checkpoint_cadence(4_000_000), WAL_CHECKPOINT_PAGES_MAX);
        assert_eq!(checkpoint_cadence(0), WAL_CHECKPOINT_PAGES_MIN);
    }
}
