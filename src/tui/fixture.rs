//! A fixed, realistic snapshot for the panels' snapshot tests.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::engine::dlq::index::DlqRow;
use crate::engine::dlq::DlqEntry;
use crate::engine::handle::{BackendView, PartitionView, Snapshot};
use crate::engine::resilience::breaker::{BreakerSnapshot, BreakerState};
use crate::engine::telemetry::lagstat::PartitionStatus;
use crate::engine::telemetry::stats::LatencySummary;
use crate::events::{DlqMessage, ErrorDetails, ServiceHealth};
use crate::model::PartitionLag;
use crate::model::Status;

fn entry(id: i64, error: &str, path: &str, project: &str, retries: u32) -> DlqEntry {
    let doc = format!("{:08x}-0000-5000-8000-{:012x}", id, id);
    DlqEntry {
        id,
        partition: 0,
        key: doc.clone(),
        message: DlqMessage {
            document_id: doc.clone(),
            project_name: project.into(),
            correlation_id: format!("7DC1746A-42A0-4125-BEA9-{:012X}", id),
            failure_reason: format!("{error}: failed to enrich {path}"),
            failure_timestamp: format!("2026-11-23T01:{:02}:{:02}.000Z", 10 + id / 60, id % 60),
            failure_count: retries,
            original_message: serde_json::json!({"document_id": doc, "file_path": path, "retry_count": retries.saturating_sub(1)}),
            error_details: ErrorDetails {
                exception_type: error.into(),
                exception_message: format!("failed to enrich {path}"),
                stack_trace: None,
                service_health: ServiceHealth {
                    intelligence_service: "unhealthy".into(),
                    memgraph: "healthy".into(),
                    qdrant: "healthy".into(),
                },
                attempts: Vec::new(),
            },
            original_topic: crate::events::ENRICH_TOPIC.into(),
            original_partition: (id % 4) as i32,
            original_offset: 1000 + id,
        },
    }
}

/// The fixture's DLQ entries in full (what the topic holds), newest first.
pub fn dlq_entries() -> Vec<DlqEntry> {
    vec![
        entry(5, "InjectedFailure", "pkg01/mod02/service_9.py", "web", 3),
        entry(4, "EncodingError", "docs/latin1.txt", "web", 1),
        entry(3, "FileTooLarge", "assets/dump.sql", "web", 1),
        entry(2, "InjectedFailure", "src/lib.rs", "web", 3),
        entry(
            1,
            "SchemaValidationError",
            "\u{1b}[2J\u{1b}]52;c;aGk=\u{7}evil.rs",
            "web",
            1,
        ),
        entry(0, "InjectedFailure", "cmd/server/main.go", "web", 3),
    ]
}

fn rows(entries: &[DlqEntry]) -> Vec<Arc<DlqRow>> {
    DlqRow::all_of(entries)
}

pub fn snapshot() -> Snapshot {
    let mut s = snapshot_parts();
    // This engine's row is its live state (`Snapshot::set_levers`).
    let (id, breaker) = (s.member_id.clone(), s.breaker.clone());
    for m in &mut s.fleet {
        if m.status.member_id == id {
            m.status.breaker = breaker.clone();
        }
    }
    s
}

