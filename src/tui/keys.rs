//! The console's keymap when no overlay is open: panels, levers, the DLQ
//! list's and the Fleet list's keys, and what a palette command does.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, Focus};
use super::dlq_list::DlqKey;
use super::outcome::rollback_dialog;
use super::overlays::{Confirm, ConfirmKind, EditEntry, Overlay, TextInput};
use super::palette::PaletteAction;
use super::theme::Theme;
use crate::engine::fleet::levers::concurrency::Nudge;
use crate::engine::fleet::levers::{self, Command, RolloutChange};

impl App {
    pub(super) fn on_key_normal(&mut self, key: KeyEvent) -> Vec<Command> {
        let s = self.snapshot.clone();
        match key.code {
            KeyCode::Char('q') => {
                self.quit = true;
                vec![]
            }
            KeyCode::Char('?') => {
                self.overlay_scroll = 0;
                self.overlay = Overlay::Help;
                vec![]
            }
            KeyCode::Char('A') => {
                self.overlay_scroll = 0;
                self.overlay = Overlay::Audit;
                vec![]
            }
            KeyCode::Char('w') => {
                self.overlay_scroll = 0;
                self.overlay = Overlay::Why;
                vec![]
            }
            KeyCode::Char(':') => {
                self.overlay = Overlay::Palette(TextInput::default());
                vec![]
            }
            KeyCode::Char('/') => {
                self.focus = Focus::Dlq;
                self.overlay = Overlay::Filter(TextInput::new(self.dlq.filter_text.clone()));
                vec![]
            }
            KeyCode::Tab | KeyCode::Char(']') => {
                self.focus = self.focus.step(1);
                vec![]
            }
            KeyCode::BackTab | KeyCode::Char('[') => {
                self.focus = self.focus.step(-1);
                vec![]
            }
            KeyCode::Char(' ') => {
                if s.held {
                    self.error(
                        "held for the fleet: `:release` lifts a hold, `:resume` undoes a rollback",
                    );
                    vec![]
                } else if s.paused {
                    vec![Command::Run(levers::Run)]
                } else {
                    vec![Command::Pause(levers::Pause)]
                }
            }
            // Relative levers: the engine steps from the value it stores,
            // so quick presses build on each other and none is lost.
            KeyCode::Char('+') | KeyCode::Char('=') | KeyCode::Char('-') => {
                let nudge = if key.code == KeyCode::Char('-') {
                    Nudge::Down
                } else {
                    Nudge::Up
                };
                vec![Command::SetConcurrency(levers::SetConcurrency {
                    n: self.concurrency(),
                    member: self.target_member(),
                    nudge: Some(nudge),
                })]
            }
            KeyCode::Left | KeyCode::Right => {
                let step = if key.modifiers.contains(KeyModifiers::SHIFT) {
                    1
                } else {
                    5
                };
                vec![Command::SetRollout(RolloutChange {
                    shift: Some(if key.code == KeyCode::Left {
                        -step
                    } else {
                        step
                    }),
                    ..Default::default()
                })]
            }
            KeyCode::Char('b') => vec![Command::ResetBreaker(levers::ResetBreaker {
                member: self.target_member(),
            })],
            KeyCode::Char('!') => {
                self.overlay = Overlay::Confirm(rollback_dialog(&s));
                vec![]
            }
            KeyCode::Char('R') => {
                self.overlay = Overlay::Busy("counting what would be replayed…".into());
                vec![Command::ReplayDlq(levers::ReplayDlq {
                    filter: self.dlq.replay_target(&self.snapshot.dlq_groups),
                    dry_run: true,
                    confirmed: false,
                    force: false,
                })]
            }
            KeyCode::Char('e') if self.focus == Focus::Dlq && !self.dlq.grouped => {
                let Some(e) = self.selected_entry() else {
                    return vec![];
                };
                let quote = |v: &str| {
                    if v.contains(' ') {
                        format!("\"{v}\"")
                    } else {
                        v.to_string()
                    }
                };
                self.overlay = Overlay::Edit(EditEntry {
                    partition: e.partition,
                    id: e.id,
                    input: TextInput::new(format!(
                        "project_name={} file_path={}",
                        quote(&e.project),
                        quote(&e.file_path)
                    )),
                });
                vec![]
            }
            KeyCode::Char('t') if self.focus == Focus::Dlq && !self.dlq.grouped => {
                let Some(e) = self.selected_entry() else {
                    return vec![];
                };
                let query = if e.document_id().is_empty() {
                    e.key.to_string()
                } else {
                    e.document_id().to_string()
                };
                self.overlay = Overlay::Busy("reading the document's history…".into());
                vec![Command::Trace(levers::Trace { query })]
            }
            _ if self.focus == Focus::Dlq => self.on_key_dlq(key),
            _ if self.focus == Focus::Fleet => self.fleet.on_key(key, &s).into_iter().collect(),
            _ if self.focus == Focus::Logs => {
                super::logs::on_key(&self.logs, key);
                vec![]
            }
            _ => vec![],
        }
    }

