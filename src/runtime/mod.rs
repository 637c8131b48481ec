//! One way to run an engine, shared by the console, `serve`, `drain`,
//! `ingest --wait` and archon-bench: [`Running::start`] spawns the consumer,
//! the heartbeat, an ingest, the snapshot publisher and the HTTP server as
//! asked; [`Running::run_until`] says why the run ended (a signal, the
//! front end's own end, a dead consumer); [`Running::shutdown`] stops
//! fetching, waits for in-flight work to be recorded or returned, commits and
//! gives the exit code.

pub mod doctor;
pub mod process;
pub mod signal;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::engine::config::EngineConfig;
use crate::engine::fleet::control::Origin;
use crate::engine::handle::{self, EngineHandle};
pub use crate::engine::pipeline::consumer::ConsumerState;
use crate::engine::{pipeline::consumer, pipeline::producer, Engine};
use crate::serve::token::Tokens;

/// Build the adapters the configuration names (embedded ones in the data
/// dir for the rest) and open an engine on them: the one place adapters
/// are chosen.
pub async fn open_engine(cfg: EngineConfig) -> Result<Arc<Engine>> {
    open_engine_with(cfg, |_| {}).await
}

/// [`open_engine`] with a say over the adapters before the engine takes
/// them: archon-bench swaps in a no-op service, tests a failing service or
/// a broker that refuses a topic. The control store is chosen after, so it
/// sees the broker as adapted.
pub async fn open_engine_with(
    cfg: EngineConfig,
    adapt: impl FnOnce(&mut crate::ports::Backends),
) -> Result<Arc<Engine>> {
    let db = crate::backends::sqlite::Db::open(&cfg.data_dir)?;
    let faults = Arc::new(crate::ports::intelligence::FaultDial::new(
        cfg.faults.failure_rate,
        cfg.faults.latency,
    ));
    let mut backends = crate::ports::Backends::from_config(&db, &cfg, faults.clone()).await?;
    adapt(&mut backends);
    let control = crate::backends::control_store(&db, &cfg, backends.broker.as_ref()).await?;
    let history = open_history(&cfg.data_dir);
    Engine::with_backends(cfg, backends, control, faults, history).await
}

/// The data dir's history (None when the file is refused: the console then
/// starts its sparklines empty).
pub fn open_history(
    data_dir: &std::path::Path,
) -> Option<Arc<dyn crate::ports::history::HistoryStore>> {
    match crate::backends::history::SqliteHistory::open(data_dir) {
        Ok(h) => Some(Arc::new(h)),
        Err(e) => {
            tracing::warn!("no history kept: {e:#}");
            None
        }
    }
}

/// Exit code when `--timeout` expires before the pipeline drained.
pub const EXIT_TIMED_OUT: i32 = 3;

/// Why a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// SIGTERM or Ctrl-C.
    Signal,
    /// The operator quit the console.
    Quit,
    /// Everything asked for is completed or in the DLQ.
    Drained,
    /// `--timeout` passed first.
    TimedOut,
    /// The consumer ended without being asked to.
    ConsumerFailed(String),
    /// The front end failed (a terminal error, a failed progress read).
    Failed(String),
}

/// The HTTP server to run beside the engine: bound before anything starts,
/// so a busy port is a plain error.
pub struct Http {
    pub listener: tokio::net::TcpListener,
    pub tokens: Tokens,
}

#[derive(Default)]
pub struct RunOptions {
    /// Index and publish this tree as this project while running.
    pub ingest: Option<(PathBuf, String)>,
    /// Keep this tree indexed as this project as it changes (a full
    /// ingest first; `pipeline::watch`).
    pub watch: Option<(PathBuf, String)>,
    /// Publish snapshots and take commands (console, HTTP).
    pub front_end: bool,
    pub http: Option<Http>,
    /// Watch and steer without consuming: no consumer (so no group
    /// membership), no member report (`attach`).
    pub observe: bool,
    /// Post lag alerts to this webhook by these rules (`serve`).
    pub alerts: Option<(String, crate::engine::telemetry::alerts::AlertRules)>,
}

