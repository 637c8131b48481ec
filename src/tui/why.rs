//! `w`: why is it lagging? The causes `engine::diagnose` ranks from the
//! live snapshot, each with its evidence, the lever that fixes it and what
//! that would change; re-judged on every refresh while open. j/k scroll.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Clear;
use ratatui::Frame;

use super::app::App;
use crate::engine::diagnose::{diagnose, Diagnosis};
use crate::sanitize::clean;

/// The diagnosis's first lines: lag, its trend, the group's rates.
pub fn summary(d: &Diagnosis) -> String {
    let rate = |r: Option<f64>| r.map_or("?".to_string(), |r| format!("{r:.0}/s"));
    format!(
        "lag {} {} · committing {} · arriving {}",
        d.lag,
        if d.growing { "growing" } else { "not growing" },
        rate(d.commit_rate),
        rate(d.arrival_rate)
    )
}

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let d = diagnose(&app.snapshot);
    let popup = super::dialog::centered(area, 95, 85);
    f.render_widget(Clear, popup);
    let mut lines: Vec<Line> = vec![
        Line::from(Span::styled(summary(&d), t.muted())),
        Line::from(""),
    ];
    if d.causes.is_empty() {
        lines.push(Line::from(clean(&d.verdict)));
    }
    for (i, c) in d.causes.iter().enumerate() {
        lines.push(Line::from(vec![
            Span::styled(format!("{}. {} ", i + 1, c.kind.title()), t.warn()),
            Span::styled(format!("({:.0} %)", c.weight * 100.0), t.muted()),
        ]));
        lines.push(Line::from(format!("   {}", clean(&c.finding))));
        lines.push(Line::from(vec![
            Span::styled("   fix: ", t.accent()),
            Span::raw(clean(&c.lever)),
        ]));
        lines.push(Line::from(vec![
            Span::styled("   then: ", t.muted()),
            Span::raw(clean(&c.effect)),
        ]));
        lines.push(Line::from(""));
    }
    f.render_widget(
        super::dialog::pager(
            app,
            lines,
            "Why is it lagging? — the engine's own measurements; j/k scroll, esc to close",
        ),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::super::app::Focus;
    use super::super::fixture::{app, render};

    #[test]
    fn why_overlay() {
        for (w, h) in [(80, 24), (200, 60)] {
            let mut a = app(Focus::Lag);
            a.overlay = super::super::overlays::Overlay::Why;
            let shown = render(w, h, |f| super::super::render::draw(f, &a));
            // The fixture's breaker is OPEN with lag waiting.
            assert!(shown.contains("breaker open"), "{shown}");
            insta::assert_snapshot!(format!("why_{w}x{h}"), shown);
        }
    }
}
