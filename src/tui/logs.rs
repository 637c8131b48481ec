//! Engine logs (tui-logger), each message cleaned of control characters and
//! wrapped between words; with the panel focused, `k`/`↑`/`PgUp` page back,
//! `j`/`↓`/`PgDn` forward and `esc`/`G` follow the newest again.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::Frame;
use tui_logger::{ExtLogRecord, LogFormatter, TuiLoggerWidget};

use super::app::{App, Focus};
use super::widgets::panel;
use crate::sanitize::clean;

struct CleanFormatter {
    error: Style,
    warn: Style,
    info: Style,
    muted: Style,
}

impl LogFormatter for CleanFormatter {
    fn min_width(&self) -> u16 {
        20
    }

    fn format(&self, width: usize, evt: &ExtLogRecord) -> Vec<Line<'_>> {
        let style = match evt.level {
            log::Level::Error => self.error,
            log::Level::Warn => self.warn,
            log::Level::Info => self.info,
            _ => self.muted,
        };
        let time = evt.timestamp.strftime("%H:%M:%S").to_string();
        let text = clean(evt.msg());
        let head = format!("{time} {:<5} ", evt.level);
        let room = width.saturating_sub(head.len()).max(10);
        let mut lines = Vec::new();
        for (i, chunk) in super::format::wrap_words(&text, room)
            .into_iter()
            .enumerate()
        {
            let prefix = if i == 0 {
                head.clone()
            } else {
                " ".repeat(head.len())
            };
            lines.push(Line::from(vec![
                Span::styled(prefix, self.muted),
                Span::styled(chunk, style),
            ]));
        }
        if lines.is_empty() {
            lines.push(Line::from(Span::styled(head, self.muted)));
        }
        lines
    }
}

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let widget = TuiLoggerWidget::default()
        .formatter(Box::new(CleanFormatter {
            error: t.error(),
            warn: t.warn(),
            info: Style::default().fg(t.foreground),
            muted: t.muted(),
        }))
        .style(t.base())
        .state(&app.logs)
        .block(panel(app, Focus::Logs, ""));
    f.render_widget(widget, area);
}

/// Scroll keys while the panel has the focus.
pub fn on_key(state: &tui_logger::TuiWidgetState, key: crossterm::event::KeyEvent) {
    use crossterm::event::KeyCode;
    use tui_logger::TuiWidgetEvent as E;
    let event = match key.code {
        KeyCode::Char('k') | KeyCode::Up | KeyCode::PageUp => E::PrevPageKey,
        KeyCode::Char('j') | KeyCode::Down | KeyCode::PageDown => E::NextPageKey,
        KeyCode::Esc | KeyCode::Char('G') | KeyCode::End => E::EscapeKey,
        _ => return,
    };
    state.transition(event);
}

#[cfg(test)]
mod tests {
    use super::super::app::Focus;
    use super::super::fixture::{app, render};

    #[test]
    fn logs_panel() {
        // Nothing is logged into tui-logger in tests: the frame is stable.
        for (w, h) in [(80, 24), (200, 60)] {
            let a = app(Focus::Logs);
            insta::assert_snapshot!(
                format!("logs_{w}x{h}"),
                render(w, h, |f| super::render(f, f.area(), &a))
            );
        }
    }
}
