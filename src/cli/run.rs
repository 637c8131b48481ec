//! Subcommand handlers: JSON on stdout with --json, human text otherwise,
//! progress on stderr when it is a terminal.

use crate::engine::fleet::levers;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use super::{Cli, Command, WaitArgs};
use crate::engine::pipeline::drain::{self, Progress};
use crate::engine::{pipeline::producer, Engine};
use crate::model::{total_counts, Status};
use crate::runtime::{Ended, Http, RunOptions, Running};
use crate::sanitize::clean;

use super::output::bar;
pub use super::wait::EXIT_TIMED_OUT;
use super::wait::{run_until_drained, start_consumer, until_drained};

pub async fn run(cli: Cli) -> Result<i32> {
    use crate::config::Layer;
    // Generated from the command line's own definition: no config, no data dir.
    match &cli.command {
        Some(Command::Completions { shell }) => return super::docs::completions(*shell),
        Some(Command::Views { json }) => return views(*json),
        Some(Command::Man { out }) => return super::docs::man(out.as_deref()),
        _ => {}
    }
    // Global settings go before or after the subcommand; the console's own
    // flags only with the console.
    if cli.console.any_given() && !matches!(cli.command, None | Some(Command::Console(_))) {
        return Err(crate::engine::fleet::levers::CommandError::Invalid(
            "--ingest, --watch, --project, --listen and --allow-remote belong to the console: \
             give them after `console`, or with no subcommand"
                .into(),
        )
        .into());
    }
    let file = crate::config::load_file(cli.global.config.as_deref())?;
    let file = cli.global.settings.clone().over(file);
    let cfg = crate::config::resolve(&file)?;
    if let Some(name) = &file.operator {
        crate::identity::set_operator(name)
            .map_err(crate::engine::fleet::levers::CommandError::Invalid)?;
    }
    if let Some(name) = cli.command.as_ref().and_then(Command::read_only_name) {
        refuse_a_missing_data_dir(&cfg, name)?;
    }
    match cli.command {
        None => console(cfg, cli.console, file.theme).await,
        // Answered above, before any configuration is read.
        Some(Command::Completions { shell }) => super::docs::completions(shell),
        Some(Command::Views { json }) => views(json),
        Some(Command::Man { out }) => super::docs::man(out.as_deref()),
        Some(Command::Console(args)) => console(cfg, args, file.theme).await,
        Some(Command::Ingest {
            path,
            project,
            wait,
            wait_args,
        }) => {
            let engine = crate::runtime::open_engine(cfg).await?;
            ingest(engine, &path, project, wait, wait_args).await
        }
        Some(Command::Watch {
            path,
            project,
            json,
        }) => {
            let project = match project {
                Some(p) => p,
                None => project_name_of(&path)?,
            };
            watch(crate::runtime::open_engine(cfg).await?, path, project, json).await
        }
        Some(Command::Drain { wait_args, project }) => {
            let engine = crate::runtime::open_engine(cfg).await?;
            let started = Instant::now();
            let before = crate::engine::telemetry::stats::Stats::get(&engine.stats.enriched);
            let timed_out = run_until_drained(&engine, &wait_args, project.as_deref()).await?;
            let p = drain::progress(&engine).await?;
            let summary = summary(
                &engine,
                &p,
                project.as_deref(),
                started,
                before,
                timed_out,
                [0, 0, 0],
            );
            print_summary(&summary, wait_args.json);
            Ok(if timed_out { EXIT_TIMED_OUT } else { 0 })
        }
        Some(Command::Dlq { command }) => {
            super::ops::dlq(crate::runtime::open_engine(cfg).await?, command).await
        }
        Some(Command::Rollout { command }) => {
            super::ops::rollout(crate::runtime::open_engine(cfg).await?, command).await
        }
        Some(Command::Rollback { json }) => {
            super::ops::rollback(crate::runtime::open_engine(cfg).await?, json).await
        }
        Some(Command::Resume { json }) => {
            super::ops::resume(crate::runtime::open_engine(cfg).await?, json).await
        }
        Some(Command::Backfill {
            project,
            rate,
            sync,
            json,
        }) => {
            super::ops::backfill(
                crate::runtime::open_engine(cfg).await?,
                project,
                rate,
                sync,
                json,
            )
            .await
        }
        Some(Command::Breaker { command }) => {
            super::ops::breaker(crate::runtime::open_engine(cfg).await?, command).await
        }
        Some(Command::GenCorpus { dir, files }) => {
            crate::corpus::generate(&dir, files)?;
            eprintln!("wrote {files} files under {}", dir.display());
            Ok(0)
        }
        Some(Command::Why { window, json }) => why(cfg, window, json).await,
        Some(Command::Bundle { out, log }) => super::bundle::bundle(&file, cfg, out, &log).await,
        Some(Command::Attach { theme }) => attach(cfg, theme.or(file.theme)).await,
        Some(Command::Trace { id, json }) => {
            super::ops::trace(crate::runtime::open_engine(cfg).await?, id, json).await
        }
        Some(Command::History { since, json }) => {
            super::ops::history(crate::runtime::open_engine(cfg).await?, &since, json).await
        }
        Some(Command::Jobs { json, command }) => {
            super::jobs::jobs(crate::runtime::open_engine(cfg).await?, command, json).await
        }
        Some(Command::Offsets { json, command }) => {
            super::offsets::offsets(crate::runtime::open_engine(cfg).await?, command, json).await
        }
        Some(Command::Fleet { json }) => {
            super::ops::fleet(crate::runtime::open_engine(cfg).await?, json).await
        }
        Some(Command::Audit { limit, json }) => {
            super::ops::audit(crate::runtime::open_engine(cfg).await?, limit, json).await
        }
        Some(Command::Hold { member, json }) => {
            let cmd =
                crate::engine::fleet::levers::Command::Hold(levers::Hold { member, held: true });
            super::ops::simple_lever(crate::runtime::open_engine(cfg).await?, cmd, json).await
        }
        Some(Command::Release { member, json }) => {
            let cmd = crate::engine::fleet::levers::Command::Hold(levers::Hold {
                member,
                held: false,
            });
            super::ops::simple_lever(crate::runtime::open_engine(cfg).await?, cmd, json).await
        }
        Some(Command::Rate { rate, json }) => {
            let per_sec = crate::engine::fleet::levers::parse_rate(&rate)?;
            let cmd =
                crate::engine::fleet::levers::Command::SetMaxRate(levers::SetMaxRate { per_sec });
            super::ops::simple_lever(crate::runtime::open_engine(cfg).await?, cmd, json).await
        }
        Some(Command::Concurrency { n, member, json }) => {
            // Negative or huge: the command's own check says why.
            let n = usize::try_from(n).unwrap_or(0);
            let cmd =
                crate::engine::fleet::levers::Command::SetConcurrency(levers::SetConcurrency {
                    n,
                    member,
                    nudge: None,
                });
            super::ops::simple_lever(crate::runtime::open_engine(cfg).await?, cmd, json).await
        }
        Some(Command::Serve {
            listen,
            ingest,
            watch,
            project,
            allow_remote,
            alert_webhook,
            alert_lag_over,
            alert_seconds_behind_over,
            alert_for,
        }) => {
            let mut rules = file.alerts.clone();
            if let Some(n) = alert_lag_over {
                rules.lag_over = Some(n);
            }
            if let Some(s) = alert_seconds_behind_over {
                rules.seconds_behind_over = Some(s);
            }
            if let Some(s) = alert_for {
                rules.for_secs = s;
            }
            if let Some(url) = &alert_webhook {
                anyhow::ensure!(
                    url.starts_with("http://") || url.starts_with("https://"),
                    "--alert-webhook must be an http:// or https:// URL"
                );
            }
            let alerts = alert_webhook.map(|url| (url, rules));
            let ingest = with_project(ingest, project.as_deref())?;
            let watch = with_project(watch, project.as_deref())?;
            // Refused before anything opens.
            let listener = crate::serve::bind(listen, allow_remote).await?;
            serve(
                crate::runtime::open_engine(cfg).await?,
                listener,
                Trees { ingest, watch },
                alerts,
            )
            .await
        }
        Some(Command::Doctor { json }) => {
            let report = crate::runtime::doctor::doctor(&cfg).await;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!("{report}");
            }
            Ok(if report.failed() { 1 } else { 0 })
        }
        Some(Command::Status { json }) => {
            let engine = crate::runtime::open_engine(cfg).await?;
            let s = crate::engine::telemetry::status::StatusReport::read(&engine).await?;
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                println!("{s}");
            }
            Ok(0)
        }
    }
}

