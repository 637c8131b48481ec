//! The console: a full-screen view of the engine it embeds.
//!
//! The UI sends typed commands and renders the latest snapshot; all backend
//! work happens on engine tasks, so keys stay responsive under load.

pub mod app;
pub mod breaker;
pub mod dialog;
pub mod dlq;
/// A fixed snapshot for snapshot tests, screenshots and the render bench.
#[doc(hidden)]
pub mod fixture;
pub mod header;
pub mod help;
pub mod lag;
pub mod logs;
pub mod palette;
pub mod pending;
pub mod render;
pub mod rollout;
pub mod theme;
pub mod throughput;
pub mod widgets;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;

use crate::engine::{handle, producer, Engine};
use app::App;
use theme::Theme;

pub struct ConsoleOptions {
    pub ingest: Option<PathBuf>,
    pub project: Option<String>,
    pub theme: Theme,
    /// Also serve health, metrics and control over HTTP.
    pub listen: Option<std::net::SocketAddr>,
}

/// Run the console until the operator quits (or SIGTERM/SIGINT).
pub async fn run(engine: Arc<Engine>, opts: ConsoleOptions) -> Result<()> {
    // Bind before the screen switches, so a busy port is a plain error.
    let http = match opts.listen {
        Some(addr) => Some((
            crate::serve::bind(addr).await?,
            crate::serve::load_token(&engine)?,
        )),
        None => None,
    };
    let (consumer_task, consumer_alive) = crate::serve::spawn_consumer(&engine);
    let heartbeat = engine.spawn_heartbeat();
    if let Some(path) = opts.ingest.clone() {
        // The CLI resolves the project name before the screen opens.
        let project = opts.project.clone().unwrap_or_else(|| "root".into());
        producer::spawn_ingest(&engine, path, project);
    }
    let mut h = handle::spawn(engine.clone());
    if let Some((listener, (token, token_line))) = http {
        let local = listener.local_addr()?;
        let state =
            crate::serve::AppState::new(&engine, h.snapshots.clone(), token, consumer_alive)?;
        let stopping = engine.clone();
        crate::serve::spawn_http(listener, state, async move {
            let _ = stopping.stop_watch().wait_for(|s| *s).await;
        });
        tracing::info!("serving health, metrics and control on http://{local}; {token_line}");
    }
    let mut app = App::new(opts.theme);
    let mut terminal = ratatui::init();
    let result = event_loop(&mut terminal, &mut app, &mut h).await;
    ratatui::restore();
    eprintln!("archon-tui: stopping the engine (finishing in-flight work, committing offsets)…");
    engine.stop();
    let consumed = consumer_task.await;
    let _ = heartbeat.await;
    result?;
    consumed??;
    Ok(())
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    h: &mut handle::EngineHandle,
) -> Result<()> {
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        terminal.draw(|f| render::draw(f, app))?;
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    for cmd in app.on_key(key) {
                        let _ = h.commands.send(cmd);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            changed = h.snapshots.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let snap = h.snapshots.borrow_and_update().clone();
                app.set_snapshot(snap);
            }
            Some((cmd, result)) = h.outcomes.recv() => app.on_outcome(&cmd, result),
            _ = tick.tick() => {}
            _ = async {
                #[cfg(unix)]
                term.recv().await;
                #[cfg(not(unix))]
                std::future::pending::<()>().await;
            } => app.quit = true,
        }
        if app.quit {
            return Ok(());
        }
    }
}
