//! Engine-level behaviour through the library API, embedded backends.

use std::sync::Arc;
use std::time::Duration;

use archon_tui::backends::broker::OutRecord;
use archon_tui::backends::graph::Status;
use archon_tui::engine::config::EngineConfig;
use archon_tui::engine::{pipeline::consumer, pipeline::drain, pipeline::producer, Engine};

async fn engine(dir: &std::path::Path, tweak: impl FnOnce(&mut EngineConfig)) -> Arc<Engine> {
    let mut cfg = EngineConfig::with_data_dir(dir);
    cfg.retry.base_delay = Duration::from_millis(5);
    cfg.retry.max_delay = Duration::from_millis(20);
    tweak(&mut cfg);
    archon_tui::runtime::open_engine(cfg).await.unwrap()
}

async fn drain_for(engine: &Arc<Engine>, secs: u64) -> bool {
    let task = tokio::spawn(consumer::run(engine.clone()));
    let ok = drain::wait_drained(engine, Some(Duration::from_secs(secs)), &|_| {})
        .await
        .unwrap();
    engine.stop();
    task.await.unwrap().unwrap();
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_messages_go_to_the_dlq_with_a_reason_and_good_ones_complete() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 30).unwrap();
    let e = engine(data.path(), |_| {}).await;
    producer::ingest(&e, src.path(), "p", &|_| {})
        .await
        .unwrap();
    let hostile: Vec<Vec<u8>> = vec![
        b"{not json".to_vec(),
        b"\xff\xfe\xfd".to_vec(),
        br#"{"document_id":"nope","project_name":"p","content_hash":"x","file_path":"a","indexed_at":"2025-01-01T00:00:00Z","correlation_id":"X"}"#.to_vec(),
        format!("\u{1b}[2J\u{1b}]52;c;aGk=\u{7}{}", "A".repeat(1 << 20)).into_bytes(),
    ];
    e.backends
        .broker
        .produce(
            &e.cfg.enrich_topic,
            hostile
                .iter()
                .enumerate()
                .map(|(i, v)| OutRecord {
                    key: format!("h{i}").into_bytes(),
                    value: v.clone(),
                })
                .collect(),
        )
        .await
        .unwrap();
    assert!(drain_for(&e, 30).await);
    let p = drain::progress(&e).await.unwrap();
    assert_eq!(p.total(Status::Completed), 30);
    let dlq = e
        .backends
        .broker
        .read(&e.cfg.dlq_topic, 0, 0, 100)
        .await
        .unwrap();
    assert_eq!(dlq.len(), 4);
    for rec in dlq {
        let m: archon_tui::events::DlqMessage = serde_json::from_slice(&rec.value).unwrap();
        assert_eq!(m.error_details.exception_type, "SchemaValidationError");
        assert_eq!(m.failure_count, 1, "permanent: no retries");
        assert!(!m.failure_reason.is_empty());
        assert!(m.original_offset >= 0 && m.original_topic == e.cfg.enrich_topic);
        let shown = serde_json::to_string(&m.original_message).unwrap();
        assert!(
            shown.len() < 10_000,
            "huge payloads are capped in the DLQ record"
        );
    }
    assert_eq!(
        archon_tui::engine::telemetry::stats::Stats::get(&e.stats.retries),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_documents_without_a_request_are_re_driven() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 20).unwrap();
    // Index with the kill switch off... then simulate "indexed, never
    // published": write documents straight to the graph.
    let e = engine(data.path(), |_| {}).await;
    let docs: Vec<_> = (0..20)
        .map(|i| archon_tui::backends::graph::NewDocument {
            entity_id: producer::document_id("p", &format!("f{i}.rs")),
            project_name: "p".into(),
            source_path: format!("f{i}.rs"),
            document_type: archon_tui::events::DocumentType::Code,
            language: Some("rust".into()),
            content_hash: blake3::hash(format!("fn f{i}() {{}}").as_bytes())
                .to_hex()
                .to_string(),
            indexed_at: archon_tui::events::now_rfc3339(),
            file_size_bytes: 10,
            line_count: 1,
            last_modified: None,
            correlation_id: producer::correlation_id(),
            content: Some(format!("fn f{i}() {{}}").into_bytes().into()),
            source: archon_tui::backends::graph::DocumentSource::Http,
        })
        .collect();
    e.backends.graph.index_documents(docs).await.unwrap();
    assert!(
        drain_for(&e, 30).await,
        "orphans must be re-driven, not waited on forever"
    );
    let p = drain::progress(&e).await.unwrap();
    assert_eq!(p.total(Status::Completed), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_breaker_pauses_consumption_instead_of_filling_the_dlq() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 200).unwrap();
    let e = engine(data.path(), |c| {
        c.faults.failure_rate = 1.0;
        c.concurrency = 4;
    })
    .await;
    producer::ingest(&e, src.path(), "p", &|_| {})
        .await
        .unwrap();
    assert!(
        !drain_for(&e, 3).await,
        "cannot drain while every call fails"
    );
    assert_eq!(
        e.breaker.state(),
        archon_tui::engine::resilience::breaker::BreakerState::Open
    );
    let p = drain::progress(&e).await.unwrap();
    let dlq = p.total(Status::Dlq);
    assert!(
        dlq <= 4,
        "only work in flight when the breaker opened may exhaust its retries: {dlq}"
    );
    assert_eq!(
        p.total(Status::Pending) + p.total(Status::Processing) + dlq,
        200,
        "nothing lost"
    );
    assert!(
        p.lag_total() >= 196,
        "the rest waits on the topic: lag {}",
        p.lag_total()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_recovers_half_open_then_closed_and_drains() {
    use archon_tui::engine::resilience::breaker::BreakerState;
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 100).unwrap();
    let e = engine(data.path(), |c| {
        c.faults.failure_rate = 1.0;
        c.breaker.recovery_timeout = Duration::from_millis(300);
    })
    .await;
    producer::ingest(&e, src.path(), "p", &|_| {})
        .await
        .unwrap();
    let task = tokio::spawn(consumer::run(e.clone()));
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut healed = false;
    loop {
        let st = e.breaker.state();
        if seen.last() != Some(&st) {
            seen.push(st);
        }
        if st == BreakerState::Open && !healed {
            // The service recovers.
            e.execute(archon_tui::engine::fleet::levers::Command::InjectFaults(
                archon_tui::engine::fleet::levers::InjectFaults {
                    failure_rate: 0.0,
                    latency_ms: 0,
                },
            ))
            .await
            .unwrap();
            healed = true;
        }
        let p = drain::progress(&e).await.unwrap();
        if healed && p.unfinished() == 0 && p.lag_total() == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not drain: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    e.stop();
    task.await.unwrap().unwrap();
    // Sampling can miss a HALF_OPEN that lasts one trial call; the breaker's
    // own record of transitions cannot.
    let seen = e.breaker.transitions();
    assert_eq!(seen.first(), Some(&BreakerState::Closed));
    let open_at = seen
        .iter()
        .position(|s| *s == BreakerState::Open)
        .expect("opened");
    assert!(
        seen[open_at..].contains(&BreakerState::HalfOpen),
        "{seen:?}"
    );
    assert_eq!(seen.last(), Some(&BreakerState::Closed), "{seen:?}");
    let p = drain::progress(&e).await.unwrap();
    assert_eq!(p.total(Status::Completed) + p.total(Status::Dlq), 100);
    assert!(
        p.total(Status::Dlq) <= 10,
        "only work in flight at the trip may be parked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_breaker_reset_reaches_a_running_engine_and_concurrency_resizes() {
    let data = tempfile::tempdir().unwrap();
    let e = engine(data.path(), |c| c.faults.failure_rate = 1.0).await;
    for _ in 0..5 {
        let p = e.breaker.try_acquire().unwrap();
        e.breaker.failure(p, "down");
    }
    assert_eq!(
        e.breaker.state(),
        archon_tui::engine::resilience::breaker::BreakerState::Open
    );
    // Another process (here: a second engine on the same data dir) resets it.
    let other = engine(data.path(), |_| {}).await;
    other
        .execute(archon_tui::engine::fleet::levers::Command::ResetBreaker(
            archon_tui::engine::fleet::levers::ResetBreaker { member: None },
        ))
        .await
        .unwrap();
    e.refresh_control().await;
    assert_eq!(
        e.breaker.state(),
        archon_tui::engine::resilience::breaker::BreakerState::Closed
    );

    let sem = e.limit.semaphore();
    assert_eq!(sem.available_permits(), 10);
    e.execute(archon_tui::engine::fleet::levers::Command::SetConcurrency(
        archon_tui::engine::fleet::levers::SetConcurrency {
            n: 40,
            member: None,
            nudge: None,
        },
    ))
    .await
    .unwrap();
    assert_eq!(sem.available_permits(), 40);
    e.execute(archon_tui::engine::fleet::levers::Command::SetConcurrency(
        archon_tui::engine::fleet::levers::SetConcurrency {
            n: 3,
            member: None,
            nudge: None,
        },
    ))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(sem.available_permits(), 3);
    assert_eq!(e.limit.get(), 3);
    assert!(e
        .execute(archon_tui::engine::fleet::levers::Command::SetConcurrency(
            archon_tui::engine::fleet::levers::SetConcurrency {
                n: 0,
                member: None,
                nudge: None
            }
        ))
        .await
        .is_err());
    assert_eq!(e.limit.get(), 3, "bad input leaves the setting alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dlq_index_follows_the_topic_incrementally() {
    use archon_tui::engine::dlq::index::DlqIndex;
    use archon_tui::engine::dlq::{self, DlqFilter};
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 120).unwrap();
    let e = engine(data.path(), |c| {
        c.faults.failure_rate = 0.3;
        c.retry.max_attempts = 1;
        c.breaker.failure_threshold = 1_000_000;
    })
    .await;
    producer::ingest(&e, src.path(), "p", &|_| {})
        .await
        .unwrap();
    assert!(drain_for(&e, 30).await);
    let dlq_count =
        |e: Arc<Engine>| async move { drain::progress(&e).await.unwrap().total(Status::Dlq) };
    let failed = dlq_count(e.clone()).await;
    assert!(failed > 10, "30 % of 120 fail: {failed}");

    let mut index = DlqIndex::new();
    let view = index.refresh(&e, failed).await.unwrap();
    assert_eq!(view.rows.len() as u64, failed);
    assert_eq!(view.by_type.get("InjectedFailure").copied(), Some(failed));
    // Newest first, every row about a document in the DLQ.
    assert!(view.rows.windows(2).all(|w| w[0].id > w[1].id));
    let full = dlq::load(&e).await.unwrap();
    for (row, entry) in view.rows.iter().zip(&full) {
        assert_eq!(row.id, entry.id);
        assert_eq!(row.document_id(), entry.message.document_id);
        assert_eq!(&*row.file_path, entry.file_path());
        assert!(DlqFilter::parse("type:injectedfailure p")
            .unwrap()
            .matches(&**row));
    }
    // Rows share their error type and project.
    assert!(Arc::ptr_eq(
        &view.rows[0].error_type,
        &view.rows[1].error_type
    ));
    // Nothing new: the same view, nothing re-read.
    let again = index.refresh(&e, failed).await.unwrap();
    assert!(Arc::ptr_eq(&view.rows, &again.rows));

    // Replay a third: tombstones remove those rows.
    let third: Vec<_> = full.iter().take(full.len() / 3).cloned().collect();
    dlq::replay(&e, &third, false, false).await.unwrap();
    let left = dlq_count(e.clone()).await;
    assert_eq!(left, failed - third.len() as u64);
    let view = index.refresh(&e, left).await.unwrap();
    assert_eq!(view.rows.len() as u64, left);
    assert!(view
        .rows
        .iter()
        .all(|r| third.iter().all(|t| t.key.as_str() != &*r.key)));

    // Undecodable messages: rows without a document, shown until purged.
    // (A stopped engine stays stopped: a new one on the same data dir.)
    drop(e);
    let e = engine(data.path(), |_| {}).await;
    e.backends
        .broker
        .produce(
            &e.cfg.enrich_topic,
            (0..5)
                .map(|i| OutRecord {
                    key: format!("junk-{i}").into_bytes(),
                    value: b"{not json".to_vec(),
                })
                .collect(),
        )
        .await
        .unwrap();
    assert!(drain_for(&e, 30).await);
    let now = dlq_count(e.clone()).await;
    let view = index.refresh(&e, now).await.unwrap();
    let junk = view
        .rows
        .iter()
        .filter(|r| r.document_id().is_empty())
        .count();
    assert_eq!(junk, 5);
    assert_eq!(view.rows.len() as u64, now + 5);
    // A fresh index reading the whole topic agrees with the incremental one.
    let fresh = DlqIndex::new().refresh(&e, now).await.unwrap();
    assert_eq!(fresh.rows, view.rows);
    assert_eq!(fresh.by_type, view.by_type);
}

/// The history outlives the process: what one engine sampled fills the next
/// one's sparklines from its first snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparklines_start_from_the_kept_history_after_a_restart() {
    use archon_tui::ports::history::Sample;
    let data = tempfile::tempdir().unwrap();
    {
        let e = engine(data.path(), |_| {}).await;
        let store = e.history.as_ref().expect("history kept in the data dir");
        for (i, lag) in [4242, 4100, 3900].iter().enumerate() {
            store
                .append(&Sample {
                    at_ms: archon_tui::clock::now_ms() - 30_000 + i as i64 * 10_000,
                    lag: *lag,
                    docs_per_sec: 321.0,
                    dlq: 2,
                    breaker: 0,
                })
                .await
                .unwrap();
        }
        e.stop();
    }
    let e = engine(data.path(), |_| {}).await;
    let mut h = archon_tui::engine::handle::spawn(
        e.clone(),
        archon_tui::engine::handle::Caller::local(
            archon_tui::engine::fleet::control::Origin::Console,
        ),
    );
    let snap = loop {
        h.snapshots.changed().await.unwrap();
        let s = h.snapshots.borrow().clone();
        if s.refreshed_ms > 0 {
            break s;
        }
    };
    assert_eq!(
        snap.lag_history[..3],
        [4242, 4100, 3900],
        "{:?}",
        snap.lag_history
    );
    assert_eq!(snap.rate_history[..3], [321, 321, 321]);
    // And this engine's own first sample is kept too.
    let kept = e.history.as_ref().unwrap().since(0).await.unwrap();
    assert_eq!(kept.len(), 4, "{kept:?}");
    e.stop();
}

/// Finished redrive jobs beyond the newest 50 are forgotten, for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_finished_jobs_are_forgotten() {
    use archon_tui::engine::dlq::redrive::{JobPhase, RedriveJob, KEEP_FINISHED};
    use archon_tui::engine::fleet::control::ControlChange;
    let data = tempfile::tempdir().unwrap();
    let e = engine(data.path(), |_| {}).await;
    let job = |i: i64, finished| RedriveJob {
        id: format!("r{i:04}"),
        filter: Default::default(),
        force: false,
        bound: Default::default(),
        total: 1,
        replayed: 1,
        looping: 0,
        skipped: 0,
        failures: 0,
        last_error: None,
        cursor: None,
        owner: "m".into(),
        actor: "a@b".into(),
        created_ms: 1_000 + i,
        saved_ms: 1_000 + i,
        active_ms: 1,
        finished,
    };
    for i in 0..55 {
        e.put_control(&ControlChange::Job(Box::new(job(i, Some(JobPhase::Done)))))
            .await
            .unwrap();
    }
    // An unfinished one, older than all, is never forgotten.
    e.put_control(&ControlChange::Job(Box::new(job(-1, None))))
        .await
        .unwrap();
    e.refresh_control().await;
    assert_eq!(e.forget_old_jobs().await.unwrap(), 55 - KEEP_FINISHED);
    let ids: Vec<String> = e.jobs().into_iter().map(|j| j.job.id).collect();
    assert_eq!(ids.len(), KEEP_FINISHED + 1);
    assert_eq!(ids[0], "r0054", "newest first");
    assert!(
        ids.contains(&"r-001".to_string()),
        "the running one stays: {ids:?}"
    );
    assert!(!ids.contains(&"r0004".to_string()));
    e.stop();
    drop(e);
    let again = engine(data.path(), |_| {}).await;
    assert_eq!(again.jobs().len(), KEEP_FINISHED + 1, "forgotten for good");
}

