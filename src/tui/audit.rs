//! The audit trail as an overlay (`A`, or `:audit`): the newest operator
//! actions of the whole fleet first — when, who, from where, on which
//! member, what, before → after, and the result.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::app::App;
use crate::sanitize::clean;

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let popup = super::dialog::centered(area, 95, 85);
    f.render_widget(Clear, popup);
    let entries = &app.snapshot.audit;
    let mut lines: Vec<Line> = Vec::new();
    if entries.is_empty() {
        lines.push(Line::styled("No operator action recorded yet.", t.muted()));
    }
    for e in entries.iter().rev() {
        let when = chrono::DateTime::from_timestamp_millis(e.at_ms)
            .map(|d| d.format("%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let result_style = if e.result.starts_with("ok") {
            t.ok()
        } else {
            t.error()
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{when}  "), t.muted()),
            Span::styled(format!("{:<22} ", clean(&e.actor)), t.accent()),
            Span::styled(format!("{:<7} ", e.origin.as_str()), t.muted()),
            Span::raw(format!("{:<16} ", clean(&e.member_id))),
            Span::raw(clean(&e.action)),
        ]));
        lines.push(Line::from(vec![
            Span::raw("      "),
            Span::styled(
                format!("{} → {}  ", clean(&e.before), clean(&e.after)),
                t.muted(),
            ),
            Span::styled(clean(&e.result), result_style),
        ]));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .style(t.base())
            .scroll((app.overlay_scroll, 0))
            .block(super::dialog::dialog_block(
                app,
                &format!(
                    "Audit trail ({}, newest first) — j/k scroll, esc to close",
                    app.snapshot.control_kind
                ),
            )),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::super::app::Focus;
    use super::super::fixture::{app, render};
    use crate::engine::fleet::control::{AuditEntry, Origin};

    #[test]
    fn audit_overlay() {
        for (w, h) in [(80, 24), (200, 60)] {
            let mut a = app(Focus::Lag);
            let mut s = (*a.snapshot).clone();
            s.audit = vec![
                AuditEntry {
                    at_ms: 1_795_000_000_000,
                    actor: "ops@edge-1".into(),
                    origin: Origin::Console,
                    member_id: "edge-1-4242".into(),
                    action: "EMERGENCY ROLLBACK".into(),
                    before: "async on at 100% (+0 projects), fleet held: no".into(),
                    after: "async OFF at 100% (+0 projects), fleet held: yes".into(),
                    result: "ok: effective in 212 ms, 3 of 3 members confirmed".into(),
                },
                AuditEntry {
                    at_ms: 1_795_000_060_000,
                    actor: "read-token@10.0.0.7\u{1b}[2J".into(),
                    origin: Origin::Http,
                    member_id: "edge-2-977".into(),
                    action: "concurrency 40 (member edge-2-977)".into(),
                    before: "-".into(),
                    after: "-".into(),
                    result: "refused: read-only session".into(),
                },
            ];
            a.snapshot = std::sync::Arc::new(s);
            let out = render(w, h, |f| super::render(f, f.area(), &a));
            assert!(!out.contains('\u{1b}'), "sanitised");
            insta::assert_snapshot!(format!("audit_{w}x{h}"), out);
        }
    }
}
