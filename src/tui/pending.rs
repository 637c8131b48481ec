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
    // Where each project's documents come from, when there is room.
    let with_source = area.width >= 90;
    let row = |name: String, from: String, c: &std::collections::BTreeMap<Status, u64>, style| {
        let mut cells = vec![Cell::from(name)];
        if with_source {
            cells.push(Cell::from(from));
        }
        cells.extend(
            cols.iter()
                .map(|st| Cell::from(thousands(c.get(st).copied().unwrap_or(0)))),
        );
        Row::new(cells).style(style)
    };
    let mut rows = vec![row(
        "all projects".into(),
        String::new(),
        &s.totals,
        t.accent(),
    )];
    for (name, c) in &s.counts {
        let from = s
            .sources
            .get(name)
            .map(|f| fit(&clean(f), 30))
            .unwrap_or_default();
        rows.push(row(fit(&clean(name), 24), from, c, t.base()));
    }
    let mut titles = vec!["project"];
    let mut widths = vec![Constraint::Min(12)];
    if with_source {
        titles.push("from");
        widths.push(Constraint::Min(12));
    }
    titles.extend(["pending", "processing", "completed", "failed", "dlq"]);
    widths.extend([
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(7),
        Constraint::Length(7),
    ]);
    let header = Row::new(titles).style(t.muted());
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
