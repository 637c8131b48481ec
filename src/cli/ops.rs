//! Operator subcommands: dlq, rollout, rollback, resume, backfill, breaker.
//! Each acts on the data dir; an engine running there follows within 100 ms.

use std::sync::Arc;

use anyhow::{bail, Result};
use serde_json::{json, Value};

use super::output::{bar, print_json_or};
use super::wait::{run_until_drained, EXIT_TIMED_OUT};
use super::{BreakerCommand, DlqCommand, RolloutCommand};
use crate::engine::dlq::{self, DlqEntry};
use crate::engine::fleet::control::Origin;
use crate::engine::fleet::levers::{
    self, execute_logged, pull, Caller, Command, CommandOutcome, Lever, RolloutChange,
};
use crate::engine::{pipeline::drain, Engine};
use crate::sanitize::clean;

/// Pull a lever from the CLI, with its typed outcome: validated like
/// everywhere else, with an audit line; a refusal (exit 2) keeps its reason.
async fn lever<L: Lever>(engine: &Arc<Engine>, l: L) -> Result<L::Outcome> {
    Ok(pull(engine, &Caller::local(Origin::Cli), l).await?)
}

/// Any lever, with the outcome as the console and HTTP show it.
async fn lever_any(engine: &Arc<Engine>, cmd: Command) -> Result<CommandOutcome> {
    Ok(execute_logged(engine, &Caller::local(Origin::Cli), cmd).await?)
}

fn entry_row(e: &DlqEntry) -> Value {
    let m = &e.message;
    json!({
        "id": e.id,
        "time": m.failure_timestamp,
        "document_id": m.document_id,
        "project": m.project_name,
        "file_path": e.file_path(),
        "error_type": e.error_type(),
        "reason": m.failure_reason,
        "retries": m.failure_count,
        "correlation_id": m.correlation_id,
    })
}

fn print_histogram(h: &std::collections::BTreeMap<String, u64>) {
    for (t, n) in h {
        println!("  {:>7}  {}", n, clean(t));
    }
}

