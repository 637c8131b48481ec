//! The DLQ panel's state and keys, apart from rendering: the filter, the
//! entries it lets through (matched once per snapshot or filter change, not
//! per frame: 100k entries) and the selection.

use crate::engine::fleet::levers;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent};

use super::app::{Confirm, ConfirmKind};
use crate::engine::dlq::index::DlqRow;
use crate::engine::dlq::{DlqFilter, DlqGroup};
use crate::engine::fleet::levers::Command;

/// What a key in the DLQ panel asks the console to do.
#[derive(Debug, PartialEq)]
pub enum DlqKey {
    Nothing,
    /// Open the detail view (and load the whole record).
    Open(Option<Command>),
    Send(Command),
    Confirm(Confirm),
}

#[derive(Debug, Default)]
pub struct DlqList {
    pub filter: DlqFilter,
    pub filter_text: String,
    pub selected: usize,
    /// Show error-fingerprint groups instead of entries (`v`).
    pub grouped: bool,
    pub group_selected: usize,
    /// Indices into the rows matching the filter; None: no filter.
    matches: Option<Vec<usize>>,
    /// The operator moved the selection: it stays on their entry. Until then
    /// (and after `g`), it follows the newest entry as entries arrive.
    pub moved: bool,
    /// The filter came from opening a group (`enter` in the grouped view):
    /// `esc` clears it and goes back to the groups.
    pub from_group: bool,
}

impl DlqList {
    pub fn view<'a>(&'a self, entries: &'a [Arc<DlqRow>]) -> DlqView<'a> {
        DlqView {
            entries,
            matches: self.matches.as_deref(),
        }
    }

    pub fn selected<'a>(&'a self, entries: &'a [Arc<DlqRow>]) -> Option<&'a DlqRow> {
        self.view(entries).get(self.selected)
    }

    pub fn set_filter(&mut self, filter: DlqFilter, text: String, entries: &[Arc<DlqRow>]) {
        self.filter = filter;
        self.filter_text = text;
        self.selected = 0;
        self.moved = false;
        self.from_group = false;
        self.refilter(entries);
    }

    /// New rows: match again and keep the selection on entry `selected_id`.
    pub fn rows_changed(&mut self, selected_id: Option<i64>, entries: &[Arc<DlqRow>]) {
        self.refilter(entries);
        if !self.moved {
            // Newest first: follow the newest.
            self.selected = 0;
            return;
        }
        if let Some(id) = selected_id {
            let view = self.view(entries);
            if let Some(i) = (0..view.len()).find(|&i| view.get(i).is_some_and(|e| e.id == id)) {
                self.selected = i;
            }
        }
    }

    fn refilter(&mut self, entries: &[Arc<DlqRow>]) {
        self.matches = if self.filter.is_empty() {
            None
        } else {
            Some(
                entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| self.filter.matches(&***e))
                    .map(|(i, _)| i)
                    .collect(),
            )
        };
        let n = self.view(entries).len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    /// The selected group's filter (`fp:ID`), in the grouped view.
    pub fn group_filter(&self, groups: &[DlqGroup]) -> Option<DlqFilter> {
        let g = groups.get(self.group_selected).filter(|_| self.grouped)?;
        Some(DlqFilter {
            fingerprint: Some(g.fingerprint.clone()),
            ..Default::default()
        })
    }

    /// What `R` replays: the selected group in the grouped view, else the
    /// filtered entries.
    pub fn replay_target(&self, groups: &[DlqGroup]) -> DlqFilter {
        self.group_filter(groups)
            .unwrap_or_else(|| self.filter.clone())
    }

