//! `--wait`: run the consumer until what was asked for is drained.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::output::bar;
use super::WaitArgs;
use crate::engine::pipeline::drain::{self, Progress};
use crate::engine::Engine;
use crate::model::Status;
use crate::runtime::{Ended, RunOptions, Running};

pub use crate::runtime::EXIT_TIMED_OUT;

/// Run the consumer until drained or timed out; true when timed out.
pub(crate) async fn run_until_drained(
    engine: &Arc<Engine>,
    args: &WaitArgs,
    project: Option<&str>,
) -> Result<bool> {
    let running = start_consumer(engine, args)?;
    until_drained(engine, running, args, project).await
}

/// Check the wait's arguments and start the consumer: a caller with work to
/// index starts it first, so the drain runs while it indexes.
pub(crate) fn start_consumer(engine: &Arc<Engine>, args: &WaitArgs) -> Result<Running> {
    if let Some(t) = args.timeout {
        anyhow::ensure!(
            t.is_finite() && t > 0.0,
            "--timeout must be a positive number of seconds, got {t}"
        );
    }
    Running::start(engine.clone(), RunOptions::default())
}

/// Wait on a started consumer until drained or timed out, then stop it;
/// true when timed out.
pub(crate) async fn until_drained(
    engine: &Arc<Engine>,
    running: Running,
    args: &WaitArgs,
    project: Option<&str>,
) -> Result<bool> {
    let pb = bar(Some(0), "enriching");
    let tick = |p: &Progress| {
        if let Some(pb) = &pb {
            let done = p.total(Status::Completed) + p.total(Status::Dlq);
            pb.set_length(done + p.unfinished());
            pb.set_position(done);
        }
    };
    let timeout = args.timeout.map(Duration::from_secs_f64);
    let ended = running
        .run_until(
            async {
                match drain::wait_drained_in(engine, project, timeout, &tick).await {
                    Ok(true) => Ended::Drained,
                    Ok(false) => Ended::TimedOut,
                    Err(e) => Ended::Failed(format!("{e:#}")),
                }
            },
            true,
        )
        .await;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let code = running.shutdown(&ended).await;
    match ended {
        Ended::Drained => Ok(false),
        Ended::TimedOut => Ok(true),
        Ended::Signal => {
            anyhow::bail!("interrupted; in-flight work was returned and will be redelivered")
        }
        Ended::ConsumerFailed(reason) => anyhow::bail!("the consumer failed: {reason}"),
        Ended::Failed(reason) => anyhow::bail!("{reason} (exit {code})"),
        Ended::Quit => Ok(false),
    }
}