pub struct Running {
    pub engine: Arc<Engine>,
    /// Commands in, snapshots and outcomes out (when asked for).
    pub handle: Option<EngineHandle>,
    /// Where the HTTP server listens.
    pub http_addr: Option<SocketAddr>,
    consumer: JoinHandle<Result<()>>,
    consumer_state: watch::Receiver<ConsumerState>,
    heartbeat: JoinHandle<()>,
    /// Runs redrive jobs (none in a read-only session).
    jobs: Option<JoinHandle<()>>,
    http: Option<(JoinHandle<std::io::Result<()>>, watch::Sender<bool>)>,
}

impl Running {
    pub fn start(engine: Arc<Engine>, opts: RunOptions) -> Result<Running> {
        if engine.is_held() && !opts.observe {
            tracing::warn!(
                "consumption is held by a rollback on this data dir; `archon-tui resume` \
                 (or POST /resume, or the console's resume) undoes it"
            );
        }
        let observe = opts.observe;
        let (state_tx, consumer_state) = watch::channel(if observe {
            ConsumerState::Observing
        } else {
            ConsumerState::Running
        });
        let consumer = if observe {
            let engine = engine.clone();
            tokio::spawn(async move {
                let _stopped = engine.stop_watch().wait_for(|s| *s).await.is_ok();
                drop(state_tx);
                Ok(())
            })
        } else {
            let engine = engine.clone();
            tokio::spawn(async move {
                let r = consumer::run(engine.clone()).await;
                let state = match &r {
                    Ok(()) if engine.stopping() => ConsumerState::Stopped,
                    Ok(()) => ConsumerState::Failed("the consumer ended unexpectedly".into()),
                    Err(e) => {
                        let reason = crate::sanitize::clean(&format!("{e:#}"));
                        tracing::error!("consumer stopped: {reason}");
                        ConsumerState::Failed(reason)
                    }
                };
                state_tx.send_replace(state);
                r
            })
        };
        let heartbeat = engine.spawn_heartbeat(!observe);
        let jobs = (!engine.cfg.read_only).then(|| engine.spawn_job_runner());
        if let Some((path, project)) = opts.ingest {
            producer::spawn_ingest(&engine, path, project);
        }
        if let Some((path, project)) = opts.watch {
            crate::engine::pipeline::watch::spawn_watch(&engine, path, project);
        }
        let handle = (opts.front_end || opts.http.is_some())
            .then(|| handle::spawn(engine.clone(), handle::Caller::local(Origin::Console)));
        if let (Some((url, rules)), Some(h)) = (opts.alerts, handle.as_ref()) {
            spawn_alerts(&engine, h.snapshots.clone(), url, rules);
        }
        let mut http_addr = None;
        let http = match opts.http {
            Some(h) => {
                http_addr = Some(h.listener.local_addr()?);
                let front = handle.as_ref().expect("a handle when serving HTTP");
                let state = crate::serve::AppState::new(
                    &engine,
                    front.snapshots.clone(),
                    front.republish.clone(),
                    h.tokens,
                    consumer_state.clone(),
                )?;
                let (stop_tx, mut stop_rx) = watch::channel(false);
                let task = crate::serve::spawn_http(h.listener, state, async move {
                    // Ends when asked, or when the sender is gone.
                    let _stopped = stop_rx.wait_for(|s| *s).await;
                });
                Some((task, stop_tx))
            }
            None => None,
        };
        Ok(Running {
            engine,
            handle,
            http_addr,
            consumer,
            consumer_state,
            heartbeat,
            jobs,
            http,
        })
    }

    /// The consumer's state, for front ends that show it as it changes.
    pub fn consumer_state(&self) -> watch::Receiver<ConsumerState> {
        self.consumer_state.clone()
    }

    /// Run until a signal, `front_end` ends, or (when `stop_on_consumer_end`)
    /// the consumer ends on its own. The console keeps running over a dead
    /// consumer (it shows it); headless runs end.
    pub async fn run_until(
        &self,
        front_end: impl Future<Output = Ended>,
        stop_on_consumer_end: bool,
    ) -> Ended {
        let mut state = self.consumer_state.clone();
        let consumer_ended = async move {
            if !stop_on_consumer_end {
                return std::future::pending().await;
            }
            match state.wait_for(|s| !s.is_alive()).await {
                Ok(s) => match &*s {
                    ConsumerState::Failed(reason) => Ended::ConsumerFailed(reason.clone()),
                    _ => Ended::ConsumerFailed("the consumer ended unexpectedly".into()),
                },
                Err(_) => Ended::ConsumerFailed("the consumer task is gone".into()),
            }
        };
        tokio::select! {
            _ = signal::shutdown() => Ended::Signal,
            why = consumer_ended => why,
            why = front_end => why,
        }
    }

