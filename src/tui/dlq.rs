//! The dead-letter queue: entries (time, document, project, error, retries),
//! counts by error type, and the selected entry. Only the visible rows are
//! built, so 100,000 entries render as fast as 10.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Clear, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use super::app::{App, Focus};
use super::widgets::{fit, kv, panel, thousands};
use crate::engine::dlq::index::DlqRow;
use crate::sanitize::clean;

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    if app.dlq.grouped {
        return render_groups(f, area, app);
    }
    let t = &app.theme;
    let entries = app.filtered_dlq();
    let total = app.snapshot.dlq.len();
    let extra = if app.dlq.filter.is_empty() {
        format!("{} entries", thousands(total as u64))
    } else {
        format!(
            "{} of {} — filter: {}",
            thousands(entries.len() as u64),
            thousands(total as u64),
            fit(&clean(&app.dlq.filter_text), 30)
        )
    };
    let (table_area, side_area, side) = frame(f, area, app, &extra);

    let visible = table_area.height.saturating_sub(1) as usize;
    let offset = app.dlq.selected.saturating_sub(visible.saturating_sub(1));
    let path_width = (table_area.width as usize)
        .saturating_sub(10 + 10 + 12 + 22 + 5)
        .max(8);
    let rows = entries.window(offset, visible).map(|(i, e)| {
        let time = e.failed_at.get(11..19).unwrap_or(&e.failed_at);
        let row = Row::new(vec![
            Cell::from(clean(time)),
            Cell::from(fit(&clean(&e.file_path), path_width)),
            Cell::from(fit(&clean(&e.project), 12)),
            Cell::from(Span::styled(fit(&clean(&e.error_type), 22), t.error())),
            Cell::from(e.failure_count.to_string()),
        ]);
        if i == app.dlq.selected && app.focus == Focus::Dlq {
            row.style(t.selected())
        } else {
            row
        }
    });
    let widths = [
        Constraint::Length(9),
        Constraint::Min(8),
        Constraint::Length(12),
        Constraint::Length(22),
        Constraint::Length(4),
    ];
    if entries.is_empty() {
        let msg = if total == 0 {
            "The DLQ is empty."
        } else {
            "No entry matches the filter (/ to change, Esc in the filter clears it)."
        };
        f.render_widget(Paragraph::new(msg).style(t.muted()), table_area);
    } else {
        f.render_widget(
            Table::new(rows, widths).header(
                Row::new(["time", "document", "project", "error type", "try"]).style(t.muted()),
            ),
            table_area,
        );
    }
    if side > 0 {
        render_side(f, side_area, app, entries.get(app.dlq.selected));
    }
}

/// The panel's frame titled `extra`, split into the list and (wide enough)
/// a side column: (list, side, side width).
fn frame(f: &mut Frame, area: Rect, app: &App, extra: &str) -> (Rect, Rect, u16) {
    let block = panel(app, Focus::Dlq, extra);
    let mut inner = block.inner(area);
    f.render_widget(block, area);
    if let Some(job) = shown_job(app) {
        let [rest, bottom] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
        render_job(f, bottom, app, job);
        inner = rest;
    }
    let side = if inner.width >= 100 { 42 } else { 0 };
    let [table_area, side_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(side)]).areas(inner);
    (table_area, side_area, side)
}

/// The redrive to show under the list: the newest unfinished job, or one
/// that ended in the last 30 s (so its result can be read).
fn shown_job(app: &App) -> Option<&crate::engine::dlq::redrive::JobView> {
    let s = &app.snapshot;
    s.jobs.iter().find(|j| !j.phase.finished()).or_else(|| {
        s.jobs
            .first()
            .filter(|j| s.refreshed_ms - j.job.saved_ms < 30_000)
    })
}

/// One line: a gauge of done / total with the job's figures as its label.
fn render_job(f: &mut Frame, area: Rect, app: &App, job: &crate::engine::dlq::redrive::JobView) {
    use ratatui::widgets::LineGauge;
    let ratio = if job.job.total == 0 {
        1.0
    } else {
        (job.done as f64 / job.job.total as f64).clamp(0.0, 1.0)
    };
    let eta = job.eta_secs.map_or(String::new(), |s| format!(" ETA {s}s"));
    let label = format!(
        "redrive {} {} {}/{} {}/s{eta}{}",
        clean(&job.job.id),
        job.phase.as_str(),
        thousands(job.done),
        thousands(job.job.total),
        job.rate,
        if job.job.failures > 0 {
            format!(" {} failed steps", job.job.failures)
        } else {
            String::new()
        }
    );
    let t = &app.theme;
    f.render_widget(
        LineGauge::default()
            .ratio(ratio)
            .label(fit(&label, (area.width as usize).saturating_sub(12).max(8)))
            .filled_style(t.ok())
            .unfilled_style(t.muted()),
        area,
    );
}

