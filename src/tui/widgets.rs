//! Small helpers shared by the panels.

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders};

use super::app::{App, Focus};

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

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

pub fn duration(secs: f64) -> String {
    if !secs.is_finite() {
        return "—".into();
    }
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// Cut to `width` characters with an ellipsis.
pub fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(duration(75.0), "1m15s");
        assert_eq!(duration(7300.0), "2h01m");
        assert_eq!(fit("abcdef", 4), "abc…");
    }
}