/// A read-only command on the embedded default reads the data dir: one
/// that does not exist (a mistyped `--data-dir`) is said so, exit 2, and
/// nothing is created, instead of an empty dir reporting zeros. With Kafka
/// or a Bolt graph the state is on the servers and a cold shell has no
/// data dir of its own.
fn refuse_a_missing_data_dir(
    cfg: &crate::engine::config::EngineConfig,
    command: &str,
) -> Result<()> {
    let embedded =
        cfg.kafka.is_none() && matches!(cfg.graph, crate::settings::GraphSetting::Embedded);
    if embedded && !cfg.data_dir.exists() {
        return Err(crate::engine::fleet::levers::CommandError::Invalid(format!(
            "no data dir at {}: nothing has run with it, so `{command}` has nothing to read \
             (mistyped --data-dir or ARCHON_DATA_DIR?)",
            crate::sanitize::clean(&cfg.data_dir.display().to_string())
        ))
        .into());
    }
    Ok(())
}

/// Open the console: everything that can fail (theme, path, data dir) is
/// checked before the terminal switches to the alternate screen.
async fn console(
    cfg: crate::engine::config::EngineConfig,
    args: super::ConsoleArgs,
    file_theme: Option<String>,
) -> Result<i32> {
    let theme_name = args.theme.or(file_theme).unwrap_or_else(|| "dark".into());
    let theme = crate::tui::theme::Theme::load(&theme_name).context("--theme")?;
    let view = match &args.view {
        Some(name) => Some(saved_view(name)?),
        None => None,
    };
    let project = match (&args.ingest, args.project.clone()) {
        (Some(path), None) => Some(project_name_of(path)?),
        (Some(path), Some(p)) => {
            project_name_of(path)?;
            Some(p)
        }
        (None, p) => p,
    };
    let watch_tree = with_project(args.watch.clone(), args.project.as_deref())?;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        eprintln!(
            "archon-tui: the console needs a terminal (stdin and stdout are not both one). \
             Headless use: `archon-tui serve` (HTTP health, metrics, control), `ingest PATH --wait`, `drain`, `status --json`; see --help."
        );
        return Ok(2);
    }
    // Bound before the screen switches, so a busy port is a plain error.
    let listener = match args.listen {
        Some(addr) => Some(crate::serve::bind(addr, args.allow_remote).await?),
        None => None,
    };
    let engine = crate::runtime::open_engine(cfg).await?;
    let http = match listener {
        Some(l) => Some(http(&engine, l)?),
        None => None,
    };
    let mut running = Running::start(
        engine,
        RunOptions {
            // The project name was resolved before the screen opens.
            ingest: args
                .ingest
                .map(|p| (p, project.clone().unwrap_or_else(|| "root".into()))),
            watch: watch_tree,
            front_end: true,
            http,
            observe: false,
            alerts: None,
        },
    )?;
    if let Some(addr) = running.http_addr {
        tracing::info!("serving health, metrics and control on http://{addr}");
    }
    let ended = match crate::tui::run(&mut running, theme, view).await {
        Ok(e) => e,
        Err(e) => Ended::Failed(format!("{e:#}")),
    };
    Ok(running.shutdown(&ended).await)
}

