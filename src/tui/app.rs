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
    /// The tab bar's name: short enough that all eight fit in 80 columns.
    pub fn tab(self) -> &'static str {
        match self {
            Focus::Breaker => "Breaker",
            Focus::Dlq => "DLQ",
            other => other.title(),
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
    /// When it was set: the footer drops it after a while
    /// ([`App::message_shown`]), so an old result never reads as current.
    pub message_at: Option<std::time::Instant>,
    /// The redrive job whose progress the status line follows, until it ends.
    pub followed_job: Option<String>,
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
    /// The Logs panel's scroll position (following the newest when None).
    pub logs: tui_logger::TuiWidgetState,
    /// Palette commands run this session, oldest first (↑/↓ recall them).
    pub palette_history: Vec<String>,
    /// Which of them ↑/↓ shows now.
    pub palette_recall: Option<usize>,
    /// The choices Tab found, when more than one fits.
    pub palette_hint: Option<String>,
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
            message_at: None,
            followed_job: None,
            dlq_detail: None,
            edit_draft: None,
            quit: false,
            consumer_failed: None,
            observing: false,
            logs: tui_logger::TuiWidgetState::new(),
            palette_history: Vec::new(),
            palette_recall: None,
            palette_hint: None,
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
        self.follow_job();
    }

    /// The followed job's line, live; when it ends, its final line (which
    /// then expires like any other message).
    fn follow_job(&mut self) {
        let Some(id) = &self.followed_job else {
            return;
        };
        let Some(j) = self.snapshot.jobs.iter().find(|j| &j.job.id == id) else {
            return;
        };
        let line = crate::sanitize::clean(&j.line());
        let finished = j.phase.finished();
        if finished {
            self.followed_job = None;
        }
        if self.message.as_ref().is_none_or(|(m, _)| *m != line) {
            self.message = Some((line, false));
            self.message_at = Some(std::time::Instant::now());
        }
    }

    /// The status line's message, while it is recent: results for 10 s,
    /// errors for 30 s, a followed job for as long as it runs.
    pub fn message_shown(&self) -> Option<(&str, bool)> {
        let (text, is_error) = self.message.as_ref()?;
        let ttl = std::time::Duration::from_secs(if *is_error { 30 } else { 10 });
        let fresh =
            self.followed_job.is_some() || self.message_at.is_none_or(|t| t.elapsed() < ttl);
        fresh.then_some((text.as_str(), *is_error))
    }

    /// The DLQ entries the filter lets through.
    pub fn filtered_dlq(&self) -> DlqView<'_> {
        self.dlq.view(&self.snapshot.dlq)
    }

    pub fn set_filter(&mut self, filter: DlqFilter, text: String) {
        self.dlq.set_filter(filter, text, &self.snapshot.dlq);
    }

    /// This console's DLQ filter and layout as a saved view.
    pub fn current_view(&self) -> crate::config::views::View {
        crate::config::views::View {
            dlq_filter: self.dlq.filter_text.clone(),
            grouped: self.dlq.grouped,
            focus: self.focus.tab().to_string(),
        }
    }

    /// Show a saved view: its panel, its DLQ filter, entries or groups.
    pub fn apply_view(&mut self, v: &crate::config::views::View) -> Result<(), String> {
        let filter =
            DlqFilter::parse(&v.dlq_filter).map_err(|e| format!("the view's filter: {e}"))?;
        if !v.focus.is_empty() {
            self.focus = Focus::ALL
                .into_iter()
                .find(|f| {
                    f.tab().eq_ignore_ascii_case(&v.focus)
                        || f.title().eq_ignore_ascii_case(&v.focus)
                })
                .ok_or_else(|| {
                    format!("the view's panel {:?} is not one of the console's", v.focus)
                })?;
        }
        self.set_filter(filter, v.dlq_filter.clone());
        self.dlq.grouped = v.grouped;
        Ok(())
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
        self.message_at = Some(std::time::Instant::now());
        self.followed_job = None;
    }

    pub(super) fn error(&mut self, m: impl Into<String>) {
        self.message = Some((m.into(), true));
        self.message_at = Some(std::time::Instant::now());
        self.followed_job = None;
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