pub async fn dlq(engine: Arc<Engine>, cmd: DlqCommand) -> Result<i32> {
    match cmd {
        DlqCommand::Groups { filter, json } => {
            let entries = dlq::load_matching(&engine, &filter.filter()).await?;
            let groups = dlq::groups(entries.iter());
            if json {
                println!("{}", serde_json::to_string(&groups)?);
                return Ok(0);
            }
            println!(
                "{} entries in {} groups (replay or purge one: --fingerprint FP)",
                entries.len(),
                groups.len()
            );
            for g in &groups {
                println!(
                    "{:>7}  fp:{}  {:<24} {}",
                    g.count,
                    g.fingerprint,
                    clean(&g.error_type),
                    clean(&g.pattern)
                );
                let projects: Vec<String> = g
                    .projects
                    .iter()
                    .map(|(p, n)| format!("{} ({n})", clean(p)))
                    .collect();
                println!(
                    "         {} … {}  projects: {}",
                    clean(&g.first_seen),
                    clean(&g.last_seen),
                    projects.join(", ")
                );
            }
            Ok(0)
        }
        DlqCommand::List {
            filter,
            limit,
            json,
        } => {
            let f = filter.filter();
            let entries = dlq::load_matching(&engine, &f).await?;
            let shown = &entries[..limit.unwrap_or(usize::MAX).min(entries.len())];
            if json {
                println!("{}", Value::Array(shown.iter().map(entry_row).collect()));
                return Ok(0);
            }
            println!(
                "{} DLQ entries{}",
                entries.len(),
                if f.is_empty() { "" } else { " matching" }
            );
            print_histogram(&dlq::histogram(&entries));
            println!();
            for e in shown {
                println!(
                    "{:>8}  {}  {:<22} {:<18} retries {}  {}",
                    e.id,
                    clean(&e.message.failure_timestamp),
                    clean(e.error_type()),
                    clean(&e.message.project_name),
                    e.message.failure_count,
                    clean(&e.file_path())
                );
            }
            Ok(0)
        }
        DlqCommand::Show { id } => {
            let entries = dlq::load(&engine).await?;
            let Some(e) = dlq::find(&entries, &id) else {
                bail!("no DLQ entry with id, document id or key {}", clean(&id));
            };
            // serde_json escapes control characters, so this is safe to print.
            println!("{}", serde_json::to_string_pretty(e)?);
            Ok(0)
        }
        DlqCommand::Edit {
            id,
            set,
            dry_run,
            json: as_json,
        } => {
            let entries = dlq::load(&engine).await?;
            let Some(e) = dlq::find(&entries, &id) else {
                bail!("no DLQ entry with id, document id or key {}", clean(&id));
            };
            let mut changes = Vec::new();
            for s in &set {
                match s.split_once('=') {
                    Some((k, v)) => changes.push((k.trim().to_string(), v.to_string())),
                    None => {
                        return Err(crate::engine::fleet::levers::CommandError::Invalid(format!(
                            "--set {} is not FIELD=VALUE",
                            clean(s)
                        ))
                        .into())
                    }
                }
            }
            let cmd = levers::EditReplay {
                partition: e.partition,
                id: e.id,
                changes,
                dry_run,
            };
            let r = lever(&engine, cmd).await?;
            print_json_or(&serde_json::to_value(&r)?, as_json, || {
                for (field, before, after) in &r.diff {
                    println!("{field}:\n  - {}\n  + {}", clean(before), clean(after));
                }
                println!(
                    "{}",
                    if r.dry_run {
                        "the edited request passes the schema (dry run: nothing sent)"
                    } else if r.replayed {
                        "replayed"
                    } else {
                        "not replayed: the document left the DLQ meanwhile"
                    }
                );
            });
            Ok(0)
        }
        DlqCommand::Replay {
            filter,
            dry_run,
            confirm,
            force,
            rate: Some(rate),
            detach,
            wait,
            wait_args,
        } if !dry_run => {
            let code = super::jobs::start(
                engine.clone(),
                filter.filter(),
                rate,
                force,
                confirm,
                detach,
                wait_args.json && !wait,
            )
            .await?;
            if wait {
                let timed_out = run_until_drained(&engine, &wait_args, None).await?;
                let p = drain::progress(&engine).await?;
                let out = json!({
                    "completed": p.total(crate::model::Status::Completed),
                    "dlq": p.total(crate::model::Status::Dlq),
                    "pending": p.unfinished(),
                    "timed_out": timed_out,
                });
                print_json_or(&out, wait_args.json, || println!("{out}"));
                return Ok(if timed_out { EXIT_TIMED_OUT } else { code });
            }
            Ok(code)
        }
        DlqCommand::Replay {
            filter,
            dry_run,
            confirm,
            force,
            wait,
            wait_args,
            ..
        } => {
            let report = lever(
                &engine,
                levers::ReplayDlq {
                    filter: filter.filter(),
                    dry_run,
                    confirmed: confirm,
                    force,
                },
            )
            .await?;
            let mut out = serde_json::to_value(&report)?;
            let mut code = 0;
            if wait && !dry_run {
                let timed_out = run_until_drained(&engine, &wait_args, None).await?;
                let p = drain::progress(&engine).await?;
                out["completed"] = json!(p.total(crate::model::Status::Completed));
                out["dlq"] = json!(p.total(crate::model::Status::Dlq));
                out["pending"] = json!(p.unfinished());
                out["timed_out"] = json!(timed_out);
                if timed_out {
                    code = EXIT_TIMED_OUT;
                }
            }
            print_json_or(&out, wait_args.json, || {
                let verb = if dry_run { "would replay" } else { "replayed" };
                println!(
                    "{verb} {} entries ({} not replayable)",
                    report.replayed, report.not_replayable
                );
                if report.looping > 0 {
                    println!(
                        "held back by the loop guard: {} entries whose documents were replayed {} times already (--force replays them)",
                        report.looping, report.max_replays
                    );
                }
                if report.file_not_found > 0 {
                    println!(
                        "left out: {} entries of files removed from their tree (FILE_NOT_FOUND; --force replays them)",
                        report.file_not_found
                    );
                }
                print_histogram(&report.by_error_type);
                println!("by error fingerprint:");
                for (fp, _, pattern, n) in &report.by_fingerprint {
                    println!("  {n:>7}  fp:{fp}  {}", clean(pattern));
                }
                println!("by project:");
                print_histogram(&report.by_project);
            });
            Ok(code)
        }
        DlqCommand::Export {
            filter,
            out,
            mask,
            mask_field,
            json,
        } => {
            let fields = mask.then(|| {
                let mut f: Vec<String> = crate::engine::dlq::transfer::DEFAULT_MASKED
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                f.extend(mask_field.into_iter().filter(|s| !s.is_empty()));
                f
            });
            let cmd = levers::ExportDlq {
                filter: filter.filter(),
                path: out,
                mask: fields,
            };
            let r = lever(&engine, cmd).await?;
            print_json_or(&serde_json::to_value(&r)?, json, || {
                println!(
                    "exported {} entries to {}{}",
                    r.exported,
                    clean(&r.path),
                    if r.masked { " (masked)" } else { "" }
                )
            });
            Ok(0)
        }
        DlqCommand::Import {
            file,
            dry_run,
            json,
        } => {
            let cmd = levers::ImportDlq {
                path: file,
                dry_run,
            };
            let r = lever(&engine, cmd).await?;
            print_json_or(&serde_json::to_value(&r)?, json, || {
                println!(
                    "{} {} entries ({} already present)",
                    if dry_run { "would import" } else { "imported" },
                    r.imported,
                    r.already_present
                )
            });
            Ok(0)
        }
        DlqCommand::Purge {
            filter,
            confirm,
            json,
        } => {
            let outcome = lever(
                &engine,
                levers::PurgeDlq {
                    filter: filter.filter(),
                    confirmed: confirm,
                },
            )
            .await?;
            print_json_or(&serde_json::to_value(&outcome)?, json, || {
                println!(
                    "purged {} entries (their documents are now 'failed'; `backfill` re-drives them)",
                    outcome.purged
                );
            });
            Ok(0)
        }
    }
}

