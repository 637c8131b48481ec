//! Consumer lag: per partition end/committed/lag with a Burrow-style status,
//! total with trend and time to clear, and a sparkline of recent lag.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::app::{App, Focus};
use super::widgets::{duration, panel, thousands};
use crate::engine::telemetry::lagstat::PartitionStatus;
use crate::sanitize::clean;

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let s = &app.snapshot;
    let block = panel(app, Focus::Lag, "");
    let inner = block.inner(area);
    f.render_widget(block, area);
    // No ETA while nothing is consumed: the rate it would come from is old.
    let eta = app.state().lag_note(s.lag_total, s.eta_secs.map(duration));
    // A sparkline taller than ~8 rows says nothing more; leave the rest blank.
    let [summary, table, spark, _] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(s.partitions.len() as u16 + 1),
        Constraint::Max(8),
        Constraint::Min(0),
    ])
    .areas(inner);
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("total lag ", t.muted()),
            Span::styled(
                format!("{} {}", thousands(s.lag_total.max(0) as u64), s.lag_trend),
                t.accent(),
            ),
            Span::styled(format!("   {eta}"), t.muted()),
        ])),
        summary,
    );
    let rows = s.partitions.iter().map(|p| {
        let style = match p.status {
            PartitionStatus::Ok => t.ok(),
            PartitionStatus::Warn | PartitionStatus::Stop => t.warn(),
            PartitionStatus::Stall | PartitionStatus::Rewind | PartitionStatus::Stale => t.error(),
        };
        let owner = match s.owner_of(p.lag.partition) {
            Some(m) => Span::styled(clean(&m.status.member_id), t.muted()),
            None => match s.other_owner_of(p.lag.partition) {
                Some(o) => Span::styled(
                    format!("{}@{} (not steerable)", clean(&o.client_id), clean(&o.host)),
                    t.warn(),
                ),
                None if s.fleet.is_empty() => Span::raw(""),
                None => Span::styled("unowned", t.warn()),
            },
        };
        Row::new(vec![
            Cell::from(format!("p{}", p.lag.partition)),
            Cell::from(thousands(p.lag.end as u64)),
            Cell::from(thousands(p.lag.committed as u64)),
            Cell::from(thousands(p.lag.lag as u64)),
            Cell::from(behind(p.seconds_behind)),
            Cell::from(Span::styled(p.status.as_str(), style)),
            Cell::from(owner),
        ])
    });
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(4),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(8),
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Min(8),
            ],
        )
        .header(
            Row::new([
                "part",
                "end",
                "committed",
                "lag",
                "behind",
                "status",
                "owner",
            ])
            .style(t.muted()),
        ),
        table,
    );
    if spark.height > 0 {
        super::widgets::sparkline_with_markers(f, spark, app, &s.lag_history, t.accent());
    }
}

/// Time lag: "0s", "95s", "5m40s", "3h10m"; blank when unknown.
fn behind(secs: Option<f64>) -> String {
    match secs {
        None => String::new(),
        Some(s) if s < 100.0 => format!("{s:.0}s"),
        Some(s) if s < 3600.0 => format!("{}m{:02}s", s as u64 / 60, s as u64 % 60),
        Some(s) => format!("{}h{:02}m", s as u64 / 3600, s as u64 % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::super::app::Focus;
    use super::super::fixture::{app, render};

    /// Issue 32: levers pulled in the sparkline's span are marked above it.
    #[test]
    fn lever_markers_sit_above_the_lag_sparkline() {
        let mut a = app(Focus::Lag);
        let mut s = (*a.snapshot).clone();
        let at = |i: i64| 1_795_000_000_000 + i * 1_000;
        s.audit = [
            (at(100), "hold (fleet)"),
            (at(110), "release (fleet)"),
            (at(115), "concurrency 40 (fleet)"),
        ]
        .map(|(at_ms, action)| super::super::fixture::audit_entry(at_ms, action))
        .to_vec();
        a.snapshot = std::sync::Arc::new(s);
        let shown = render(120, 30, |f| super::render(f, f.area(), &a));
        let row = shown
            .lines()
            .find(|l| l.contains('H'))
            .unwrap_or_else(|| panic!("no marker row:\n{shown}"));
        let (h, r, c) = (
            row.find('H').unwrap(),
            row.find('h').unwrap(),
            row.find('C').unwrap(),
        );
        assert!(h < r && r < c, "in time order: {row}");
        assert_eq!(c - h, 15, "a column a second: {row}");
        insta::assert_snapshot!("lag_with_markers", shown);
    }

    #[test]
    fn lag_panel() {
        for (w, h) in [(80, 24), (200, 60)] {
            let a = app(Focus::Lag);
            insta::assert_snapshot!(
                format!("lag_{w}x{h}"),
                render(w, h, |f| super::render(f, f.area(), &a))
            );
        }
    }
}
