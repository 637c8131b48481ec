//! Small helpers shared by the panels (the pure formatting is in `format`).

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders};

use super::app::{App, Focus};
pub use super::format::{duration, fit, thousands};

/// A panel's frame: highlighted border and title when focused.
pub fn panel<'a>(app: &App, focus: Focus, extra: &str) -> Block<'a> {
    let t = &app.theme;
    let focused = app.focus == focus;
    let border = if focused { t.border_focused } else { t.border };
    let title = if extra.is_empty() {
        format!(" {} ", focus.title())
    } else {
        format!(" {} {} ", focus.title(), extra)
    };
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(Style::default().fg(border))
        .title(Span::styled(
            title,
            if focused {
                t.accent()
            } else {
                Style::default()
                    .fg(t.foreground)
                    .add_modifier(Modifier::BOLD)
            },
        ))
        .style(t.base())
}

pub fn kv<'a>(app: &App, key: &'a str, value: String, value_style: Style) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{key:<16}"), app.theme.muted()),
        Span::styled(value, value_style),
    ])
}
