//! The Fleet panel: every engine of the consumer group as it last reported
//! (partitions, rate, in flight / concurrency, breaker, the lag it owns, the
//! age of its report). Select a member to aim the levers at it alone;
//! with none selected they act on the whole fleet.

use crate::engine::fleet::levers;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::app::{App, Focus};
use super::widgets::{panel, thousands};
use crate::engine::fleet::levers::Command;
use crate::engine::handle::Snapshot;
use crate::engine::resilience::breaker::BreakerState;
use crate::engine::telemetry::status::MemberView;
use crate::sanitize::clean;

/// The selection, by member id (members come and go between snapshots).
#[derive(Debug, Default)]
pub struct FleetList {
    pub selected: Option<String>,
}

impl FleetList {
    /// The member the levers aim at, if one is selected and still there.
    pub fn target<'a>(&self, fleet: &'a [MemberView]) -> Option<&'a MemberView> {
        let id = self.selected.as_deref()?;
        fleet.iter().find(|m| m.status.member_id == id)
    }

    /// Keys of the focused panel: j/k select, esc back to the whole fleet,
    /// h hold / release the target.
    pub fn on_key(&mut self, key: KeyEvent, snap: &Snapshot) -> Option<Command> {
        let ids: Vec<&str> = snap
            .fleet
            .iter()
            .map(|m| m.status.member_id.as_str())
            .collect();
        let at = self
            .selected
            .as_deref()
            .and_then(|id| ids.iter().position(|m| *m == id));
        let pick = |i: usize| ids.get(i).map(|s| s.to_string());
        match key.code {
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = match at {
                    None => pick(0),
                    Some(i) => pick((i + 1).min(ids.len().saturating_sub(1))),
                };
                None
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = match at {
                    None | Some(0) => None,
                    Some(i) => pick(i - 1),
                };
                None
            }
            KeyCode::Esc => {
                self.selected = None;
                None
            }
            KeyCode::Char('h') => match self.target(&snap.fleet) {
                Some(m) => Some(Command::Hold(levers::Hold {
                    member: Some(m.status.member_id.clone()),
                    held: !m.status.held,
                })),
                None => Some(Command::Hold(levers::Hold {
                    member: None,
                    held: !snap.held,
                })),
            },
            _ => None,
        }
    }
}

/// Fleet totals for the header: members (stale), docs/s.
pub fn totals(s: &Snapshot) -> (usize, usize, f64) {
    let stale = s.fleet.iter().filter(|m| m.stale).count();
    let rate = s
        .fleet
        .iter()
        .filter(|m| !m.stale)
        .map(|m| m.status.docs_per_sec)
        .sum();
    (s.fleet.len(), stale, rate)
}

fn lag_owned(s: &Snapshot, m: &MemberView) -> u64 {
    s.partitions
        .iter()
        .filter(|p| m.status.partitions.contains(&p.lag.partition))
        .map(|p| p.lag.lag.max(0) as u64)
        .sum()
}

fn list(partitions: &[i32]) -> String {
    if partitions.is_empty() {
        return "-".into();
    }
    partitions
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let s = &app.snapshot;
    let target = app.fleet.target(&s.fleet);
    let aim = match target {
        Some(m) => format!("· levers: {}", clean(&m.status.member_id)),
        None => "· levers: whole fleet".into(),
    };
    let block = panel(app, Focus::Fleet, &aim);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [summary, table] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let (n, stale, rate) = totals(s);
    let mut line = vec![
        Span::styled(
            format!("{n} {}", if n == 1 { "member" } else { "members" }),
            t.accent(),
        ),
        Span::styled(format!("  {rate:.0} docs/s"), t.ok()),
        Span::styled(format!("  state: {}", s.control_kind), t.muted()),
    ];
    if stale > 0 {
        line.push(Span::styled(format!("  {stale} STALE"), t.error()));
    }
    if let Some(trouble) = &s.control_trouble {
        line.push(Span::styled(format!("  {}", clean(trouble)), t.warn()));
    }
    if !s.others.is_empty() {
        line.push(Span::styled(
            format!("  +{} not archon-tui (not steerable)", s.others.len()),
            t.warn(),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(line)), summary);
    if s.fleet.is_empty() && s.others.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled(
                "no member reports (an engine reports once a second while it runs)",
                t.muted(),
            )),
            table,
        );
        return;
    }
    let rows = s.fleet.iter().map(|m| {
        let st = &m.status;
        let mine = st.member_id == s.member_id;
        let breaker_style = match st.breaker.state {
            BreakerState::Closed => t.ok(),
            BreakerState::HalfOpen => t.warn(),
            BreakerState::Open => t.error(),
        };
        let state = if m.stale {
            Span::styled(format!("STALE {}s", m.age_ms / 1000), t.error())
        } else {
            let st = s.member_state(m);
            Span::styled(st.short(), t.tone(st.tone()))
        };
        let parts = list(&st.partitions);
        let row = Row::new(vec![
            Cell::from(format!(
                "{}{}",
                if mine { "*" } else { " " },
                clean(&st.member_id)
            )),
            Cell::from(parts),
            Cell::from(format!("{:.0}", st.docs_per_sec)),
            Cell::from(format!("{}/{}", st.in_flight, st.concurrency)),
            Cell::from(Span::styled(st.breaker.state.as_str(), breaker_style)),
            Cell::from(thousands(lag_owned(s, m))),
            Cell::from(state),
        ]);
        if target.is_some_and(|t| t.status.member_id == st.member_id) {
            row.style(t.selected())
        } else {
            row
        }
    });
    // Members Kafka reports that are not ours: client, host, partitions and
    // their lag; no report of theirs, and no lever reaches them.
    let others = s.others.iter().map(|o| {
        let lag: i64 = s
            .partitions
            .iter()
            .filter(|p| o.partitions.contains(&p.lag.partition))
            .map(|p| p.lag.lag.max(0))
            .sum();
        Row::new(vec![
            Cell::from(format!(" {}@{}", clean(&o.client_id), clean(&o.host))),
            Cell::from(list(&o.partitions)),
            Cell::from("-"),
            Cell::from("-"),
            Cell::from("-"),
            Cell::from(thousands(lag as u64)),
            Cell::from(Span::styled("no levers", t.warn())),
        ])
    });
    let rows: Vec<Row> = rows.chain(others).collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Min(14),
                Constraint::Length(10),
                Constraint::Length(7),
                Constraint::Length(9),
                Constraint::Length(9),
                Constraint::Length(8),
                Constraint::Length(9),
            ],
        )
        .header(
            Row::new([
                "member", "parts", "docs/s", "in fl/c", "breaker", "lag", "state",
            ])
            .style(t.muted()),
        ),
        table,
    );
}

