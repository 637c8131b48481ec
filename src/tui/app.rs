//! Console state and keyboard handling. Keys turn into typed engine
//! commands; nothing here touches a backend.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub use super::outcome::rollback_dialog;
use super::overlays::Step;
pub use super::overlays::{Confirm, ConfirmKind, Overlay};

use super::dlq_list::DlqList;
pub use super::dlq_list::DlqView;
use super::fleet::FleetList;
use super::theme::Theme;
use crate::engine::dlq::index::DlqRow;
use crate::engine::dlq::DlqFilter;
use crate::engine::fleet::levers::Command;
use crate::engine::handle::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Lag,
    Breaker,
    Rollout,
    Fleet,
    Pending,
    Throughput,
    Dlq,
    Logs,
}

impl Focus {
    pub const ALL: [Focus; 8] = [
        Focus::Lag,
        Focus::Breaker,
        Focus::Rollout,
        Focus::Fleet,
        Focus::Pending,
        Focus::Throughput,
        Focus::Dlq,
        Focus::Logs,
    ];
    pub fn title(self) -> &'static str {
        match self {
            Focus::Lag => "Lag",
            Focus::Breaker => "Circuit breaker",
            Focus::Rollout => "Rollout",
            Focus::Fleet => "Fleet",
            Focus::Pending => "Documents",
            Focus::Throughput => "Throughput",
            Focus::Dlq => "Dead-letter queue",
            Focus::Logs => "Logs",
        }
    }
    pub(super) fn step(self, by: isize) -> Focus {
        let i = Focus::ALL.iter().position(|f| *f == self).unwrap_or(0) as isize;
        Focus::ALL[(i + by).rem_euclid(Focus::ALL.len() as isize) as usize]
    }
}

pub struct App {
    pub theme: Theme,
    pub focus: Focus,
    pub overlay: Overlay,
    pub snapshot: Arc<Snapshot>,
    /// The DLQ panel's filter, matches and selection.
    pub dlq: DlqList,
    /// The Fleet panel's selection: the member levers aim at.
    pub fleet: FleetList,
    /// When the last snapshot arrived: a stalled backend shows as stale data,
    /// never as a frozen screen.
    pub received_at: Option<std::time::Instant>,
    /// Scroll offset of the help and detail overlays.
    pub overlay_scroll: u16,
    /// Last command result or error for the status line.
    pub message: Option<(String, bool)>,
    /// The full record of the DLQ entry last opened.
    pub dlq_detail: Option<crate::engine::dlq::DlqEntry>,
    /// The edit being checked: (partition, id, what was typed).
    pub edit_draft: Option<(i32, i64, String)>,
    pub quit: bool,
    /// Why the consumer ended on its own, when it did: nothing is consumed
    /// any more, and the header says so.
    pub consumer_failed: Option<String>,
    /// `attach`: no consumer here by design.
    pub observing: bool,
}

impl App {
    pub fn new(theme: Theme) -> Self {
        Self {
            theme,
            focus: Focus::Lag,
            overlay: Overlay::None,
            snapshot: Arc::new(Snapshot::empty()),
            dlq: DlqList::default(),
            fleet: FleetList::default(),
            received_at: None,
            overlay_scroll: 0,
            message: None,
            dlq_detail: None,
            edit_draft: None,
            quit: false,
            consumer_failed: None,
            observing: false,
        }
    }

    pub fn set_snapshot(&mut self, s: Arc<Snapshot>) {
        self.received_at = Some(std::time::Instant::now());
        let dlq_changed = !Arc::ptr_eq(&self.snapshot.dlq, &s.dlq);
        // New entries arrive on top: keep the operator's selection on the
        // same entry, so `r` / `x` act on what they were reading.
        let selected_id = self.selected_entry().map(|e| e.id);
        self.snapshot = s;
        if dlq_changed {
            self.dlq.rows_changed(selected_id, &self.snapshot.dlq);
        }
    }

    /// The DLQ entries the filter lets through.
    pub fn filtered_dlq(&self) -> DlqView<'_> {
        self.dlq.view(&self.snapshot.dlq)
    }

    pub fn set_filter(&mut self, filter: DlqFilter, text: String) {
        self.dlq.set_filter(filter, text, &self.snapshot.dlq);
    }

    pub fn selected_entry(&self) -> Option<&DlqRow> {
        self.filtered_dlq().get(self.dlq.selected)
    }

    pub fn rollout_percentage(&self) -> u8 {
        self.snapshot.rollout.percentage
    }

    /// Concurrency of the lever's target: the selected member, or this engine.
    pub fn concurrency(&self) -> usize {
        match self.fleet.target(&self.snapshot.fleet) {
            Some(m) => m.status.concurrency,
            None => self.snapshot.concurrency,
        }
    }

    /// The member selected in the Fleet panel: concurrency and breaker
    /// levers aim at it alone; None: at the whole fleet.
    pub fn target_member(&self) -> Option<String> {
        self.fleet
            .target(&self.snapshot.fleet)
            .map(|m| m.status.member_id.clone())
    }

    /// What this engine is doing: the one state word the header, Lag,
    /// Fleet and footer show (`engine::telemetry::state`).
    pub fn state(&self) -> crate::engine::telemetry::state::RunState {
        self.snapshot
            .state(self.consumer_failed.as_deref(), self.observing)
    }

    pub(super) fn info(&mut self, m: impl Into<String>) {
        self.message = Some((m.into(), false));
    }

    pub(super) fn error(&mut self, m: impl Into<String>) {
        self.message = Some((m.into(), true));
    }

    /// Handle one key; returns the engine commands to send. An open
    /// overlay takes every key (`overlays`); else the keymap (`keys`).
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return vec![];
        }
        if self.overlay == Overlay::None {
            return self.on_key_normal(key);
        }
        let mut overlay = std::mem::replace(&mut self.overlay, Overlay::None);
        match overlay.on_key(key, self) {
            Step::Stay => self.overlay = overlay,
            Step::Close => {}
            Step::Quit => self.quit = true,
            Step::Send(commands, busy) => {
                if let Some(text) = busy {
                    self.overlay = Overlay::Busy(text);
                }
                return commands;
            }
            Step::Palette(action) => return self.run_palette(action),
        }
        vec![]
    }
}

#[cfg(test)]
mod consumer_tests {
    use super::*;
    use crate::engine::pipeline::consumer::ConsumerState;

    #[test]
    fn a_failed_consumer_opens_a_dialog_that_can_quit_or_stay() {
        let mut a = App::new(crate::tui::theme::Theme::dark());
        a.on_consumer(&ConsumerState::Running);
        assert!(a.consumer_failed.is_none());
        assert_eq!(a.overlay, Overlay::None);
        a.on_consumer(&ConsumerState::Failed("fenced \u{1b}[31m".into()));
        assert!(!a.consumer_failed.as_deref().unwrap().contains('\u{1b}'));
        let Overlay::Confirm(c) = &a.overlay else {
            panic!("no dialog: {:?}", a.overlay)
        };
        assert_eq!(c.kind, ConfirmKind::ConsumerFailed);
        assert!(!c.ok_focused, "Enter stays");
        let key = |c| KeyEvent::new(c, crossterm::event::KeyModifiers::NONE);
        assert!(a.on_key(key(KeyCode::Enter)).is_empty());
        assert_eq!(a.overlay, Overlay::None);
        assert!(!a.quit);
        a.on_consumer(&ConsumerState::Failed("again".into()));
        assert!(a.on_key(key(KeyCode::Char('y'))).is_empty());
        assert!(a.quit);
    }
}
