//! Top line: what runs where, and is it healthy; bottom line: key hints and
//! the last command's result.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::app::App;
use crate::sanitize::clean;

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let s = &app.snapshot;
    let mut spans = vec![Span::styled(" archon-tui ", t.accent().bg(t.header_bg))];
    let state = app.state();
    spans.push(Span::styled(
        format!(" {} ", state.word()),
        t.tone(state.tone()).add_modifier(Modifier::BOLD),
    ));
    if s.read_only {
        spans.push(Span::styled(
            " READ-ONLY ",
            t.warn().add_modifier(Modifier::BOLD),
        ));
    }
    if app.observing && state != crate::engine::telemetry::state::RunState::Observing {
        spans.push(Span::styled(" ATTACHED (not consuming) ", t.accent()));
    }
    let (members, stale, rate) = super::fleet::totals(s);
    if members > 1 || stale > 0 || app.observing {
        spans.push(Span::styled(
            format!(
                " fleet {members}{} {rate:.0}/s",
                if stale > 0 {
                    format!(" ({stale} stale)")
                } else {
                    String::new()
                }
            ),
            if stale > 0 { t.warn() } else { t.muted() },
        ));
    }
    for w in &s.watches {
        let name = crate::engine::pipeline::watch::short_root(&w.root);
        if w.vanished {
            spans.push(Span::styled(
                format!(" watch {} GONE ", clean(&name)),
                t.warn().add_modifier(Modifier::BOLD),
            ));
        } else {
            spans.push(Span::styled(
                format!(" watch {} {:.1}/s", clean(&name), w.changes_per_sec),
                t.muted(),
            ));
        }
    }
    for b in &s.backends {
        let dot = if b.healthy {
            Span::styled("●", t.ok())
        } else {
            Span::styled("●", t.error())
        };
        spans.push(Span::styled(format!(" {}:", b.name), t.muted()));
        spans.push(Span::styled(
            format!("{} ", clean(&b.kind)),
            Style::default().fg(t.foreground),
        ));
        spans.push(dot);
    }
    if let Some(age) = app
        .received_at
        .map(|t| t.elapsed())
        .filter(|a| a.as_secs() >= 3)
    {
        spans.push(Span::styled(
            format!("  data {}s old (backend slow?)", age.as_secs()),
            t.warn().add_modifier(Modifier::BOLD),
        ));
    }
    // Whenever lag grows: the diagnosis's verdict in one line (`w` opens it).
    if s.lag_trend == '↑' && s.lag_total > 0 {
        let d = crate::engine::diagnose::diagnose(s);
        if let Some(c) = d.causes.first() {
            spans.push(Span::styled(
                format!("  lag ↑ why: {} (w)", c.kind.title()),
                t.warn().add_modifier(Modifier::BOLD),
            ));
        }
    }
    if let Some(st) = &s.stall {
        spans.push(Span::styled(format!("  {}", clean(&st.reason)), t.error()));
    }
    if let Some(e) = &s.error {
        spans.push(Span::styled(format!("  {}", clean(e)), t.error()));
    }
    f.render_widget(
        Paragraph::new(Line::from(spans)).style(Style::default().bg(t.header_bg).fg(t.foreground)),
        area,
    );
}

/// The footer's key hints in screen order, each with its priority (0 first):
/// on a narrow terminal the lowest go, and `?`, `:`, `!` and `q` stay.
const KEY_HINTS: &[(u8, &str)] = &[
    (0, "? help"),
    (4, "space run/pause"),
    (5, "+/- concurrency"),
    (7, "tab focus"),
    (8, "/ filter"),
    (9, "R replay"),
    (6, "←/→ rollout"),
    (10, "b reset breaker"),
    (3, "! ROLLBACK"),
    (1, ": commands"),
    (2, "q quit"),
];