pub async fn rollout(engine: Arc<Engine>, cmd: RolloutCommand) -> Result<i32> {
    let (change, json) = match cmd {
        RolloutCommand::Set { percentage, json } => (
            Some(RolloutChange {
                percentage: Some(percentage),
                ..Default::default()
            }),
            json,
        ),
        RolloutCommand::Enable { project, json } => (
            Some(RolloutChange {
                enable_project: Some(project),
                ..Default::default()
            }),
            json,
        ),
        RolloutCommand::Disable { project, json } => (
            Some(RolloutChange {
                disable_project: Some(project),
                ..Default::default()
            }),
            json,
        ),
        RolloutCommand::Show { json } => (None, json),
    };
    if let Some(c) = change {
        lever(&engine, c).await?;
    }
    let r = engine.rollout();
    print_json_or(&serde_json::to_value(&r)?, json, || {
        println!(
            "async enrichment: {}  percentage: {}%  always-async projects: {}",
            if r.enabled { "on" } else { "OFF (kill switch)" },
            r.percentage,
            if r.enabled_projects.is_empty() {
                "none".to_string()
            } else {
                clean(&r.enabled_projects.join(", "))
            }
        );
    });
    Ok(0)
}

pub async fn rollback(engine: Arc<Engine>, json: bool) -> Result<i32> {
    // When the command was issued (after the backends opened), for timing
    // the fleet's hold from outside.
    let issued_at_ms = crate::clock::now_ms();
    let r = lever(&engine, levers::Rollback).await?;
    let out = json!({
        "rollout": engine.rollout(),
        "paused": true,
        "effective_ms": r.effective_ms,
        "issued_at_ms": issued_at_ms,
        "pending": r.pending,
        "in_flight": r.in_flight,
        "engine_running": !engine.members().await?.is_empty(),
        "members_confirmed": r.members_confirmed,
        "members_total": r.members_total,
        "confirmed_ms": r.confirmed_ms,
        "next_step": r.next_step,
    });
    print_json_or(&out, json, || {
        println!(
            "rolled back in {} ms: kill switch OFF, consumption held, {} in flight",
            r.effective_ms, r.in_flight
        );
        println!(
            "{} of {} fleet members confirmed the hold{}",
            r.members_confirmed,
            r.members_total,
            r.confirmed_ms
                .map(|ms| format!(" in {ms} ms"))
                .unwrap_or_else(|| " (the others did not report it within 30 s)".into())
        );
        println!("{} documents are pending.", r.pending);
        println!("next: {}", r.next_step);
    });
    Ok(0)
}