/// The grouped view (`v`): one row per error fingerprint, biggest first,
/// with the selected group's pattern, sample and projects beside it.
fn render_groups(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let groups = &app.snapshot.dlq_groups;
    let (entries, n) = (app.snapshot.dlq.len() as u64, groups.len() as u64);
    let extra = format!(
        "{} {} in {} {} — v: entries",
        thousands(entries),
        if entries == 1 { "entry" } else { "entries" },
        thousands(n),
        if n == 1 { "group" } else { "groups" }
    );
    let (table_area, side_area, side) = frame(f, area, app, &extra);
    if groups.is_empty() {
        f.render_widget(
            Paragraph::new("The DLQ is empty.").style(t.muted()),
            table_area,
        );
        return;
    }
    // No room beside the table: the selected group's detail goes under it.
    let (table_area, side_area) = if side == 0 && table_area.height >= 10 {
        let rows = (groups.len() as u16 + 1).clamp(3, table_area.height / 2);
        let [top, _, bottom] = Layout::vertical([
            Constraint::Length(rows),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(table_area);
        (top, bottom)
    } else {
        (table_area, side_area)
    };
    let visible = table_area.height.saturating_sub(1) as usize;
    let offset = app
        .dlq
        .group_selected
        .saturating_sub(visible.saturating_sub(1));
    let pattern_width = (table_area.width as usize)
        .saturating_sub(8 + 10 + 22 + 10 + 5)
        .max(8);
    let rows = groups
        .iter()
        .enumerate()
        .skip(offset)
        .take(visible)
        .map(|(i, g)| {
            let last = g.last_seen.get(11..19).unwrap_or(&g.last_seen);
            let row = Row::new(vec![
                Cell::from(Span::styled(
                    format!("{:>7}", thousands(g.count)),
                    t.accent(),
                )),
                Cell::from(g.fingerprint.clone()),
                Cell::from(Span::styled(fit(&clean(&g.error_type), 22), t.error())),
                Cell::from(fit(&clean(&g.pattern), pattern_width)),
                Cell::from(clean(last)),
            ]);
            if i == app.dlq.group_selected && app.focus == Focus::Dlq {
                row.style(t.selected())
            } else {
                row
            }
        });
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Length(22),
                Constraint::Min(8),
                Constraint::Length(9),
            ],
        )
        .header(Row::new(["count", "fp", "error type", "pattern", "last"]).style(t.muted())),
        table_area,
    );
    if side_area.height == 0 || side_area.width == 0 {
        return;
    }
    let Some(g) = groups.get(app.dlq.group_selected) else {
        return;
    };
    let mut lines = vec![
        Line::from(Span::styled(
            format!("group fp:{}", g.fingerprint),
            t.muted(),
        )),
        Line::from(Span::styled("pattern", t.muted())),
        Line::from(Span::styled(clean(&g.pattern), t.error())),
        kv(app, "entries", thousands(g.count), t.accent()),
        kv(app, "first seen", clean(&g.first_seen), t.base()),
        kv(app, "last seen", clean(&g.last_seen), t.base()),
        Line::from(Span::styled("projects", t.muted())),
    ];
    for (p, n) in g.projects.iter().take(6) {
        lines.push(Line::raw(format!(
            "{:>7} {}",
            thousands(*n),
            fit(&clean(p), 30)
        )));
    }
    if g.projects.len() > 6 {
        lines.push(Line::styled(
            format!("  … {} more", g.projects.len() - 6),
            t.muted(),
        ));
    }
    lines.push(Line::from(Span::styled(
        format!("sample (entry {})", g.sample_id),
        t.muted(),
    )));
    lines.push(Line::from(Span::styled(clean(&g.sample_reason), t.error())));
    lines.push(Line::from(Span::styled(
        "enter: its entries  R: replay group  x: purge group",
        t.muted(),
    )));
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), side_area);
}

