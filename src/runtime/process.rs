//! The process's tokio runtime and allocator settings, shared by
//! `archon-tui` and archon-bench so the bench measures what ships.

/// glibc malloc arenas at most (unless `MALLOC_ARENA_MAX` says otherwise).
/// By default glibc gives each thread that allocates its own arena, up to 8
/// per core, and each keeps the memory freed into it: on 98,756 real
/// documents the peak RSS was 167 MiB with about 10 MiB in use after the
/// run. Four arenas: 93 MiB on 27,118 files at the same speed; two were
/// slower (docs/performance.md).
const ARENAS: i32 = 4;

/// Blocking-pool threads at most. Database work queues on async
/// semaphores before it takes a thread (`Db`), so this is a backstop
/// against thread churn, well above the long-lived users (a Kafka
/// consumer's poll, an ingest's walk).
const BLOCKING_THREADS: usize = 64;

/// A multi-threaded runtime (one worker per core) after capping malloc's
/// arenas; call it before any other thread starts.
pub fn tokio_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    cap_malloc_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
}

fn cap_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt takes two integers; called before other threads.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, ARENAS) };
    }
}
