//! Circuit breaker: state in colour, failures, rate, refusals, time to HALF_OPEN.

use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Focus};
use super::widgets::{duration, kv, panel};
use crate::engine::resilience::breaker::BreakerState;
use crate::sanitize::clean;

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let b = &app.snapshot.breaker;
    let state_style = match b.state {
        BreakerState::Closed => t.ok(),
        BreakerState::HalfOpen => t.warn(),
        BreakerState::Open => t.error(),
    }
    .add_modifier(Modifier::BOLD | Modifier::REVERSED);
    let mut lines = vec![
        kv(app, "state", format!(" {} ", b.state.as_str()), state_style),
        kv(
            app,
            "failures in row",
            b.failure_count.to_string(),
            t.base(),
        ),
        kv(
            app,
            "failure rate",
            format!("{:.0}% (60 s)", b.failure_rate * 100.0),
            t.base(),
        ),
        kv(
            app,
            "not permitted",
            b.calls_not_permitted.to_string(),
            t.base(),
        ),
    ];
    if let Some(ms) = b.half_open_in_ms {
        lines.push(kv(
            app,
            "half-open in",
            duration(ms as f64 / 1000.0),
            t.warn(),
        ));
    }
    if let Some(at) = &b.opened_at {
        lines.push(kv(app, "opened at", clean(at), t.muted()));
    }
    if let Some(e) = &b.last_error {
        lines.push(kv(app, "last error", clean(e), t.error()));
    }
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(panel(
            app,
            Focus::Breaker,
            "(b reset)",
        )),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::super::app::Focus;
    use super::super::fixture::{app, render};

    #[test]
    fn breaker_panel() {
        for (w, h) in [(80, 24), (200, 60)] {
            let a = app(Focus::Breaker);
            insta::assert_snapshot!(
                format!("breaker_{w}x{h}"),
                render(w, h, |f| super::render(f, f.area(), &a))
            );
        }
    }
}