/// The saved view `name` (refused with exit 2 when there is none).
fn saved_view(name: &str) -> Result<crate::config::views::View> {
    let path = crate::config::views::default_path()?;
    crate::config::views::get(&path, name).map_err(|e| {
        crate::engine::fleet::levers::CommandError::Invalid(format!("--view: {e}")).into()
    })
}

/// `views`: the saved views.
fn views(json: bool) -> Result<i32> {
    let path = crate::config::views::default_path()?;
    let views = crate::config::views::load(&path)?;
    if json {
        println!("{}", serde_json::to_string(&views)?);
        return Ok(0);
    }
    if views.is_empty() {
        println!(
            "no saved views in {} (`:view save NAME` in the console)",
            path.display()
        );
    }
    for (name, v) in &views {
        println!(
            "{:<20} focus {:<12} {} {}",
            clean(name),
            clean(if v.focus.is_empty() { "-" } else { &v.focus }),
            if v.grouped { "grouped " } else { "" },
            if v.dlq_filter.is_empty() {
                "(no filter)".to_string()
            } else {
                format!("filter {:?}", clean(&v.dlq_filter))
            }
        );
    }
    Ok(0)
}

/// The HTTP server's tokens beside its listener, with a line saying where
/// the admin token is.
fn http(engine: &Engine, listener: tokio::net::TcpListener) -> Result<Http> {
    let (tokens, token_line) = crate::serve::load_tokens(engine)?;
    tracing::info!("{token_line}");
    eprintln!(
        "archon-tui: GET /health /health/enrichment /metrics /metrics/circuit_breaker /fleet; \
         DLQ, audit and control endpoints need a bearer token; {token_line}"
    );
    Ok(Http { listener, tokens })
}

