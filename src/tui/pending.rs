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
            .block(panel(app, Focus::Pending, &by_age(s))),
        area,
    );
}

/// "unfinished for >1m 1,204 · >10m 310 · >1h 12": the ages with any
/// document waiting (nothing when none waits a minute).
fn by_age(s: &crate::engine::handle::Snapshot) -> String {
    let parts: Vec<String> = s
        .pending_by_age
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(age, n)| format!(">{age} {}", thousands(*n)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("waiting {}", parts.join(" · "))
    }
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