/// The hints that fit in `width`, highest priority first, shown in order.
fn key_hints(width: usize) -> String {
    let mut by_priority: Vec<&(u8, &str)> = KEY_HINTS.iter().collect();
    by_priority.sort_by_key(|(p, _)| *p);
    let mut room = width.saturating_sub(1);
    let mut kept = Vec::new();
    for (p, hint) in by_priority {
        let need = hint.chars().count() + 2;
        if need > room {
            break;
        }
        room -= need;
        kept.push(*p);
    }
    let shown: Vec<&str> = KEY_HINTS
        .iter()
        .filter(|(p, _)| kept.contains(p))
        .map(|(_, h)| *h)
        .collect();
    format!(" {}", shown.join("  "))
}

pub fn render_footer(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let line = match app.message_shown() {
        Some((m, true)) => Line::from(Span::styled(format!(" {}", clean(m)), t.error())),
        Some((m, false)) => Line::from(vec![
            Span::styled(format!(" {}", clean(m)), t.ok()),
            Span::styled("   ? help  : commands  q quit", t.muted()),
        ]),
        None => Line::from(Span::styled(key_hints(area.width as usize), t.muted())),
    };
    f.render_widget(
        Paragraph::new(line).style(Style::default().bg(t.header_bg)),
        area,
    );
}

#[cfg(test)]
mod footer_tests {
    #[test]
    fn a_narrow_footer_keeps_help_commands_rollback_and_quit() {
        let narrow = super::key_hints(80);
        for must in ["? help", ": commands", "q quit", "! ROLLBACK"] {
            assert!(narrow.contains(must), "{narrow}");
        }
        assert!(narrow.chars().count() <= 80, "{narrow}");
        let wide = super::key_hints(200);
        assert!(
            wide.contains("b reset breaker") && wide.contains("tab focus"),
            "{wide}"
        );
        assert!(
            wide.find("? help") < wide.find("q quit"),
            "screen order kept"
        );
    }
}

#[cfg(test)]
mod stale_tests {
    use super::super::app::Focus;
    use super::super::fixture::{app, render};

    #[test]
    fn old_data_is_flagged_in_the_header() {
        let mut a = app(Focus::Lag);
        assert!(!render(120, 3, |f| super::render(f, f.area(), &a)).contains("old"));
        a.received_at = Some(std::time::Instant::now() - std::time::Duration::from_secs(12));
        let out = render(200, 3, |f| super::render(f, f.area(), &a));
        assert!(out.contains("data 12s old"), "{out}");
    }
}

#[cfg(test)]
mod tests {
    use super::super::app::Focus;
    use super::super::fixture::{app, render};

    #[test]
    fn header_and_footer() {
        for (w, h) in [(80, 24), (200, 60)] {
            let a = app(Focus::Lag);
            let out = render(w, h, |f| {
                let area = f.area();
                super::render(f, ratatui::layout::Rect { height: 1, ..area }, &a);
                super::render_footer(
                    f,
                    ratatui::layout::Rect {
                        y: 2,
                        height: 1,
                        ..area
                    },
                    &a,
                );
            });
            insta::assert_snapshot!(format!("header_{w}x{h}"), out);
        }
    }

    #[test]
    fn the_header_shows_each_watched_tree_and_one_that_is_gone() {
        let mut a = app(Focus::Lag);
        let view = |root: &str, vanished: bool| crate::engine::pipeline::watch::WatchView {
            root: root.into(),
            project: "p".into(),
            vanished,
            synced: true,
            changes: 12,
            changes_per_sec: 2.5,
        };
        std::sync::Arc::make_mut(&mut a.snapshot).watches = vec![
            view("/home/op/src/web", false),
            view("/mnt/gone/docs", true),
        ];
        let out = render(200, 3, |f| {
            let area = f.area();
            super::render(f, ratatui::layout::Rect { height: 1, ..area }, &a);
        });
        assert!(out.contains("watch src/web 2.5/s"), "{out}");
        assert!(out.contains("watch gone/docs GONE"), "{out}");
    }
}