/// Issue 28: fifty alternating ←/→ presses with no pause, through the
/// console's command channel (each command on its own task, as the console
/// runs them), and as many +/- presses: nothing is lost (the rollout ends
/// where it started, concurrency too), and every audit line's "before" is
/// the value its change replaced, one after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_relative_key_presses_loses_no_step_and_audits_truthfully() {
    use archon_tui::engine::fleet::control::Origin;
    use archon_tui::engine::fleet::levers::{
        concurrency::Nudge, Caller, Command, RolloutChange, SetConcurrency,
    };
    let data = tempfile::tempdir().unwrap();
    let e = engine(data.path(), |c| c.rollout.percentage = 50).await;
    let mut h = archon_tui::engine::handle::spawn(
        e.clone(),
        Caller {
            origin: Origin::Console,
            actor: "op@test".into(),
        },
    );
    for i in 0..50 {
        let shift = if i % 2 == 0 { -5 } else { 5 };
        h.commands
            .send(Command::SetRollout(RolloutChange {
                shift: Some(shift),
                ..Default::default()
            }))
            .unwrap();
    }
    for i in 0..20 {
        h.commands
            .send(Command::SetConcurrency(SetConcurrency {
                n: 10,
                member: None,
                nudge: Some(if i % 2 == 0 { Nudge::Up } else { Nudge::Down }),
            }))
            .unwrap();
    }
    for _ in 0..70 {
        let (_, result) = tokio::time::timeout(Duration::from_secs(30), h.outcomes.recv())
            .await
            .unwrap()
            .unwrap();
        result.unwrap();
    }
    assert_eq!(e.rollout().percentage, 50, "every step applied once");
    assert_eq!(
        e.control_state().concurrency,
        Some(10),
        "up, down, … back to 10"
    );
    let audit = e.control.audit(1_000).await.unwrap();
    let number = |view: &str, after: &str| -> i64 {
        view.split(after)
            .nth(1)
            .and_then(|r| {
                r.trim_start()
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(-1)
    };
    let rollouts: Vec<(i64, i64)> = audit
        .iter()
        .filter(|a| a.action.starts_with("rollout"))
        .map(|a| (number(&a.before, " at"), number(&a.after, " at")))
        .collect();
    assert_eq!(rollouts.len(), 50, "{audit:?}");
    for pair in rollouts.windows(2) {
        assert_eq!(
            pair[0].1, pair[1].0,
            "each before is the last after: {rollouts:?}"
        );
    }
    for (before, after) in &rollouts {
        assert_eq!((before - after).abs(), 5, "one step each: {rollouts:?}");
    }
    assert_eq!(rollouts[0].0, 50);
    assert_eq!(rollouts[49].1, 50);
    let nudges: Vec<&str> = audit
        .iter()
        .filter(|a| a.action.starts_with("concurrency"))
        .map(|a| a.after.as_str())
        .collect();
    assert_eq!(nudges.len(), 20);
    assert!(audit.iter().all(|a| a.actor == "op@test"), "{audit:?}");
    e.stop();
}

/// Issue 28: the enrichment latency is the service call; the time retried
/// documents spent failing, backing off and waiting is its own figure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrichment_latency_is_the_call_and_retries_are_their_own_figure() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 100).unwrap();
    let e = engine(data.path(), |c| {
        c.faults.failure_rate = 0.4;
        c.faults.latency = Duration::from_millis(5);
        c.retry.max_attempts = 20;
        // A backoff far longer than a call: mixing them would show at once.
        c.retry.base_delay = Duration::from_millis(150);
        c.retry.max_delay = Duration::from_millis(150);
        c.breaker.failure_threshold = 1_000_000;
    })
    .await;
    producer::ingest(&e, src.path(), "p", &|_| {})
        .await
        .unwrap();
    assert!(drain_for(&e, 60).await);
    let call = e.stats.enrich_summary();
    let retry = e.stats.retry_wait_summary();
    eprintln!("call {call:?}\nin retry {retry:?}");
    assert_eq!(call.count, 100, "one figure per enrichment");
    assert!(
        retry.count > 10 && retry.count < 100,
        "about 40 % needed a retry: {}",
        retry.count
    );
    assert!(
        call.max_ms < 150.0,
        "no backoff in the call latency: max {} ms",
        call.max_ms
    );
    assert!(
        retry.p50_ms >= 130.0, // 150 ms ± 10 % jitter
        "a retried document waited at least one backoff: P50 {} ms",
        retry.p50_ms
    );
}

