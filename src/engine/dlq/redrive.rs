//! Redrive as a job: replaying many DLQ entries at a rate cap, with
//! progress, pause / resume / cancel, resumable after a crash.
//!
//! A job is two records in the operator state (`ControlStore`), so it
//! outlives the process and every engine of a fleet sees it:
//! - `job/<id>` ([`RedriveJob`]): what to replay and how far it got, written
//!   by the engine running it after every step;
//! - `jobctl/<id>` ([`JobControl`]): what operators asked (pause, cancel,
//!   rate), written by commands only — two writers never share a record.
//!
//! What a job replays is fixed when it starts: the entries its filter matches
//! that were in the DLQ topic then (offsets below each partition's end),
//! taken in (partition, offset) order; the position saved is the last one
//! done. A resumed job reloads what is left after it. A crash inside a step
//! can leave documents moved out of `dlq` by the step's graph transaction
//! with their entries still in the DLQ and their requests sent or not: the
//! resumed job reads the request topic from their replay time to tell which, and
//! sends only the missing ones (`settle_cut_step`), so each entry goes back
//! exactly once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::engine::dlq::{self, DlqEntry, DlqFilter};
use crate::engine::fleet::control::ControlChange;
use crate::engine::fleet::group_reset::parse_time;
use crate::engine::Engine;
use crate::model::Status;

/// A job whose engine has not saved it for this long is taken over by
/// another engine (its runner died: kill -9, a lost machine).
pub const ABANDONED_AFTER_MS: i64 = 10_000;
/// The console's and HTTP's rate when none is given, entries a second.
pub const DEFAULT_RATE: f64 = 200.0;
/// Finished jobs kept for `jobs` to show; older ones are forgotten, so the
/// operator state stays small.
pub const KEEP_FINISHED: usize = 50;
/// Most entries sent back in one step (one graph transaction, one produce).
const STEP_MAX: usize = 500;
/// Clocks of two machines of a fleet may differ by this much.
const CLOCK_SLACK_MS: i64 = 5_000;
/// A cut-short step produced within this long after its graph transaction
/// (librdkafka gives up on a message after 300 s).
const CUT_STEP_WINDOW_MS: i64 = 600_000;
/// Most request-topic records read per partition to settle a cut step.
const SETTLE_SCAN_CAP: usize = 500_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobPhase {
    Running,
    Paused,
    Done,
    Cancelled,
    Failed,
}

impl JobPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            JobPhase::Running => "running",
            JobPhase::Paused => "paused",
            JobPhase::Done => "done",
            JobPhase::Cancelled => "cancelled",
            JobPhase::Failed => "failed",
        }
    }
    pub fn finished(self) -> bool {
        matches!(
            self,
            JobPhase::Done | JobPhase::Cancelled | JobPhase::Failed
        )
    }
}

/// A redrive and how far it got (written by the engine running it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedriveJob {
    pub id: String,
    pub filter: DlqFilter,
    /// Also entries the loop guard would hold back.
    pub force: bool,
    /// Per DLQ partition: entries at offsets below this were in the DLQ when
    /// the job started; later ones (a replayed document failing again) are not
    /// part of it.
    pub bound: BTreeMap<i32, i64>,
    /// Entries matched when it started.
    pub total: u64,
    /// Sent back to the request topic.
    pub replayed: u64,
    /// Held back by the loop guard (replayed `max_replays` times already).
    pub looping: u64,
    /// Gone from the DLQ before their turn (replayed or purged elsewhere,
    /// or sent back just before a crash), or never a valid request.
    pub skipped: u64,
    /// Steps that failed (each is retried; the last error is kept).
    pub failures: u64,
    pub last_error: Option<String>,
    /// The last (partition, offset) done.
    pub cursor: Option<(i32, i64)>,
    /// Member id of the engine running it ("" until one takes it).
    pub owner: String,
    pub actor: String,
    pub created_ms: i64,
    pub saved_ms: i64,
    /// Time spent running (not paused, not between a crash and the resume).
    pub active_ms: u64,
    /// Set when it ends: done, cancelled or failed.
    pub finished: Option<JobPhase>,
}

/// What operators asked of a job (written by commands only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobControl {
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub cancelled: bool,
    /// Entries a second; None: the job's rate when it started.
    #[serde(default)]
    pub rate: Option<f64>,
}

/// A job as operators see it: the record, what was asked of it, and the
/// figures derived from both.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobView {
    #[serde(flatten)]
    pub job: RedriveJob,
    pub phase: JobPhase,
    pub rate: f64,
    /// Entries handled so far (replayed, looping or skipped).
    pub done: u64,
    pub eta_secs: Option<u64>,
    /// Its engine stopped saving it (`resume` or another engine takes it).
    pub abandoned: bool,
}

