//! What the console shows when a command finishes: its result on the
//! status line, or the next dialog of a flow (a dry run's preview opens
//! its confirm, a rollback offers a sync backfill, a refused edit goes back
//! to the editor); and the dialog when the consumer stops on its own.

use super::app::App;
use super::overlays::{Confirm, ConfirmKind, EditEntry, Overlay, TextInput};
use crate::engine::dlq::DlqFilter;
use crate::engine::fleet::levers::{self, Command, CommandError, CommandOutcome};
use crate::engine::handle::Snapshot;

impl App {
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
                self.overlay = Overlay::Edit(EditEntry {
                    partition,
                    id,
                    input: TextInput {
                        text: input,
                        error: Some(crate::sanitize::clean(&e.to_string())),
                    },
                });
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
            CommandOutcome::History(h) => {
                self.overlay = Overlay::History(h);
            }
            CommandOutcome::Reset(r) if r.dry_run => {
                self.overlay = Overlay::TypeToConfirm(Box::new(
                    super::overlays::TypedConfirm::offset_reset(&r, cmd),
                ));
            }
            CommandOutcome::Trace(t) => {
                self.overlay_scroll = 0;
                self.overlay = Overlay::Trace(t);
            }
            CommandOutcome::Doctor(r) => {
                self.overlay_scroll = 0;
                self.overlay = Overlay::Doctor(r);
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
                    } else if r.file_not_found > 0 {
                        format!(
                            "nothing to replay: {} entries are of files removed from their tree (FILE_NOT_FOUND; `:replay force` replays them)",
                            r.file_not_found
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
            CommandOutcome::Job(j) => {
                self.info(crate::sanitize::clean(&j.line()));
                if !j.phase.finished() {
                    self.followed_job = Some(j.job.id.clone());
                }
            }
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
