//! Throughput and latency: docs/s, P50/P95/P99 of the enrichment call, of
//! the time retried documents spent in retry, and of indexing
//! (hdrhistogram), in-flight against the concurrency limit.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph, Row, Table};
use ratatui::Frame;

use super::app::{App, Focus};
use super::widgets::panel;
use crate::engine::telemetry::stats::LatencySummary;

/// Milliseconds in a 7-wide column: a decimal while it is small, whole
/// milliseconds once it is not (a retry wait of 41,418 ms still fits).
fn ms(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn row<'a>(name: &'a str, l: &LatencySummary) -> Row<'a> {
    Row::new(vec![
        name.to_string(),
        ms(l.p50_ms),
        ms(l.p95_ms),
        ms(l.p99_ms),
        ms(l.max_ms),
        l.count.to_string(),
    ])
}

/// Where documents come from: the bridge API, tree ingests and watched
/// trees side by side (shorter on a narrow panel).
fn inflow(app: &App, width: u16) -> Vec<Span<'static>> {
    let (t, s) = (&app.theme, &app.snapshot);
    let n = |v: f64| Span::styled(format!("{v:.0}"), t.accent());
    let m = |text: &'static str| Span::styled(text, t.muted());
    if width < 100 {
        return vec![
            m("   in "),
            n(s.in_http_per_sec),
            m(" http·"),
            n(s.in_trees_per_sec),
            m(" tree·"),
            n(s.in_watch_per_sec),
            m(" watch/s"),
        ];
    }
    vec![
        m("   in "),
        n(s.in_http_per_sec),
        m("/s HTTP · "),
        n(s.in_trees_per_sec),
        m("/s trees · "),
        n(s.in_watch_per_sec),
        m("/s watch"),
    ]
}

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let s = &app.snapshot;
    let block = panel(app, Focus::Throughput, "");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [rate, table, gauge, spark, _] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(4),
        Constraint::Length(1),
        Constraint::Max(8),
        Constraint::Min(0),
    ])
    .areas(inner);
    f.render_widget(
        Paragraph::new(Line::from(
            vec![
                Span::styled("enriched ", t.muted()),
                Span::styled(format!("{:.1} docs/s", s.docs_per_sec), t.accent()),
                match s.max_rate {
                    // Backpressure at work: the limit is what holds it back.
                    Some(r) if s.docs_per_sec >= r * 0.9 => {
                        Span::styled(format!("   max {r:.0}/s (limiting)"), t.warn())
                    }
                    Some(r) => Span::styled(format!("   max {r:.0}/s"), t.muted()),
                    None if inner.width < 100 => Span::styled("   no limit", t.muted()),
                    None => Span::styled("   no rate limit (:rate N)", t.muted()),
                },
            ]
            .into_iter()
            .chain(inflow(app, inner.width))
            .collect::<Vec<_>>(),
        )),
        rate,
    );
    f.render_widget(
        Table::new(
            [
                // The service call; retries are their own row, so a
                // flaky service shows as time in retry, not as latency.
                row("enrichment", &s.enrich_latency),
                row("in retry", &s.retry_wait),
                row("indexing", &s.index_latency),
            ],
            [
                Constraint::Length(11),
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Length(9),
            ],
        )
        .header(Row::new(["ms", "P50", "P95", "P99", "max", "count"]).style(t.muted())),
        table,
    );
    let limit = app.concurrency().max(1);
    let busy = s.enriching.min(limit) as f64 / limit as f64;
    f.render_widget(
        Gauge::default()
            .ratio(busy)
            .label(format!(
                "enriching {} / limit {} (+/-) · {} in flight",
                s.enriching, limit, s.in_flight
            ))
            .gauge_style(t.accent()),
        gauge,
    );
    if spark.height > 0 {
        super::widgets::sparkline_with_markers(f, spark, app, &s.rate_history, t.ok());
    }
}

#[cfg(test)]
mod tests {
    use super::super::app::Focus;
    use super::super::fixture::{app, render};

    #[test]
    fn throughput_panel() {
        for (w, h) in [(80, 24), (200, 60)] {
            let a = app(Focus::Throughput);
            insta::assert_snapshot!(
                format!("throughput_{w}x{h}"),
                render(w, h, |f| super::render(f, f.area(), &a))
            );
        }
    }
}
