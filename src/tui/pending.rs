//! Documents by status, in total and per project.

use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::app::{App, Focus};
use super::widgets::{fit, panel, thousands};
use crate::model::Status;
use crate::sanitize::clean;

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let s = &app.snapshot;
    let cols = [
        Status::Pending,
        Status::Processing,
        Status::Completed,
        Status::Failed,
        Status::Dlq,
    ];
    let row = |name: String, c: &std::collections::BTreeMap<Status, u64>, style| {
        let mut cells = vec![Cell::from(name)];
        cells.extend(
            cols.iter()
                .map(|st| Cell::from(thousands(c.get(st).copied().unwrap_or(0)))),
        );
        Row::new(cells).style(style)
    };
    let mut rows = vec![row("all projects".into(), &s.totals, t.accent())];
    for (name, c) in &s.counts {
        rows.push(row(fit(&clean(name), 24), c, t.base()));
    }
    let header = Row::new([
        "project",
        "pending",
        "processing",
        "completed",
        "failed",
        "dlq",
    ])
    .style(t.muted());
    let widths = [
        Constraint::Min(12),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(7),
        Constraint::Length(7),
    ];
    f.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(panel(app, Focus::Pending, "")),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::super::app::Focus;
    use super::super::fixture::{app, render};

    #[test]
    fn pending_panel() {
        for (w, h) in [(80, 24), (200, 60)] {
            let a = app(Focus::Pending);
            insta::assert_snapshot!(
                format!("pending_{w}x{h}"),
                render(w, h, |f| super::render(f, f.area(), &a))
            );
        }
    }
}
