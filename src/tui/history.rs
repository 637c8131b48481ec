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

pub fn render(f: &mut Frame, area: Rect, app: &App, window_ms: i64, samples: &[Sample]) {
    let t = &app.theme;
    let popup = super::dialog::centered(area, 95, 85);
    f.render_widget(Clear, popup);
    let hours = window_ms as f64 / 3_600_000.0;
    let block = super::dialog::dialog_block(
        app,
        &format!(
            "History, last {} ({} samples) — esc to close",
            if hours >= 1.0 {
                format!("{hours:.0}h")
            } else {
                format!("{}m", window_ms / 60_000)
            },
            samples.len()
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
    let rows = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Min(0),
    ])
    .split(inner);
    let width = inner.width as usize;
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
            rows[i * 2],
        );
        f.render_widget(
            Sparkline::default().data(&points).style(t.ok()),
            rows[i * 2 + 1],
        );
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
    f.render_widget(Paragraph::new(changes).style(t.base()), rows[6]);
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
        for (w, h) in [(80, 24), (200, 60)] {
            let mut a = app(Focus::Lag);
            a.overlay = Overlay::History {
                window_ms: 6 * 3_600_000,
                samples: samples.clone(),
            };
            insta::assert_snapshot!(
                format!("history_{w}x{h}"),
                render(w, h, |f| super::super::render::draw(f, &a))
            );
        }
    }
}
