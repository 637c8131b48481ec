//! Rollout: kill switch and the percentage slider (←/→ step 5, shift 1).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph};
use ratatui::Frame;

use super::app::{App, Focus};
use super::widgets::{kv, panel};
use crate::sanitize::clean;

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let r = &app.snapshot.rollout;
    let block = panel(app, Focus::Rollout, "(←/→)");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [top, gauge, rest] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    let switch = if r.enabled {
        Span::styled(
            " ASYNC ON ",
            t.ok().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        )
    } else {
        Span::styled(
            " KILL SWITCH OFF ",
            t.error().add_modifier(Modifier::REVERSED),
        )
    };
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("kill switch     ", t.muted()),
            switch,
        ])),
        top,
    );
    let pct = app.rollout_percentage();
    f.render_widget(
        Gauge::default()
            .ratio(f64::from(pct) / 100.0)
            .label(format!("{pct}% of projects async"))
            .gauge_style(if r.enabled { t.accent() } else { t.muted() }),
        gauge,
    );
    let list = if r.enabled_projects.is_empty() {
        "none".to_string()
    } else {
        clean(&r.enabled_projects.join(", "))
    };
    f.render_widget(
        Paragraph::new(vec![kv(app, "always async", list, t.base())]),
        rest,
    );
}

#[cfg(test)]
mod tests {
    use super::super::app::Focus;
    use super::super::fixture::{app, render};

    #[test]
    fn rollout_panel() {
        for (w, h) in [(80, 24), (200, 60)] {
            let a = app(Focus::Rollout);
            insta::assert_snapshot!(
                format!("rollout_{w}x{h}"),
                render(w, h, |f| super::render(f, f.area(), &a))
            );
        }
    }
}