pub async fn resume(engine: Arc<Engine>, json: bool) -> Result<i32> {
    lever(&engine, levers::Resume).await?;
    print_json_or(
        &json!({"rollout": engine.rollout(), "paused": false}),
        json,
        || {
            println!("resumed: async enrichment on, consumption running");
        },
    );
    Ok(0)
}

pub async fn backfill(
    engine: Arc<Engine>,
    project: Option<String>,
    rate: Option<f64>,
    sync: bool,
    json: bool,
) -> Result<i32> {
    // The same checks as the console's and HTTP's backfill; the CLI's own
    // run shows progress, so it calls the engine directly after them.
    let cmd = Command::Backfill(levers::Backfill {
        project: project.clone(),
        rate,
        sync,
    });
    cmd.validate()?;
    tracing::info!("operator: {}", cmd.describe());
    let pb = bar(Some(0), if sync { "enriching" } else { "publishing" });
    let report = levers::backfill::backfill(&engine, project, rate, sync, &|done, total| {
        if let Some(pb) = &pb {
            pb.set_length(total);
            pb.set_position(done);
        }
    })
    .await?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let p = drain::progress(&engine).await?;
    let mut out = serde_json::to_value(&report)?;
    out["pending"] = json!(p.unfinished());
    out["completed"] = json!(p.total(crate::model::Status::Completed));
    print_json_or(&out, json, || {
        println!(
            "backfill: {} documents selected, {} published, {} enriched here, in {} ms; {} still pending",
            report.selected,
            report.published,
            report.enriched_sync,
            report.elapsed_ms,
            p.unfinished()
        );
    });
    Ok(0)
}

pub async fn breaker(engine: Arc<Engine>, cmd: BreakerCommand) -> Result<i32> {
    match cmd {
        BreakerCommand::Reset { member } => {
            let o = lever(&engine, levers::ResetBreaker { member }).await?;
            println!("{}", o.message);
            Ok(0)
        }
    }
}

/// `hold`, `release`, `concurrency`: one lever, its outcome as text or JSON.
pub async fn simple_lever(engine: Arc<Engine>, cmd: Command, json: bool) -> Result<i32> {
    let o = lever_any(&engine, cmd).await?;
    print_json_or(
        &json!({"ok": true, "message": o.describe(), "outcome": o}),
        json,
        || println!("{}", o.describe()),
    );
    Ok(0)
}

/// `fleet`: every member as it last reported.
pub async fn fleet(engine: Arc<Engine>, json: bool) -> Result<i32> {
    use crate::engine::telemetry::status::{member_line, MemberView};
    let members = MemberView::of(engine.members().await?, crate::clock::now_ms());
    let others = engine.other_members().await.unwrap_or_else(|e| {
        eprintln!("warning: cannot list the group's other members: {e:#}");
        Vec::new()
    });
    let lag_of = |parts: &[i32], lag: &[crate::ports::broker::PartitionLag]| -> i64 {
        lag.iter()
            .filter(|l| parts.contains(&l.partition))
            .map(|l| l.lag.max(0))
            .sum()
    };
    let lag = if others.is_empty() {
        Vec::new()
    } else {
        engine
            .backends
            .broker
            .lag(&engine.cfg.group_id, &engine.cfg.enrich_topic)
            .await
            .unwrap_or_default()
    };
    if json {
        // Ours with their reports, then the others Kafka lists (`steerable`
        // false: no report of theirs, and no lever reaches them).
        let mut out = Vec::new();
        for m in &members {
            let mut v = serde_json::to_value(m)?;
            v["steerable"] = true.into();
            out.push(v);
        }
        for o in &others {
            let mut v = serde_json::to_value(o)?;
            v["lag"] = lag_of(&o.partitions, &lag).into();
            v["steerable"] = false.into();
            out.push(v);
        }
        println!("{}", serde_json::Value::Array(out));
        return Ok(0);
    }
    if let Some(t) = engine.control.trouble() {
        eprintln!("warning: {t}");
    }
    if members.is_empty() && others.is_empty() {
        println!(
            "no members are reporting ({}): no engine runs on this {}",
            engine.control.kind(),
            if engine.cfg.kafka.is_some() {
                "consumer group's control topics"
            } else {
                "data dir"
            }
        );
    }
    for m in &members {
        println!("{}", member_line(m));
    }
    for o in &others {
        println!(
            "member {:<24} {:<14} partitions {:<10} lag {}  not steerable (not archon-tui: no report, no levers)",
            clean(&o.client_id),
            clean(&o.host),
            if o.partitions.is_empty() {
                "-".to_string()
            } else {
                o.partitions.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
            },
            lag_of(&o.partitions, &lag)
        );
    }
    Ok(0)
}