/// Issue 28: a parked entry carries every failed call, and the trace shows
/// each try (it showed the first request and the DLQ entry only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_try_is_kept_with_the_dlq_entry_and_traced() {
    use archon_tui::engine::dlq;
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 3).unwrap();
    let e = engine(data.path(), |c| {
        c.faults.failure_rate = 1.0;
        c.retry.max_attempts = 3;
        c.breaker.failure_threshold = 1_000_000;
    })
    .await;
    producer::ingest(&e, src.path(), "p", &|_| {})
        .await
        .unwrap();
    assert!(drain_for(&e, 30).await);
    let entries = dlq::load(&e).await.unwrap();
    assert_eq!(entries.len(), 3);
    for entry in &entries {
        let tries: Vec<u32> = entry
            .message
            .error_details
            .attempts
            .iter()
            .map(|t| t.attempt)
            .collect();
        assert_eq!(tries, [0, 1, 2], "{:?}", entry.message.error_details);
        assert!(entry.message.error_details.attempts[0]
            .error
            .starts_with("InjectedFailure"));
    }
    let t = e.trace(&entries[0].message.document_id).await.unwrap();
    let lines = archon_tui::engine::telemetry::trace::lines(&t).join("\n");
    for n in 0..3 {
        assert!(
            lines.contains(&format!("call failed intelligence try {n}")),
            "try {n} missing:\n{lines}"
        );
    }
}