fn render_side(f: &mut Frame, area: Rect, app: &App, selected: Option<&DlqRow>) {
    let t = &app.theme;
    let mut lines = vec![Line::from(Span::styled("by error type", t.muted()))];
    for (ty, n) in &app.snapshot.dlq_by_type {
        lines.push(Line::from(vec![
            Span::styled(format!("{:>7} ", thousands(*n)), t.accent()),
            Span::raw(fit(&clean(ty), 32)),
        ]));
    }
    lines.push(Line::raw(""));
    if let Some(e) = selected {
        lines.push(Line::from(Span::styled(
            format!("entry {}", e.id),
            t.muted(),
        )));
        lines.push(kv(app, "document", clean(e.document_id()), t.base()));
        lines.push(kv(app, "correlation", clean(&e.correlation_id), t.base()));
        lines.push(kv(app, "attempts", e.failure_count.to_string(), t.base()));
        lines.push(Line::from(Span::styled(clean(&e.reason), t.error())));
        lines.push(Line::from(Span::styled(
            "enter: full entry  r: replay  x: purge  v: groups",
            t.muted(),
        )));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

/// The full entry over the screen (enter).
pub fn render_detail(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let Some(selected) = app.selected_entry() else {
        return;
    };
    // The whole record once it has been read from the topic; until then the
    // row the list holds.
    // serde_json escapes control characters; clean() catches anything else.
    let body = match &app.dlq_detail {
        Some(d) if d.id == selected.id && d.partition == selected.partition => {
            serde_json::to_string_pretty(d).unwrap_or_default()
        }
        _ => format!(
            "(reading the full entry from the DLQ topic…)\n{}",
            serde_json::to_string_pretty(&selected.to_json()).unwrap_or_default()
        ),
    };
    let popup = super::dialog::centered(area, 90, 85);
    f.render_widget(Clear, popup);
    let lines: Vec<Line> = body.lines().map(|l| Line::raw(clean(l))).collect();
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .style(t.base())
            .scroll((app.overlay_scroll, 0))
            .block(super::dialog::dialog_block(
                app,
                &format!("DLQ entry {} — j/k scroll, esc to close", selected.id),
            )),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::super::app::{Focus, Overlay};
    use super::super::fixture::{app, render};

    #[test]
    fn dlq_panel_and_detail() {
        for (w, h) in [(80, 24), (200, 60)] {
            let mut a = app(Focus::Dlq);
            insta::assert_snapshot!(
                format!("dlq_{w}x{h}"),
                render(w, h, |f| super::render(f, f.area(), &a))
            );
            // The hostile entry: its escape sequences are shown, not executed.
            a.dlq.selected = 4;
            a.dlq_detail = Some(super::super::fixture::dlq_entries()[4].clone());
            a.overlay = Overlay::Detail;
            let out = render(w, h, |f| super::render_detail(f, f.area(), &a));
            assert!(
                out.contains("\\u001b[2J") || out.contains("\\u{1b}"),
                "{out}"
            );
            insta::assert_snapshot!(format!("dlq_detail_{w}x{h}"), out);
        }
    }

    #[test]
    fn grouped_view_by_fingerprint_and_its_keys() {
        use crate::engine::fleet::levers::Command;
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
        for (w, h) in [(80, 24), (200, 60)] {
            let mut a = app(Focus::Dlq);
            assert!(a.on_key(key(KeyCode::Char('v'))).is_empty());
            assert!(a.dlq.grouped);
            insta::assert_snapshot!(
                format!("dlq_groups_{w}x{h}"),
                render(w, h, |f| super::render(f, f.area(), &a))
            );
        }
        let mut a = app(Focus::Dlq);
        let groups = a.snapshot.dlq_groups.clone();
        let biggest = &groups[0];
        assert_eq!(biggest.error_type, "InjectedFailure");
        assert_eq!(
            biggest.count, 3,
            "the three injected failures are one group"
        );
        a.on_key(key(KeyCode::Char('v')));
        // R replays the selected group (dry run first).
        let cmds = a.on_key(key(KeyCode::Char('R')));
        let [Command::ReplayDlq(crate::engine::fleet::levers::ReplayDlq {
            filter,
            dry_run: true,
            ..
        })] = &cmds[..]
        else {
            panic!("{cmds:?}")
        };
        assert_eq!(
            filter.fingerprint.as_deref(),
            Some(biggest.fingerprint.as_str())
        );
        a.overlay = Overlay::None;
        // x asks before purging the whole group.
        a.on_key(key(KeyCode::Char('x')));
        let Overlay::Confirm(c) = &a.overlay else {
            panic!("no confirm: {:?}", a.overlay)
        };
        assert!(c.lines[0].contains("all 3 entries"), "{:?}", c.lines);
        a.overlay = Overlay::None;
        // Enter lists the group's entries: the filter is fp:ID.
        a.on_key(key(KeyCode::Enter));
        assert!(!a.dlq.grouped);
        assert_eq!(a.filtered_dlq().len(), 3);
        assert_eq!(a.dlq.filter_text, format!("fp:{}", biggest.fingerprint));
        // esc goes back to the groups and drops the group's filter.
        a.on_key(key(KeyCode::Esc));
        assert!(a.dlq.grouped);
        assert!(a.dlq.filter_text.is_empty() && a.dlq.filter.is_empty());
        assert_eq!(a.filtered_dlq().len(), a.snapshot.dlq.len());
    }

    #[test]
    fn selection_follows_the_newest_until_the_operator_moves_it() {
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let arrive = |a: &mut crate::tui::app::App, id: i64| {
            let mut s = (*a.snapshot).clone();
            let mut newer = (*s.dlq[0]).clone();
            newer.id = id;
            let mut entries = vec![std::sync::Arc::new(newer)];
            entries.extend(s.dlq.iter().cloned());
            s.dlq = std::sync::Arc::new(entries);
            a.set_snapshot(std::sync::Arc::new(s));
        };
        let mut a = app(Focus::Dlq);
        arrive(&mut a, 100);
        assert_eq!(a.selected_entry().unwrap().id, 100, "on the newest");
        arrive(&mut a, 101);
        assert_eq!(a.selected_entry().unwrap().id, 101, "still on the newest");
        a.on_key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE));
        let chosen = a.selected_entry().unwrap().id;
        arrive(&mut a, 102);
        assert_eq!(a.selected_entry().unwrap().id, chosen, "stays where moved");
        a.on_key(KeyEvent::new(KeyCode::Char('g'), KeyModifiers::NONE));
        arrive(&mut a, 103);
        assert_eq!(a.selected_entry().unwrap().id, 103, "g follows again");
    }

    #[test]
    fn selection_follows_its_entry_when_new_ones_arrive_on_top() {
        let mut a = app(Focus::Dlq);
        a.dlq.selected = 2;
        a.dlq.moved = true;
        let id = a.selected_entry().unwrap().id;
        let mut s = super::super::fixture::snapshot();
        let mut newer = (*s.dlq[0]).clone();
        newer.id = 99;
        let mut entries = vec![std::sync::Arc::new(newer)];
        entries.extend(s.dlq.iter().cloned());
        s.dlq = std::sync::Arc::new(entries);
        a.set_snapshot(std::sync::Arc::new(s));
        assert_eq!(a.dlq.selected, 3);
        assert_eq!(a.selected_entry().unwrap().id, id);
        // Replayed away: the selection stays in range.
        let mut s = super::super::fixture::snapshot();
        s.dlq = std::sync::Arc::new(s.dlq[..1].to_vec());
        a.set_snapshot(std::sync::Arc::new(s));
        assert_eq!(a.dlq.selected, 0);
    }

    #[test]
    fn opening_a_row_fetches_the_whole_entry() {
        use crate::engine::fleet::levers::{Command, CommandOutcome};
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let full = super::super::fixture::dlq_entries();
        let mut a = app(Focus::Dlq);
        a.set_snapshot(std::sync::Arc::new(super::super::fixture::snapshot()));
        let e = a.selected_entry().unwrap().clone();
        assert!(!e.file_path.is_empty());
        let cmds = a.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        let want = Command::LoadDlqEntry(crate::engine::fleet::levers::LoadDlqEntry {
            partition: e.partition,
            id: e.id,
        });
        assert_eq!(cmds, vec![want.clone()]);
        let waiting = render(120, 40, |f| super::render_detail(f, f.area(), &a));
        assert!(waiting.contains("reading the full entry"), "{waiting}");
        let whole = full.iter().find(|x| x.id == e.id).unwrap().clone();
        a.on_outcome(&want, Ok(CommandOutcome::DlqEntry(Box::new(whole))));
        let shown = render(120, 40, |f| super::render_detail(f, f.area(), &a));
        assert!(!shown.contains("reading the full entry"), "{shown}");
        assert!(shown.contains("original_message"), "{shown}");
    }

    #[test]
    fn filter_narrows_the_table() {
        let mut a = app(Focus::Dlq);
        a.set_filter(
            crate::engine::dlq::DlqFilter::parse("type:EncodingError").unwrap(),
            "type:EncodingError".into(),
        );
        let out = render(120, 20, |f| super::render(f, f.area(), &a));
        assert!(
            out.contains("latin1.txt") && !out.contains("service_9.py"),
            "{out}"
        );
        assert!(out.contains("1 of 6"));
    }
}
