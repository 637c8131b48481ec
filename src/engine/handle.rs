//! How a front end (the console) drives a running engine: typed commands go
//! in over one channel, one `Snapshot` comes out over a `watch` channel about
//! four times a second. The front end never touches a backend, so a slow
//! backend cannot freeze the screen.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::dlq::index::{DlqIndex, DlqRow};
use super::fleet::control::AuditEntry;
use super::fleet::levers::{Command, CommandError, CommandOutcome};
use super::fleet::rollout::RolloutState;
use super::resilience::breaker::BreakerSnapshot;
use super::telemetry::lagstat::{self, PartitionStatus, Sample};
use super::telemetry::stats::LatencySummary;
use super::telemetry::status::MemberView;
use super::Engine;
use crate::model::{total_counts, PartitionLag, ProjectCounts, Status};

/// Audit entries the console's overlay shows.
const AUDIT_SHOWN: usize = 200;

/// Samples kept for sparklines and the Burrow window (at 4 per second).
const HISTORY: usize = 120;
const BURROW_WINDOW: usize = 20;

#[derive(Debug, Clone, Serialize)]
pub struct PartitionView {
    pub lag: PartitionLag,
    pub status: PartitionStatus,
    /// Time lag: how old the oldest message not yet committed is (0 when
    /// caught up; None when it could not be read).
    pub seconds_behind: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct BackendView {
    pub name: &'static str,
    pub kind: String,
    pub healthy: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub counts: ProjectCounts,
    pub totals: BTreeMap<Status, u64>,
    pub partitions: Vec<PartitionView>,
    pub lag_total: i64,
    /// Total lag, oldest first (sparkline).
    pub lag_history: Vec<u64>,
    /// When each point of `lag_history` and `rate_history` was taken (unix
    /// ms): where the lever markers go.
    pub history_ms: Vec<i64>,
    pub lag_trend: char,
    /// Seconds to clear the lag at the current commit rate (None: not draining).
    pub eta_secs: Option<f64>,
    /// Messages the whole group committed a second, and messages arriving
    /// on the request topic a second, over the lag window (None: not yet
    /// two reads).
    pub commit_rate: Option<f64>,
    pub arrival_rate: Option<f64>,
    pub breaker: BreakerSnapshot,
    pub rollout: RolloutState,
    pub paused: bool,
    pub held: bool,
    /// Writes that cannot land (a full disk holds intake), if any.
    pub stall: Option<super::resilience::stall::StallView>,
    /// Out of the consumer group while an offset reset runs.
    pub resetting: bool,
    pub concurrency: usize,
    /// Fetched and not yet committed (enriching, retrying or being recorded).
    pub in_flight: i64,
    /// Holding a concurrency permit: at most `concurrency`.
    pub enriching: usize,
    pub docs_per_sec: f64,
    /// Documents coming in a second: POSTed to the bridge API, and from
    /// trees (ingest).
    pub in_http_per_sec: f64,
    pub in_trees_per_sec: f64,
    /// Files coming in from watched trees' changes, a second.
    pub in_watch_per_sec: f64,
    /// The trees this engine watches.
    pub watches: Vec<crate::engine::pipeline::watch::WatchView>,
    /// Per project, where its documents come from (`describe_sources`).
    pub sources: BTreeMap<String, String>,
    pub rate_history: Vec<u64>,
    /// The service call that produced each enrichment.
    pub enrich_latency: LatencySummary,
    /// Time in retry (failed calls, backoff, breaker waits) of the
    /// enrichments that needed a retry.
    pub retry_wait: LatencySummary,
    pub index_latency: LatencySummary,
    /// This engine's record batches (graph, vectors, events), the last
    /// one to two minutes.
    pub record_latency: LatencySummary,
    /// Current DLQ entries, newest first (rows: the full record is read
    /// from the topic when one is opened).
    #[serde(skip)]
    pub dlq: Arc<Vec<Arc<DlqRow>>>,
    pub dlq_by_type: BTreeMap<String, u64>,
    /// The entries by error fingerprint, biggest group first.
    #[serde(skip)]
    pub dlq_groups: Arc<Vec<super::dlq::DlqGroup>>,
    pub backends: Vec<BackendView>,
    pub data_dir: String,
    /// Why the last refresh failed, if it did.
    pub error: Option<String>,
    /// When this snapshot was taken (unix ms; 0: not yet).
    pub refreshed_ms: i64,
    /// This engine's id in the fleet.
    pub member_id: String,
    /// The fleet's members as they last reported (this one included).
    pub fleet: Vec<MemberView>,
    /// Where the operator state lives ("embedded": the data dir, "kafka").
    pub control_kind: &'static str,
    /// Why the operator state may be out of date, if it may be.
    pub control_trouble: Option<String>,
    /// Levers are refused (`--read-only`).
    pub read_only: bool,
    /// MAX_PROCESSING_RATE in force (None: no limit).
    pub max_rate: Option<f64>,
    /// The newest operator actions of the fleet, oldest first.
    #[serde(skip)]
    pub audit: Vec<AuditEntry>,
    /// Redrive jobs, newest first.
    #[serde(skip)]
    pub jobs: Vec<super::dlq::redrive::JobView>,
    /// Unfinished documents indexed more than each `model::PENDING_AGES`
    /// ago (read every few seconds).
    pub pending_by_age: Vec<(String, u64)>,
    /// Members of the consumer group that are not archon-tui engines
    /// (the seeds' aiokafka services, Java, …): Kafka's view of them, read
    /// every few seconds. Levers do not reach them.
    pub others: Vec<crate::ports::broker::GroupMember>,
}

impl Snapshot {
    /// An empty snapshot (before the first refresh; also for tests).
    pub fn empty() -> Self {
        Self {
            counts: ProjectCounts::new(),
            totals: total_counts(&ProjectCounts::new()),
            partitions: Vec::new(),
            lag_total: 0,
            lag_history: Vec::new(),
            history_ms: Vec::new(),
            lag_trend: '→',
            eta_secs: None,
            commit_rate: None,
            arrival_rate: None,
            breaker: super::resilience::breaker::CircuitBreaker::new(Default::default()).snapshot(),
            rollout: RolloutState::default(),
            paused: false,
            held: false,
            stall: None,
            resetting: false,
            concurrency: 10,
            in_flight: 0,
            enriching: 0,
            docs_per_sec: 0.0,
            in_http_per_sec: 0.0,
            in_trees_per_sec: 0.0,
            in_watch_per_sec: 0.0,
            watches: Vec::new(),
            sources: BTreeMap::new(),
            rate_history: Vec::new(),
            enrich_latency: LatencySummary::default(),
            retry_wait: LatencySummary::default(),
            index_latency: LatencySummary::default(),
            record_latency: LatencySummary::default(),
            dlq: Arc::new(Vec::new()),
            dlq_by_type: BTreeMap::new(),
            dlq_groups: Arc::new(Vec::new()),
            backends: Vec::new(),
            data_dir: String::new(),
            error: None,
            refreshed_ms: 0,
            member_id: String::new(),
            fleet: Vec::new(),
            control_kind: "embedded",
            control_trouble: None,
            read_only: false,
            max_rate: None,
            audit: Vec::new(),
            jobs: Vec::new(),
            pending_by_age: Vec::new(),
            others: Vec::new(),
        }
    }
}

impl Snapshot {
    /// The levers' state as the engine holds it now (breaker, rollout,
    /// pause, hold, concurrency).
    async fn set_levers(&mut self, engine: &Engine) {
        self.breaker = engine.breaker.snapshot();
        self.rollout = engine.rollout();
        self.paused = engine.is_paused();
        self.held = engine.is_held();
        self.stall = engine.stall.view();
        self.resetting = engine.is_resetting();
        self.concurrency = engine.limit.get();
        self.member_id = engine.member_id().to_string();
        self.control_kind = engine.control.kind();
        self.control_trouble = engine.control.trouble();
        self.read_only = engine.cfg.read_only;
        self.max_rate = engine.rate.get();
        match engine.members().await {
            Ok(mut m) => {
                // This engine's row from its live state, not its last report
                // (up to a second old): the row never contradicts the panels.
                if let Some(mine) = m.iter_mut().find(|m| m.member_id == self.member_id) {
                    *mine = engine.member_status();
                }
                self.fleet = MemberView::of(m, crate::clock::now_ms())
            }
            Err(e) => self.control_trouble = Some(format!("fleet reports unreadable: {e:#}")),
        }
        if let Ok(a) = engine.control.audit(AUDIT_SHOWN).await {
            self.audit = a;
        }
        self.jobs = engine.jobs();
    }

