//! `archon-tui serve`: the same engine as the console, headless, with health,
//! Prometheus metrics and token-guarded control over HTTP (seed §10, port
//! 8156). The console can expose the same endpoints with `--listen`.

pub mod health;
pub mod routes;
pub mod token;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::engine::handle::{self, Snapshot};
use crate::engine::metrics::Exporter;
use crate::engine::{consumer, Engine};
use token::{ControlToken, TokenSource};

/// Seed §10: the consumer's health and metrics port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8156";

/// What the HTTP handlers share.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub exporter: Arc<std::sync::Mutex<Exporter>>,
    pub token: ControlToken,
    pub consumer_alive: Arc<AtomicBool>,
}

impl AppState {
    /// Registers the engine's scrape-time gauges (once per engine).
    pub fn new(
        engine: &Arc<Engine>,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        token: ControlToken,
        consumer_alive: Arc<AtomicBool>,
    ) -> Result<Self> {
        Ok(Self {
            exporter: Arc::new(std::sync::Mutex::new(Exporter::new(engine)?)),
            engine: engine.clone(),
            snapshots,
            token,
            consumer_alive,
        })
    }
}

/// The consumer on its own task, with a flag that drops when it ends.
pub fn spawn_consumer(
    engine: &Arc<Engine>,
) -> (tokio::task::JoinHandle<Result<()>>, Arc<AtomicBool>) {
    let alive = Arc::new(AtomicBool::new(true));
    let flag = alive.clone();
    let engine = engine.clone();
    let task = tokio::spawn(async move {
        let r = consumer::run(engine).await;
        flag.store(false, Ordering::Relaxed);
        if let Err(e) = &r {
            tracing::error!("consumer stopped: {e:#}");
        }
        r
    });
    (task, alive)
}

/// Bind `addr` with a message that names the setting.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("--listen {addr}: cannot listen there"))
}

/// The control token for this engine, and a line saying where it is.
pub fn load_token(engine: &Engine) -> Result<(ControlToken, String)> {
    let env = std::env::var("ARCHON_CONTROL_TOKEN").ok();
    let (token, source) = ControlToken::load(&engine.cfg.data_dir, env.as_deref())?;
    let line = match source {
        TokenSource::Env => "control token: from ARCHON_CONTROL_TOKEN".to_string(),
        TokenSource::File { path, created } => format!(
            "control token: {} ({})",
            path.display(),
            if created { "generated" } else { "existing" }
        ),
    };
    Ok((token, line))
}

/// Serve HTTP on `listener` until `shutdown` resolves.
pub fn spawn_http(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let app = routes::router(state);
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    })
}

/// Run the engine headless until SIGTERM/SIGINT (exit 0 after in-flight work
/// is finished or returned and offsets are committed) or a fatal consumer
/// error (exit 1).
pub async fn run(
    engine: Arc<Engine>,
    listen: SocketAddr,
    ingest: Option<(std::path::PathBuf, String)>,
) -> Result<i32> {
    let listener = bind(listen).await?;
    let local = listener.local_addr()?;
    let (token, token_line) = load_token(&engine)?;
    if engine.is_held() {
        tracing::warn!(
            "consumption is held by a rollback on this data dir; POST /resume or `archon-tui resume` to undo"
        );
    }
    let (consumer_task, consumer_alive) = spawn_consumer(&engine);
    if let Some((path, project)) = ingest {
        crate::engine::producer::spawn_ingest(&engine, path, project);
    }
    let heartbeat = engine.spawn_heartbeat();
    let h = handle::spawn(engine.clone());
    let state = AppState::new(&engine, h.snapshots.clone(), token, consumer_alive)?;
    let (http_stop_tx, mut http_stop) = watch::channel(false);
    let http = spawn_http(listener, state, async move {
        let _ = http_stop.wait_for(|s| *s).await;
    });
    // Tests and scripts read this line to find the port (--listen …:0).
    println!("listening on http://{local}");
    eprintln!(
        "archon-tui serve: GET /health /health/enrichment /metrics /metrics/circuit_breaker; \
         POST control endpoints need the bearer token; {token_line}"
    );
    tracing::info!("serving on http://{local}");
    let mut consumer_task = consumer_task;
    let fatal = tokio::select! {
        _ = crate::cli::run::shutdown_signal() => None,
        r = &mut consumer_task => Some(r),
    };
    let code = match fatal {
        None => {
            eprintln!("stopping: finishing in-flight work and committing offsets…");
            engine.stop();
            match consumer_task.await {
                Ok(Ok(())) => 0,
                Ok(Err(e)) => {
                    eprintln!("archon-tui serve: consumer: {e:#}");
                    1
                }
                Err(e) => {
                    eprintln!("archon-tui serve: consumer task: {e}");
                    1
                }
            }
        }
        Some(r) => {
            engine.stop();
            match r {
                Ok(Ok(())) => eprintln!("archon-tui serve: the consumer ended unexpectedly"),
                Ok(Err(e)) => eprintln!("archon-tui serve: consumer failed: {e:#}"),
                Err(e) => eprintln!("archon-tui serve: consumer task: {e}"),
            }
            1
        }
    };
    let _ = http_stop_tx.send(true);
    // A long request (a replay) must not hold the exit up.
    let _ = tokio::time::timeout(Duration::from_secs(1), http).await;
    let _ = heartbeat.await;
    Ok(code)
}