    /// Keys of the grouped view: j/k/g/G move, Enter lists the group's
    /// entries (filter `fp:ID`), `x` asks before purging the whole group.
    fn on_key_grouped(
        &mut self,
        key: KeyEvent,
        entries: &[Arc<DlqRow>],
        groups: &[DlqGroup],
    ) -> DlqKey {
        let n = groups.len();
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => {
                self.group_selected = (self.group_selected + 1).min(n.saturating_sub(1))
            }
            KeyCode::Char('k') | KeyCode::Up => {
                self.group_selected = self.group_selected.saturating_sub(1)
            }
            KeyCode::Char('g') | KeyCode::Home => self.group_selected = 0,
            KeyCode::Char('G') | KeyCode::End => self.group_selected = n.saturating_sub(1),
            KeyCode::Enter => {
                if let Some(f) = self.group_filter(groups) {
                    let text = f.describe();
                    self.grouped = false;
                    self.set_filter(f, text, entries);
                    self.from_group = true;
                }
            }
            KeyCode::Char('x') => {
                if let (Some(f), Some(g)) =
                    (self.group_filter(groups), groups.get(self.group_selected))
                {
                    return DlqKey::Confirm(Confirm {
                        kind: ConfirmKind::Purge(f),
                        title: "Purge a whole error group".into(),
                        lines: vec![
                            format!(
                                "Drop all {} entries of group fp:{} ({}) for good?",
                                g.count,
                                g.fingerprint,
                                crate::sanitize::clean(&g.error_type)
                            ),
                            crate::sanitize::clean(&g.pattern),
                            "Their documents become 'failed' with the reason kept; backfill can re-drive them.".into(),
                        ],
                        ok_label: "Purge group".into(),
                        cancel_label: "Cancel".into(),
                        ok_focused: false,
                    });
                }
            }
            _ => {}
        }
        DlqKey::Nothing
    }

    /// j/k/g/G/PgUp/PgDn move; Enter opens the entry, `r` replays it, `x`
    /// asks before purging it; `v` switches to the fingerprint groups.
    pub fn on_key(
        &mut self,
        key: KeyEvent,
        entries: &[Arc<DlqRow>],
        groups: &[DlqGroup],
    ) -> DlqKey {
        if key.code == KeyCode::Char('v') {
            self.grouped = !self.grouped;
            self.group_selected = self.group_selected.min(groups.len().saturating_sub(1));
            return DlqKey::Nothing;
        }
        if self.grouped {
            return self.on_key_grouped(key, entries, groups);
        }
        let n = self.view(entries).len();
        if matches!(
            key.code,
            KeyCode::Char('j' | 'k' | 'G')
                | KeyCode::Down
                | KeyCode::Up
                | KeyCode::End
                | KeyCode::PageDown
                | KeyCode::PageUp
        ) {
            self.moved = true;
        }
        match key.code {
            KeyCode::Esc if self.from_group => {
                // Back to the groups, without the group's filter.
                self.set_filter(DlqFilter::default(), String::new(), entries);
                self.grouped = true;
            }
            KeyCode::Char('j') | KeyCode::Down => {
                self.selected = (self.selected + 1).min(n.saturating_sub(1))
            }
            KeyCode::Char('k') | KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Char('g') | KeyCode::Home => {
                self.selected = 0;
                self.moved = false;
            }
            KeyCode::Char('G') | KeyCode::End => self.selected = n.saturating_sub(1),
            KeyCode::PageDown => self.selected = (self.selected + 20).min(n.saturating_sub(1)),
            KeyCode::PageUp => self.selected = self.selected.saturating_sub(20),
            KeyCode::Enter if n > 0 => {
                // The snapshot holds rows: fetch the whole record.
                return DlqKey::Open(self.selected(entries).map(|e| {
                    Command::LoadDlqEntry(levers::LoadDlqEntry {
                        partition: e.partition,
                        id: e.id,
                    })
                }));
            }
            KeyCode::Char('r') => {
                if let Some(e) = self.selected(entries) {
                    let filter = DlqFilter {
                        key: Some(e.key.to_string()),
                        ..Default::default()
                    };
                    // One entry, on the operator's key: no dialog.
                    return DlqKey::Send(Command::ReplayDlq(levers::ReplayDlq {
                        filter,
                        dry_run: false,
                        confirmed: true,
                        force: false,
                    }));
                }
            }
            KeyCode::Char('x') => {
                if let Some(e) = self.selected(entries) {
                    let path = crate::sanitize::clean(&e.file_path);
                    let c = Confirm {
                        kind: ConfirmKind::Purge(DlqFilter {
                            key: Some(e.key.to_string()),
                            ..Default::default()
                        }),
                        title: "Purge DLQ entry".into(),
                        lines: vec![
                            format!("Drop entry {} ({}) for good?", e.id, crate::sanitize::clean(&e.error_type)),
                            format!("document: {path}"),
                            "The document becomes 'failed' with its reason kept; backfill can re-drive it.".into(),
                        ],
                        ok_label: "Purge".into(),
                        cancel_label: "Cancel".into(),
                        ok_focused: false,
                    };
                    return DlqKey::Confirm(c);
                }
            }
            _ => {}
        }
        DlqKey::Nothing
    }
}

