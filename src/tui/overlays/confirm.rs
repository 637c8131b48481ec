//! A yes/no dialog before what cannot be taken back (replay, purge,
//! rollback, a sync backfill, an edited replay) or after the consumer
//! stopped. The default button is the action (k9s/lazygit style); tab
//! moves, y says yes, n and esc say no.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::Step;
use crate::engine::dlq::DlqFilter;
use crate::engine::fleet::levers::{self, Command};
use crate::sanitize::clean;
use crate::tui::app::App;
use crate::tui::dialog::{dialog_block, popup_for_lines};

#[derive(Debug, Clone, PartialEq)]
pub enum ConfirmKind {
    /// The filter, and whether past the loop guard.
    ReplayFiltered(DlqFilter, bool),
    /// Send the edited request of entry (partition, id).
    EditReplay(i32, i64, Vec<(String, String)>),
    Purge(DlqFilter),
    Rollback,
    BackfillSync,
    /// The consumer ended on its own: quit, or stay and look around.
    ConsumerFailed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub kind: ConfirmKind,
    pub title: String,
    pub lines: Vec<String>,
    pub ok_label: String,
    pub cancel_label: String,
    /// The default button is the action (k9s/lazygit style); Tab moves.
    pub ok_focused: bool,
}
impl Confirm {
    pub fn on_key(&mut self, key: KeyEvent) -> Step {
        match key.code {
            KeyCode::Esc | KeyCode::Char('n') => Step::Close,
            KeyCode::Tab
            | KeyCode::BackTab
            | KeyCode::Left
            | KeyCode::Right
            | KeyCode::Char('h')
            | KeyCode::Char('l') => {
                self.ok_focused = !self.ok_focused;
                Step::Stay
            }
            KeyCode::Enter if !self.ok_focused => Step::Close,
            KeyCode::Enter | KeyCode::Char('y') => match self.command() {
                Some(cmd) => Step::Send(vec![cmd], Some(format!("{}…", self.ok_label))),
                None => Step::Quit,
            },
            _ => Step::Stay,
        }
    }

    /// What "yes" sends (None: the consumer stopped, and yes quits).
    fn command(&self) -> Option<Command> {
        Some(match self.kind.clone() {
            ConfirmKind::ConsumerFailed => return None,
            ConfirmKind::EditReplay(partition, id, changes) => {
                Command::EditReplay(levers::EditReplay {
                    partition,
                    id,
                    changes,
                    dry_run: false,
                })
            }
            ConfirmKind::ReplayFiltered(filter, force) => {
                Command::StartRedrive(levers::StartRedrive {
                    filter,
                    rate: crate::engine::dlq::redrive::DEFAULT_RATE,
                    force,
                    confirmed: true,
                    actor: crate::identity::actor(),
                })
            }
            ConfirmKind::Purge(filter) => Command::PurgeDlq(levers::PurgeDlq {
                filter,
                confirmed: true,
            }),
            ConfirmKind::Rollback => Command::Rollback(levers::Rollback),
            ConfirmKind::BackfillSync => Command::Backfill(levers::Backfill {
                project: None,
                rate: None,
                sync: true,
            }),
        })
    }

    pub fn render(&self, f: &mut Frame, area: Rect, app: &App) {
        let c = self;
        let t = &app.theme;
        let popup = popup_for_lines(f, area, &c.lines, 40, 6, 6);
        let button = |label: &str, focused: bool, danger: bool| {
            let base = if danger {
                t.error()
            } else {
                Style::default().fg(t.foreground)
            };
            if focused {
                Span::styled(
                    format!(" [ {label} ] "),
                    base.add_modifier(Modifier::REVERSED | Modifier::BOLD),
                )
            } else {
                Span::styled(format!("   {label}   "), base)
            }
        };
        let mut lines: Vec<Line> = c.lines.iter().map(|l| Line::raw(clean(l))).collect();
        lines.push(Line::raw(""));
        lines.push(
            Line::from(vec![
                button(&c.ok_label, c.ok_focused, true),
                Span::raw("   "),
                button(&c.cancel_label, !c.ok_focused, false),
            ])
            .centered(),
        );
        lines.push(
            Line::from(Span::styled(
                "enter choose · tab switch · y yes · esc cancel",
                t.muted(),
            ))
            .centered(),
        );
        f.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(dialog_block(app, &c.title)),
            popup,
        );
    }
}
