//! The read-only overlays (help, a DLQ entry, the audit trail, a trace,
//! the history): scrolled with j/k, space and page keys, closed with esc,
//! q, ? or enter. On a DLQ entry, `t` traces its document.

use crossterm::event::{KeyCode, KeyEvent};

use super::Step;
use crate::engine::fleet::levers::{self, Command};
use crate::tui::app::App;

/// Scroll keys, shared by every pager.
pub fn on_key(key: KeyEvent, app: &mut App) -> Step {
    let scroll = &mut app.overlay_scroll;
    match key.code {
        KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('?') | KeyCode::Enter => {
            return Step::Close
        }
        KeyCode::Char('j') | KeyCode::Down => *scroll = scroll.saturating_add(1),
        KeyCode::Char('k') | KeyCode::Up => *scroll = scroll.saturating_sub(1),
        KeyCode::PageDown | KeyCode::Char(' ') => *scroll = scroll.saturating_add(10),
        KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
        KeyCode::Char('g') | KeyCode::Home => *scroll = 0,
        _ => {}
    }
    Step::Stay
}

/// A DLQ entry in full: `t` traces its document, the rest scrolls.
pub fn on_key_detail(key: KeyEvent, app: &mut App) -> Step {
    if key.code != KeyCode::Char('t') {
        return on_key(key, app);
    }
    let Some(e) = &app.dlq_detail else {
        return Step::Stay;
    };
    let query = if e.message.document_id.is_empty() {
        e.key.clone()
    } else {
        e.message.document_id.clone()
    };
    Step::Send(
        vec![Command::Trace(levers::Trace { query })],
        Some("reading the document's history…".into()),
    )
}
