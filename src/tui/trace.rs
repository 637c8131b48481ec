//! A document's history as an overlay (`t` on a DLQ entry or in its
//! detail): every request, DLQ entry and completed event with its topic /
//! partition / offset, attempt and outcome, and what the graph holds.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::app::App;
use crate::engine::telemetry::trace::Trace;
use crate::sanitize::clean;

pub fn render(f: &mut Frame, area: Rect, app: &App, trace: &Trace) {
    let t = &app.theme;
    let popup = super::dialog::centered(area, 95, 85);
    f.render_widget(Clear, popup);
    let mut lines: Vec<Line> = Vec::new();
    if let Some(d) = &trace.document {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{} / {}", clean(&d.project_name), clean(&d.source_path)),
                t.accent(),
            ),
            Span::styled(
                format!(
                    "  status {}  replays {}",
                    d.enrichment_status.as_str(),
                    d.replay_count
                ),
                t.muted(),
            ),
        ]));
    }
    lines.push(Line::styled(
        format!(
            "correlation ids: {}",
            clean(
                &trace
                    .correlation_ids
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        ),
        t.muted(),
    ));
    for (e, text) in trace
        .events
        .iter()
        .zip(crate::engine::telemetry::trace::lines(trace))
    {
        let style = match e.kind {
            "dlq" => t.error(),
            "completed" => t.ok(),
            "graph" => t.muted(),
            _ => t.base(),
        };
        lines.push(Line::styled(clean(&text), style));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .style(t.base())
            .scroll((app.overlay_scroll, 0))
            .block(super::dialog::dialog_block(
                app,
                &format!(
                    "Trace of {} ({} events, {} records read) — j/k scroll, esc to close",
                    clean(&trace.document_id),
                    trace.events.len(),
                    trace.scanned
                ),
            )),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::super::app::{Focus, Overlay};
    use super::super::fixture::{app, render};
    use crate::engine::telemetry::trace::{Trace, TraceEvent};

    #[test]
    fn trace_overlay() {
        let ev = |at_ms, kind, offset, attempt, outcome: &str| TraceEvent {
            at_ms,
            kind,
            topic: if kind == "graph" {
                "graph (embedded)".into()
            } else {
                format!("dev.archon-intelligence.{kind}.v1")
            },
            partition: if kind == "graph" { -1 } else { 2 },
            offset,
            attempt,
            outcome: outcome.into(),
            correlation_id: "7DC1A2B3".into(),
        };
        let trace = Trace {
            query: "docs/latin1.txt".into(),
            document_id: "3f9c0e2a-1111-4222-8333-444455556666".into(),
            document: None,
            correlation_ids: ["7DC1A2B3".to_string()].into_iter().collect(),
            events: vec![
                ev(
                    1_795_000_000_000,
                    "graph",
                    -1,
                    None,
                    "indexed (hash a3c5e8d2f1b4)",
                ),
                ev(
                    1_795_000_000_010,
                    "request",
                    517,
                    Some(0),
                    "full docs/latin1.txt (hash a3c5e8d2f1b4)",
                ),
                ev(
                    1_795_000_001_200,
                    "dlq",
                    41,
                    Some(3),
                    "InjectedFailure: injected failure",
                ),
                ev(
                    1_795_000_090_000,
                    "request",
                    1520,
                    Some(0),
                    "full docs/latin1.txt (hash a3c5e8d2f1b4)",
                ),
                ev(
                    1_795_000_090_300,
                    "completed",
                    880,
                    None,
                    "success in 212 ms",
                ),
            ],
            scanned: 4_210,
        };
        for (w, h) in [(80, 24), (200, 60)] {
            let mut a = app(Focus::Dlq);
            a.overlay = Overlay::Trace(Box::new(trace.clone()));
            insta::assert_snapshot!(
                format!("trace_{w}x{h}"),
                render(w, h, |f| super::super::render::draw(f, &a))
            );
        }
    }
}