/// `attach`: the console on the fleet, consuming nothing. It opens the same
/// backends (lag, DLQ, graph counts, the control topics) but starts no
/// consumer, so it never joins the group, and reports as no member.
async fn attach(cfg: crate::engine::config::EngineConfig, theme: Option<String>) -> Result<i32> {
    let theme =
        crate::tui::theme::Theme::load(theme.as_deref().unwrap_or("dark")).context("--theme")?;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        eprintln!(
            "archon-tui: attach needs a terminal. Headless: `archon-tui fleet`, `status --json`, \
             or the levers as commands (`rollback`, `hold`, `concurrency N --member ID`)."
        );
        return Ok(2);
    }
    let mut running = observe(cfg).await?;
    let ended = match crate::tui::run(&mut running, theme, None).await {
        Ok(e) => e,
        Err(e) => Ended::Failed(format!("{e:#}")),
    };
    Ok(running.shutdown(&ended).await)
}

/// An engine that watches and steers the fleet without consuming (no group
/// membership, no member report): `attach` and `why`.
async fn observe(cfg: crate::engine::config::EngineConfig) -> Result<Running> {
    let engine = crate::runtime::open_engine(cfg).await?;
    Running::start(
        engine,
        RunOptions {
            front_end: true,
            observe: true,
            ..Default::default()
        },
    )
}

/// `why`: observe the fleet (no consumer, no member report) for `window`
/// seconds, then print the diagnosis of the last snapshot.
async fn why(cfg: crate::engine::config::EngineConfig, window: u64, json: bool) -> Result<i32> {
    if !(1..=600).contains(&window) {
        return Err(crate::engine::fleet::levers::CommandError::Invalid(format!(
            "--window must be 1..=600 seconds, got {window}"
        ))
        .into());
    }
    let running = observe(cfg).await?;
    let mut snaps = running
        .handle
        .as_ref()
        .context("no snapshots")?
        .snapshots
        .clone();
    let progress = std::io::stderr().is_terminal() && !json;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(window);
    loop {
        tokio::select! {
            r = snaps.changed() => if r.is_err() { break },
            _ = tokio::time::sleep_until(deadline) => break,
        }
        if progress {
            eprint!(".");
        }
    }
    if progress {
        eprintln!();
    }
    let snap = snaps.borrow().clone();
    let d = crate::engine::diagnose::diagnose(&snap);
    if json {
        println!("{}", serde_json::to_string(&d)?);
    } else {
        println!("{}", crate::tui::why::summary(&d));
        if d.causes.is_empty() {
            println!("{}", clean(&d.verdict));
        }
        for (i, c) in d.causes.iter().enumerate() {
            println!(
                "{}. {} ({:.0} %): {}",
                i + 1,
                c.kind.title(),
                c.weight * 100.0,
                clean(&c.finding)
            );
            println!("   fix: {}", clean(&c.lever));
            println!("   then: {}", clean(&c.effect));
        }
    }
    // Ended on its own (not asked): no "stopping" line for a mere observer.
    running.shutdown(&Ended::Drained).await;
    Ok(0)
}