#[cfg(test)]
mod tests {
    use super::super::app::Focus;
    use super::super::fixture::{app, render};
    use super::*;
    use crossterm::event::KeyModifiers;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn fleet_panel() {
        for (w, h) in [(80, 24), (200, 60)] {
            let mut a = app(Focus::Fleet);
            a.fleet.selected = Some("edge-2-977".into());
            insta::assert_snapshot!(
                format!("fleet_{w}x{h}"),
                render(w, h, |f| super::render(f, f.area(), &a))
            );
        }
    }

    #[test]
    fn fleet_panel_with_a_member_that_is_not_ours() {
        let mut a = app(Focus::Fleet);
        let snap = std::sync::Arc::make_mut(&mut a.snapshot);
        snap.others = vec![crate::ports::broker::GroupMember {
            member_id: "aiokafka-1-abc".into(),
            client_id: "aiokafka-0.12.0".into(),
            host: "10.0.0.9".into(),
            partitions: vec![3],
        }];
        snap.fleet.retain(|m| !m.status.partitions.contains(&3));
        let shown = render(120, 16, |f| super::render(f, f.area(), &a));
        assert!(shown.contains("aiokafka-0.12.0@10.0.0.9"), "{shown}");
        assert!(
            shown.contains("not steerable") && shown.contains("no levers"),
            "{shown}"
        );
        insta::assert_snapshot!("fleet_with_other_member", shown);
        let lag = render(120, 16, |f| super::super::lag::render(f, f.area(), &a));
        assert!(
            lag.contains("aiokafka-0.12.0@10.0.0.9 (not steerable)"),
            "{lag}"
        );
    }

    #[test]
    fn selection_moves_by_id_and_hold_aims_at_the_target() {
        let a = app(Focus::Fleet);
        let snap = a.snapshot.clone();
        let mut l = FleetList::default();
        assert_eq!(
            l.on_key(key(KeyCode::Char('h')), &snap),
            Some(Command::Hold(levers::Hold {
                member: None,
                held: true
            })),
            "nothing selected: the whole fleet"
        );
        l.on_key(key(KeyCode::Char('j')), &snap);
        l.on_key(key(KeyCode::Char('j')), &snap);
        assert_eq!(l.selected.as_deref(), Some("edge-2-977"));
        assert_eq!(
            l.on_key(key(KeyCode::Char('h')), &snap),
            Some(Command::Hold(levers::Hold {
                member: Some("edge-2-977".into()),
                held: true
            }))
        );
        for _ in 0..5 {
            l.on_key(key(KeyCode::Char('j')), &snap);
        }
        assert_eq!(
            l.selected.as_deref(),
            Some("edge-3-31337"),
            "stops at the end"
        );
        l.on_key(key(KeyCode::Esc), &snap);
        assert_eq!(l.selected, None);
        let mut gone = (*snap).clone();
        gone.fleet.retain(|m| m.status.member_id != "edge-2-977");
        l.selected = Some("edge-2-977".into());
        assert!(
            l.target(&gone.fleet).is_none(),
            "a member that left is no target"
        );
    }
}