    /// The fields `set_levers` reads, from `other`.
    fn take_levers(&mut self, other: Snapshot) {
        self.breaker = other.breaker;
        self.rollout = other.rollout;
        self.paused = other.paused;
        self.held = other.held;
        self.stall = other.stall;
        self.resetting = other.resetting;
        self.concurrency = other.concurrency;
        self.member_id = other.member_id;
        self.control_kind = other.control_kind;
        self.control_trouble = other.control_trouble;
        self.read_only = other.read_only;
        self.max_rate = other.max_rate;
        self.fleet = other.fleet;
        self.audit = other.audit;
        self.jobs = other.jobs;
    }

    /// What this engine is doing, in the one word every panel shows
    /// (`consumer_failed`: why the consumer ended, when it did; `observing`:
    /// `attach`). Lag is the group's, so the flow judged is the fleet's.
    pub fn state(
        &self,
        consumer_failed: Option<&str>,
        observing: bool,
    ) -> super::telemetry::state::RunState {
        let live = self.fleet.iter().filter(|m| !m.stale);
        let (rate, in_flight) = live.fold((0.0, 0), |(r, n), m| {
            (r + m.status.docs_per_sec, n + m.status.in_flight.max(0))
        });
        super::telemetry::state::RunState::of(&super::telemetry::state::StateInputs {
            consumer_failed,
            observing,
            resetting: self.resetting,
            stalled: self.stall.as_ref().map(|s| s.disk_full),
            held: self.held,
            rollout_enabled: self.rollout.enabled,
            paused: self.paused,
            breaker: self.breaker.state,
            // No partitions yet: the lag was never read.
            lag: (!self.partitions.is_empty()).then_some(self.lag_total),
            in_flight: in_flight.max(self.in_flight),
            docs_per_sec: rate.max(self.docs_per_sec),
        })
    }

