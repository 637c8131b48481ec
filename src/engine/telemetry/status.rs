//! `status`: one typed report of the pipeline, from the data dir plus the
//! live engine's heartbeat; JSON for `status --json`, text for `status`.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::Result;
use serde::Serialize;

use crate::engine::fleet::control::MemberStatus;
use crate::engine::fleet::rollout::RolloutState;
use crate::engine::pipeline::drain;
use crate::engine::resilience::breaker::BreakerSnapshot;
use crate::engine::Engine;
use crate::model::{total_counts, PartitionLag, Status};
use crate::sanitize::clean;

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Documents by status, every status present.
    pub counts: BTreeMap<String, u64>,
    pub projects: BTreeMap<String, BTreeMap<String, u64>>,
    /// Per project, where its documents come from ("tree …/src/web + http").
    pub sources: BTreeMap<String, String>,
    pub lag: LagReport,
    pub breaker: BreakerSnapshot,
    pub rollout: RolloutState,
    pub concurrency: usize,
    /// An engine running (on this data dir, or in the Kafka fleet), if one is.
    pub engine: Option<LiveEngine>,
    /// Every member of the fleet that reported within the session timeout.
    pub members: Vec<MemberView>,
    pub backends: BackendKinds,
    pub data_dir: std::path::PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct LagReport {
    pub total: i64,
    pub partitions: Vec<PartitionLag>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LiveEngine {
    pub pid: u32,
    pub paused: bool,
    pub in_flight: i64,
    pub docs_per_sec: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    #[serde(flatten)]
    pub status: MemberStatus,
    /// Silent for more than two reports.
    pub stale: bool,
    pub age_ms: i64,
}

impl MemberView {
    pub fn of(members: Vec<MemberStatus>, now_ms: i64) -> Vec<MemberView> {
        members
            .into_iter()
            .map(|m| MemberView {
                stale: m.is_stale(now_ms),
                age_ms: m.age_ms(now_ms),
                status: m,
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BackendKinds {
    pub broker: &'static str,
    pub graph: &'static str,
    pub vectors: &'static str,
    pub intelligence: &'static str,
}

fn by_name(counts: &BTreeMap<Status, u64>) -> BTreeMap<String, u64> {
    Status::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), counts.get(s).copied().unwrap_or(0)))
        .collect()
}

impl StatusReport {
    pub async fn read(engine: &Engine) -> Result<StatusReport> {
        let p = drain::progress(engine).await?;
        let members = MemberView::of(engine.members().await?, crate::clock::now_ms());
        let live = members.iter().find(|m| !m.stale).map(|m| &m.status);
        let sources =
            crate::engine::handle::describe_sources(&engine.backends.graph.sources().await?, &[]);
        Ok(StatusReport {
            sources,
            counts: by_name(&total_counts(&p.counts)),
            projects: p
                .counts
                .iter()
                .map(|(name, c)| (name.clone(), by_name(c)))
                .collect(),
            lag: LagReport {
                total: p.lag_total(),
                partitions: p.lag.clone(),
            },
            breaker: match live {
                Some(l) => l.breaker.clone(),
                None => engine.breaker.snapshot(),
            },
            rollout: engine.rollout(),
            concurrency: live
                .map(|l| l.concurrency)
                .unwrap_or_else(|| engine.limit.get()),
            engine: live.map(|l| LiveEngine {
                pid: l.pid,
                paused: l.paused,
                in_flight: l.in_flight,
                docs_per_sec: l.docs_per_sec,
            }),
            members,
            backends: BackendKinds {
                broker: engine.backends.broker.kind(),
                graph: engine.backends.graph.kind(),
                vectors: engine.backends.vectors.kind(),
                intelligence: engine.backends.intelligence.kind(),
            },
            data_dir: engine.cfg.data_dir.clone(),
        })
    }
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = |m: &BTreeMap<String, u64>, s: &str| m.get(s).copied().unwrap_or(0);
        writeln!(
            f,
            "documents: pending {}  processing {}  completed {}  failed {}  dlq {}",
            c(&self.counts, "pending"),
            c(&self.counts, "processing"),
            c(&self.counts, "completed"),
            c(&self.counts, "failed"),
            c(&self.counts, "dlq")
        )?;
        for (name, pc) in &self.projects {
            writeln!(
                f,
                "  {:<30} pending {} processing {} completed {} dlq {}{}",
                clean(name),
                c(pc, "pending"),
                c(pc, "processing"),
                c(pc, "completed"),
                c(pc, "dlq"),
                self.sources
                    .get(name)
                    .map(|from| format!("  from {}", clean(from)))
                    .unwrap_or_default()
            )?;
        }
        writeln!(f, "lag: total {}", self.lag.total)?;
        for p in &self.lag.partitions {
            writeln!(
                f,
                "  partition {}: end {} committed {} lag {}",
                p.partition, p.end, p.committed, p.lag
            )?;
        }
        for m in &self.members {
            writeln!(f, "{}", member_line(m))?;
        }
        write!(
            f,
            "breaker: {}  rollout: {} at {}%  concurrency: {}  engine: {}",
            self.breaker.state.as_str(),
            if self.rollout.enabled {
                "async on"
            } else {
                "KILL SWITCH OFF"
            },
            self.rollout.percentage,
            self.concurrency,
            match &self.engine {
                Some(e) => format!("running (pid {})", e.pid),
                None => "not running".into(),
            }
        )
    }
}

/// One fleet member as text (`status`, `fleet`).
pub fn member_line(m: &MemberView) -> String {
    let s = &m.status;
    format!(
        "member {:<24} {:<14} partitions {:<10} {:>7.1} docs/s  in flight {}/{}  breaker {}{}{}",
        clean(&s.member_id),
        format!("pid {}", s.pid),
        if s.partitions.is_empty() {
            "-".to_string()
        } else {
            s.partitions
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(",")
        },
        s.docs_per_sec,
        s.in_flight,
        s.concurrency,
        s.breaker.state.as_str(),
        if s.held {
            "  HELD"
        } else if s.paused {
            "  paused"
        } else {
            ""
        },
        if m.stale {
            format!("  STALE ({} s silent)", m.age_ms / 1000)
        } else {
            String::new()
        }
    )
}
