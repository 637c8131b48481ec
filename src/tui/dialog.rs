//! What the overlays share: centred popups, the dialog frame, the one-line
//! input box, "busy"; and the overlays' snapshot tests (each overlay's
//! keys, state and render are its own file in `overlays/`).

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::app::App;
use crate::sanitize::clean;

/// A rectangle `pw`% × `ph`% of `area`, centred.
pub fn centered(area: Rect, pw: u16, ph: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Percentage(ph)])
        .flex(Flex::Center)
        .areas(area);
    let [h] = Layout::horizontal([Constraint::Percentage(pw)])
        .flex(Flex::Center)
        .areas(v);
    h
}

/// A rectangle of at most `w`×`h` cells, centred.
pub fn centered_fixed(area: Rect, w: u16, h: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    r
}

/// A cleared popup for `lines` of text: as wide as the longest (at least
/// `min_width`) plus `pad`, and `extra_rows` taller than their count.
pub fn popup_for_lines(
    f: &mut Frame,
    area: Rect,
    lines: &[String],
    min_width: usize,
    pad: u16,
    extra_rows: u16,
) -> Rect {
    let width = lines
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(min_width)
        .max(min_width) as u16
        + pad;
    let popup = centered_fixed(area, width, lines.len() as u16 + extra_rows);
    f.render_widget(Clear, popup);
    popup
}

pub fn dialog_block<'a>(app: &App, title: &str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(Style::default().fg(app.theme.border_focused))
        .title(Span::styled(format!(" {title} "), app.theme.accent()))
        .style(app.theme.base())
}

/// A scrolling read-only overlay's text (j/k move `app.overlay_scroll`).
pub fn pager<'a>(app: &App, lines: Vec<ratatui::text::Line<'a>>, title: &str) -> Paragraph<'a> {
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .style(app.theme.base())
        .scroll((app.overlay_scroll, 0))
        .block(dialog_block(app, title))
}

/// A one-line input (filter, palette) with its hint or error below.
pub struct InputBox<'a> {
    pub title: &'a str,
    pub prompt: &'a str,
    pub input: &'a str,
    pub error: Option<&'a str>,
    pub hint: &'a str,
}

pub fn render_input(f: &mut Frame, area: Rect, app: &App, b: &InputBox) {
    let InputBox {
        title,
        prompt,
        input,
        error,
        hint,
    } = *b;
    let t = &app.theme;
    let popup = centered_fixed(area, 72, 6);
    f.render_widget(Clear, popup);
    let mut lines = vec![Line::from(vec![
        Span::styled(prompt.to_string(), t.accent()),
        Span::raw(clean(input)),
        Span::styled("▏", t.accent()),
    ])];
    lines.push(match error {
        Some(e) => Line::from(Span::styled(clean(e), t.error())),
        None => Line::from(Span::styled(hint.to_string(), t.muted())),
    });
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(dialog_block(app, title)),
        popup,
    );
}

