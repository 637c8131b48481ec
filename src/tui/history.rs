//! `:history 6h`: the time series kept in the data dir (lag, throughput,
//! DLQ size, breaker) over a window longer than the panels' minutes, one
//! sparkline each, with the breaker's changes listed.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Sparkline};
use ratatui::Frame;

use super::app::App;
use super::widgets::thousands;
use crate::ports::history::{downsample, Sample};

/// One figure of a sample, for a sparkline.
type Value = fn(&Sample) -> u64;

fn breaker_name(g: i64) -> &'static str {
    match g {
        1 => "OPEN",
        2 => "HALF_OPEN",
        _ => "CLOSED",
    }
}

fn clock(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

pub fn render(
    f: &mut Frame,
    area: Rect,
    app: &App,
    h: &crate::engine::fleet::levers::history::HistoryWindow,
) {
    let (window_ms, samples) = (h.window_ms, &h.samples);
    let t = &app.theme;
    let popup = super::dialog::centered(area, 95, 85);
    f.render_widget(Clear, popup);
    let hours = window_ms as f64 / 3_600_000.0;
    let block = super::dialog::dialog_block(
        app,
        &format!(
            "History, last {} ({} samples, {} lever changes) — esc to close",
            if hours >= 1.0 {
                format!("{hours:.0}h")
            } else {
                format!("{}m", window_ms / 60_000)
            },
            samples.len(),
            h.markers.len()
        ),
    );
    let inner = block.inner(popup);
    f.render_widget(block, popup);
    if samples.is_empty() {
        f.render_widget(
            Paragraph::new(
                "Nothing kept for this window yet (a sample every 10 s while an engine runs).",
            )
            .style(t.muted()),
            inner,
        );
        return;
    }
    let width = inner.width as usize;
    // Each column's time: the last sample of its bucket (as `downsample`).
    let per = samples.len().div_ceil(width.max(1));
    let stamps: Vec<i64> = samples
        .chunks(per.max(1))
        .filter_map(|c| c.last().map(|s| s.at_ms))
        .collect();
    let marks = crate::engine::telemetry::markers::row(&h.markers, &stamps, width);
    let mark_rows = u16::from(marks.is_some());
    let rows = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(mark_rows),
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(mark_rows),
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Min(0),
    ])
    .split(inner);
    let series: [(&str, Value); 3] = [
        ("lag", |s| s.lag.max(0) as u64),
        ("docs/s", |s| s.docs_per_sec.round() as u64),
        ("DLQ", |s| s.dlq),
    ];
    for (i, (name, value)) in series.iter().enumerate() {
        let points = downsample(samples, width, value);
        let (lo, hi) = (
            samples.iter().map(value).min().unwrap_or(0),
            samples.iter().map(value).max().unwrap_or(0),
        );
        let last = samples.last().map(value).unwrap_or(0);
        f.render_widget(
            Paragraph::new(Line::styled(
                format!(
                    "{name}: now {}  min {}  max {}",
                    thousands(last),
                    thousands(lo),
                    thousands(hi)
                ),
                t.accent(),
            )),
            rows[i * 3],
        );
        f.render_widget(
            Sparkline::default().data(&points).style(t.ok()),
            rows[i * 3 + 1],
        );
        if let (Some(m), true) = (&marks, i < 2) {
            f.render_widget(
                Paragraph::new(Line::styled(m.clone(), t.warn())),
                rows[i * 3 + 2],
            );
        }
    }
    let mut changes = vec![Line::styled("circuit breaker:", t.accent())];
    let mut last = None;
    for s in samples {
        if last != Some(s.breaker) {
            changes.push(Line::raw(format!(
                "  {}  {}",
                clock(s.at_ms),
                breaker_name(s.breaker)
            )));
            last = Some(s.breaker);
        }
    }
    if !h.markers.is_empty() {
        changes.push(Line::styled(
            format!(
                "levers ({}):",
                marks
                    .as_deref()
                    .map(crate::engine::telemetry::markers::legend)
                    .unwrap_or_default()
            ),
            t.accent(),
        ));
        for m in &h.markers {
            changes.push(Line::raw(format!(
                "  {}  {} {}  → {}  ({})",
                clock(m.at_ms),
                m.kind.glyph(),
                m.action,
                m.after,
                m.actor
            )));
        }
    }
    f.render_widget(Paragraph::new(changes).style(t.base()), rows[8]);
}

#[cfg(test)]
mod tests {
    use super::super::app::{Focus, Overlay};
    use super::super::fixture::{app, render};
    use crate::ports::history::Sample;

    #[test]
    fn history_overlay() {
        let samples: Vec<Sample> = (0..2160)
            .map(|i| Sample {
                at_ms: 1_795_000_000_000 + i * 10_000,
                lag: (i % 360) * 7,
                docs_per_sec: 800.0 + (i % 90) as f64,
                dlq: (i / 100) as u64,
                breaker: if (700..720).contains(&i) { 1 } else { 0 },
            })
            .collect();
        let audit = [
            (1_795_000_000_000 + 720 * 10_000, "hold (fleet)"),
            (1_795_000_000_000 + 900 * 10_000, "release (fleet)"),
            (1_795_000_000_000 + 1500 * 10_000, "concurrency 40 (fleet)"),
        ]
        .map(|(at_ms, action)| super::super::fixture::audit_entry(at_ms, action));
        let markers = crate::engine::telemetry::markers::markers(&audit, 0);
        for (w, h) in [(80, 24), (200, 60)] {
            let mut a = app(Focus::Lag);
            a.overlay = Overlay::History(Box::new(
                crate::engine::fleet::levers::history::HistoryWindow {
                    window_ms: 6 * 3_600_000,
                    samples: samples.clone(),
                    markers: markers.clone(),
                },
            ));
            insta::assert_snapshot!(
                format!("history_{w}x{h}"),
                render(w, h, |f| super::super::render::draw(f, &a))
            );
        }
    }
}