impl RedriveJob {
    /// Whether `e` was in the DLQ when the job started and comes after its
    /// position.
    fn still_covers(&self, e: &DlqEntry) -> bool {
        self.bound.get(&e.partition).is_some_and(|end| e.id < *end)
            && self.cursor.is_none_or(|c| (e.partition, e.id) > c)
    }
}

impl JobView {
    pub fn of(job: &RedriveJob, ctl: &JobControl, now_ms: i64) -> Self {
        let phase = match job.finished {
            Some(p) => p,
            None if ctl.paused => JobPhase::Paused,
            None => JobPhase::Running,
        };
        let rate = ctl.rate.unwrap_or(DEFAULT_RATE);
        let done = job.replayed + job.looping + job.skipped;
        let left = job.total.saturating_sub(done);
        JobView {
            phase,
            rate,
            done,
            eta_secs: (phase == JobPhase::Running).then(|| (left as f64 / rate).ceil() as u64),
            abandoned: !phase.finished() && now_ms - job.saved_ms > ABANDONED_AFTER_MS,
            job: job.clone(),
        }
    }

    /// One line for the console and the CLI's progress.
    pub fn line(&self) -> String {
        let eta = self
            .eta_secs
            .map_or(String::new(), |s| format!(" · ETA {}", eta(s)));
        let err = if self.job.failures > 0 {
            format!(" · {} failed steps", self.job.failures)
        } else {
            String::new()
        };
        format!(
            "redrive {} {}: {}/{} ({} replayed, {} looping, {} skipped) · {}/s{eta}{err}{}",
            self.job.id,
            self.phase.as_str(),
            self.done,
            self.job.total,
            self.job.replayed,
            self.job.looping,
            self.job.skipped,
            self.rate,
            if self.abandoned { " · ABANDONED" } else { "" }
        )
    }
}

/// Running time summed exactly (milliseconds truncated once, not per step).
struct ActiveTime {
    base_ms: u64,
    run: Duration,
    from: Instant,
}

impl ActiveTime {
    fn from(base_ms: u64) -> Self {
        Self {
            base_ms,
            run: Duration::ZERO,
            from: Instant::now(),
        }
    }
    /// Count the time since the last lap; the total in ms.
    fn lap(&mut self) -> u64 {
        self.run += self.from.elapsed();
        self.from = Instant::now();
        self.base_ms + self.run.as_millis() as u64
    }
    /// Do not count the time since the last lap (paused).
    fn skip(&mut self) {
        self.from = Instant::now();
    }
}

