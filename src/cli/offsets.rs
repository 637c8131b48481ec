//! `offsets`: the consumer group's committed offsets and lag per partition,
//! and `offsets reset` (seed 004 "Procedure 2: Consumer Group Reset"):
//! preview, typed confirmation (the group id), members out of the group
//! while the offsets move, audited.

use crate::engine::fleet::levers;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use anyhow::Result;
use clap::{ArgGroup, Args, Subcommand};
use serde_json::json;

use super::output::print_json_or;
use crate::engine::fleet::control::Origin;
use crate::engine::fleet::group_reset::{self, ResetReport, ResetTarget};
use crate::engine::fleet::levers::CommandError;
use crate::engine::fleet::levers::{pull, Caller};
use crate::engine::Engine;
use crate::sanitize::clean;

#[derive(Debug, Subcommand)]
pub enum OffsetsCommand {
    /// Move the group's committed offsets on the request topic: members
    /// leave the group, the offsets move, members rejoin
    Reset(ResetArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("to").required(true).args(["to_earliest", "to_latest", "to_offset", "to_datetime"])))]
pub struct ResetArgs {
    /// The oldest offset still kept
    #[arg(long)]
    pub to_earliest: bool,
    /// The end: skip everything not consumed yet
    #[arg(long)]
    pub to_latest: bool,
    /// This offset in each chosen partition (kept within what is stored)
    #[arg(long, value_name = "N")]
    pub to_offset: Option<i64>,
    /// The first record at or after this time: 2026-12-01T10:00:00Z (no
    /// zone: UTC) or epoch milliseconds
    #[arg(long, value_name = "TIME")]
    pub to_datetime: Option<String>,
    /// Only these partitions (default: all)
    #[arg(long, value_name = "P,Q", value_delimiter = ',')]
    pub partitions: Option<Vec<i32>>,
    /// Show before → after and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The consumer group id, typed, to confirm (asked for on a terminal)
    #[arg(long, value_name = "GROUP")]
    pub confirm: Option<String>,
    #[arg(long)]
    pub json: bool,
}

impl ResetArgs {
    fn target(&self) -> Result<ResetTarget, CommandError> {
        Ok(if self.to_earliest {
            ResetTarget::Earliest
        } else if self.to_latest {
            ResetTarget::Latest
        } else if let Some(o) = self.to_offset {
            if o < 0 {
                return Err(CommandError::Invalid(format!(
                    "--to-offset: {o} is not an offset"
                )));
            }
            ResetTarget::Offset(o)
        } else {
            let t = self.to_datetime.as_deref().unwrap_or_default();
            ResetTarget::Time(group_reset::parse_time(t).map_err(CommandError::Invalid)?)
        })
    }
}

pub async fn offsets(
    engine: Arc<Engine>,
    command: Option<OffsetsCommand>,
    json: bool,
) -> Result<i32> {
    match command {
        None => show(&engine, json).await,
        Some(OffsetsCommand::Reset(args)) => reset(&engine, args).await,
    }
}

async fn show(engine: &Arc<Engine>, json: bool) -> Result<i32> {
    let (group, topic) = (&engine.cfg.group_id, &engine.cfg.enrich_topic);
    let broker = engine.backends.broker.as_ref();
    let lag = broker.lag(group, topic).await?;
    let marks = broker.watermarks(topic).await?;
    let members = broker.group_members(group, topic).await?;
    let last = engine.control_state().reset;
    print_json_or(
        &json!({
            "group": group, "topic": topic, "members": members,
            "partitions": lag.iter().map(|l| {
                let low = marks.iter().find(|m| m.partition == l.partition).map_or(0, |m| m.low);
                json!({"partition": l.partition, "earliest": low, "committed": l.committed,
                       "end": l.end, "lag": l.lag})
            }).collect::<Vec<_>>(),
            "last_reset": last,
        }),
        json,
        || {
            println!("consumer group {} on {}", clean(group), clean(topic));
            println!(
                "{:>9}  {:>12}  {:>12}  {:>12}  {:>10}",
                "partition", "earliest", "committed", "end", "lag"
            );
            for l in &lag {
                let low = marks
                    .iter()
                    .find(|m| m.partition == l.partition)
                    .map_or(0, |m| m.low);
                println!(
                    "{:>9}  {:>12}  {:>12}  {:>12}  {:>10}",
                    l.partition, low, l.committed, l.end, l.lag
                );
            }
            println!("members: {}", members.len());
            for m in &members {
                println!("  {}", clean(m));
            }
            if let Some(r) = &last {
                println!(
                    "last reset #{}: to {} by {}, {:?}{}",
                    r.seq,
                    r.target.describe(),
                    clean(&r.actor),
                    r.phase,
                    r.error
                        .as_deref()
                        .map(|e| format!(": {}", clean(e)))
                        .unwrap_or_default()
                );
            }
        },
    );
    Ok(0)
}

fn print_preview(r: &ResetReport) {
    println!(
        "consumer group {} on {}: to {}",
        clean(&r.group),
        clean(&r.topic),
        r.target.describe()
    );
    for line in r.table() {
        println!("{line}");
    }
    println!(
        "members in the group now: {}{}",
        r.members.len(),
        if r.members.is_empty() {
            String::new()
        } else {
            " (they leave while the offsets move, then rejoin)".into()
        }
    );
}

/// The group id typed at a prompt, when stdin and stderr are a terminal.
fn ask_for_group(group: &str) -> Option<String> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return None;
    }
    eprint!("type the consumer group id ({}) to confirm: ", clean(group));
    std::io::stderr().flush().ok()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    Some(line.trim().to_string())
}

async fn reset(engine: &Arc<Engine>, args: ResetArgs) -> Result<i32> {
    let target = args.target()?;
    let caller = Caller::local(Origin::Cli);
    let command = |dry_run, confirm| levers::ResetOffsets {
        target,
        partitions: args.partitions.clone(),
        dry_run,
        confirm,
        actor: caller.actor.clone(),
    };
    let preview = pull(engine, &caller, command(true, None)).await?;
    if args.dry_run {
        print_json_or(&json!(preview), args.json, || print_preview(&preview));
        return Ok(0);
    }
    if !args.json {
        print_preview(&preview);
    }
    let confirm = args
        .confirm
        .clone()
        .or_else(|| ask_for_group(&engine.cfg.group_id));
    let done = pull(engine, &caller, command(false, confirm)).await?;
    print_json_or(&json!(done), args.json, || {
        println!(
            "moved in {} ms; lag {} → {}; {} member(s) left and rejoined",
            done.waited_ms,
            done.lag_before(),
            done.lag_after(),
            done.members.len()
        )
    });
    Ok(0)
}
