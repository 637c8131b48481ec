//! Console state and keyboard handling. Keys turn into typed engine
//! commands; nothing here touches a backend.

use crate::engine::fleet::levers;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub use super::dlq_list::DlqView;
use super::dlq_list::{DlqKey, DlqList};
use super::fleet::FleetList;
use super::palette::{self, PaletteAction};
use super::theme::Theme;
use crate::engine::dlq::index::DlqRow;
use crate::engine::dlq::DlqFilter;
use crate::engine::fleet::levers::{Command, CommandError, CommandOutcome, RolloutChange};
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
    fn step(self, by: isize) -> Focus {
        let i = Focus::ALL.iter().position(|f| *f == self).unwrap_or(0) as isize;
        Focus::ALL[(i + by).rem_euclid(Focus::ALL.len() as isize) as usize]
    }
}

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

// One overlay exists at a time (on the stack of the UI loop): boxing the
// dialog would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help,
    /// `/` input for the DLQ filter; the filter applies as you type.
    Filter {
        input: String,
        error: Option<String>,
    },
    /// `:` command palette.
    Palette {
        input: String,
        error: Option<String>,
    },
    Confirm(Confirm),
    /// Confirmed by typing a word (an offset reset: the group id).
    TypeToConfirm(Box<super::typed_confirm::TypedConfirm>),
    /// Full DLQ entry.
    Detail,
    /// The fleet's audit trail.
    Audit,
    /// `e` on a DLQ entry: FIELD=VALUE edits of its request, checked
    /// (dry run) on enter, then a confirm with the diff.
    Edit {
        partition: i32,
        id: i64,
        input: String,
        error: Option<String>,
    },
    /// `:history 6h`: the kept time series over a long window.
    History {
        window_ms: i64,
        samples: Vec<crate::ports::history::Sample>,
    },
    /// A document's history (`t` on a DLQ entry).
    Trace(Box<crate::engine::telemetry::trace::Trace>),
    /// Waiting for a command's result.
    Busy(String),
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
    /// Targets already sent but not yet visible in a snapshot, so repeated
    /// key presses build on each other.
    rollout_target: Option<u8>,
    concurrency_target: Option<usize>,
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
            rollout_target: None,
            concurrency_target: None,
        }
    }

    pub fn set_snapshot(&mut self, s: Arc<Snapshot>) {
        if self.rollout_target == Some(s.rollout.percentage) {
            self.rollout_target = None;
        }
        if self.concurrency_target == Some(s.concurrency) {
            self.concurrency_target = None;
        }
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
        self.rollout_target
            .unwrap_or(self.snapshot.rollout.percentage)
    }

    /// Concurrency of the lever's target: the selected member, or this engine.
    pub fn concurrency(&self) -> usize {
        let current = match self.fleet.target(&self.snapshot.fleet) {
            Some(m) => m.status.concurrency,
            None => self.snapshot.concurrency,
        };
        self.concurrency_target.unwrap_or(current)
    }

    /// The member selected in the Fleet panel: concurrency and breaker
    /// levers aim at it alone; None: at the whole fleet.
    pub fn target_member(&self) -> Option<String> {
        self.fleet
            .target(&self.snapshot.fleet)
            .map(|m| m.status.member_id.clone())
    }

    fn info(&mut self, m: impl Into<String>) {
        self.message = Some((m.into(), false));
    }

    fn error(&mut self, m: impl Into<String>) {
        self.message = Some((m.into(), true));
    }

    /// Handle one key; returns the engine commands to send.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return vec![];
        }
        match self.overlay.clone() {
            Overlay::None => self.on_key_normal(key),
            Overlay::Detail if key.code == KeyCode::Char('t') => match &self.dlq_detail {
                Some(e) => {
                    let query = if e.message.document_id.is_empty() {
                        e.key.clone()
                    } else {
                        e.message.document_id.clone()
                    };
                    self.overlay = Overlay::Busy("reading the document's history…".into());
                    vec![Command::Trace(levers::Trace { query })]
                }
                None => vec![],
            },
            Overlay::Help
            | Overlay::Detail
            | Overlay::Audit
            | Overlay::Trace(_)
            | Overlay::History { .. } => {
                match key.code {
                    KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('?') | KeyCode::Enter => {
                        self.overlay = Overlay::None
                    }
                    KeyCode::Char('j') | KeyCode::Down => {
                        self.overlay_scroll = self.overlay_scroll.saturating_add(1)
                    }
                    KeyCode::Char('k') | KeyCode::Up => {
                        self.overlay_scroll = self.overlay_scroll.saturating_sub(1)
                    }
                    KeyCode::PageDown | KeyCode::Char(' ') => {
                        self.overlay_scroll = self.overlay_scroll.saturating_add(10)
                    }
                    KeyCode::PageUp => self.overlay_scroll = self.overlay_scroll.saturating_sub(10),
                    KeyCode::Char('g') | KeyCode::Home => self.overlay_scroll = 0,
                    _ => {}
                }
                vec![]
            }
            Overlay::Busy(_) => {
                if key.code == KeyCode::Esc {
                    self.overlay = Overlay::None;
                }
                vec![]
            }
            Overlay::Filter { mut input, .. } => {
                match key.code {
                    KeyCode::Esc => {
                        self.set_filter(DlqFilter::default(), String::new());
                        self.overlay = Overlay::None;
                        return vec![];
                    }
                    KeyCode::Enter => {
                        if let Overlay::Filter { error: None, .. } = self.overlay {
                            self.overlay = Overlay::None;
                        }
                        return vec![];
                    }
                    KeyCode::Backspace => {
                        input.pop();
                    }
                    KeyCode::Char(c) => input.push(c),
                    _ => return vec![],
                }
                let error = match DlqFilter::parse(&input) {
                    Ok(f) => {
                        self.set_filter(f, input.clone());
                        None
                    }
                    Err(e) => Some(e),
                };
                self.overlay = Overlay::Filter { input, error };
                vec![]
            }
            Overlay::Edit {
                partition,
                id,
                mut input,
                ..
            } => {
                let again = |input, error| Overlay::Edit {
                    partition,
                    id,
                    input,
                    error,
                };
                match key.code {
                    KeyCode::Esc => self.overlay = Overlay::None,
                    KeyCode::Backspace => {
                        input.pop();
                        self.overlay = again(input, None);
                    }
                    KeyCode::Char(c) => {
                        input.push(c);
                        self.overlay = again(input, None);
                    }
                    KeyCode::Enter => match crate::engine::dlq::edit::parse_changes(&input) {
                        Ok(changes) => {
                            self.edit_draft = Some((partition, id, input));
                            self.overlay = Overlay::Busy("checking the edited request…".into());
                            return vec![Command::EditReplay(levers::EditReplay {
                                partition,
                                id,
                                changes,
                                dry_run: true,
                            })];
                        }
                        Err(e) => self.overlay = again(input, Some(e)),
                    },
                    _ => {}
                }
                vec![]
            }
            Overlay::Palette { mut input, .. } => {
                match key.code {
                    KeyCode::Esc => self.overlay = Overlay::None,
                    KeyCode::Backspace => {
                        input.pop();
                        self.overlay = Overlay::Palette { input, error: None };
                    }
                    KeyCode::Char(c) => {
                        input.push(c);
                        self.overlay = Overlay::Palette { input, error: None };
                    }
                    KeyCode::Enter => match palette::parse(&input, &self.dlq.filter) {
                        Ok(action) => {
                            self.overlay = Overlay::None;
                            return self.run_palette(action);
                        }
                        Err(e) => {
                            self.overlay = Overlay::Palette {
                                input,
                                error: Some(e),
                            }
                        }
                    },
                    _ => {}
                }
                vec![]
            }
            Overlay::TypeToConfirm(mut c) => {
                use super::typed_confirm::TypedKey;
                match c.on_key(key) {
                    TypedKey::Stay => self.overlay = Overlay::TypeToConfirm(c),
                    TypedKey::Cancel => self.overlay = Overlay::None,
                    TypedKey::Send(cmd) => {
                        self.overlay = Overlay::Busy(
                            "resetting: members leave the group, offsets move, members rejoin…"
                                .into(),
                        );
                        return vec![cmd];
                    }
                }
                vec![]
            }
            Overlay::Confirm(mut c) => match key.code {
                KeyCode::Esc | KeyCode::Char('n') => {
                    self.overlay = Overlay::None;
                    vec![]
                }
                KeyCode::Tab
                | KeyCode::BackTab
                | KeyCode::Left
                | KeyCode::Right
                | KeyCode::Char('h')
                | KeyCode::Char('l') => {
                    c.ok_focused = !c.ok_focused;
                    self.overlay = Overlay::Confirm(c);
                    vec![]
                }
                KeyCode::Enter | KeyCode::Char('y') => {
                    if key.code == KeyCode::Enter && !c.ok_focused {
                        self.overlay = Overlay::None;
                        return vec![];
                    }
                    if c.kind == ConfirmKind::ConsumerFailed {
                        self.overlay = Overlay::None;
                        self.quit = true;
                        return vec![];
                    }
                    self.overlay = Overlay::Busy(format!("{}…", c.ok_label));
                    vec![match c.kind {
                        ConfirmKind::ConsumerFailed => unreachable!("handled above"),
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
                    }]
                }
                _ => vec![],
            },
        }
    }

    fn on_key_normal(&mut self, key: KeyEvent) -> Vec<Command> {
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
            KeyCode::Char(':') => {
                self.overlay = Overlay::Palette {
                    input: String::new(),
                    error: None,
                };
                vec![]
            }
            KeyCode::Char('/') => {
                self.focus = Focus::Dlq;
                self.overlay = Overlay::Filter {
                    input: self.dlq.filter_text.clone(),
                    error: None,
                };
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
            KeyCode::Char('+') | KeyCode::Char('=') | KeyCode::Char('-') => {
                let cur = self.concurrency();
                let next = if key.code == KeyCode::Char('-') {
                    cur.saturating_sub(if cur > 10 { 5 } else { 1 }).max(1)
                } else {
                    (cur + if cur >= 10 { 5 } else { 1 }).min(crate::engine::MAX_CONCURRENCY)
                };
                self.concurrency_target = Some(next);
                vec![Command::SetConcurrency(levers::SetConcurrency {
                    n: next,
                    member: self.target_member(),
                })]
            }
            KeyCode::Left | KeyCode::Right => {
                let step = if key.modifiers.contains(KeyModifiers::SHIFT) {
                    1
                } else {
                    5
                };
                let cur = self.rollout_percentage() as i32;
                let next = if key.code == KeyCode::Left {
                    cur - step
                } else {
                    cur + step
                }
                .clamp(0, 100) as u8;
                self.rollout_target = Some(next);
                vec![Command::SetRollout(RolloutChange {
                    percentage: Some(next),
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
                self.overlay = Overlay::Edit {
                    partition: e.partition,
                    id: e.id,
                    input: format!(
                        "project_name={} file_path={}",
                        quote(&e.project),
                        quote(&e.file_path)
                    ),
                    error: None,
                };
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
            _ if self.focus == Focus::Fleet => {
                let before = self.target_member();
                let cmd = self.fleet.on_key(key, &s);
                if before != self.target_member() {
                    self.concurrency_target = None;
                }
                cmd.into_iter().collect()
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

    fn run_palette(&mut self, action: PaletteAction) -> Vec<Command> {
        match action {
            PaletteAction::Engine(cmd) => {
                if let Command::SetConcurrency(levers::SetConcurrency { n, .. }) = cmd {
                    self.concurrency_target = Some(n);
                }
                vec![cmd]
            }
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

    /// A command finished: show its result, or the next dialog of a flow.
    /// The consumer task's state changed: a failure is shown at once, in
    /// the header and in a dialog (quit, or stay to read the logs and DLQ).
    pub fn on_consumer(&mut self, state: &crate::engine::pipeline::consumer::ConsumerState) {
        use crate::engine::pipeline::consumer::ConsumerState;
        if *state == ConsumerState::Observing {
            self.observing = true;
        }
        let ConsumerState::Failed(reason) = state else {
            return;
        };
        let reason = crate::sanitize::clean(reason);
        self.error(format!("consumer stopped: {reason}"));
        self.consumer_failed = Some(reason.clone());
        self.overlay = Overlay::Confirm(Confirm {
            kind: ConfirmKind::ConsumerFailed,
            title: "Consumer stopped".into(),
            lines: [
                vec![
                    "The consumer ended and nothing is being consumed:".into(),
                    String::new(),
                ],
                super::format::wrap_words(&reason, 64),
                vec![
                    String::new(),
                    "Documents stay pending (lag stays visible) until an engine".into(),
                    "consumes again. The Logs panel has the details.".into(),
                ],
            ]
            .concat(),
            ok_label: "Quit".into(),
            cancel_label: "Stay".into(),
            ok_focused: false,
        });
    }

    pub fn on_outcome(&mut self, cmd: &Command, result: Result<CommandOutcome, CommandError>) {
        if matches!(self.overlay, Overlay::Busy(_)) {
            self.overlay = Overlay::None;
        }
        let outcome = match result {
            Ok(o) => o,
            // A refused edit goes back to the editor with the reason.
            Err(e @ CommandError::Invalid(_))
                if matches!(
                    cmd,
                    Command::EditReplay(levers::EditReplay { dry_run: true, .. })
                ) && self.edit_draft.is_some() =>
            {
                let (partition, id, input) = self.edit_draft.take().unwrap_or_default();
                self.overlay = Overlay::Edit {
                    partition,
                    id,
                    input,
                    error: Some(crate::sanitize::clean(&e.to_string())),
                };
                return;
            }
            Err(e) => {
                self.error(crate::sanitize::clean(&e.to_string()));
                return;
            }
        };
        match outcome {
            CommandOutcome::DlqEntry(e) => self.dlq_detail = Some(*e),
            CommandOutcome::Edited(r) if r.dry_run => {
                let clean = crate::sanitize::clean;
                let mut lines = vec![format!(
                    "Replay DLQ entry {} with this request?",
                    r.entry_id
                )];
                lines.push(String::new());
                if r.diff.is_empty() {
                    lines.push("(no field changes: the request goes as it was)".into());
                }
                for (field, before, after) in &r.diff {
                    lines.push(format!("  {field}:"));
                    lines.push(format!("    - {}", clean(before)));
                    lines.push(format!("    + {}", clean(after)));
                }
                lines.push(String::new());
                lines.push("It passes the §3.1 request schema.".into());
                let changes: Vec<(String, String)> = self
                    .edit_draft
                    .take()
                    .and_then(|(_, _, input)| crate::engine::dlq::edit::parse_changes(&input).ok())
                    .unwrap_or_default();
                let (partition, id) = match cmd {
                    Command::EditReplay(levers::EditReplay { partition, id, .. }) => {
                        (*partition, *id)
                    }
                    _ => (0, r.entry_id),
                };
                self.overlay = Overlay::Confirm(Confirm {
                    kind: ConfirmKind::EditReplay(partition, id, changes),
                    title: "Edit and replay".into(),
                    lines,
                    ok_label: "Replay".into(),
                    cancel_label: "Cancel".into(),
                    ok_focused: true,
                });
            }
            o @ CommandOutcome::Edited(_) => self.info(crate::sanitize::clean(&o.describe())),
            CommandOutcome::History { window_ms, samples } => {
                self.overlay = Overlay::History { window_ms, samples };
            }
            CommandOutcome::Reset(r) if r.dry_run => {
                self.overlay = Overlay::TypeToConfirm(Box::new(
                    super::typed_confirm::TypedConfirm::offset_reset(&r, cmd),
                ));
            }
            CommandOutcome::Trace(t) => {
                self.overlay_scroll = 0;
                self.overlay = Overlay::Trace(t);
            }
            CommandOutcome::Replay(r) if r.dry_run => {
                let (filter, force) = match cmd {
                    Command::ReplayDlq(levers::ReplayDlq { filter, force, .. }) => {
                        (filter.clone(), *force)
                    }
                    _ => (DlqFilter::default(), false),
                };
                if r.replayed == 0 {
                    self.info(if r.looping > 0 {
                        format!(
                            "nothing to replay: {} entries were replayed {} times already (loop guard; `:replay force` replays them)",
                            r.looping, r.max_replays
                        )
                    } else {
                        "nothing to replay".to_string()
                    });
                    return;
                }
                let mut lines = vec![if filter.is_empty() {
                    format!("Replay ALL {} DLQ entries?", r.replayed)
                } else {
                    format!("Replay {} DLQ entries matching the filter?", r.replayed)
                }];
                lines.push(String::new());
                let clean = crate::sanitize::clean;
                lines.push("by error fingerprint:".into());
                for (fp, _, pattern, n) in r.by_fingerprint.iter().take(5) {
                    lines.push(format!(
                        "{n:>7}  fp:{fp}  {}",
                        super::format::fit(&clean(pattern), 48)
                    ));
                }
                if r.by_fingerprint.len() > 5 {
                    lines.push(format!(
                        "         … {} more groups",
                        r.by_fingerprint.len() - 5
                    ));
                }
                lines.push("by project:".into());
                let mut projects: Vec<_> = r.by_project.iter().collect();
                projects.sort_by(|a, b| b.1.cmp(a.1));
                for (p, n) in projects.iter().take(5) {
                    lines.push(format!("{n:>7}  {}", clean(p)));
                }
                if projects.len() > 5 {
                    lines.push(format!("         … {} more projects", projects.len() - 5));
                }
                if r.not_replayable > 0 {
                    lines.push(format!(
                        "{} undecodable entries cannot be replayed (purge them).",
                        r.not_replayable
                    ));
                }
                if r.looping > 0 {
                    lines.push(format!(
                        "{} held back: replayed {} times already (loop guard; `:replay force`).",
                        r.looping, r.max_replays
                    ));
                }
                lines.push(String::new());
                lines.push("Documents go back to pending and are enriched again, as a".into());
                lines.push(format!(
                    "redrive job at {}/s (`:job pause|resume|cancel`, `:job rate N`).",
                    crate::engine::dlq::redrive::DEFAULT_RATE
                ));
                self.overlay = Overlay::Confirm(Confirm {
                    kind: ConfirmKind::ReplayFiltered(filter, force),
                    title: "Replay DLQ entries".into(),
                    lines,
                    ok_label: "Replay".into(),
                    cancel_label: "Cancel".into(),
                    ok_focused: true,
                });
            }
            CommandOutcome::Replay(r) => self.info(format!("replayed {} entries", r.replayed)),
            CommandOutcome::Purged { purged } => self.info(format!("purged {purged} entries")),
            CommandOutcome::Rollout(r) => self.info(format!(
                "rollout: async {} at {}%",
                if r.enabled { "on" } else { "OFF" },
                r.percentage
            )),
            CommandOutcome::Rollback(r) => {
                self.overlay = Overlay::Confirm(Confirm {
                    kind: ConfirmKind::BackfillSync,
                    title: "Rolled back".into(),
                    lines: vec![
                        format!("Emergency rollback effective in {} ms.", r.effective_ms),
                        "Kill switch OFF: new documents are enriched synchronously.".into(),
                        match r.confirmed_ms {
                            Some(ms) => format!(
                                "Held by {} of {} fleet members (confirmed in {ms} ms); {} in flight.",
                                r.members_confirmed, r.members_total, r.in_flight
                            ),
                            None => format!(
                                "Only {} of {} fleet members confirmed the hold; {} in flight.",
                                r.members_confirmed, r.members_total, r.in_flight
                            ),
                        },
                        format!(
                            "{} documents are pending.",
                            super::format::thousands(r.pending)
                        ),
                        String::new(),
                        "Enrich the pending documents synchronously now?".into(),
                        "(`:resume` undoes the rollback.)".into(),
                    ],
                    ok_label: "Backfill now (sync)".into(),
                    cancel_label: "Later".into(),
                    ok_focused: false,
                });
            }
            CommandOutcome::Backfill(b) => self.info(format!(
                "backfill: {} selected, {} published, {} enriched in {} ms",
                b.selected, b.published, b.enriched_sync, b.elapsed_ms
            )),
            CommandOutcome::Job(j) => self.info(crate::sanitize::clean(&j.line())),
            o @ (CommandOutcome::Exported(_)
            | CommandOutcome::Imported(_)
            | CommandOutcome::Reset(_)) => self.info(crate::sanitize::clean(&o.describe())),
            CommandOutcome::Done { message } => self.info(message),
        }
    }
}

pub fn rollback_dialog(s: &Snapshot) -> Confirm {
    let pending = s.totals.values().sum::<u64>()
        - s.totals
            .get(&crate::model::Status::Completed)
            .copied()
            .unwrap_or(0)
        - s.totals
            .get(&crate::model::Status::Dlq)
            .copied()
            .unwrap_or(0)
        - s.totals
            .get(&crate::model::Status::Failed)
            .copied()
            .unwrap_or(0);
    Confirm {
        kind: ConfirmKind::Rollback,
        title: "Emergency rollback".into(),
        lines: vec![
            "This will, at once:".into(),
            "  1. turn the kill switch OFF (ENABLE_ASYNC_ENRICHMENT=false):".into(),
            "     new documents are enriched synchronously at indexing;".into(),
            "  2. hold consumption in every engine on this data dir;".into(),
            "  3. hand work waiting on retries back to the topic.".into(),
            format!(
                "Nothing is lost: {} documents not yet enriched stay pending",
                super::format::thousands(pending)
            ),
            format!(
                "and {} requests wait on the topic.",
                super::format::thousands(s.lag_total.max(0) as u64)
            ),
            "Then it offers a synchronous backfill. `:resume` undoes it.".into(),
        ],
        ok_label: "Rollback".into(),
        cancel_label: "Cancel".into(),
        ok_focused: true,
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