/// The embedded broker, refusing the first `refusals` produces to one topic
/// (a Kafka broker restarting while the completed events are written).
struct RefusingTopic {
    inner: Arc<dyn archon_tui::ports::broker::Broker>,
    topic: String,
    refusals: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl archon_tui::ports::broker::Broker for RefusingTopic {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn group_is_exclusive(&self) -> bool {
        self.inner.group_is_exclusive()
    }
    async fn ensure_topics(
        &self,
        specs: &[archon_tui::ports::broker::TopicSpec],
    ) -> anyhow::Result<()> {
        self.inner.ensure_topics(specs).await
    }
    async fn produce(&self, topic: &str, records: Vec<OutRecord>) -> anyhow::Result<()> {
        use std::sync::atomic::Ordering::SeqCst;
        if topic == self.topic
            && self
                .refusals
                .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            anyhow::bail!("NotEnoughReplicas (refused by the test)");
        }
        self.inner.produce(topic, records).await
    }
    async fn consumer(
        &self,
        group: &str,
        topic: &str,
    ) -> anyhow::Result<Box<dyn archon_tui::ports::broker::BrokerConsumer>> {
        self.inner.consumer(group, topic).await
    }
    async fn lag(
        &self,
        group: &str,
        topic: &str,
    ) -> anyhow::Result<Vec<archon_tui::ports::broker::PartitionLag>> {
        self.inner.lag(group, topic).await
    }
    async fn read(
        &self,
        topic: &str,
        partition: i32,
        from: i64,
        max: usize,
    ) -> anyhow::Result<Vec<archon_tui::ports::broker::Record>> {
        self.inner.read(topic, partition, from, max).await
    }
    async fn watermarks(
        &self,
        topic: &str,
    ) -> anyhow::Result<Vec<archon_tui::ports::broker::Watermarks>> {
        self.inner.watermarks(topic).await
    }
    async fn offsets_at(&self, topic: &str, at_ms: i64) -> anyhow::Result<Vec<(i32, i64)>> {
        self.inner.offsets_at(topic, at_ms).await
    }
    async fn group_members(&self, group: &str, topic: &str) -> anyhow::Result<Vec<String>> {
        self.inner.group_members(group, topic).await
    }
    async fn group_detail(
        &self,
        group: &str,
        topic: &str,
    ) -> anyhow::Result<Vec<archon_tui::ports::broker::GroupMember>> {
        self.inner.group_detail(group, topic).await
    }
    async fn describe_topics(
        &self,
        names: &[String],
    ) -> anyhow::Result<Vec<archon_tui::ports::broker::TopicState>> {
        self.inner.describe_topics(names).await
    }
    async fn set_group_offsets(
        &self,
        group: &str,
        topic: &str,
        offsets: &[(i32, i64)],
    ) -> anyhow::Result<()> {
        self.inner.set_group_offsets(group, topic, offsets).await
    }
}

