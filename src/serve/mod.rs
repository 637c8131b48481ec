//! `archon-tui serve`: the same engine as the console, headless, with health,
//! Prometheus metrics and token-guarded control over HTTP (seed §10, port
//! 8156). The console can expose the same endpoints with `--listen`.

pub mod health;
pub mod routes;
pub mod token;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::engine::consumer::ConsumerState;
use crate::engine::handle::{Republish, Snapshot};
use crate::engine::metrics::Exporter;
use crate::engine::Engine;
use token::{ControlToken, TokenSource};

/// Seed §10: the consumer's health and metrics port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8156";

/// What the HTTP handlers share.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// After a lever command: the snapshot again with the levers now.
    pub republish: Republish,
    pub exporter: Arc<std::sync::Mutex<Exporter>>,
    pub token: ControlToken,
    pub consumer: watch::Receiver<ConsumerState>,
}

impl AppState {
    /// Registers the engine's scrape-time gauges (once per engine).
    pub fn new(
        engine: &Arc<Engine>,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        republish: Republish,
        token: ControlToken,
        consumer: watch::Receiver<ConsumerState>,
    ) -> Result<Self> {
        Ok(Self {
            exporter: Arc::new(std::sync::Mutex::new(Exporter::new(engine)?)),
            engine: engine.clone(),
            snapshots,
            republish,
            token,
            consumer,
        })
    }
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
