//! The console: a full-screen view of the engine it embeds.
//!
//! The UI sends typed commands and renders the latest snapshot; all backend
//! work happens on engine tasks, so keys stay responsive under load.

pub mod app;
pub mod audit;
pub mod breaker;
pub mod dialog;
pub mod dlq;
pub mod dlq_list;
pub mod doctor;
/// A fixed snapshot for snapshot tests, screenshots and the render bench.
#[doc(hidden)]
pub mod fixture;
pub mod fleet;
pub mod format;
pub mod header;
pub mod help;
pub mod history;
pub mod keys;
pub mod lag;
pub mod logs;
pub mod outcome;
pub mod overlays;
pub mod palette;
pub mod pending;
pub mod render;
pub mod rollout;
pub mod theme;
pub mod throughput;
pub mod trace;
pub mod why;
pub mod widgets;

use std::time::Duration;

use anyhow::Result;
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use tokio::sync::watch;

use crate::engine::handle::EngineHandle;
use crate::engine::pipeline::consumer::ConsumerState;
use crate::runtime::{Ended, Running};
use app::App;
use theme::Theme;

/// Run the console over a running engine until the operator quits (or
/// SIGTERM/SIGINT). A consumer that dies is shown at once; the console stays
/// open until the operator quits.
pub async fn run(
    running: &mut Running,
    theme: Theme,
    view: Option<crate::config::views::View>,
) -> Result<Ended> {
    let mut h = running
        .handle
        .take()
        .ok_or_else(|| anyhow::anyhow!("the console needs a run with a front end"))?;
    let consumer = running.consumer_state();
    let mut app = App::new(theme);
    app.on_consumer(&consumer.borrow().clone());
    if let Some(v) = view {
        if let Err(e) = app.apply_view(&v) {
            app.error(e);
        }
    }
    let mut terminal = ratatui::init();
    let ended = running
        .run_until(event_loop(&mut terminal, &mut app, &mut h, consumer), false)
        .await;
    ratatui::restore();
    Ok(ended)
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    h: &mut EngineHandle,
    mut consumer: watch::Receiver<ConsumerState>,
) -> Ended {
    match ui_loop(terminal, app, h, &mut consumer).await {
        Ok(()) => Ended::Quit,
        Err(e) => Ended::Failed(format!("console: {e:#}")),
    }
}

async fn ui_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    h: &mut EngineHandle,
    consumer: &mut watch::Receiver<ConsumerState>,
) -> Result<()> {
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut consumer_open = true;
    loop {
        terminal.draw(|f| render::draw(f, app))?;
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    for cmd in app.on_key(key) {
                        if h.commands.send(cmd).is_err() {
                            app.on_consumer(&ConsumerState::Failed("the engine's command executor is gone".into()));
                        }
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
            changed = consumer.changed(), if consumer_open => {
                match changed {
                    Ok(()) => {
                        let state = consumer.borrow_and_update().clone();
                        app.on_consumer(&state);
                    }
                    Err(_) => consumer_open = false,
                }
            }
            Some((cmd, result)) = h.outcomes.recv() => app.on_outcome(&cmd, result),
            _ = tick.tick() => {}
        }
        if app.quit {
            return Ok(());
        }
    }
}