    /// What `m` is doing, from its last report and the lag of the partitions
    /// it holds.
    pub fn member_state(&self, m: &MemberView) -> super::telemetry::state::RunState {
        let st = &m.status;
        let lag = self
            .partitions
            .iter()
            .filter(|p| st.partitions.contains(&p.lag.partition))
            .map(|p| p.lag.lag.max(0))
            .sum();
        super::telemetry::state::RunState::of(&super::telemetry::state::StateInputs {
            stalled: st.stalled.as_ref().map(|r| r.starts_with("disk full")),
            held: st.held,
            rollout_enabled: self.rollout.enabled,
            paused: st.paused,
            breaker: st.breaker.state,
            lag: Some(lag),
            in_flight: st.in_flight,
            docs_per_sec: st.docs_per_sec,
            ..Default::default()
        })
    }

    /// The member of the group that is not ours holding `partition`.
    pub fn other_owner_of(&self, partition: i32) -> Option<&crate::ports::broker::GroupMember> {
        self.others
            .iter()
            .find(|m| m.partitions.contains(&partition))
    }

    /// The member holding `partition` of the request topic, if one reports it.
    pub fn owner_of(&self, partition: i32) -> Option<&MemberView> {
        self.fleet
            .iter()
            .filter(|m| !m.stale)
            .find(|m| m.status.partitions.contains(&partition))
    }
}

/// Publishes the last snapshot again with the levers read now: after a
/// lever command, so whatever reads the snapshot next (a probe, the
/// console) sees its effect without waiting for a full refresh.
#[derive(Clone)]
pub struct Republish {
    engine: Arc<Engine>,
    tx: Arc<watch::Sender<Arc<Snapshot>>>,
}

impl Republish {
    pub async fn now(&self) {
        let mut levers = (**self.tx.borrow()).clone();
        levers.set_levers(&self.engine).await;
        // Into the snapshot current *now*: a full refresh sent while the
        // levers were read is kept (replacing it with the older copy left
        // /health on "no status read yet" while levers kept changing).
        self.tx.send_modify(|cur| {
            let mut next = (**cur).clone();
            next.take_levers(levers);
            *cur = Arc::new(next);
        });
    }
}

pub struct EngineHandle {
    pub commands: mpsc::UnboundedSender<Command>,
    pub republish: Republish,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Results of commands, in order (the console shows them).
    pub outcomes: mpsc::UnboundedReceiver<(Command, Result<CommandOutcome, CommandError>)>,
}

/// How often the history is sampled (also at once when the breaker changes);
/// `ARCHON_HISTORY_EVERY_MS` changes it (tests).
fn history_every() -> Duration {
    static EVERY: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *EVERY.get_or_init(|| {
        std::env::var("ARCHON_HISTORY_EVERY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(10), Duration::from_millis)
    })
}

async fn sample_history(engine: &Engine, h: &mut History, snap: &Snapshot) {
    let Some(store) = &engine.history else {
        return;
    };
    let breaker = snap.breaker.state.gauge();
    let due = h
        .sampled
        .is_none_or(|(at, b)| at.elapsed() >= history_every() || b != breaker);
    if !due || snap.refreshed_ms == 0 {
        return;
    }
    h.sampled = Some((Instant::now(), breaker));
    let sample = crate::ports::history::Sample {
        at_ms: snap.refreshed_ms,
        lag: snap.lag_total,
        docs_per_sec: snap.docs_per_sec,
        dlq: snap.totals.get(&Status::Dlq).copied().unwrap_or(0),
        breaker,
    };
    if let Err(e) = store.append(&sample).await {
        tracing::debug!("history sample not kept: {e:#}");
    }
}

/// Each partition's time lag: the timestamp of the record at its committed
/// offset, read once per committed offset (cached), against now.
async fn seconds_behind(engine: &Engine, h: &mut History, parts: &mut [PartitionView]) {
    let now = crate::clock::now_ms();
    for p in parts {
        let l = p.lag;
        if l.lag <= 0 {
            p.seconds_behind = Some(0.0);
            continue;
        }
        let cached = h
            .oldest
            .get(&l.partition)
            .filter(|(c, _)| *c == l.committed);
        let ts = match cached {
            Some((_, ts)) => Some(*ts),
            None => {
                let read = bounded(
                    "broker",
                    BACKEND_CALL_LIMIT,
                    engine.backends.broker.read(
                        &engine.cfg.enrich_topic,
                        l.partition,
                        l.committed.max(0),
                        1,
                    ),
                )
                .await;
                let ts = read.ok().and_then(|r| r.first().map(|r| r.timestamp_ms));
                if let Some(ts) = ts {
                    h.oldest.insert(l.partition, (l.committed, ts));
                }
                ts
            }
        };
        p.seconds_behind = ts
            .filter(|t| *t > 0)
            .map(|t| ((now - t).max(0)) as f64 / 1000.0);
    }
}

/// How often pending-by-age is read (a scan of the unfinished documents).
const AGES_EVERY: Duration = Duration::from_secs(5);

struct History {
    /// The last counts and lag read, shown (with the error) while a backend
    /// does not answer.
    last_counts: ProjectCounts,
    last_lag: Vec<PartitionLag>,
    per_partition: BTreeMap<i32, VecDeque<Sample>>,
    lag: VecDeque<u64>,
    /// When each `lag` / `rate` point was taken (unix ms).
    stamps: VecDeque<i64>,
    rate: VecDeque<u64>,
    /// (when, total committed, total end) for the commit and arrival rates.
    commits: VecDeque<(Instant, i64, i64)>,
    dlq: DlqIndex,
    /// Pending by age, and when it was read.
    ages: (Vec<(String, u64)>, Option<Instant>),
    /// When the history was last sampled, and the breaker state then.
    sampled: Option<(Instant, i64)>,
    /// Per partition: (committed offset, timestamp of the record there).
    oldest: BTreeMap<i32, (i64, i64)>,
    /// Where each project's documents come from, and when it was read.
    sources: (BTreeMap<String, String>, Option<Instant>),
}

impl History {
    fn push<T>(q: &mut VecDeque<T>, v: T, cap: usize) {
        q.push_back(v);
        while q.len() > cap {
            q.pop_front();
        }
    }
}

pub use super::fleet::levers::{execute_logged, Caller};

/// Start the snapshot publisher and the command executor for `engine`.
pub fn spawn(engine: Arc<Engine>, caller: Caller) -> EngineHandle {
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<Command>();
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::empty()));
    let snap_tx = Arc::new(snap_tx);
    let republish = Republish {
        engine: engine.clone(),
        tx: snap_tx.clone(),
    };
    if engine.backends.broker.kind() != "embedded" {
        // The group's members that are not ours, every few seconds on a task
        // of its own: a slow DescribeGroups (a rebalance) never holds up the
        // snapshot /health and the console read.
        let engine = engine.clone();
        tokio::spawn(async move {
            loop {
                if let Ok(Ok(m)) =
                    tokio::time::timeout(BACKEND_CALL_LIMIT, engine.other_members()).await
                {
                    *engine
                        .others
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = m;
                }
                if engine.sleep_or_stop(AGES_EVERY).await {
                    return;
                }
            }
        });
    }
    {
        // A lever pulled elsewhere in the fleet (the control topic) shows in
        // this snapshot, and so in /health, as soon as this engine follows
        // it, not at the next full refresh (up to 250 ms plus its reads).
        let (engine, republish) = (engine.clone(), republish.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = engine.levers_changed.notified() => republish.now().await,
                    _ = engine.stopped_for(Duration::ZERO) => return,
                }
            }
        });
    }
    let exec_engine = engine.clone();
    let exec_republish = republish.clone();
    tokio::spawn(async move {
        while let Some(cmd) = cmd_rx.recv().await {
            // Each command runs on its own task: a long replay or backfill
            // does not hold up a pause or a rollback behind it.
            let (engine, out, republish, caller) = (
                exec_engine.clone(),
                out_tx.clone(),
                exec_republish.clone(),
                caller.clone(),
            );
            tokio::spawn(async move {
                let result = execute_logged(&engine, &caller, cmd.clone()).await;
                republish.now().await;
                // The front end may be gone (quit); the audit line is written.
                let _delivered = out.send((cmd, result)).is_ok();
            });
        }
    });
    tokio::spawn(async move {
        let mut h = History {
            last_counts: ProjectCounts::new(),
            last_lag: Vec::new(),
            per_partition: BTreeMap::new(),
            lag: VecDeque::new(),
            stamps: VecDeque::new(),
            rate: VecDeque::new(),
            commits: VecDeque::new(),
            dlq: DlqIndex::new(),
            ages: (Vec::new(), None),
            sampled: None,
            oldest: BTreeMap::new(),
            sources: (BTreeMap::new(), None),
        };
        // Sparklines start where the last run left them.
        if let Some(store) = &engine.history {
            for s in store.last(HISTORY).await.unwrap_or_default() {
                h.lag.push_back(s.lag.max(0) as u64);
                h.rate.push_back(s.docs_per_sec.round() as u64);
            }
        }
        loop {
            let snap = refresh(&engine, &mut h).await;
            if snap_tx.send(Arc::new(snap)).is_err()
                || engine.sleep_or_stop(Duration::from_millis(250)).await
            {
                return;
            }
        }
    });
    EngineHandle {
        commands: cmd_tx,
        republish,
        snapshots: snap_rx,
        outcomes: out_rx,
    }
}