/// `serve`: the engine headless with HTTP until SIGTERM/SIGINT (exit 0
/// after in-flight work is finished or returned and offsets are committed)
/// or a consumer failure (exit 1).
async fn serve(
    engine: Arc<Engine>,
    listener: tokio::net::TcpListener,
    trees: Trees,
    alerts: Option<(String, crate::engine::telemetry::alerts::AlertRules)>,
) -> Result<i32> {
    let http = http(&engine, listener)?;
    let running = Running::start(
        engine,
        RunOptions {
            ingest: trees.ingest,
            watch: trees.watch,
            front_end: true,
            http: Some(http),
            observe: false,
            alerts,
        },
    )?;
    if let Some(addr) = running.http_addr {
        // Tests and scripts read this line to find the port (--listen …:0).
        println!("listening on http://{addr}");
        tracing::info!("serving on http://{addr}");
    }
    let ended = running.run_until(std::future::pending(), true).await;
    Ok(running.shutdown(&ended).await)
}

/// The trees `serve` ingests once and keeps watching, each with its project.
struct Trees {
    ingest: Option<(std::path::PathBuf, String)>,
    watch: Option<(std::path::PathBuf, String)>,
}

/// A tree flag's path with its project: the one given, or the directory's name.
fn with_project(
    path: Option<std::path::PathBuf>,
    project: Option<&str>,
) -> Result<Option<(std::path::PathBuf, String)>> {
    let Some(path) = path else { return Ok(None) };
    let name = project_name_of(&path)?;
    Ok(Some((path, project.map(str::to_string).unwrap_or(name))))
}

/// `watch`: the engine headless, mirroring PATH and re-indexing its changes
/// as they happen, the consumer enriching them, until SIGTERM/SIGINT.
async fn watch(
    engine: Arc<Engine>,
    path: std::path::PathBuf,
    project: String,
    json: bool,
) -> Result<i32> {
    if !path.is_dir() {
        return Err(crate::engine::fleet::levers::CommandError::Invalid(format!(
            "cannot watch {}: not a directory",
            clean(&path.display().to_string())
        ))
        .into());
    }
    let running = Running::start(
        engine.clone(),
        RunOptions {
            front_end: false,
            ..Default::default()
        },
    )?;
    eprintln!(
        "archon-tui: watching {} as project {} (Ctrl-C stops)",
        clean(&path.display().to_string()),
        clean(&project)
    );
    let watcher = {
        let engine = engine.clone();
        let project = project.clone();
        tokio::spawn(async move {
            crate::engine::pipeline::watch::watch(&engine, &path, &project, &|r| {
                if json {
                    println!("{}", serde_json::to_string(r).unwrap_or_default());
                } else {
                    println!(
                        "{} changed: {} indexed, {} unchanged, {} deleted, {} renamed, {} published",
                        r.changed, r.indexed, r.unchanged, r.deleted, r.renamed, r.published
                    );
                }
            })
            .await
        })
    };
    let ended = running
        .run_until(
            async move {
                match watcher.await {
                    Ok(Ok(())) => Ended::Quit,
                    Ok(Err(e)) => Ended::Failed(format!("{e:#}")),
                    Err(e) => Ended::Failed(e.to_string()),
                }
            },
            true,
        )
        .await;
    Ok(running.shutdown(&ended).await)
}

fn project_name_of(path: &Path) -> Result<String> {
    let abs =
        std::fs::canonicalize(path).with_context(|| format!("cannot ingest {}", path.display()))?;
    let name = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into());
    crate::model::check_project_name(&name).map_err(|e| {
        anyhow::anyhow!(
            "the directory's name cannot be the project name ({e}); give one with --project NAME"
        )
    })?;
    Ok(name)
}

