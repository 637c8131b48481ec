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

/// The newest `area.width` points of a panel's history as a sparkline, with
/// a row of lever markers (from the audit trail) above it when a lever was
/// pulled in that span.
pub fn sparkline_with_markers(
    f: &mut ratatui::Frame,
    area: ratatui::layout::Rect,
    app: &super::app::App,
    history: &[u64],
    style: ratatui::style::Style,
) {
    let s = &app.snapshot;
    let width = area.width as usize;
    let data: Vec<u64> = history[history.len().saturating_sub(width)..].to_vec();
    // The stamps of the points shown (the same number, newest last).
    let stamps = &s.history_ms[s.history_ms.len().saturating_sub(data.len())..];
    let from = stamps.first().copied().unwrap_or(i64::MAX);
    let markers = crate::engine::telemetry::markers::markers(&s.audit, from);
    let mut spark = area;
    if area.height > 1 {
        if let Some(row) = crate::engine::telemetry::markers::row(&markers, stamps, width) {
            let top = ratatui::layout::Rect { height: 1, ..area };
            f.render_widget(
                ratatui::widgets::Paragraph::new(ratatui::text::Line::styled(
                    row,
                    app.theme.warn(),
                )),
                top,
            );
            spark = ratatui::layout::Rect {
                y: area.y + 1,
                height: area.height - 1,
                ..area
            };
        }
    }
    f.render_widget(
        ratatui::widgets::Sparkline::default()
            .data(&data)
            .style(style),
        spark,
    );
}