    /// Stop fetching, let in-flight work be recorded or returned, commit,
    /// stop the heartbeat and the HTTP server. The exit code: 0 after a
    /// clean stop, 1 when the consumer failed, 3 when timed out.
    pub async fn shutdown(self, ended: &Ended) -> i32 {
        let asked = matches!(ended, Ended::Signal | Ended::Quit);
        let stats = &self.engine.stats;
        let get = crate::engine::telemetry::stats::Stats::get;
        let in_flight = stats.in_flight.load(std::sync::atomic::Ordering::Relaxed);
        let (processed, handed_back) = (get(&stats.processed), get(&stats.handed_back));
        let stopping = Instant::now();
        if asked && in_flight > 0 {
            eprintln!(
                "archon-tui: stopping: {in_flight} in flight; finishing them (calls get {} s) and committing offsets…",
                crate::engine::pipeline::enrich::STOP_GRACE.as_secs()
            );
        } else if asked {
            eprintln!("archon-tui: stopping: nothing in flight; committing offsets…");
        }
        self.engine.stop();
        let consumer = match self.consumer.await {
            Ok(r) => r.map_err(|e| crate::sanitize::clean(&format!("{e:#}"))),
            Err(e) => Err(format!("consumer task: {e}")),
        };
        if asked && consumer.is_ok() && in_flight > 0 {
            // What became of the work in flight, said after the terminal is
            // restored: finished (recorded) or handed back for redelivery.
            eprintln!(
                "archon-tui: stopped in {:.1} s: {} finished, {} handed back for redelivery, offsets committed",
                stopping.elapsed().as_secs_f64(),
                get(&stats.processed).saturating_sub(processed),
                get(&stats.handed_back).saturating_sub(handed_back),
            );
        }
        if let Some((task, stop)) = self.http {
            stop.send_replace(true);
            // A long request (a replay) must not hold the exit up.
            if tokio::time::timeout(Duration::from_secs(1), task)
                .await
                .is_err()
            {
                tracing::debug!("HTTP server still answering a request at exit");
            }
        }
        if let Some(jobs) = self.jobs {
            // A redrive saves its position after every step; waiting for the
            // step in progress keeps the count exact.
            if tokio::time::timeout(Duration::from_secs(5), jobs)
                .await
                .is_err()
            {
                tracing::debug!("redrive step still running at exit");
            }
        }
        if let Err(e) = self.heartbeat.await {
            tracing::warn!("heartbeat task: {e}");
        }
        match (ended, consumer) {
            (Ended::ConsumerFailed(reason), _) => {
                eprintln!("archon-tui: the consumer failed: {reason}");
                1
            }
            (_, Err(e)) => {
                eprintln!("archon-tui: consumer: {e}");
                1
            }
            (Ended::Failed(reason), Ok(())) => {
                eprintln!("archon-tui: {reason}");
                1
            }
            (Ended::TimedOut, Ok(())) => EXIT_TIMED_OUT,
            (Ended::Signal | Ended::Quit | Ended::Drained, Ok(())) => 0,
        }
    }
}

/// Watch the snapshots and post what the alert rules say, until the engine
/// stops.
fn spawn_alerts(
    engine: &Arc<Engine>,
    mut snapshots: watch::Receiver<Arc<crate::engine::handle::Snapshot>>,
    url: String,
    rules: crate::engine::telemetry::alerts::AlertRules,
) {
    let engine = engine.clone();
    tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let mut alerter = crate::engine::telemetry::alerts::Alerter::new(rules);
        while snapshots.changed().await.is_ok() && !engine.stopping() {
            let snap = snapshots.borrow_and_update().clone();
            if snap.refreshed_ms == 0 {
                continue;
            }
            let events =
                alerter.observe(&snap, &engine.cfg.enrich_topic, std::time::Instant::now());
            if !events.is_empty() {
                crate::engine::telemetry::alerts::post(&client, &url, &events).await;
            }
        }
    });
}