fn snapshot_parts() -> Snapshot {
    let mut counts = BTreeMap::new();
    let mut web = BTreeMap::new();
    web.insert(Status::Pending, 1200);
    web.insert(Status::Processing, 10);
    web.insert(Status::Completed, 8400);
    web.insert(Status::Dlq, 6);
    let mut api = BTreeMap::new();
    api.insert(Status::Pending, 37);
    api.insert(Status::Completed, 2210);
    api.insert(Status::Failed, 1);
    counts.insert("api".to_string(), api);
    counts.insert("web".to_string(), web);
    let totals = crate::model::total_counts(&counts);
    let statuses = [
        PartitionStatus::Ok,
        PartitionStatus::Warn,
        PartitionStatus::Stall,
        PartitionStatus::Ok,
    ];
    let partitions = (0..4)
        .map(|p| {
            let end = 3000 + p as i64 * 17;
            let committed = end - [300, 420, 311, 216][p];
            PartitionView {
                lag: PartitionLag {
                    partition: p as i32,
                    end,
                    committed,
                    lag: end - committed,
                },
                status: statuses[p],
                seconds_behind: Some([12.0, 95.5, 340.0, 3.2][p]),
            }
        })
        .collect();
    let dlq = dlq_entries();
    let dlq_by_type = crate::engine::dlq::histogram(dlq.iter());
    let dlq_groups = Arc::new(crate::engine::dlq::groups(dlq.iter()));
    let dlq = rows(&dlq);
    Snapshot {
        counts,
        totals,
        partitions,
        lag_total: 1247,
        lag_history: (0..120).map(|i| 2400 - (i * 10) + (i % 7) * 15).collect(),
        lag_trend: '↓',
        eta_secs: Some(94.0),
        commit_rate: Some(13.3),
        arrival_rate: Some(4.1),
        record_latency: LatencySummary::default(),
        breaker: BreakerSnapshot {
            state: BreakerState::Open,
            failure_count: 5,
            failure_rate: 0.42,
            calls_not_permitted: 17,
            last_failure: Some("2026-11-23T01:15:02.120Z".into()),
            last_error: Some("InjectedFailure: injected failure (rate 0.3, attempt 1)".into()),
            opened_at: Some("2026-11-23T01:15:02.120Z".into()),
            half_open_in_ms: Some(41_000),
        },
        rollout: crate::engine::fleet::rollout::RolloutState {
            enabled: true,
            percentage: 35,
            enabled_projects: vec!["omniarchon".into()],
        },
        paused: false,
        held: false,
        stall: None,
        resetting: false,
        concurrency: 10,
        in_flight: 9,
        enriching: 7,
        docs_per_sec: 812.4,
        in_http_per_sec: 42.0,
        in_trees_per_sec: 0.0,
        in_watch_per_sec: 0.0,
        watches: Vec::new(),
        sources: [("web".to_string(), "watch …/src/web + http".to_string())]
            .into_iter()
            .collect(),
        rate_history: (0..120).map(|i| 600 + (i * 37) % 300).collect(),
        history_ms: (0..120).map(|i| 1_795_000_000_000 + i * 1_000).collect(),
        enrich_latency: LatencySummary {
            count: 10610,
            p50_ms: 1.2,
            p95_ms: 4.8,
            p99_ms: 9.9,
            max_ms: 31.0,
        },
        retry_wait: LatencySummary {
            count: 38,
            p50_ms: 212.0,
            p95_ms: 1_840.0,
            p99_ms: 3_900.0,
            max_ms: 4_120.0,
        },
        index_latency: LatencySummary {
            count: 11864,
            p50_ms: 0.4,
            p95_ms: 1.1,
            p99_ms: 2.3,
            max_ms: 12.5,
        },
        dlq: Arc::new(dlq),
        dlq_by_type,
        dlq_groups,
        backends: ["broker", "graph", "vectors", "intelligence"]
            .iter()
            .map(|n| BackendView {
                name: n,
                kind: "embedded".into(),
                healthy: *n != "intelligence",
            })
            .collect(),
        data_dir: "/var/lib/archon-tui".into(),
        error: None,
        refreshed_ms: 0,
        member_id: "edge-1-4242".into(),
        fleet: fleet(),
        control_kind: "kafka",
        control_trouble: None,
        read_only: false,
        max_rate: Some(900.0),
        audit: Vec::new(),
        jobs: vec![job()],
        others: Vec::new(),
        pending_by_age: vec![
            ("1m".into(), 1_204),
            ("10m".into(), 310),
            ("1h".into(), 12),
            ("1d".into(), 0),
        ],
    }
}

/// A redrive a third of the way through, at 50 entries a second.
pub fn job() -> crate::engine::dlq::redrive::JobView {
    use crate::engine::dlq::redrive::{JobControl, JobView, RedriveJob};
    let job = RedriveJob {
        id: "r5e1f00d".into(),
        filter: crate::engine::dlq::DlqFilter::default(),
        force: false,
        bound: Default::default(),
        total: 1500,
        replayed: 480,
        looping: 12,
        skipped: 8,
        failures: 0,
        last_error: None,
        cursor: Some((2, 517)),
        owner: "edge-1-4242".into(),
        actor: "ops@edge-1".into(),
        created_ms: 0,
        saved_ms: 0,
        active_ms: 10_000,
        finished: None,
    };
    let ctl = JobControl {
        rate: Some(50.0),
        ..Default::default()
    };
    JobView::of(&job, &ctl, 0)
}