fn eta(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

impl Engine {
    /// Every job the operator state holds, newest first.
    pub fn jobs(&self) -> Vec<JobView> {
        let state = self.control_state();
        let now = now_ms();
        let mut out: Vec<JobView> = state
            .jobs
            .values()
            .map(|j| JobView::of(j, &state.job_control(&j.id), now))
            .collect();
        out.sort_by_key(|v| std::cmp::Reverse(v.job.created_ms));
        out
    }

    pub fn job(&self, id: &str) -> Option<JobView> {
        self.jobs().into_iter().find(|j| j.job.id == id)
    }

    /// Start a redrive of what `filter` matches now: the job is saved, owned
    /// by this engine; its runner (or `run_job`) does the work.
    pub async fn start_redrive(
        self: &Arc<Self>,
        filter: DlqFilter,
        rate: f64,
        force: bool,
        actor: &str,
    ) -> Result<JobView> {
        let entries = dlq::load_matching(self, &filter).await?;
        let mut bound = BTreeMap::new();
        for p in self
            .backends
            .broker
            .lag("archon-tui-dlq-browser", &self.cfg.dlq_topic)
            .await?
        {
            bound.insert(p.partition, p.end);
        }
        let now = now_ms();
        let job = RedriveJob {
            id: format!("r{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
            filter,
            force,
            bound,
            total: entries.len() as u64,
            replayed: 0,
            looping: 0,
            skipped: 0,
            failures: 0,
            last_error: None,
            cursor: None,
            owner: self.member_id().to_string(),
            actor: actor.to_string(),
            created_ms: now,
            saved_ms: now,
            active_ms: 0,
            finished: None,
        };
        let ctl = JobControl {
            rate: Some(rate),
            ..Default::default()
        };
        self.put_control(&ControlChange::JobControl(job.id.clone(), ctl.clone()))
            .await?;
        self.put_control(&ControlChange::Job(Box::new(job.clone())))
            .await?;
        self.refresh_control().await;
        Ok(JobView::of(&job, &ctl, now))
    }

    /// Ask a job to pause, resume, cancel or change rate.
    pub async fn control_job(
        &self,
        id: &str,
        change: impl FnOnce(&mut JobControl) + Send,
    ) -> Result<JobView> {
        let state = self.read_control().await?;
        let job = state
            .jobs
            .get(id)
            .with_context(|| format!("no redrive job {id:?} (see `archon-tui jobs`)"))?;
        let mut ctl = state.job_control(id);
        change(&mut ctl);
        self.put_control(&ControlChange::JobControl(id.to_string(), ctl.clone()))
            .await?;
        self.refresh_control().await;
        Ok(JobView::of(job, &ctl, now_ms()))
    }

    /// Run a job here until it ends or this engine stops (then it stays
    /// where it got to, for a restart or another engine). `progress` sees
    /// it after every step.
    pub async fn run_job(
        self: &Arc<Self>,
        id: &str,
        progress: &(dyn Fn(&JobView) + Sync),
    ) -> Result<JobView> {
        let mut job = {
            let state = self.read_control().await?;
            state
                .jobs
                .get(id)
                .cloned()
                .with_context(|| format!("no redrive job {id:?}"))?
        };
        if job.finished.is_some() {
            return Ok(JobView::of(
                &job,
                &self.read_control().await?.job_control(id),
                now_ms(),
            ));
        }
        job.owner = self.member_id().to_string();
        self.save_job(&mut job).await?;
        // One read of the DLQ topic for both: what a crash cut short, then
        // what is left.
        let kept = dlq::load_kept(self).await?;
        self.settle_cut_step(&mut job, &kept).await?;
        let mut left = self.entries_left(&job, kept).await?;
        let counts = if job.force {
            Default::default()
        } else {
            dlq::replay_counts(self).await?
        };
        let max = self.cfg.max_replays;
        // Paced from the last (re)start: `rate × elapsed` entries may be done.
        let (mut since, mut base, mut handled) = (Instant::now(), 0u64, 0u64);
        let mut rate_in_force = None;
        let mut active = ActiveTime::from(job.active_ms);
        let mut last_save = Instant::now();
        loop {
            let ctl = self.read_control().await?.job_control(id);
            if ctl.cancelled || left.is_empty() {
                job.active_ms = active.lap();
                job.finished = Some(if ctl.cancelled {
                    JobPhase::Cancelled
                } else {
                    JobPhase::Done
                });
                if !ctl.cancelled {
                    // What left the DLQ before its turn (or was sent back
                    // just before a crash, after the last save).
                    job.skipped = job.total.saturating_sub(job.replayed + job.looping);
                }
                self.save_job(&mut job).await?;
                let view = JobView::of(&job, &ctl, now_ms());
                progress(&view);
                tracing::info!("{}", view.line());
                // The lever's audit line said "running"; this one says how
                // it ended.
                let entry = crate::ports::control::AuditEntry {
                    at_ms: now_ms(),
                    actor: job.actor.clone(),
                    origin: crate::ports::control::Origin::Engine,
                    member_id: self.member_id().to_string(),
                    action: format!("redrive job {} ended", job.id),
                    before: String::new(),
                    after: view.phase.as_str().to_string(),
                    result: format!("ok: {}", view.line()),
                };
                if let Err(e) = self.control.append_audit(&entry).await {
                    tracing::warn!("audit entry not written: {e:#}");
                }
                if let Err(e) = self.forget_old_jobs().await {
                    tracing::debug!("old redrive jobs not forgotten: {e:#}");
                }
                return Ok(view);
            }
            if self.stopping() {
                job.active_ms = active.lap();
                self.save_job(&mut job).await?;
                return Ok(JobView::of(&job, &ctl, now_ms()));
            }
            let rate = ctl.rate.unwrap_or(DEFAULT_RATE);
            if ctl.paused {
                if rate_in_force.is_some() {
                    // The time up to the pause ran; what follows does not.
                    job.active_ms = active.lap();
                }
                active.skip();
                if last_save.elapsed() >= Duration::from_secs(1) {
                    self.save_job(&mut job).await?;
                    last_save = Instant::now();
                    progress(&JobView::of(&job, &ctl, now_ms()));
                }
                rate_in_force = None;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            if rate_in_force != Some(rate) {
                (since, base, rate_in_force) = (Instant::now(), handled, Some(rate));
            }
            let due = (rate * since.elapsed().as_secs_f64()) as u64 + 1;
            let n = (base + due).saturating_sub(handled) as usize;
            // Steps of about a tenth of a second's worth: one graph
            // transaction, one produce and one save each, not one per entry.
            let step_size = ((rate / 10.0) as usize).clamp(1, STEP_MAX).min(left.len());
            if n < step_size {
                let wait = Duration::from_secs_f64((1.0 / rate).clamp(0.002, 0.1));
                tokio::time::sleep(wait).await;
                continue;
            }
            let step: Vec<DlqEntry> = left.drain(..n.min(STEP_MAX).min(left.len())).collect();
            match self.redrive_step(&step, &counts, max, job.force).await {
                Ok((replayed, looping, skipped)) => {
                    job.replayed += replayed;
                    job.looping += looping;
                    job.skipped += skipped;
                    job.cursor = step.last().map(|e| (e.partition, e.id));
                    handled += step.len() as u64;
                }
                Err(e) => {
                    let reason = crate::sanitize::clean(&format!("{e:#}"));
                    tracing::warn!("redrive {id}: step failed, retrying: {reason}");
                    job.failures += 1;
                    job.last_error = Some(reason);
                    // Put it back and wait; the operator can cancel.
                    left.splice(0..0, step);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    rate_in_force = None;
                }
            }
            job.active_ms = active.lap();
            self.save_job(&mut job).await?;
            last_save = Instant::now();
            progress(&JobView::of(&job, &ctl, now_ms()));
        }
    }

    /// One step: the loop guard, then `dlq::send_back`. Returns (replayed,
    /// looping, skipped).
    async fn redrive_step(
        self: &Arc<Self>,
        step: &[DlqEntry],
        counts: &std::collections::HashMap<String, u32>,
        max: u32,
        force: bool,
    ) -> Result<(u64, u64, u64)> {
        let (go, held): (Vec<&DlqEntry>, Vec<&DlqEntry>) = step.iter().partition(|e| {
            force
                || counts
                    .get(e.message.document_id.as_str())
                    .is_none_or(|n| *n < max)
        });
        // Entries of removed files are not reprocessed unless forced.
        let (replayable, broken): (Vec<&DlqEntry>, Vec<&DlqEntry>) =
            go.into_iter().partition(|e| {
                !e.message.document_id.is_empty() && (force || !dlq::is_file_not_found(e))
            });
        let (replayed, skipped) = dlq::send_back(self, &replayable).await?;
        Ok((replayed, held.len() as u64, skipped + broken.len() as u64))
    }

    /// The step a crash cut short, if any: among the next entries, those
    /// whose documents this job already moved out of `dlq` (pending, replayed
    /// since it began). Their requests that reached the topic after their
    /// replay are not sent again; the rest are sent now; all their entries
    /// leave the DLQ and count as replayed. Returns how many it settled.
    async fn settle_cut_step(
        self: &Arc<Self>,
        job: &mut RedriveJob,
        kept: &HashMap<String, DlqEntry>,
    ) -> Result<u64> {
        // The job's entries after its position, those already listed or not
        // (an entry whose document left `dlq` is not listed).
        let mut next: Vec<&DlqEntry> = kept
            .values()
            .filter(|e| job.filter.matches(*e) && job.still_covers(e))
            .collect();
        next.sort_by_key(|e| (e.partition, e.id));
        let (mut cut, mut since) = (Vec::new(), HashMap::new());
        for e in next.into_iter().take(STEP_MAX) {
            let doc = self
                .backends
                .graph
                .get_document(&e.message.document_id)
                .await?;
            let replayed_ms = doc
                .filter(|d| d.enrichment_status == Status::Pending)
                .and_then(|d| d.replayed_at)
                .and_then(|t| parse_time(&t).ok())
                .filter(|t| t + CLOCK_SLACK_MS >= job.created_ms);
            if let Some(t) = replayed_ms {
                since.insert(e.message.document_id.clone(), t);
                cut.push(e);
            }
        }
        if cut.is_empty() {
            return Ok(0);
        }
        let sent = dlq::requested_since(self, &since, CUT_STEP_WINDOW_MS, SETTLE_SCAN_CAP).await?;
        let now_sent = dlq::finish_send_back(self, &cut, &sent).await?;
        tracing::info!(
            "redrive {}: a step cut short by a crash settled: {} entries, {} requests had gone, {now_sent} sent now",
            job.id,
            cut.len(),
            sent.len()
        );
        job.replayed += cut.len() as u64;
        self.save_job(job).await?;
        Ok(cut.len() as u64)
    }

    /// Forget finished jobs beyond the newest `KEEP_FINISHED`.
    pub async fn forget_old_jobs(&self) -> Result<usize> {
        let state = self.read_control().await?;
        let mut finished: Vec<&RedriveJob> = state
            .jobs
            .values()
            .filter(|j| j.finished.is_some())
            .collect();
        finished.sort_by_key(|j| std::cmp::Reverse(j.created_ms));
        let old: Vec<String> = finished
            .iter()
            .skip(KEEP_FINISHED)
            .map(|j| j.id.clone())
            .collect();
        for id in &old {
            self.control.forget(&format!("job/{id}")).await?;
            self.control.forget(&format!("jobctl/{id}")).await?;
        }
        if !old.is_empty() {
            self.refresh_control().await;
        }
        Ok(old.len())
    }

    async fn save_job(&self, job: &mut RedriveJob) -> Result<()> {
        job.saved_ms = now_ms();
        self.put_control(&ControlChange::Job(Box::new(job.clone())))
            .await
    }

    /// The job's entries still in the DLQ after its position, in order,
    /// from the topic's `kept` entries (a settled cut step's are no longer
    /// listed: their documents are pending).
    async fn entries_left(
        &self,
        job: &RedriveJob,
        kept: HashMap<String, DlqEntry>,
    ) -> Result<Vec<DlqEntry>> {
        let mut left: Vec<DlqEntry> = dlq::listed_of(self, kept)
            .await?
            .into_iter()
            .filter(|e| job.filter.matches(e) && job.still_covers(e))
            .collect();
        left.sort_by_key(|e| (e.partition, e.id));
        Ok(left)
    }

    /// Jobs this engine should run: its own unfinished ones, and others'
    /// that nobody has saved for `ABANDONED_AFTER_MS`.
    pub fn claimable_jobs(&self) -> Vec<String> {
        let me = self.member_id();
        self.jobs()
            .into_iter()
            .filter(|v| !v.phase.finished() && (v.job.owner == me || v.abandoned))
            .map(|v| v.job.id)
            .collect()
    }

    /// Run claimable jobs one after another until the engine stops (every
    /// engine that can write runs this: a job outlives the process that
    /// started it).
    pub fn spawn_job_runner(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                for id in engine.claimable_jobs() {
                    if let Err(e) = engine.run_job(&id, &|_| {}).await {
                        tracing::warn!(
                            "redrive {id} stopped: {}",
                            crate::sanitize::clean(&format!("{e:#}"))
                        );
                    }
                    if engine.stopping() {
                        return;
                    }
                }
                if engine.sleep_or_stop(Duration::from_millis(500)).await {
                    return;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> RedriveJob {
        RedriveJob {
            id: "r1".into(),
            filter: DlqFilter::default(),
            force: false,
            bound: BTreeMap::new(),
            total: 1000,
            replayed: 400,
            looping: 50,
            skipped: 50,
            failures: 0,
            last_error: None,
            cursor: Some((0, 499)),
            owner: "m1".into(),
            actor: "op@host".into(),
            created_ms: 0,
            saved_ms: 100_000,
            active_ms: 1000,
            finished: None,
        }
    }

    #[test]
    fn the_view_derives_phase_eta_and_abandonment() {
        let ctl = JobControl {
            rate: Some(100.0),
            ..Default::default()
        };
        let v = JobView::of(&job(), &ctl, 101_000);
        assert_eq!(v.phase, JobPhase::Running);
        assert_eq!(v.done, 500);
        assert_eq!(v.eta_secs, Some(5));
        assert!(!v.abandoned);
        assert!(v.line().contains("500/1000"), "{}", v.line());
        let paused = JobControl {
            paused: true,
            ..ctl.clone()
        };
        assert_eq!(JobView::of(&job(), &paused, 0).phase, JobPhase::Paused);
        assert!(JobView::of(&job(), &ctl, 100_000 + ABANDONED_AFTER_MS + 1).abandoned);
        let mut done = job();
        done.finished = Some(JobPhase::Done);
        let v = JobView::of(&done, &ctl, i64::MAX / 2);
        assert!(!v.abandoned && v.eta_secs.is_none());
    }

    #[test]
    fn jobs_round_trip_through_the_control_keys() {
        let mut s = crate::engine::fleet::control::ControlState::default();
        for c in [
            ControlChange::Job(Box::new(job())),
            ControlChange::JobControl(
                "r1".into(),
                JobControl {
                    paused: true,
                    ..Default::default()
                },
            ),
        ] {
            let (k, v) = c.key_value().unwrap();
            ControlChange::apply_stored(&mut s, &k, Some(&v));
        }
        assert_eq!(s.jobs.get("r1"), Some(&job()));
        assert!(s.job_control("r1").paused);
        assert!(!s.job_control("other").paused);
    }
}
