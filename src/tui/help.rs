//! `?`: every key and palette command.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::app::App;

pub const KEYS: &[(&str, &str)] = &[
    ("space", "run / pause consumption (this console)"),
    (
        "+ / -",
        "concurrency up / down (the fleet, or the selected member)",
    ),
    ("tab, [ ]", "focus next / previous panel"),
    ("j k ↑ ↓ g G", "move in the DLQ (PgUp/PgDn by 20)"),
    (
        "/",
        "filter the DLQ: type:T project:P corr:ID key:K fp:FP words (path, project, type, reason)",
    ),
    ("enter", "full DLQ entry"),
    ("r", "replay the selected DLQ entry"),
    ("R", "replay the filtered DLQ entries (preview, confirm)"),
    (
        "e",
        "edit the selected DLQ entry's request, check it, replay it",
    ),
    (
        "t",
        "trace the selected DLQ entry's document (topics + graph)",
    ),
    ("x", "purge the selected DLQ entry (confirm)"),
    (
        "v",
        "DLQ by error fingerprint: enter lists a group, R replays it, x purges it",
    ),
    ("← / →", "rollout percentage −/+ 5 (shift: 1)"),
    (
        "b",
        "reset the circuit breaker (the fleet, or the selected member)",
    ),
    (
        "Fleet: j k",
        "select a member: levers aim at it alone (esc: all)",
    ),
    (
        "Fleet: h",
        "hold / release the selected member (none: the fleet)",
    ),
    ("!", "EMERGENCY ROLLBACK (confirm)"),
    ("A", "the fleet's audit trail: who did what, before → after"),
    (
        "w",
        "why is it lagging: causes ranked from the evidence, each with its fix",
    ),
    (":", "command palette"),
    ("?", "this help"),
    ("q, ctrl-c", "quit: stop cleanly, commit offsets"),
];

/// `entries` as a two-column list `width` wide: the key padded to
/// `key_width` (on a line of its own when longer), its description wrapped
/// between words beside it. Nothing runs past `width`, at any width.
fn columns<'a>(
    entries: &[(&str, &str)],
    key_width: usize,
    width: usize,
    key_style: ratatui::style::Style,
) -> Vec<Line<'a>> {
    let key_width = key_width.min(width / 2).max(1);
    let room = width.saturating_sub(key_width + 1).max(8);
    let mut lines = Vec::new();
    for (k, d) in entries {
        let text = super::format::wrap_words(d, room);
        let mut text = text.into_iter();
        let key_len = k.chars().count();
        if key_len > key_width {
            for piece in super::format::wrap_words(k, width) {
                lines.push(Line::from(Span::styled(piece, key_style)));
            }
        } else if let Some(first) = text.next() {
            lines.push(Line::from(vec![
                Span::styled(format!("{k:<key_width$} "), key_style),
                Span::raw(first),
            ]));
        }
        for rest in text {
            lines.push(Line::from(format!("{:key_width$} {rest}", "")));
        }
    }
    lines
}

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let popup = super::dialog::centered(area, 90, 90);
    f.render_widget(Clear, popup);
    let block = super::dialog::dialog_block(app, "Help — j/k scroll, esc to close");
    let inner = block.inner(popup);
    f.render_widget(block, popup);
    let wide = inner.width >= 110;
    let [left, right] = if wide {
        Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)])
            .spacing(3)
            .areas(inner)
    } else {
        [inner, Rect::default()]
    };
    let mut keys = vec![Line::from(Span::styled("keys", t.accent()))];
    keys.extend(columns(KEYS, 12, left.width as usize, t.accent()));
    let cmd_width = if wide { right.width } else { left.width } as usize;
    let mut cmds = vec![Line::from(Span::styled(": commands", t.accent()))];
    cmds.extend(columns(super::palette::HELP, 32, cmd_width, t.ok()));
    if wide {
        f.render_widget(Paragraph::new(keys).scroll((app.overlay_scroll, 0)), left);
        f.render_widget(Paragraph::new(cmds).scroll((app.overlay_scroll, 0)), right);
    } else {
        keys.push(Line::raw(""));
        keys.extend(cmds);
        f.render_widget(Paragraph::new(keys).scroll((app.overlay_scroll, 0)), left);
    }
}

#[cfg(test)]
mod layout_tests {
    use super::super::app::Focus;
    use super::super::fixture::{app, render};

    /// Issue 28: at 160×48 the two columns ran into each other. At any
    /// width every key, command and description word is on screen whole.
    #[test]
    fn help_fits_any_width() {
        let a = app(Focus::Lag);
        for w in [60u16, 80, 100, 124, 140, 160, 200, 250] {
            let out = render(w, 150, |f| super::render(f, f.area(), &a));
            for (k, d) in super::KEYS.iter().chain(super::super::palette::HELP) {
                for word in k.split_whitespace().chain(d.split_whitespace()) {
                    assert!(
                        out.contains(word),
                        "{w} columns: {word:?} (of {k:?}) is cut\n{out}"
                    );
                }
            }
        }
    }
}