async fn ingest(
    engine: Arc<Engine>,
    path: &Path,
    project: Option<String>,
    wait: bool,
    wait_args: WaitArgs,
) -> Result<i32> {
    let project = match project {
        Some(p) => p,
        None => project_name_of(path)?,
    };
    let started = Instant::now();
    let before = crate::engine::telemetry::stats::Stats::get(&engine.stats.enriched);
    // With --wait the consumer drains while the tree is indexed (10,000
    // files, cold process: 2.9 s one after the other).
    let running = if wait {
        Some(start_consumer(&engine, &wait_args)?)
    } else {
        None
    };
    let pb = bar(None, "indexing");
    let indexed = producer::ingest(&engine, path, &project, &|r| {
        if let Some(pb) = &pb {
            pb.set_position(r.discovered);
            pb.set_length(r.discovered);
        }
    })
    .await;
    let (report, running) = match (indexed, running) {
        (Ok(report), running) => (report, running),
        (Err(e), Some(running)) => {
            // What was indexed stays pending; the consumer stops cleanly.
            running
                .shutdown(&crate::runtime::Ended::Failed(format!("{e:#}")))
                .await;
            return Err(e);
        }
        (Err(e), None) => return Err(e),
    };
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    for e in &report.walk_errors {
        eprintln!("warning: {}", clean(e));
    }
    if let Some(why) = &report.deletion_skipped {
        eprintln!("warning: {}", clean(why));
    }
    let timed_out = match running {
        Some(running) => until_drained(&engine, running, &wait_args, Some(&project)).await?,
        None => false,
    };
    let p = drain::progress(&engine).await?;
    let mut s = summary(
        &engine,
        &p,
        Some(&project),
        started,
        before,
        timed_out,
        [report.discovered, report.indexed, report.published],
    );
    if let Value::Object(m) = &mut s {
        m.insert("project".into(), json!(project));
        m.insert("unchanged".into(), json!(report.unchanged));
        m.insert("enriched_sync".into(), json!(report.enriched_sync));
        m.insert("rejected".into(), json!(report.rejected));
        m.insert("skipped_binary".into(), json!(report.skipped_binary));
        m.insert("deleted".into(), json!(report.deleted));
        m.insert("renamed".into(), json!(report.renamed));
        if let Some(why) = &report.deletion_skipped {
            m.insert("deletion_skipped".into(), json!(why));
        }
    }
    print_summary(&s, wait_args.json);
    Ok(if timed_out { EXIT_TIMED_OUT } else { 0 })
}

fn summary(
    engine: &Engine,
    p: &Progress,
    project: Option<&str>,
    started: Instant,
    enriched_before: u64,
    timed_out: bool,
    [discovered, indexed, published]: [u64; 3],
) -> Value {
    let counts = match project {
        Some(name) => {
            let mut c = std::collections::BTreeMap::new();
            c.insert(
                name.to_string(),
                p.counts.get(name).cloned().unwrap_or_default(),
            );
            total_counts(&c)
        }
        None => total_counts(&p.counts),
    };
    let elapsed = started.elapsed();
    let enriched =
        crate::engine::telemetry::stats::Stats::get(&engine.stats.enriched) - enriched_before;
    json!({
        "discovered": discovered,
        "indexed": indexed,
        "published": published,
        "completed": counts[&Status::Completed],
        "dlq": counts[&Status::Dlq],
        "pending": crate::model::unfinished(&counts),
        "enriched": enriched,
        // This process's deliveries, and those of documents it had already
        // enriched (redelivered after a lost commit, a rebalance or a crash).
        "consumed": crate::engine::telemetry::stats::Stats::get(&engine.stats.consumed),
        "redelivered": crate::engine::telemetry::stats::Stats::get(&engine.stats.duplicates)
            + crate::engine::telemetry::stats::Stats::get(&engine.stats.stale),
        "elapsed_ms": elapsed.as_millis() as u64,
        "docs_per_sec": (enriched as f64 / elapsed.as_secs_f64().max(1e-3) * 10.0).round() / 10.0,
        "breaker": engine.breaker.state().as_str(),
        "timed_out": timed_out,
        "lag": p.lag_total(),
    })
}

fn print_summary(s: &Value, as_json: bool) {
    if as_json {
        println!("{s}");
        return;
    }
    let g = |k: &str| s.get(k).cloned().unwrap_or(Value::Null);
    if let Some(project) = s.get("project").and_then(Value::as_str) {
        println!(
            "project {}: {} files discovered, {} indexed, {} unchanged, {} published, {} deleted, {} renamed",
            clean(project),
            g("discovered"),
            g("indexed"),
            g("unchanged"),
            g("published"),
            g("deleted"),
            g("renamed")
        );
    }
    println!(
        "completed {}  dlq {}  pending {}  lag {}  | enriched {} in {} ms ({} docs/s)  breaker {}{}",
        g("completed"),
        g("dlq"),
        g("pending"),
        g("lag"),
        g("enriched"),
        g("elapsed_ms"),
        g("docs_per_sec"),
        g("breaker").as_str().unwrap_or(""),
        if g("timed_out") == Value::Bool(true) { "  (timed out)" } else { "" }
    );
}