/// Three members: two busy, one silent for 4 s (stale), owning p3.
pub fn fleet() -> Vec<crate::engine::telemetry::status::MemberView> {
    let member = |id: &str, pid: u32, partitions: Vec<i32>, rate: f64, age_ms: i64| {
        crate::engine::telemetry::status::MemberView {
            status: crate::engine::fleet::control::MemberStatus {
                stalled: None,
                enriching: None,
                service_p50_ms: None,
                service_p95_ms: None,
                record_p95_ms: None,
                max_rate: None,
                member_id: id.into(),
                host: id.rsplit_once('-').map_or(id, |(h, _)| h).into(),
                pid,
                version: "0.1.0".into(),
                started_ms: 0,
                updated_ms: 0,
                partitions,
                concurrency: 10,
                in_flight: if age_ms > 3000 { 4 } else { 9 },
                breaker: snapshot_breaker(),
                docs_per_sec: rate,
                errors: 3,
                paused: false,
                held: false,
            },
            stale: age_ms > 2500,
            age_ms,
        }
    };
    vec![
        member("edge-1-4242", 4242, vec![0, 1], 412.0, 300),
        member("edge-2-977", 977, vec![2], 400.4, 800),
        member("edge-3-31337", 31337, vec![3], 0.0, 4200),
    ]
}

fn snapshot_breaker() -> BreakerSnapshot {
    crate::engine::resilience::breaker::CircuitBreaker::new(Default::default()).snapshot()
}

/// The fixture with `n` generated DLQ entries (the render bench uses 100,000).
pub fn snapshot_with_dlq(n: usize) -> Snapshot {
    let mut s = snapshot();
    let dlq = many_dlq_entries(n);
    s.dlq_by_type = crate::engine::dlq::histogram(dlq.iter());
    s.dlq = Arc::new(rows(&dlq));
    s.dlq_groups = Arc::new(crate::engine::dlq::groups(s.dlq.iter().map(|r| &**r)));
    s
}

/// `n` entries of five error types, each reason naming its own path (so
/// every reason differs and only its fingerprint groups it), newest first.
pub fn many_dlq_entries(n: usize) -> Vec<DlqEntry> {
    let types = [
        "InjectedFailure",
        "EncodingError",
        "FileTooLarge",
        "IntelligenceTimeout",
        "SchemaValidationError",
    ];
    let dlq: Vec<DlqEntry> = (0..n)
        .map(|i| {
            let ty = types[i % types.len()];
            entry(
                i as i64,
                ty,
                &format!("pkg{:02}/mod{:02}/file_{i}.py", i % 37, i % 11),
                if i % 3 == 0 { "api" } else { "web" },
                3,
            )
        })
        .rev()
        .collect();
    dlq
}

/// The console's rows of `entries` (what the DLQ index holds).
pub fn dlq_rows(entries: &[DlqEntry]) -> Vec<Arc<DlqRow>> {
    rows(entries)
}

/// Render with `draw` on a `w`×`h` TestBackend and return the screen text.
pub fn render(w: u16, h: u16, draw: impl FnOnce(&mut ratatui::Frame)) -> String {
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    term.draw(draw).unwrap();
    let text = term.backend().to_string();
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "control characters reached the screen"
    );
    text
}

/// An app showing the fixture, focused on `focus`.
pub fn app(focus: super::app::Focus) -> super::app::App {
    let mut app = super::app::App::new(super::theme::Theme::dark());
    app.set_snapshot(Arc::new(snapshot()));
    app.focus = focus;
    app
}

/// An audit line that took (lever markers' tests).
pub fn audit_entry(at_ms: i64, action: &str) -> crate::ports::control::AuditEntry {
    crate::ports::control::AuditEntry {
        at_ms,
        actor: "ann@ops".into(),
        origin: crate::ports::control::Origin::Cli,
        member_id: "m1".into(),
        action: action.into(),
        before: String::new(),
        after: "ok".into(),
        result: "ok".into(),
    }
}