pub fn render_busy(f: &mut Frame, area: Rect, app: &App, text: &str) {
    let popup = centered_fixed(area, (text.chars().count() as u16 + 8).max(30), 3);
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(clean(text))
            .centered()
            .block(dialog_block(app, "working")),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::super::app::{rollback_dialog, App, Focus, Overlay};
    use super::super::fixture::{app, render};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn key(a: &mut App, c: KeyCode) -> Vec<crate::engine::fleet::levers::Command> {
        a.on_key(KeyEvent::new(c, KeyModifiers::NONE))
    }

    #[test]
    fn edit_and_replay_flow() {
        use crate::engine::fleet::levers::{Command, CommandError, CommandOutcome};
        for (w, h) in [(80, 24), (200, 60)] {
            let mut a = app(Focus::Dlq);
            assert!(key(&mut a, KeyCode::Char('e')).is_empty());
            let Overlay::Edit(edit) = a.overlay.clone() else {
                panic!("no editor: {:?}", a.overlay)
            };
            let input = edit.input.text;
            assert!(input.starts_with("project_name="), "{input}");
            // A bad edit: the engine's refusal comes back into the editor.
            for _ in 0..input.len() {
                key(&mut a, KeyCode::Backspace);
            }
            for c in "file_path=".chars() {
                key(&mut a, KeyCode::Char(c));
            }
            let cmds = key(&mut a, KeyCode::Enter);
            assert!(matches!(
                cmds[..],
                [Command::EditReplay(
                    crate::engine::fleet::levers::EditReplay { dry_run: true, .. }
                )]
            ));
            a.on_outcome(
                &cmds[0],
                Err(CommandError::Invalid(
                    "the edited request fails the schema: file_path must be 1..=4096 characters"
                        .into(),
                )),
            );
            assert!(matches!(&a.overlay, Overlay::Edit(e) if e.input.error.is_some()));
            insta::assert_snapshot!(
                format!("edit_refused_{w}x{h}"),
                render(w, h, |f| super::super::render::draw(f, &a))
            );
            // A good one: the diff, then the replay.
            for c in "docs/latin1.md".chars() {
                key(&mut a, KeyCode::Char(c));
            }
            let cmds = key(&mut a, KeyCode::Enter);
            let report = crate::engine::dlq::edit::EditReport {
                entry_id: 4,
                document_id: "d".into(),
                diff: vec![(
                    "file_path".into(),
                    "docs/latin1.txt".into(),
                    "docs/latin1.md".into(),
                )],
                dry_run: true,
                replayed: false,
                request: serde_json::json!({}),
            };
            a.on_outcome(&cmds[0], Ok(CommandOutcome::Edited(Box::new(report))));
            insta::assert_snapshot!(
                format!("edit_confirm_{w}x{h}"),
                render(w, h, |f| super::super::render::draw(f, &a))
            );
            let go = key(&mut a, KeyCode::Enter);
            let [Command::EditReplay(crate::engine::fleet::levers::EditReplay {
                dry_run: false,
                changes,
                ..
            })] = &go[..]
            else {
                panic!("{go:?}")
            };
            assert_eq!(
                changes,
                &vec![("file_path".to_string(), "docs/latin1.md".to_string())]
            );
        }
    }

    #[test]
    fn dialogs_at_both_sizes() {
        for (w, h) in [(80, 24), (200, 60)] {
            // Rollback: focused on "Rollback", says what will happen.
            let mut a = app(Focus::Lag);
            assert!(key(&mut a, KeyCode::Char('!')).is_empty());
            let Overlay::Confirm(c) = a.overlay.clone() else {
                panic!("no dialog")
            };
            assert!(c.ok_focused && c.ok_label == "Rollback");
            insta::assert_snapshot!(
                format!("confirm_rollback_{w}x{h}"),
                render(w, h, |f| super::super::render::draw(f, &a))
            );

            // Replay: the dry run's counts, then confirm.
            let mut a = app(Focus::Dlq);
            let cmds = key(&mut a, KeyCode::Char('R'));
            assert!(matches!(
                cmds[..],
                [crate::engine::fleet::levers::Command::ReplayDlq(
                    crate::engine::fleet::levers::ReplayDlq { dry_run: true, .. }
                )]
            ));
            let report = crate::engine::dlq::ReplayReport {
                dry_run: true,
                replayed: 5,
                not_replayable: 1,
                by_error_type: a.snapshot.dlq_by_type.clone(),
                by_fingerprint: a
                    .snapshot
                    .dlq_groups
                    .iter()
                    .map(|g| {
                        let fp = g.fingerprint.clone();
                        (fp, g.error_type.clone(), g.pattern.clone(), g.count)
                    })
                    .collect(),
                by_project: [("web".to_string(), 5)].into_iter().collect(),
                looping: 0,
                max_replays: 3,
                file_not_found: 0,
                ids: vec![],
            };
            a.on_outcome(
                &cmds[0],
                Ok(crate::engine::fleet::levers::CommandOutcome::Replay(report)),
            );
            insta::assert_snapshot!(
                format!("confirm_replay_{w}x{h}"),
                render(w, h, |f| super::super::render::draw(f, &a))
            );
            let go = key(&mut a, KeyCode::Enter);
            assert!(matches!(
                go[..],
                [crate::engine::fleet::levers::Command::StartRedrive(
                    crate::engine::fleet::levers::StartRedrive {
                        confirmed: true,
                        ..
                    }
                )]
            ));

            // Filter input.
            let mut a = app(Focus::Lag);
            key(&mut a, KeyCode::Char('/'));
            for ch in "type:Injected".chars() {
                key(&mut a, KeyCode::Char(ch));
            }
            insta::assert_snapshot!(
                format!("filter_{w}x{h}"),
                render(w, h, |f| super::super::render::draw(f, &a))
            );

            // Help.
            let mut a = app(Focus::Lag);
            key(&mut a, KeyCode::Char('?'));
            insta::assert_snapshot!(
                format!("help_{w}x{h}"),
                render(w, h, |f| super::super::render::draw(f, &a))
            );

            // Palette with an error.
            let mut a = app(Focus::Lag);
            key(&mut a, KeyCode::Char(':'));
            for ch in "rollout 101".chars() {
                key(&mut a, KeyCode::Char(ch));
            }
            assert!(
                key(&mut a, KeyCode::Enter).is_empty(),
                "bad input sends nothing"
            );
            insta::assert_snapshot!(
                format!("palette_error_{w}x{h}"),
                render(w, h, |f| super::super::render::draw(f, &a))
            );
        }
    }

    #[test]
    fn rollback_result_offers_a_sync_backfill() {
        let mut a = app(Focus::Lag);
        let d = rollback_dialog(&a.snapshot);
        a.overlay = Overlay::Confirm(d);
        let cmds = key(&mut a, KeyCode::Enter);
        assert_eq!(
            cmds,
            vec![crate::engine::fleet::levers::Command::Rollback(
                crate::engine::fleet::levers::Rollback
            )]
        );
        let report = crate::engine::fleet::levers::rollback::RollbackReport {
            effective_ms: 212,
            members_confirmed: 3,
            members_total: 3,
            confirmed_ms: Some(212),
            pending: 1247,
            in_flight: 0,
            next_step: String::new(),
        };
        a.on_outcome(
            &cmds[0],
            Ok(crate::engine::fleet::levers::CommandOutcome::Rollback(
                report,
            )),
        );
        let out = render(100, 30, |f| super::super::render::draw(f, &a));
        assert!(
            out.contains("212 ms")
                && out.contains("1,247 documents are pending")
                && out.contains("Held by 3 of 3 fleet members"),
            "{out}"
        );
        assert!(out.contains("Backfill now (sync)"));
        // Default is "Later": Enter without moving does nothing destructive.
        assert!(key(&mut a, KeyCode::Enter).is_empty());
    }
}