/// `audit`: the operators' trail, oldest first.
pub async fn audit(engine: Arc<Engine>, limit: usize, json: bool) -> Result<i32> {
    let entries = engine.control.audit(limit).await?;
    if json {
        println!("{}", serde_json::to_string(&entries)?);
        return Ok(0);
    }
    for e in &entries {
        let when = chrono::DateTime::from_timestamp_millis(e.at_ms)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        println!(
            "{when}  {:<24} {:<7} {:<20} {}  [{} → {}]  {}",
            clean(&e.actor),
            e.origin.as_str(),
            clean(&e.member_id),
            clean(&e.action),
            clean(&e.before),
            clean(&e.after),
            clean(&e.result)
        );
    }
    Ok(0)
}

/// `trace ID`: the timeline, oldest first.
pub async fn trace(engine: Arc<Engine>, query: String, json: bool) -> Result<i32> {
    let t = lever(&engine, levers::Trace { query }).await?;
    if json {
        println!("{}", serde_json::to_string(&t)?);
        return Ok(0);
    }
    println!("document {}", clean(&t.document_id));
    if let Some(d) = &t.document {
        println!(
            "  {} / {}  status {}  replays {}",
            clean(&d.project_name),
            clean(&d.source_path),
            d.enrichment_status.as_str(),
            d.replay_count
        );
    }
    println!(
        "  correlation ids: {}",
        clean(
            &t.correlation_ids
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    );
    for line in crate::engine::telemetry::trace::lines(&t) {
        println!("{}", clean(&line));
    }
    println!("({} records read)", t.scanned);
    Ok(0)
}

/// `history --since 6h`: the kept samples, summarised (or all of them as JSON).
pub async fn history(engine: Arc<Engine>, since: &str, json: bool) -> Result<i32> {
    let window_ms = crate::ports::history::parse_window(since)
        .map_err(crate::engine::fleet::levers::CommandError::Invalid)?;
    let window = lever(&engine, levers::History { window_ms }).await?;
    if json {
        // {window_ms, samples, markers}: the levers pulled in the window.
        println!("{}", serde_json::to_string(&window)?);
        return Ok(0);
    }
    for m in &window.markers {
        let at = chrono::DateTime::from_timestamp_millis(m.at_ms)
            .map(|d| d.to_rfc3339())
            .unwrap_or_default();
        println!(
            "  lever {} {at}  {}  → {}  ({})",
            m.kind.glyph(),
            m.action,
            m.after,
            m.actor
        );
    }
    let samples = window.samples;
    let Some(last) = samples.last() else {
        println!("no samples in the last {since} (one every 10 s while an engine runs here)");
        return Ok(0);
    };
    let max =
        |f: fn(&crate::ports::history::Sample) -> f64| samples.iter().map(f).fold(0.0, f64::max);
    println!("{} samples over the last {since}", samples.len());
    println!(
        "  lag     now {:>8}  max {:>8}",
        last.lag,
        max(|s| s.lag as f64)
    );
    println!(
        "  docs/s  now {:>8.1}  max {:>8.1}",
        last.docs_per_sec,
        max(|s| s.docs_per_sec)
    );
    println!(
        "  DLQ     now {:>8}  max {:>8}",
        last.dlq,
        max(|s| s.dlq as f64)
    );
    let mut prev = None;
    for s in &samples {
        if prev.is_some_and(|p| p != s.breaker) {
            let at = chrono::DateTime::from_timestamp_millis(s.at_ms)
                .map(|d| d.to_rfc3339())
                .unwrap_or_default();
            println!(
                "  breaker → {} at {at}",
                ["CLOSED", "OPEN", "HALF_OPEN"][s.breaker.clamp(0, 2) as usize]
            );
        }
        prev = Some(s.breaker);
    }
    Ok(0)
}
