//! Screen layout. Wide terminals show every panel; small ones (80×24) show a
//! one-line summary and the focused panel, and tab moves between panels.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::app::{App, Focus};
use super::widgets::thousands;
use crate::model::Status;

pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    f.render_widget(Block::default().style(app.theme.base()), area);
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    super::header::render(f, header, app);
    super::header::render_footer(f, footer, app);
    if body.width >= 120 && body.height >= 30 {
        full(f, body, app);
    } else {
        compact(f, body, app);
    }
    app.overlay.render(f, area, app);
}

fn panel(f: &mut Frame, area: Rect, app: &App, which: Focus) {
    match which {
        Focus::Lag => super::lag::render(f, area, app),
        Focus::Breaker => super::breaker::render(f, area, app),
        Focus::Rollout => super::rollout::render(f, area, app),
        Focus::Fleet => super::fleet::render(f, area, app),
        Focus::Pending => super::pending::render(f, area, app),
        Focus::Throughput => super::throughput::render(f, area, app),
        Focus::Dlq => super::dlq::render(f, area, app),
        Focus::Logs => super::logs::render(f, area, app),
    }
}

fn full(f: &mut Frame, area: Rect, app: &App) {
    let projects = app.snapshot.counts.len() as u16;
    let members = app.snapshot.fleet.len() as u16;
    let [top, fleet, middle, bottom] = Layout::vertical([
        Constraint::Length(app.snapshot.partitions.len().max(4) as u16 + 8),
        Constraint::Length((members + 4).clamp(5, 10)),
        Constraint::Length((projects + 4).clamp(9, 14)),
        Constraint::Min(8),
    ])
    .areas(area);
    panel(f, fleet, app, Focus::Fleet);
    let [lag, breaker, rollout] = Layout::horizontal([
        Constraint::Percentage(45),
        Constraint::Percentage(30),
        Constraint::Percentage(25),
    ])
    .areas(top);
    panel(f, lag, app, Focus::Lag);
    panel(f, breaker, app, Focus::Breaker);
    panel(f, rollout, app, Focus::Rollout);
    let [pending, throughput] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(middle);
    panel(f, pending, app, Focus::Pending);
    panel(f, throughput, app, Focus::Throughput);
    let [dlq, logs] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(bottom);
    panel(f, dlq, app, Focus::Dlq);
    panel(f, logs, app, Focus::Logs);
}

fn compact(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let s = &app.snapshot;
    let [summary, tabs, rest] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(area);
    let n = |st| thousands(s.totals.get(&st).copied().unwrap_or(0));
    let breaker_style = match s.breaker.state {
        crate::engine::resilience::breaker::BreakerState::Closed => t.ok(),
        crate::engine::resilience::breaker::BreakerState::HalfOpen => t.warn(),
        crate::engine::resilience::breaker::BreakerState::Open => t.error(),
    };
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                format!(
                    "lag {} {} ",
                    thousands(s.lag_total.max(0) as u64),
                    s.lag_trend
                ),
                t.accent(),
            ),
            Span::styled(
                format!("breaker {} ", s.breaker.state.as_str()),
                breaker_style,
            ),
            Span::raw(format!(
                "pend {} done {} dlq {} ",
                n(Status::Pending),
                n(Status::Completed),
                n(Status::Dlq)
            )),
            Span::styled(format!("{:.0}/s", s.docs_per_sec), t.ok()),
        ])),
        summary,
    );
    let mut tab_spans = Vec::new();
    for focus in Focus::ALL {
        let style = if focus == app.focus {
            t.selected()
        } else {
            t.muted()
        };
        tab_spans.push(Span::styled(format!(" {} ", focus.tab()), style));
    }
    f.render_widget(Paragraph::new(Line::from(tab_spans)), tabs);
    panel(f, rest, app, app.focus);
}

#[cfg(test)]
mod tests {
    use super::super::app::Focus;
    use super::super::fixture::{app, render};

    #[test]
    fn whole_screen_at_both_sizes_and_huge() {
        for (w, h) in [(80, 24), (200, 60)] {
            let a = app(Focus::Dlq);
            insta::assert_snapshot!(
                format!("screen_{w}x{h}"),
                render(w, h, |f| super::draw(f, &a))
            );
        }
        // 250×70 renders without panicking and shows every panel.
        let a = app(Focus::Lag);
        let out = render(250, 70, |f| super::draw(f, &a));
        for title in [
            "Lag",
            "Circuit breaker",
            "Rollout",
            "Fleet",
            "Documents",
            "Throughput",
            "Dead-letter queue",
            "Logs",
        ] {
            assert!(out.contains(title), "{title} missing");
        }
        // Degenerate sizes must not panic either.
        for (w, h) in [(1, 1), (10, 3), (40, 10)] {
            render(w, h, |f| super::draw(f, &a));
        }
    }
}