/// A window on the filtered DLQ without copying it.
#[derive(Clone, Copy)]
pub struct DlqView<'a> {
    entries: &'a [Arc<DlqRow>],
    matches: Option<&'a [usize]>,
}

impl<'a> DlqView<'a> {
    pub fn len(&self) -> usize {
        self.matches.map_or(self.entries.len(), |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> Option<&'a DlqRow> {
        match self.matches {
            None => self.entries.get(i),
            Some(m) => m.get(i).and_then(|&j| self.entries.get(j)),
        }
        .map(|r| &**r)
    }

    /// Entries `from..from + count` of the view, with their position.
    pub fn window(self, from: usize, count: usize) -> impl Iterator<Item = (usize, &'a DlqRow)> {
        (from..from.saturating_add(count).min(self.len()))
            .filter_map(move |i| self.get(i).map(|e| (i, e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn keys_move_open_replay_and_ask_before_purging() {
        let rows = super::super::fixture::snapshot().dlq;
        let mut l = DlqList::default();
        assert_eq!(
            l.on_key(key(KeyCode::Char('j')), &rows, &[]),
            DlqKey::Nothing
        );
        assert_eq!(l.selected, 1);
        l.on_key(key(KeyCode::Char('G')), &rows, &[]);
        assert_eq!(l.selected, rows.len() - 1);
        l.on_key(key(KeyCode::Char('j')), &rows, &[]);
        assert_eq!(l.selected, rows.len() - 1, "stays on the last entry");
        l.on_key(key(KeyCode::Char('g')), &rows, &[]);
        let first = &rows[0];
        assert_eq!(
            l.on_key(key(KeyCode::Enter), &rows, &[]),
            DlqKey::Open(Some(Command::LoadDlqEntry(levers::LoadDlqEntry {
                partition: first.partition,
                id: first.id
            })))
        );
        let DlqKey::Send(Command::ReplayDlq(levers::ReplayDlq {
            filter,
            dry_run: false,
            confirmed: true,
            force: false,
        })) = l.on_key(key(KeyCode::Char('r')), &rows, &[])
        else {
            panic!("r replays the selected entry")
        };
        assert_eq!(filter.key.as_deref(), Some(&*first.key));
        let DlqKey::Confirm(c) = l.on_key(key(KeyCode::Char('x')), &rows, &[]) else {
            panic!("x asks first")
        };
        assert!(matches!(c.kind, ConfirmKind::Purge(_)));
        assert!(!c.ok_focused, "the safe button is the default");
    }

    #[test]
    fn a_filter_narrows_the_view_and_keeps_the_selection_in_range() {
        let rows = super::super::fixture::snapshot().dlq;
        let mut l = DlqList {
            selected: rows.len() - 1,
            ..Default::default()
        };
        let t = &rows[0].error_type;
        let f = DlqFilter::parse(&format!("type:{t}")).unwrap();
        l.set_filter(f, format!("type:{t}"), &rows);
        let v = l.view(&rows);
        assert!(v.len() < rows.len() && !v.is_empty());
        assert_eq!(l.selected, 0);
        assert!((0..v.len()).all(|i| v.get(i).unwrap().error_type == *t));
    }
}
