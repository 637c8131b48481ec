//! `archon-tui serve`: the same engine as the console, headless, with health,
//! Prometheus metrics and token-guarded control over HTTP (seed §10, port
//! 8156). The console can expose the same endpoints with `--listen`.

pub mod health;
pub mod openapi;
pub mod routes;
pub mod token;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::engine::handle::{Republish, Snapshot};
use crate::engine::pipeline::consumer::ConsumerState;
use crate::engine::telemetry::metrics::Exporter;
use crate::engine::Engine;
use token::{TokenSource, Tokens};

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
    pub tokens: Tokens,
    pub consumer: watch::Receiver<ConsumerState>,
    /// The bridge API's writer (concurrent posts share write batches).
    pub bridge: crate::engine::pipeline::bridge::BridgeWriter,
}

impl AppState {
    /// Registers the engine's scrape-time gauges (once per engine).
    pub fn new(
        engine: &Arc<Engine>,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        republish: Republish,
        tokens: Tokens,
        consumer: watch::Receiver<ConsumerState>,
    ) -> Result<Self> {
        Ok(Self {
            exporter: Arc::new(std::sync::Mutex::new(Exporter::new(engine)?)),
            engine: engine.clone(),
            snapshots,
            republish,
            tokens,
            consumer,
            bridge: crate::engine::pipeline::bridge::BridgeWriter::spawn(engine),
        })
    }
}

/// Bind `addr` with a message that names the setting. Anything but
/// loopback needs `allow_remote`: the levers would cross the network.
pub async fn bind(addr: SocketAddr, allow_remote: bool) -> Result<TcpListener> {
    if !addr.ip().is_loopback() && !allow_remote {
        anyhow::bail!(
            "--listen {addr} is not a loopback address: the control endpoints would be \
             reachable from the network. Use 127.0.0.1, or pass --allow-remote (and put TLS \
             and a firewall in front)"
        );
    }
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("--listen {addr}: cannot listen there"))
}

/// The tokens for this engine, and a line saying where the admin one is.
pub fn load_tokens(engine: &Engine) -> Result<(Tokens, String)> {
    let env = |k: &str| std::env::var(k).ok();
    let (tokens, source) = Tokens::load(
        &engine.cfg.data_dir,
        env("ARCHON_CONTROL_TOKEN").as_deref(),
        env("ARCHON_OPERATOR_TOKEN").as_deref(),
        env("ARCHON_WRITE_TOKEN").as_deref(),
        env("ARCHON_READ_TOKEN").as_deref(),
    )?;
    let line = match source {
        TokenSource::Env => "admin token: from ARCHON_CONTROL_TOKEN".to_string(),
        TokenSource::File { path, created } => format!(
            "admin token: {} ({})",
            path.display(),
            if created { "generated" } else { "existing" }
        ),
    };
    Ok((tokens, line))
}

/// Serve HTTP on `listener` until `shutdown` resolves.
pub fn spawn_http(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let app = routes::router(state);
    tokio::spawn(async move {
        // The peer address goes into the audit trail's actor.
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    })
}