/// A snapshot never waits on a backend longer than this: a hung call shows
/// as an error naming the backend, not as a frozen status.
const BACKEND_CALL_LIMIT: Duration = Duration::from_secs(5);

async fn bounded<T>(
    what: &str,
    limit: Duration,
    call: impl std::future::Future<Output = anyhow::Result<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e:#}")),
        Err(_) => Err(format!("{what}: no answer within {} s", limit.as_secs())),
    }
}

/// Per project, where its documents come from in a few words: "watch
/// …/src/web", "tree …/docs", "http", "tree …/a + http", "before sources"
/// (indexed by a release that did not record them). Biggest first.
pub fn describe_sources(
    rows: &[crate::ports::graph::SourceCount],
    watched: &[String],
) -> BTreeMap<String, String> {
    let mut by_project: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for r in rows {
        let what = match (r.kind.as_deref(), r.root.as_deref()) {
            (Some("tree"), Some(root)) => {
                let short = crate::engine::pipeline::watch::short_root(root);
                let verb = if watched.iter().any(|w| w == root) {
                    "watch"
                } else {
                    "tree"
                };
                format!("{verb} …/{short}")
            }
            (Some("http"), _) => "http".to_string(),
            _ => "before sources".to_string(),
        };
        by_project
            .entry(r.project.clone())
            .or_default()
            .push((r.documents, what));
    }
    by_project
        .into_iter()
        .map(|(p, mut v)| {
            v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let words: Vec<String> = v.into_iter().map(|(_, w)| w).collect();
            (p, words.join(" + "))
        })
        .collect()
}