#[cfg(test)]
mod state_tests {
    use super::super::app::Focus;
    use super::super::fixture::{app, render};
    use crate::engine::handle::Snapshot;
    use crate::engine::resilience::breaker::BreakerState;

    /// Issue 28: the header, Lag's note, this engine's Fleet row and
    /// `/health` say the same thing in every state.
    #[test]
    fn every_panel_agrees_on_the_state() {
        type Tweak = fn(&mut Snapshot);
        let mine = |s: &mut Snapshot| {
            let id = s.member_id.clone();
            let i = s
                .fleet
                .iter()
                .position(|m| m.status.member_id == id)
                .expect("this engine reports");
            i
        };
        let cases: [(&str, &str, Tweak); 6] = [
            ("DRAINING", "clears in", |_| {}),
            ("HELD (disk full)", "disk full: nothing", |s| {
                s.stall = Some(crate::engine::resilience::stall::StallView {
                    reason: "disk full under /var/lib/archon (12 KiB free): recording outcomes waits for space; nothing new is fetched".into(),
                    disk_full: true,
                    since_ms: 0,
                    failures: 3,
                });
            }),
            ("HELD (rollback)", "held by the rollback", |s| {
                s.held = true;
                s.paused = true;
                s.rollout.enabled = false;
            }),
            ("PAUSED", "paused: nothing", |s| s.paused = true),
            ("BREAKER OPEN", "breaker OPEN", |s| {
                s.breaker.state = BreakerState::Open;
            }),
            ("CAUGHT UP", "caught up", |s| {
                s.lag_total = 0;
                s.eta_secs = None;
                for p in &mut s.partitions {
                    p.lag.lag = 0;
                }
                s.in_flight = 0;
                s.docs_per_sec = 0.0;
                for m in &mut s.fleet {
                    m.status.in_flight = 0;
                    m.status.docs_per_sec = 0.0;
                }
            }),
        ];
        for (word, note, tweak) in cases {
            let mut a = app(Focus::Lag);
            let mut s = (*a.snapshot).clone();
            // The fixture's breaker is OPEN; each case starts from CLOSED.
            s.breaker.state = BreakerState::Closed;
            tweak(&mut s);
            // This engine's row is its live state (Snapshot::set_levers).
            let i = mine(&mut s);
            let st = &mut s.fleet[i].status;
            st.held = s.held;
            st.stalled = s.stall.as_ref().map(|v| v.reason.clone());
            st.paused = s.paused;
            st.breaker.state = s.breaker.state;
            a.snapshot = std::sync::Arc::new(s);
            let state = a.state();
            assert_eq!(state.word(), word);

            let screen = render(200, 60, |f| super::draw(f, &a));
            let header = screen.lines().next().unwrap();
            assert!(header.contains(&format!(" {word} ")), "{word}: {header}");
            let expected_note = state.lag_note(a.snapshot.lag_total, Some("1m34s".into()));
            assert!(expected_note.starts_with(note), "{word}: {expected_note}");
            assert!(screen.contains(note), "{word}: Lag says\n{screen}");
            if !state.consuming() {
                assert!(!screen.contains("clears in"), "{word}: an ETA\n{screen}");
            }
            let fleet = render(160, 12, |f| super::super::fleet::render(f, f.area(), &a));
            let row = fleet
                .lines()
                .find(|l| l.contains(&format!("*{}", a.snapshot.member_id)))
                .expect("this engine's row");
            let own = a.snapshot.member_state(&a.snapshot.fleet[i]);
            assert!(row.contains(own.short()), "{word}: {row}");
            assert_eq!(
                own.name().split('_').next(),
                state.name().split('_').next(),
                "{word}: the Fleet row and the header agree"
            );
            assert!(
                row.contains(a.snapshot.breaker.state.as_str()),
                "{word}: the row's breaker is the panel's: {row}"
            );
            let (_, health) = crate::serve::health::consumer(
                &a.snapshot,
                crate::serve::health::ConsumerCounters {
                    alive: true,
                    ..Default::default()
                },
                a.snapshot.refreshed_ms,
            );
            assert_eq!(health["consumer"]["state"], state.name(), "{word}");
            if let Some(st) = &a.snapshot.stall {
                assert!(header.contains("disk full under"), "{header}");
                let reasons = health["reasons"].as_array().unwrap();
                assert!(
                    reasons.iter().any(|r| r == st.reason.as_str()),
                    "{reasons:?}"
                );
            }
        }
    }
}
