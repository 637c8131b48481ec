//! `?`: every key and palette command.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
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
    ("/", "filter the DLQ: type:T project:P corr:ID text"),
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
    (":", "command palette"),
    ("?", "this help"),
    ("q, ctrl-c", "quit: stop cleanly, commit offsets"),
];

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let popup = super::dialog::centered(area, 90, 90);
    f.render_widget(Clear, popup);
    let block = super::dialog::dialog_block(app, "Help — j/k scroll, esc to close");
    let inner = block.inner(popup);
    f.render_widget(block, popup);
    let wide = inner.width >= 110;
    let [left, right] = if wide {
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(inner)
    } else {
        [inner, Rect::default()]
    };
    let mut keys = vec![Line::from(Span::styled("keys", t.accent()))];
    keys.extend(KEYS.iter().map(|(k, d)| {
        Line::from(vec![
            Span::styled(format!("{k:<13}"), t.accent()),
            Span::raw(*d),
        ])
    }));
    let mut cmds = vec![Line::from(Span::styled(": commands", t.accent()))];
    cmds.extend(super::palette::HELP.iter().map(|(c, d)| {
        Line::from(vec![
            Span::styled(format!("{c:<40}"), t.ok()),
            Span::raw(*d),
        ])
    }));
    if wide {
        f.render_widget(Paragraph::new(keys).scroll((app.overlay_scroll, 0)), left);
        f.render_widget(Paragraph::new(cmds).scroll((app.overlay_scroll, 0)), right);
    } else {
        keys.push(Line::raw(""));
        keys.extend(cmds);
        f.render_widget(
            Paragraph::new(keys)
                .wrap(Wrap { trim: false })
                .scroll((app.overlay_scroll, 0)),
            left,
        );
    }
}