/// Found building issue 31's rolling restarts: the graph took a batch's
/// enrichments, then the broker refused its completed events. The retry
/// found the documents already enriched and skipped them, so their offsets
/// were committed with no completed event ever written. Every completed
/// document must have its event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_events_refused_after_the_graph_write_are_written_on_the_retry() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 40).unwrap();
    let mut cfg = EngineConfig::with_data_dir(data.path());
    cfg.retry.base_delay = Duration::from_millis(5);
    let topic = cfg.completed_topic.clone();
    let e = archon_tui::runtime::open_engine_with(cfg, |b| {
        b.broker = Arc::new(RefusingTopic {
            inner: b.broker.clone(),
            topic,
            refusals: 3.into(),
        });
    })
    .await
    .unwrap();
    producer::ingest(&e, src.path(), "p", &|_| {})
        .await
        .unwrap();
    assert!(drain_for(&e, 30).await);
    let p = drain::progress(&e).await.unwrap();
    assert_eq!(p.total(Status::Completed), 40, "{:?}", p.counts);
    let mut announced = std::collections::BTreeSet::new();
    for part in 0..4 {
        for r in e
            .backends
            .broker
            .read(&e.cfg.completed_topic, part, 0, 1000)
            .await
            .unwrap()
        {
            let v: serde_json::Value = serde_json::from_slice(&r.value).unwrap();
            announced.insert(v["document_id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        announced.len(),
        40,
        "a completed event for every completed document"
    );
}

/// A service that fails every call for documents whose path says `poison`
/// (a transient status, as a 500 for those documents only) and answers the
/// rest.
struct FailsThePoisoned;

#[async_trait::async_trait]
impl archon_tui::backends::intelligence::Intelligence for FailsThePoisoned {
    fn kind(&self) -> &'static str {
        "fails-the-poisoned"
    }
    async fn process(
        &self,
        req: &archon_tui::backends::intelligence::ProcessRequest,
        _attempt: u32,
    ) -> Result<
        archon_tui::backends::intelligence::Analysis,
        archon_tui::backends::intelligence::IntelligenceError,
    > {
        if req.file_path.contains("poison") {
            return Err(
                archon_tui::backends::intelligence::IntelligenceError::transient(
                    "HTTP500",
                    "this document fails every time",
                ),
            );
        }
        Ok(archon_tui::backends::intelligence::Analysis {
            results: Default::default(),
            entities: Vec::new(),
        })
    }
}

/// The breaker opened on documents the service fails every time, and only
/// they are in flight: their own trials can never close it. Healthy work
/// arriving after them must still be fetched to make a trial, close the
/// breaker and complete (it waited for ever before: CI hung on it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_that_always_fail_do_not_hold_the_breaker_open_over_healthy_work() {
    use archon_tui::engine::resilience::breaker::BreakerState;
    use std::sync::atomic::Ordering;
    let data = tempfile::tempdir().unwrap();
    let mut cfg = EngineConfig::with_data_dir(data.path());
    cfg.retry.base_delay = Duration::from_millis(5);
    cfg.retry.max_delay = Duration::from_millis(20);
    cfg.breaker.failure_threshold = 2;
    cfg.breaker.recovery_timeout = Duration::from_millis(50);
    cfg.concurrency = 4;
    let e = archon_tui::runtime::open_engine_with(cfg, |b| {
        b.intelligence = Arc::new(FailsThePoisoned);
    })
    .await
    .unwrap();
    let poisoned = tempfile::tempdir().unwrap();
    for name in ["poison_a.rs", "poison_b.rs"] {
        std::fs::write(poisoned.path().join(name), "fn main() {}\n").unwrap();
    }
    producer::ingest(&e, poisoned.path(), "p", &|_| {})
        .await
        .unwrap();
    let task = tokio::spawn(consumer::run(e.clone()));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !(e.breaker.state() != BreakerState::Closed
        && e.stats.suspects.load(Ordering::Relaxed) == 2)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the breaker did not open on the two documents: {:?}",
            e.breaker.transitions()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Past the fetch that was waiting when the breaker opened (up to 200
    // ms): the healthy requests must not ride in on it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let healthy = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(healthy.path(), 5).unwrap();
    producer::ingest(&e, healthy.path(), "h", &|_| {})
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let p = drain::progress(&e).await.unwrap();
        let done = p
            .counts
            .get("h")
            .and_then(|c| c.get(&Status::Completed))
            .copied()
            .unwrap_or(0);
        if done == 5 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the healthy documents waited behind the breaker: {done} of 5 completed, {:?}",
            e.breaker.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    e.stop();
    task.await.unwrap().unwrap();
    // The two are still accounted for: pending (visible) or parked.
    let p = drain::progress(&e).await.unwrap();
    let of_p = |s: Status| {
        p.counts
            .get("p")
            .and_then(|c| c.get(&s))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(
        of_p(Status::Pending) + of_p(Status::Processing) + of_p(Status::Dlq),
        2,
        "{:?}",
        p.counts
    );
}