    fn on_key_dlq(&mut self, key: KeyEvent) -> Vec<Command> {
        match self
            .dlq
            .on_key(key, &self.snapshot.dlq, &self.snapshot.dlq_groups)
        {
            DlqKey::Nothing => vec![],
            DlqKey::Open(load) => {
                self.overlay_scroll = 0;
                self.overlay = Overlay::Detail;
                load.into_iter().collect()
            }
            DlqKey::Send(cmd) => vec![cmd],
            DlqKey::Confirm(c) => {
                self.overlay = Overlay::Confirm(c);
                vec![]
            }
        }
    }

    pub(super) fn run_palette(&mut self, action: PaletteAction) -> Vec<Command> {
        match action {
            PaletteAction::Engine(cmd) => vec![cmd],
            PaletteAction::ConfirmReplay(filter, force) => {
                self.overlay = Overlay::Busy("counting what would be replayed…".into());
                vec![Command::ReplayDlq(levers::ReplayDlq {
                    filter,
                    dry_run: true,
                    confirmed: false,
                    force,
                })]
            }
            PaletteAction::ConfirmPurge(filter) => {
                let n = self
                    .snapshot
                    .dlq
                    .iter()
                    .filter(|e| filter.matches(&***e))
                    .count();
                self.overlay = Overlay::Confirm(Confirm {
                    kind: ConfirmKind::Purge(filter),
                    title: "Purge DLQ entries".into(),
                    lines: vec![format!(
                        "Drop {n} entries for good? Their documents become 'failed'."
                    )],
                    ok_label: "Purge".into(),
                    cancel_label: "Cancel".into(),
                    ok_focused: false,
                });
                vec![]
            }
            PaletteAction::Rollback => {
                self.overlay = Overlay::Confirm(rollback_dialog(&self.snapshot));
                vec![]
            }
            PaletteAction::Theme(name) => {
                match Theme::load(&name) {
                    Ok(t) => {
                        self.theme = t;
                        self.info(format!("theme {name}"));
                    }
                    Err(e) => self.error(format!("{e:#}")),
                }
                vec![]
            }
            PaletteAction::View(name) => {
                let shown = crate::config::views::default_path()
                    .map_err(|e| format!("{e:#}"))
                    .and_then(|p| crate::config::views::get(&p, &name))
                    .and_then(|v| self.apply_view(&v));
                match shown {
                    Ok(()) => self.info(format!("view {name}")),
                    Err(e) => self.error(e),
                }
                vec![]
            }
            PaletteAction::ViewSave(name) => {
                let saved = crate::config::views::default_path().and_then(|p| {
                    crate::config::views::save(&p, &name, self.current_view()).map(|()| p)
                });
                match saved {
                    Ok(p) => self.info(format!("view {name} saved in {}", p.display())),
                    Err(e) => self.error(format!("{e:#}")),
                }
                vec![]
            }
            PaletteAction::Audit => {
                self.overlay_scroll = 0;
                self.overlay = Overlay::Audit;
                vec![]
            }
            PaletteAction::Job(action, id) => {
                let id = id.or_else(|| {
                    self.snapshot
                        .jobs
                        .iter()
                        .find(|j| !j.phase.finished())
                        .map(|j| j.job.id.clone())
                });
                match id {
                    Some(id) => vec![Command::ControlJob(levers::ControlJob { id, action })],
                    None => {
                        self.error("no redrive job is running; name one (`archon-tui jobs`)");
                        vec![]
                    }
                }
            }
            PaletteAction::Quit => {
                self.quit = true;
                vec![]
            }
        }
    }
}