async fn refresh(engine: &Engine, h: &mut History) -> Snapshot {
    let mut snap = Snapshot::empty();
    snap.data_dir = engine.cfg.data_dir.display().to_string();
    snap.refreshed_ms = crate::clock::now_ms();
    let b = &engine.backends;
    let graph_kind = format!("graph store ({})", b.graph.kind());
    let broker_kind = format!("broker ({})", b.broker.kind());
    let (counts, lag) = tokio::join!(
        bounded(
            &graph_kind,
            BACKEND_CALL_LIMIT,
            engine
                .counts
                .read(&*b.graph, super::telemetry::counts::Fresh::Paced)
        ),
        bounded(
            &broker_kind,
            BACKEND_CALL_LIMIT,
            b.broker.lag(&engine.cfg.group_id, &engine.cfg.enrich_topic)
        ),
    );
    let (graph_ok, broker_ok) = (counts.is_ok(), lag.is_ok());
    let errors: Vec<String> = [counts.as_ref().err(), lag.as_ref().err()]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    if !errors.is_empty() {
        snap.error = Some(errors.join("; "));
    }
    if let Ok(c) = counts {
        h.last_counts = c;
    }
    let lag_fresh = lag.is_ok();
    if let Ok(l) = lag {
        h.last_lag = l;
    }
    snap.totals = total_counts(&h.last_counts);
    snap.counts = h.last_counts.clone();
    snap.lag_total = h.last_lag.iter().map(|l| l.lag).sum();
    if lag_fresh {
        let running = !engine.is_paused()
            && engine.breaker.state() == super::resilience::breaker::BreakerState::Closed;
        for l in &h.last_lag {
            let q = h.per_partition.entry(l.partition).or_default();
            History::push(
                q,
                Sample {
                    committed: l.committed,
                    lag: l.lag,
                },
                BURROW_WINDOW,
            );
            let samples: Vec<Sample> = q.iter().copied().collect();
            snap.partitions.push(PartitionView {
                lag: *l,
                status: lagstat::evaluate(&samples, running),
                seconds_behind: None,
            });
        }
        let committed: i64 = h.last_lag.iter().map(|l| l.committed.max(0)).sum();
        let end: i64 = h.last_lag.iter().map(|l| l.end).sum();
        History::push(
            &mut h.commits,
            (Instant::now(), committed, end),
            BURROW_WINDOW,
        );
    } else {
        // Stale lag: show it, without judging partitions on old numbers.
        for l in &h.last_lag {
            snap.partitions.push(PartitionView {
                lag: *l,
                status: PartitionStatus::Stale,
                seconds_behind: None,
            });
        }
    }
    if lag_fresh {
        seconds_behind(engine, h, &mut snap.partitions).await;
    }
    History::push(&mut h.lag, snap.lag_total.max(0) as u64, HISTORY);
    History::push(&mut h.stamps, snap.refreshed_ms, HISTORY);
    snap.history_ms = h.stamps.iter().copied().collect();
    let lags: Vec<i64> = h
        .lag
        .iter()
        .rev()
        .take(BURROW_WINDOW)
        .rev()
        .map(|v| *v as i64)
        .collect();
    snap.lag_trend = lagstat::trend(&lags);
    snap.lag_history = h.lag.iter().copied().collect();
    if let (Some((t0, c0, e0)), Some((t1, c1, e1))) = (h.commits.front(), h.commits.back()) {
        let dt = t1.duration_since(*t0).as_secs_f64();
        let rate = (c1 - c0) as f64 / dt.max(1e-9);
        if dt > 0.5 {
            snap.commit_rate = Some(rate.max(0.0));
            snap.arrival_rate = Some(((e1 - e0) as f64 / dt).max(0.0));
        }
        if dt > 0.5 && rate > 0.0 && snap.lag_total > 0 {
            snap.eta_secs = Some(snap.lag_total as f64 / rate);
        }
    }
    if graph_ok && h.ages.1.is_none_or(|at| at.elapsed() >= AGES_EVERY) {
        let now = chrono::Utc::now();
        let cutoffs = crate::model::PENDING_AGES
            .iter()
            .map(|(_, secs)| {
                (now - chrono::Duration::seconds(*secs))
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            })
            .collect();
        if let Ok(counts) = bounded(
            &graph_kind,
            BACKEND_CALL_LIMIT,
            b.graph.unfinished_indexed_before(cutoffs),
        )
        .await
        {
            h.ages = (
                crate::model::PENDING_AGES
                    .iter()
                    .map(|(label, _)| label.to_string())
                    .zip(counts)
                    .collect(),
                Some(Instant::now()),
            );
        }
    }
    snap.pending_by_age = h.ages.0.clone();
    snap.others = engine
        .others
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if graph_ok && h.sources.1.is_none_or(|at| at.elapsed() >= AGES_EVERY) {
        if let Ok(rows) = bounded(&graph_kind, BACKEND_CALL_LIMIT, b.graph.sources()).await {
            let watched: Vec<String> = engine
                .watches
                .views(super::telemetry::stats::RATE_WINDOW)
                .into_iter()
                .map(|w| w.root)
                .collect();
            h.sources = (describe_sources(&rows, &watched), Some(Instant::now()));
        }
    }
    snap.sources = h.sources.0.clone();
    snap.set_levers(engine).await;
    snap.enriching = engine.limit.in_use();
    snap.in_flight = engine
        .stats
        .in_flight
        .load(std::sync::atomic::Ordering::Relaxed);
    snap.docs_per_sec = engine.stats.rate(super::telemetry::stats::RATE_WINDOW);
    (
        snap.in_http_per_sec,
        snap.in_trees_per_sec,
        snap.in_watch_per_sec,
    ) = engine.stats.inflow(super::telemetry::stats::RATE_WINDOW);
    snap.watches = engine.watches.views(super::telemetry::stats::RATE_WINDOW);
    History::push(&mut h.rate, snap.docs_per_sec.round() as u64, HISTORY);
    snap.rate_history = h.rate.iter().copied().collect();
    snap.enrich_latency = engine.stats.enrich_summary();
    snap.retry_wait = engine.stats.retry_wait_summary();
    snap.index_latency = engine.stats.index_summary();
    snap.record_latency = engine.stats.recent_record_summary();
    sample_history(engine, h, &snap).await;
    // The DLQ index reads only what is new on its topic; while a backend
    // does not answer, the last view stays on screen.
    let mut view = None;
    if broker_ok && graph_ok {
        let dlq_count = snap.totals.get(&Status::Dlq).copied().unwrap_or(0);
        match bounded(
            "DLQ",
            6 * BACKEND_CALL_LIMIT,
            h.dlq.refresh(engine, dlq_count),
        )
        .await
        {
            Ok(v) => view = Some(v),
            Err(e) => {
                snap.error = Some(match snap.error.take() {
                    Some(prev) => format!("{prev}; {e}"),
                    None => e,
                })
            }
        }
    }
    let view = view.unwrap_or_else(|| h.dlq.view());
    snap.dlq = view.rows;
    snap.dlq_by_type = view.by_type;
    snap.dlq_groups = view.groups;
    let intelligence_ok = snap.breaker.state == super::resilience::breaker::BreakerState::Closed;
    snap.backends = vec![
        BackendView {
            name: "broker",
            kind: b.broker.kind().into(),
            healthy: broker_ok,
        },
        BackendView {
            name: "graph",
            kind: b.graph.kind().into(),
            healthy: graph_ok,
        },
        BackendView {
            name: "vectors",
            kind: b.vectors.kind().into(),
            healthy: true,
        },
        BackendView {
            name: "intelligence",
            kind: b.intelligence.kind().into(),
            healthy: intelligence_ok,
        },
    ];
    snap
}

#[cfg(test)]
mod tests {
    use super::describe_sources;
    use crate::ports::graph::SourceCount;

    #[test]
    fn each_project_says_where_its_documents_come_from() {
        let row = |project: &str, kind: Option<&str>, root: Option<&str>, n| SourceCount {
            project: project.into(),
            kind: kind.map(String::from),
            root: root.map(String::from),
            documents: n,
        };
        let rows = vec![
            row("web", Some("tree"), Some("/home/op/src/web"), 200),
            row("web", Some("http"), None, 12),
            row("docs", Some("tree"), Some("/srv/docs"), 5),
            row("api", Some("http"), None, 3),
            row("old", None, None, 9),
        ];
        let d = describe_sources(&rows, &["/srv/docs".to_string()]);
        assert_eq!(d["web"], "tree …/src/web + http");
        assert_eq!(d["docs"], "watch …/srv/docs");
        assert_eq!(d["api"], "http");
        assert_eq!(d["old"], "before sources");
    }
}
