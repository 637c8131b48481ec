//! Writes that cannot land: a full disk under the data dir (or under the
//! graph server), or a store refusing writes. The engine then holds its
//! intake (nothing new is fetched, so no service call is spent on a result
//! that cannot be recorded), keeps retrying the batch it holds, and says why
//! in the console's header, the Lag note, `/health` and its member report.
//! The first write that lands lifts the hold by itself: nothing is lost,
//! because no offset is committed before its outcome is recorded.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One log line per this long while the same stall lasts.
const LOG_EVERY: Duration = Duration::from_secs(30);

/// What the snapshot, `/health` and the member report show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StallView {
    /// The reason an operator reads ("disk full: …").
    pub reason: String,
    /// Out of space (the hold lifts when space returns), not another refusal.
    pub disk_full: bool,
    /// Since when (unix ms).
    pub since_ms: i64,
    /// Writes refused since then.
    pub failures: u64,
}

struct Current {
    view: StallView,
    /// The write that failed last.
    what: String,
    logged: Instant,
    started: Instant,
}

/// The engine's write stall, if any (`None` inside: writes land).
pub struct Stall {
    data_dir: Option<PathBuf>,
    current: Mutex<Option<Current>>,
}

impl Stall {
    /// `data_dir`: where the embedded stores write (None on server stores),
    /// for the free space the reason quotes.
    pub fn new(data_dir: Option<PathBuf>) -> Self {
        Stall {
            data_dir,
            current: Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Current>> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A write (`what`: "recording outcomes", "committing offsets") failed.
    /// Logs the first failure and then one line per [`LOG_EVERY`].
    pub fn failed(&self, what: &str, err: &anyhow::Error) {
        let disk_full = is_disk_full(err);
        let detail = crate::sanitize::clean(&format!("{err:#}"));
        let reason = if disk_full {
            match &self.data_dir {
                Some(dir) => format!(
                    "disk full under {} ({} free): {what} waits for space; nothing new is fetched",
                    dir.display(),
                    free_bytes(dir)
                        .map(|b| format!("{} KiB", b >> 10))
                        .unwrap_or_else(|| "? bytes".into())
                ),
                None => format!(
                    "a store is out of space: {what} waits for space; nothing new is fetched ({detail})"
                ),
            }
        } else {
            format!("{what} failing, retried: {detail}")
        };
        let mut cur = self.lock();
        match cur.as_mut() {
            Some(c) => {
                c.view.failures += 1;
                c.view.reason = reason;
                c.view.disk_full = disk_full;
                c.what = what.to_string();
                if c.logged.elapsed() >= LOG_EVERY {
                    c.logged = Instant::now();
                    tracing::error!(
                        "{} ({} writes refused in {} s)",
                        c.view.reason,
                        c.view.failures,
                        c.started.elapsed().as_secs()
                    );
                }
            }
            None => {
                tracing::error!("{reason}");
                *cur = Some(Current {
                    view: StallView {
                        reason,
                        disk_full,
                        since_ms: crate::clock::now_ms(),
                        failures: 1,
                    },
                    what: what.to_string(),
                    logged: Instant::now(),
                    started: Instant::now(),
                });
            }
        }
    }

    /// A write landed: the stall, if any, is over.
    pub fn landed(&self) {
        self.end(|_| true)
    }

    /// A `what` write landed: the stall is over if that write is what failed
    /// last (an offset commit to Kafka landing says nothing of a full graph).
    pub fn landed_from(&self, what: &str) {
        self.end(|c| c.what == what)
    }

    fn end(&self, when: impl Fn(&Current) -> bool) {
        let mut cur = self.lock();
        if !cur.as_ref().is_some_and(when) {
            return;
        }
        if let Some(c) = cur.take() {
            tracing::info!(
                "writes land again after {} s ({} refused); resuming",
                c.started.elapsed().as_secs(),
                c.view.failures
            );
        }
    }

    pub fn view(&self) -> Option<StallView> {
        self.lock().as_ref().map(|c| c.view.clone())
    }

    /// Hold intake: only for a full disk. Another refusal (a store restarting)
    /// is the outage path's: fetching stops there by the fetch-ahead bound.
    pub fn holds_intake(&self) -> bool {
        self.lock().as_ref().is_some_and(|c| c.view.disk_full)
    }
}

/// SQLite's SQLITE_FULL, the OS's ENOSPC / EDQUOT, or a server saying it
/// (Neo4j's "No space left on device").
pub fn is_disk_full(err: &anyhow::Error) -> bool {
    for cause in err.chain() {
        if let Some(rusqlite::Error::SqliteFailure(e, _)) = cause.downcast_ref::<rusqlite::Error>()
        {
            if e.code == rusqlite::ErrorCode::DiskFull {
                return true;
            }
        }
        if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            if matches!(
                e.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            ) {
                return true;
            }
        }
    }
    let text = format!("{err:#}").to_ascii_lowercase();
    [
        "no space left on device",
        "database or disk is full",
        "disk quota exceeded",
    ]
    .iter()
    .any(|s| text.contains(s))
}

/// Bytes free for an unprivileged writer on the file system holding `path`.
pub fn free_bytes(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a NUL-terminated path and a struct statvfs fills.
        if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
            return None;
        }
        Some(s.f_bavail as u64 * s.f_frsize as u64)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_full() -> anyhow::Error {
        let e = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        anyhow::Error::new(e).context("recording enrichments")
    }

    #[test]
    fn knows_a_full_disk_from_another_refusal() {
        assert!(is_disk_full(&sqlite_full()));
        let io = std::io::Error::from_raw_os_error(28); // ENOSPC
        assert!(is_disk_full(&anyhow::Error::new(io)));
        assert!(is_disk_full(&anyhow::anyhow!(
            "Neo.TransientError.General: No space left on device"
        )));
        assert!(!is_disk_full(&anyhow::anyhow!("connection refused")));
    }

    #[test]
    fn a_full_disk_holds_intake_until_a_write_lands() {
        let dir = tempfile::tempdir().unwrap();
        let s = Stall::new(Some(dir.path().to_path_buf()));
        assert!(s.view().is_none() && !s.holds_intake());
        s.failed("recording outcomes", &sqlite_full());
        s.failed("committing offsets", &sqlite_full());
        let v = s.view().unwrap();
        assert!(v.disk_full && s.holds_intake());
        assert_eq!(v.failures, 2);
        assert!(v.reason.starts_with("disk full under "), "{}", v.reason);
        assert!(v.reason.contains("committing offsets"), "{}", v.reason);
        s.landed_from("recording outcomes");
        assert!(s.view().is_some(), "the commit failed last");
        s.landed_from("committing offsets");
        assert!(s.view().is_none() && !s.holds_intake());
        s.failed("committing offsets", &sqlite_full());
        s.landed();
        assert!(s.view().is_none());
    }

    #[test]
    fn another_refusal_is_shown_but_does_not_hold_intake() {
        let s = Stall::new(None);
        s.failed("recording outcomes", &anyhow::anyhow!("graph \x1b[31mdown"));
        let v = s.view().unwrap();
        assert!(!v.disk_full && !s.holds_intake());
        assert!(!v.reason.contains('\x1b'), "sanitised: {}", v.reason);
    }
}
