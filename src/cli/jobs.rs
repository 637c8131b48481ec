//! Redrive jobs from the command line: `dlq replay --rate N` starts one and
//! runs it here (or leaves it to the fleet with --detach); `jobs` lists them
//! and pauses, resumes, cancels or re-rates one. A job killed with its
//! process is taken over by `jobs resume ID` here, or by any running engine,
//! once it has not been saved for a few seconds.

use crate::engine::fleet::levers;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

use super::output::{bar, print_json_or};
use crate::engine::dlq::redrive::{JobView, ABANDONED_AFTER_MS};
use crate::engine::dlq::DlqFilter;
use crate::engine::fleet::control::Origin;
use crate::engine::fleet::levers::JobAction;
use crate::engine::fleet::levers::{pull, Caller, Lever};
use crate::engine::Engine;
use crate::sanitize::clean;

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List redrive jobs, newest first (the default)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop taking entries (the job keeps its position)
    Pause {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Go on after a pause; a job whose engine died is run here
    Resume {
        id: String,
        /// Only lift the pause; leave the running to the engine that has it
        #[arg(long)]
        detach: bool,
        #[arg(long)]
        json: bool,
    },
    /// Stop for good (entries not reached stay in the DLQ)
    Cancel {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Change the rate, entries a second (takes effect within 100 ms)
    Rate {
        id: String,
        rate: f64,
        #[arg(long)]
        json: bool,
    },
}

async fn lever(engine: &Arc<Engine>, l: impl Lever<Outcome = JobView>) -> Result<JobView> {
    Ok(pull(engine, &Caller::local(Origin::Cli), l).await?)
}

fn print_view(v: &JobView, json: bool) -> Result<()> {
    print_json_or(&serde_json::to_value(v)?, json, || {
        println!("{}", clean(&v.line()));
        if let Some(e) = &v.job.last_error {
            println!("  last error: {}", clean(e));
        }
    });
    Ok(())
}

pub async fn jobs(engine: Arc<Engine>, cmd: Option<JobsCommand>, json: bool) -> Result<i32> {
    let control = |id: String, action| levers::ControlJob { id, action };
    match cmd.unwrap_or(JobsCommand::List { json }) {
        JobsCommand::List { json } => {
            let jobs = engine.jobs();
            if json {
                println!("{}", serde_json::to_string(&jobs)?);
                return Ok(0);
            }
            if jobs.is_empty() {
                println!("no redrive jobs (start one: archon-tui dlq replay … --rate N)");
            }
            for j in &jobs {
                println!(
                    "{}  (filter: {}, by {})",
                    clean(&j.line()),
                    clean(&j.job.filter.describe()),
                    clean(&j.job.actor)
                );
            }
            Ok(0)
        }
        JobsCommand::Pause { id, json } => {
            print_view(&lever(&engine, control(id, JobAction::Pause)).await?, json)?;
            Ok(0)
        }
        JobsCommand::Cancel { id, json } => {
            print_view(&lever(&engine, control(id, JobAction::Cancel)).await?, json)?;
            Ok(0)
        }
        JobsCommand::Rate { id, rate, json } => {
            print_view(
                &lever(&engine, control(id, JobAction::Rate(rate))).await?,
                json,
            )?;
            Ok(0)
        }
        JobsCommand::Resume { id, detach, json } => {
            let view = lever(&engine, control(id.clone(), JobAction::Resume)).await?;
            if detach || view.phase.finished() || !view.abandoned {
                if !view.phase.finished() && !view.abandoned && !detach {
                    eprintln!(
                        "redrive {id} is running on {} (saved {} ms ago); it goes on there",
                        clean(&view.job.owner),
                        crate::clock::now_ms() - view.job.saved_ms
                    );
                }
                print_view(&view, json)?;
                return Ok(0);
            }
            eprintln!(
                "redrive {id}: its engine {} stopped saving it over {} s ago; running it here",
                clean(&view.job.owner),
                ABANDONED_AFTER_MS / 1000
            );
            run_here(&engine, &id, json).await
        }
    }
}

/// `dlq replay … --rate N`: start the job, then run it here unless detached.
pub async fn start(
    engine: Arc<Engine>,
    filter: DlqFilter,
    rate: f64,
    force: bool,
    confirmed: bool,
    detach: bool,
    json: bool,
) -> Result<i32> {
    let view = lever(
        &engine,
        levers::StartRedrive {
            filter,
            rate,
            force,
            confirmed,
            actor: crate::identity::actor(),
        },
    )
    .await?;
    if detach {
        // Left to the fleet: any engine running on these backends takes a
        // job nobody saves.
        eprintln!(
            "redrive {} started: {} entries at {rate}/s; an engine running here takes it \
             within {} s (`archon-tui jobs` follows it)",
            view.job.id,
            view.job.total,
            ABANDONED_AFTER_MS / 1000
        );
        print_view(&view, json)?;
        return Ok(0);
    }
    run_here(&engine, &view.job.id, json).await
}

/// Run a job in this process with progress on stderr; the final view on stdout.
async fn run_here(engine: &Arc<Engine>, id: &str, json: bool) -> Result<i32> {
    let started = Instant::now();
    let pb = engine.job(id).and_then(|v| {
        bar(Some(v.job.total), &format!("redrive {id}")).inspect(|pb| pb.set_position(v.done))
    });
    // Without a terminal: one line a second (and the last).
    let last_line = std::sync::Mutex::new(Instant::now());
    let progress = |v: &JobView| {
        if let Some(pb) = &pb {
            pb.set_position(v.done);
            return;
        }
        let mut at = last_line
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if at.elapsed().as_secs() >= 1 || v.phase.finished() {
            eprintln!("{}", clean(&v.line()));
            *at = Instant::now();
        }
    };
    let view = engine.run_job(id, &progress).await?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let mut out = serde_json::to_value(&view)?;
    out["elapsed_ms"] = json!(started.elapsed().as_millis() as u64);
    print_json_or(&out, json, || println!("{}", clean(&view.line())));
    Ok(0)
}
