//! A confirmation by typing a word (the consumer group id) for what cannot
//! be undone with a key: kafka-ui and GitHub ask the same for a reset or
//! a delete. Enter sends only when the word matches exactly.

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::text_input::{InputKey, TextInput};
use super::Step;
use crate::engine::fleet::group_reset::ResetReport;
use crate::engine::fleet::levers::{self, Command};
use crate::sanitize::clean;
use crate::tui::app::App;
use crate::tui::dialog::{dialog_block, popup_for_lines};

#[derive(Debug, Clone, PartialEq)]
pub struct TypedConfirm {
    pub title: String,
    pub lines: Vec<String>,
    /// What must be typed.
    pub expect: String,
    pub input: TextInput,
    /// Sent with the typed word once it matches.
    pub command: Command,
}

impl TypedConfirm {
    /// The preview of an offset reset: before → after per partition.
    pub fn offset_reset(r: &ResetReport, command: &Command) -> Self {
        let mut lines = vec![
            format!("Move the committed offsets of consumer group {}", r.group),
            format!("on {} to {}?", r.topic, r.target.describe()),
            String::new(),
        ];
        lines.extend(r.table());
        lines.push(String::new());
        lines.push(match r.members.len() {
            0 => "Nobody is in the group now.".to_string(),
            n => format!("{n} member(s) leave the group while it runs, then rejoin."),
        });
        lines.push("Skipped requests leave their documents pending (backfill sends them);".into());
        lines.push("earlier offsets redeliver requests already enriched (skipped).".into());
        let command = match command.clone() {
            Command::ResetOffsets(levers::ResetOffsets {
                target,
                partitions,
                actor,
                ..
            }) => Command::ResetOffsets(levers::ResetOffsets {
                target,
                partitions,
                dry_run: false,
                confirm: None,
                actor,
            }),
            other => other,
        };
        TypedConfirm {
            title: "Reset consumer group offsets".into(),
            lines,
            expect: r.group.clone(),
            input: TextInput::default(),
            command,
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Step {
        match self.input.on_key(key) {
            InputKey::Cancel => Step::Close,
            InputKey::Submit if self.input.text == self.expect => {
                let mut cmd = self.command.clone();
                if let Command::ResetOffsets(levers::ResetOffsets { confirm, .. }) = &mut cmd {
                    *confirm = Some(self.input.text.clone());
                }
                Step::Send(
                    vec![cmd],
                    Some(
                        "resetting: members leave the group, offsets move, members rejoin…".into(),
                    ),
                )
            }
            InputKey::Submit => {
                self.input.refuse(format!(
                    "type {} exactly (or esc to cancel)",
                    clean(&self.expect)
                ));
                Step::Stay
            }
            InputKey::Edited | InputKey::Other => Step::Stay,
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, app: &App) {
        let t = &app.theme;
        let popup = popup_for_lines(f, area, &self.lines, 50, 4, 6);
        let mut lines: Vec<Line> = self.lines.iter().map(|l| Line::raw(clean(l))).collect();
        lines.push(Line::raw(""));
        lines.push(Line::from(vec![
            Span::styled(
                format!("type {} to confirm: ", clean(&self.expect)),
                t.accent(),
            ),
            Span::raw(clean(&self.input.text)),
            Span::styled("▏", t.accent()),
        ]));
        lines.push(match &self.input.error {
            Some(e) => Line::from(Span::styled(clean(e), t.error())),
            None => Line::from(Span::styled("enter confirms · esc cancels", t.muted())),
        });
        f.render_widget(
            Paragraph::new(lines).block(dialog_block(app, &self.title)),
            popup,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fleet::group_reset::{PartitionMove, ResetTarget};
    use crate::tui::app::Focus;
    use crate::tui::app::Overlay;
    use crate::tui::fixture::{app, render};
    use crossterm::event::{KeyCode, KeyModifiers};

    fn key(a: &mut App, c: KeyCode) -> Vec<Command> {
        a.on_key(KeyEvent::new(c, KeyModifiers::NONE))
    }

    fn report() -> ResetReport {
        ResetReport {
            group: "archon-intelligence-enrichment-consumer-group".into(),
            topic: "dev.archon-intelligence.enrich-document.v1".into(),
            target: ResetTarget::Time(1_796_119_200_000),
            dry_run: true,
            moves: (0..4)
                .map(|p| PartitionMove {
                    partition: p,
                    committed: 1_000 + p as i64,
                    new_offset: 400 + p as i64,
                    end: 1_000 + p as i64,
                    lag_before: 0,
                    lag_after: 600,
                })
                .collect(),
            members: vec!["m1".into(), "m2".into()],
            waited_ms: 0,
        }
    }

    #[test]
    fn the_group_id_must_be_typed_before_anything_is_sent() {
        let mut a = app(Focus::Lag);
        let dry = Command::ResetOffsets(levers::ResetOffsets {
            target: ResetTarget::Time(1_796_119_200_000),
            partitions: None,
            dry_run: true,
            confirm: None,
            actor: "op@host".into(),
        });
        a.on_outcome(
            &dry,
            Ok(crate::engine::fleet::levers::CommandOutcome::Reset(
                Box::new(report()),
            )),
        );
        assert!(matches!(a.overlay, Overlay::TypeToConfirm(_)));
        insta::assert_snapshot!(
            "offset_reset_confirm",
            render(100, 24, |f| crate::tui::render::draw(f, &a))
        );
        for c in "archon".chars() {
            assert!(key(&mut a, KeyCode::Char(c)).is_empty());
        }
        assert!(
            key(&mut a, KeyCode::Enter).is_empty(),
            "a partial id sends nothing"
        );
        let out = render(100, 24, |f| crate::tui::render::draw(f, &a));
        assert!(out.contains("exactly"), "{out}");
        for c in "-intelligence-enrichment-consumer-group".chars() {
            key(&mut a, KeyCode::Char(c));
        }
        let sent = key(&mut a, KeyCode::Enter);
        assert_eq!(
            sent,
            vec![Command::ResetOffsets(levers::ResetOffsets {
                target: ResetTarget::Time(1_796_119_200_000),
                partitions: None,
                dry_run: false,
                confirm: Some("archon-intelligence-enrichment-consumer-group".into()),
                actor: "op@host".into(),
            })]
        );
    }
}
