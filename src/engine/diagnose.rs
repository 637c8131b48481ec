//! "Why is it lagging?": seed 004's High Consumer Lag runbook worked
//! through on the evidence a snapshot already holds (lag per partition and
//! its trend, the group's commit and arrival rates, each member's report:
//! holds, breaker, concurrency, in flight, service and graph latency, disk
//! stalls), answered as causes ranked by how much of the shortfall each
//! explains, each with the lever that fixes it and what that lever would
//! change. Pure: the console's `w`, `archon-tui why` and `GET /why` call
//! [`diagnose`] on the same snapshot. Figures are the engine's own
//! measurements; a figure that was not measured is left out, not guessed.

use serde::Serialize;

use super::handle::Snapshot;
use super::resilience::breaker::BreakerState;

/// What a cause is, as a stable name (`--json`, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseKind {
    /// Partitions with lag and no live consumer (a member stopped reporting).
    StoppedConsumer,
    /// Writes cannot land: a member's disk is full.
    DiskFull,
    /// The operator holds members (a hold, or the emergency rollback).
    Held,
    /// Members' circuit breakers are open: nothing is fetched.
    BreakerOpen,
    /// MAX_PROCESSING_RATE caps the fleet below what arrives.
    RateLimit,
    /// The service's latency × concurrency caps the fleet (Little's law).
    SlowService,
    /// Graph writes are the bottleneck: calls finish, recording waits.
    SlowGraph,
    /// One partition holds most of the lag: one member drains it alone.
    HotPartition,
}

impl CauseKind {
    pub fn title(self) -> &'static str {
        match self {
            CauseKind::StoppedConsumer => "stopped consumer",
            CauseKind::DiskFull => "disk full",
            CauseKind::Held => "held",
            CauseKind::BreakerOpen => "breaker open",
            CauseKind::RateLimit => "rate limit",
            CauseKind::SlowService => "slow service",
            CauseKind::SlowGraph => "slow graph",
            CauseKind::HotPartition => "hot partition",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Cause {
    pub kind: CauseKind,
    /// The share of the shortfall it explains (0..=1): the ranking.
    pub weight: f64,
    /// What the evidence says, with its numbers.
    pub finding: String,
    /// The lever that fixes it (a command; the console's key is in `?`).
    pub lever: String,
    /// What pulling that lever would change.
    pub effect: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub lag: i64,
    /// Lag grew across the window.
    pub growing: bool,
    /// Messages committed a second by the whole group, over the window.
    pub commit_rate: Option<f64>,
    /// Messages arriving on the request topic a second, over the window.
    pub arrival_rate: Option<f64>,
    /// Most of the shortfall first.
    pub causes: Vec<Cause>,
    /// One line: the first cause, or how the lag is doing without one.
    pub verdict: String,
}

/// Members that report (not stale), from the snapshot's fleet.
struct Live<'a> {
    members: Vec<&'a crate::engine::telemetry::status::MemberView>,
}

impl Live<'_> {
    fn concurrency(&self) -> usize {
        self.members.iter().map(|m| m.status.concurrency).sum()
    }
    fn in_flight(&self) -> i64 {
        self.members.iter().map(|m| m.status.in_flight.max(0)).sum()
    }
    /// The members' mean of a reported figure, over those reporting it.
    fn mean(&self, f: impl Fn(&crate::ports::control::MemberStatus) -> Option<f64>) -> Option<f64> {
        let v: Vec<f64> = self.members.iter().filter_map(|m| f(&m.status)).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }
}

/// Lag on these partitions (of the request topic).
fn lag_on(s: &Snapshot, parts: &[i32]) -> i64 {
    s.partitions
        .iter()
        .filter(|p| parts.contains(&p.lag.partition))
        .map(|p| p.lag.lag.max(0))
        .sum()
}

fn share(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        (part as f64 / whole as f64).clamp(0.0, 1.0)
    }
}

/// "9 min", "40 s", "2.5 h".
pub fn human_secs(secs: f64) -> String {
    if secs < 90.0 {
        format!("{:.0} s", secs.max(1.0))
    } else if secs < 90.0 * 60.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

/// Time to clear `lag` at `drain` a second while `arrive` come in.
fn clears_in(lag: i64, drain: f64, arrive: Option<f64>) -> Option<String> {
    let net = drain - arrive.unwrap_or(0.0);
    (net > 0.0 && lag > 0).then(|| human_secs(lag as f64 / net))
}

pub fn diagnose(s: &Snapshot) -> Diagnosis {
    let live = Live {
        members: s.fleet.iter().filter(|m| !m.stale).collect(),
    };
    let lag = s.lag_total.max(0);
    let growing = s.lag_trend == '↑';
    let (commit_rate, arrival_rate) = (s.commit_rate, s.arrival_rate);
    let mut causes = Vec::new();
    if lag > 0 {
        stopped(s, &live, lag, &mut causes);
        stalled(s, &live, lag, &mut causes);
        held(s, &live, lag, &mut causes);
        breaker(s, &live, lag, &mut causes);
        rate_limit(s, &live, lag, &mut causes);
        slow_service(s, &live, lag, &mut causes);
        slow_graph(s, &live, lag, &mut causes);
        hot_partition(s, &live, lag, &mut causes);
    }
    causes.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    let verdict = match causes.first() {
        Some(c) => format!("{}: {}", c.kind.title(), c.finding),
        None if lag == 0 => "caught up".into(),
        None => match commit_rate.and_then(|r| clears_in(lag, r, arrival_rate)) {
            Some(t) if !growing => format!("lag {lag} falling: clears in ~{t}"),
            _ => format!("lag {lag}: no cause found in the evidence"),
        },
    };
    Diagnosis {
        lag,
        growing,
        commit_rate,
        arrival_rate,
        causes,
        verdict,
    }
}

fn stopped(s: &Snapshot, live: &Live<'_>, lag: i64, out: &mut Vec<Cause>) {
    // Partitions with lag whose owner stopped reporting, or that no member
    // holds at all (ours or another's), while members exist to hold them.
    let stale: Vec<&crate::engine::telemetry::status::MemberView> =
        s.fleet.iter().filter(|m| m.stale).collect();
    let orphans: Vec<i32> = s
        .partitions
        .iter()
        .filter(|p| p.lag.lag > 0)
        .map(|p| p.lag.partition)
        .filter(|p| s.owner_of(*p).is_none() && s.other_owner_of(*p).is_none())
        .filter(|p| {
            stale.iter().any(|m| m.status.partitions.contains(p)) || !live.members.is_empty()
        })
        .collect();
    if orphans.is_empty() {
        return;
    }
    let on = lag_on(s, &orphans);
    let silent: Vec<String> = stale
        .iter()
        .map(|m| {
            format!(
                "{} (silent {} s)",
                crate::sanitize::clean(&m.status.member_id),
                m.age_ms / 1000
            )
        })
        .collect();
    out.push(Cause {
        kind: CauseKind::StoppedConsumer,
        weight: share(on, lag),
        finding: format!(
            "partitions {orphans:?} hold {on} of the {lag} waiting and no live member consumes them{}",
            if silent.is_empty() {
                String::new()
            } else {
                format!("; stopped reporting: {}", silent.join(", "))
            }
        ),
        lever: "restart the stopped member, or wait the session timeout: the group moves its partitions to the others".into(),
        effect: format!(
            "{} live member(s) take over {} partition(s)",
            live.members.len(),
            orphans.len()
        ),
    });
}

fn stalled(s: &Snapshot, live: &Live<'_>, lag: i64, out: &mut Vec<Cause>) {
    let full: Vec<&crate::engine::telemetry::status::MemberView> = live
        .members
        .iter()
        .copied()
        .filter(|m| m.status.stalled.is_some())
        .collect();
    let own = s.stall.as_ref().map(|v| v.reason.clone());
    if full.is_empty() && own.is_none() {
        return;
    }
    let parts: Vec<i32> = full
        .iter()
        .flat_map(|m| m.status.partitions.iter().copied())
        .collect();
    let reason = own
        .or_else(|| full.first().and_then(|m| m.status.stalled.clone()))
        .unwrap_or_default();
    out.push(Cause {
        kind: CauseKind::DiskFull,
        weight: if parts.is_empty() {
            1.0
        } else {
            share(lag_on(s, &parts), lag)
        },
        finding: crate::sanitize::clean(&reason),
        lever:
            "free space under the data dir (or the graph server's disk); the hold lifts by itself"
                .into(),
        effect: "the held batch is recorded and intake resumes".into(),
    });
}

fn held(s: &Snapshot, live: &Live<'_>, lag: i64, out: &mut Vec<Cause>) {
    let held: Vec<&crate::engine::telemetry::status::MemberView> = live
        .members
        .iter()
        .copied()
        .filter(|m| m.status.held)
        .collect();
    if held.is_empty() && !s.held {
        return;
    }
    let parts: Vec<i32> = held
        .iter()
        .flat_map(|m| m.status.partitions.iter().copied())
        .collect();
    let on = if parts.is_empty() {
        lag
    } else {
        lag_on(s, &parts)
    };
    let rollback = !s.rollout.enabled;
    let who = if held.len() == live.members.len() || live.members.is_empty() {
        "the whole fleet".to_string()
    } else {
        format!(
            "{} of {} members ({})",
            held.len(),
            live.members.len(),
            held.iter()
                .map(|m| crate::sanitize::clean(&m.status.member_id))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    out.push(Cause {
        kind: CauseKind::Held,
        weight: share(on, lag).max(if parts.is_empty() { 1.0 } else { 0.0 }),
        finding: format!(
            "{who} held{}: {on} of the {lag} waiting sit on held partitions",
            if rollback {
                " by the emergency rollback"
            } else {
                ""
            }
        ),
        lever: if rollback {
            "archon-tui resume (:resume)".into()
        } else {
            "archon-tui release (:release)".into()
        },
        effect: format!(
            "consumption resumes on {} member(s) at concurrency {}",
            held.len().max(1),
            held.iter()
                .map(|m| m.status.concurrency)
                .sum::<usize>()
                .max(s.concurrency)
        ),
    });
}

fn breaker(s: &Snapshot, live: &Live<'_>, lag: i64, out: &mut Vec<Cause>) {
    let open: Vec<&crate::engine::telemetry::status::MemberView> = live
        .members
        .iter()
        .copied()
        .filter(|m| m.status.breaker.state != BreakerState::Closed && !m.status.held)
        .collect();
    if open.is_empty() {
        return;
    }
    let parts: Vec<i32> = open
        .iter()
        .flat_map(|m| m.status.partitions.iter().copied())
        .collect();
    let b = &open[0].status.breaker;
    out.push(Cause {
        kind: CauseKind::BreakerOpen,
        weight: if parts.is_empty() { 1.0 } else { share(lag_on(s, &parts), lag) },
        finding: format!(
            "the breaker is {} on {} of {} members ({} failures, {:.0} % of recent calls failed{}): only one request at a time is fetched while it is open",
            b.state.as_str(),
            open.len(),
            live.members.len(),
            b.failure_count,
            b.failure_rate * 100.0,
            b.last_failure
                .as_deref()
                .map(|t| format!(", last at {}", crate::sanitize::clean(t)))
                .unwrap_or_default()
        ),
        lever: "the intelligence service needs attention; archon-tui breaker reset (b) once it answers".into(),
        effect: "the breaker half-opens by itself after its recovery time; trial calls decide".into(),
    });
}

/// The fleet's rate cap and the per-member rate: every live member's
/// MAX_PROCESSING_RATE (None when one has none: then nothing caps the
/// fleet), or this engine's when no member reports.
fn rate_cap(s: &Snapshot, live: &Live<'_>) -> Option<(f64, f64)> {
    if live.members.is_empty() {
        return s.max_rate.map(|r| (r, r));
    }
    let rates: Option<Vec<f64>> = live.members.iter().map(|m| m.status.max_rate).collect();
    let rates = rates?;
    let cap: f64 = rates.iter().sum();
    Some((cap, cap / rates.len() as f64))
}

fn rate_limit(s: &Snapshot, live: &Live<'_>, lag: i64, out: &mut Vec<Cause>) {
    let (Some((cap, per)), Some(committed)) = (rate_cap(s, live), s.commit_rate) else {
        return;
    };
    let members = live.members.len().max(1) as f64;
    if committed < 0.8 * cap {
        return;
    }
    let needed = s.arrival_rate.map(|a| (a * 1.25 / members).ceil());
    out.push(Cause {
        kind: CauseKind::RateLimit,
        weight: 0.9,
        finding: format!(
            "MAX_PROCESSING_RATE {per:.0}/s a member caps the fleet at {cap:.0}/s and it commits {committed:.0}/s{}",
            s.arrival_rate
                .map(|a| format!(" while ~{a:.0}/s arrive"))
                .unwrap_or_default()
        ),
        lever: match needed {
            Some(n) if n > per => format!("archon-tui rate {n:.0} (or rate off)"),
            _ => "archon-tui rate off".into(),
        },
        effect: match (needed, s.arrival_rate) {
            (Some(n), a) if n > per => match clears_in(lag, n * members, a) {
                Some(t) => format!("the cap rises to {:.0}/s: lag clears in ~{t}", n * members),
                None => format!("the cap rises to {:.0}/s", n * members),
            },
            _ => "the fleet runs as fast as the service allows".into(),
        },
    });
}

fn slow_service(s: &Snapshot, live: &Live<'_>, lag: i64, out: &mut Vec<Cause>) {
    // Little's law: the most the fleet can do is concurrency / latency.
    let Some(p50) = live
        .mean(|m| m.service_p50_ms)
        .or((s.enrich_latency.count > 0).then_some(s.enrich_latency.p50_ms))
    else {
        return;
    };
    let p95 = live
        .mean(|m| m.service_p95_ms)
        .or((s.enrich_latency.count > 0).then_some(s.enrich_latency.p95_ms));
    let concurrency = live.concurrency().max(s.concurrency);
    if p50 <= 0.0 || concurrency == 0 || rate_bound(s, live) {
        return;
    }
    let cap = concurrency as f64 / (p50 / 1000.0);
    let enriching: usize = live
        .members
        .iter()
        .map(|m| m.status.enriching.unwrap_or(0))
        .sum::<usize>()
        .max(s.enriching);
    let saturated = enriching as f64 >= 0.8 * concurrency as f64;
    let near_cap = s.commit_rate.is_some_and(|r| r >= 0.7 * cap);
    if !(saturated || near_cap) {
        return;
    }
    let arrive = s.arrival_rate;
    let target = arrive.map(|a| ((a * 1.25) * (p50 / 1000.0)).ceil() as usize);
    out.push(Cause {
        kind: CauseKind::SlowService,
        weight: if saturated { 0.8 } else { 0.6 },
        finding: format!(
            "service P50 {p50:.0} ms{}; concurrency {concurrency} caps the fleet at {cap:.0} docs/s{}{}",
            p95.map(|p| format!(", P95 {p:.0} ms")).unwrap_or_default(),
            arrive
                .map(|a| format!(" while ~{a:.0}/s arrive"))
                .unwrap_or_default(),
            if saturated {
                format!(" ({enriching} of {concurrency} calls in progress)")
            } else {
                String::new()
            }
        ),
        lever: match target {
            Some(t) if t > concurrency => format!("archon-tui concurrency {t} (+/-)"),
            _ => "archon-tui concurrency N (+/-), or the service needs attention".into(),
        },
        effect: match target {
            Some(t) if t > concurrency => {
                let new_cap = t as f64 / (p50 / 1000.0);
                match clears_in(lag, new_cap, arrive) {
                    Some(c) => format!("at concurrency {t} the cap is {new_cap:.0}/s: lag clears in ~{c}, unless the service slows further"),
                    None => format!("at concurrency {t} the cap is {new_cap:.0}/s"),
                }
            }
            _ => "more calls at once, or a faster service, raise the cap".into(),
        },
    });
}

/// The fleet runs at its rate limit (the rate limit's cause explains it).
fn rate_bound(s: &Snapshot, live: &Live<'_>) -> bool {
    match (rate_cap(s, live), s.commit_rate) {
        (Some((cap, _)), Some(c)) => c >= 0.8 * cap,
        _ => false,
    }
}

fn slow_graph(s: &Snapshot, live: &Live<'_>, _lag: i64, out: &mut Vec<Cause>) {
    let Some(record_p95) = live
        .mean(|m| m.record_p95_ms)
        .or((s.record_latency.count > 0).then_some(s.record_latency.p95_ms))
    else {
        return;
    };
    let concurrency = live.concurrency().max(s.concurrency);
    let in_flight = live.in_flight().max(s.in_flight);
    let enriching: usize = live
        .members
        .iter()
        .map(|m| m.status.enriching.unwrap_or(0))
        .sum::<usize>()
        .max(s.enriching);
    // Calls are done, the fetched work waits for the writer.
    let waiting = in_flight - enriching as i64;
    if record_p95 < 100.0
        || in_flight < concurrency as i64
        || (enriching as f64) > 0.5 * concurrency as f64
    {
        return;
    }
    let p50 = live.mean(|m| m.service_p50_ms);
    out.push(Cause {
        kind: CauseKind::SlowGraph,
        weight: 0.75,
        finding: format!(
            "recording a batch in the graph takes P95 {record_p95:.0} ms{}: {waiting} of {in_flight} fetched wait for the writer, {enriching} calls in progress",
            p50.map(|p| format!(" while a service call takes {p:.0} ms")).unwrap_or_default()
        ),
        lever: "the graph store needs attention (its own disk, memory, PROFILE the write); concurrency will not help".into(),
        effect: "the fleet drains as fast as the graph records".into(),
    });
}

fn hot_partition(s: &Snapshot, _live: &Live<'_>, lag: i64, out: &mut Vec<Cause>) {
    if s.partitions.len() < 2 {
        return;
    }
    let Some(hot) = s.partitions.iter().max_by_key(|p| p.lag.lag) else {
        return;
    };
    let part = share(hot.lag.lag, lag);
    let fair = 1.0 / s.partitions.len() as f64;
    if part < 0.6 || part < 2.0 * fair || hot.lag.lag < 100 {
        return;
    }
    let owner = s
        .owner_of(hot.lag.partition)
        .map(|m| crate::sanitize::clean(&m.status.member_id));
    let others: Vec<i64> = s
        .partitions
        .iter()
        .filter(|p| p.lag.partition != hot.lag.partition)
        .map(|p| p.lag.lag.max(0))
        .collect();
    out.push(Cause {
        kind: CauseKind::HotPartition,
        weight: 0.7 * part,
        finding: format!(
            "partition {} holds {:.0} % of the lag ({} of {lag}; the others {}–{}){}: one member drains it alone",
            hot.lag.partition,
            part * 100.0,
            hot.lag.lag,
            others.iter().min().copied().unwrap_or(0),
            others.iter().max().copied().unwrap_or(0),
            owner
                .as_deref()
                .map(|o| format!(", held by {o}"))
                .unwrap_or_default()
        ),
        lever: match &owner {
            Some(o) => format!(
                "archon-tui concurrency N --member {o} (more members do not help: one consumer per partition), or spread the producer's keys"
            ),
            None => "spread the producer's keys; more members do not help (one consumer per partition)".into(),
        },
        effect: "the hot partition's owner drains faster; the others are idle".into(),
    });
}

#[cfg(test)]
mod tests {
    //! One injected scenario per cause (issue 32): each must be named first.
    use super::*;
    use crate::engine::handle::PartitionView;
    use crate::engine::telemetry::lagstat::PartitionStatus;
    use crate::engine::telemetry::status::MemberView;
    use crate::model::PartitionLag;
    use crate::ports::control::MemberStatus;

    fn member(id: &str, partitions: Vec<i32>) -> MemberView {
        MemberView {
            status: MemberStatus {
                member_id: id.into(),
                host: "h".into(),
                pid: 1,
                version: "0.1.0".into(),
                started_ms: 0,
                updated_ms: 0,
                partitions,
                concurrency: 32,
                in_flight: 10,
                breaker:
                    crate::engine::resilience::breaker::CircuitBreaker::new(Default::default())
                        .snapshot(),
                docs_per_sec: 300.0,
                errors: 0,
                paused: false,
                held: false,
                stalled: None,
                enriching: Some(8),
                service_p50_ms: Some(20.0),
                service_p95_ms: Some(35.0),
                record_p95_ms: Some(12.0),
                max_rate: None,
            },
            stale: false,
            age_ms: 300,
        }
    }

    /// Two members on four partitions, 4,000 waiting evenly, lag growing:
    /// 600/s committed while 700/s arrive, nothing else wrong.
    fn base() -> Snapshot {
        let mut s = Snapshot::empty();
        s.partitions = (0..4)
            .map(|p| PartitionView {
                lag: PartitionLag {
                    partition: p,
                    end: 10_000,
                    committed: 9_000,
                    lag: 1_000,
                },
                status: PartitionStatus::Warn,
                seconds_behind: Some(2.0),
            })
            .collect();
        s.lag_total = 4_000;
        s.lag_trend = '↑';
        s.commit_rate = Some(600.0);
        s.arrival_rate = Some(700.0);
        s.concurrency = 32;
        s.member_id = "m1".into();
        s.fleet = vec![member("m1", vec![0, 1]), member("m2", vec![2, 3])];
        s
    }

    fn first(s: &Snapshot) -> CauseKind {
        let d = diagnose(s);
        assert!(!d.causes.is_empty(), "no cause: {d:?}");
        d.causes[0].kind
    }

    #[test]
    fn nothing_wrong_names_no_cause_and_caught_up_says_so() {
        let d = diagnose(&base());
        assert!(d.causes.is_empty(), "{:?}", d.causes);
        assert!(d.verdict.contains("no cause"), "{}", d.verdict);
        let mut s = base();
        s.lag_total = 0;
        assert_eq!(diagnose(&s).verdict, "caught up");
    }

    #[test]
    fn a_slow_service_is_named_first_with_littles_law_and_the_concurrency_that_clears_it() {
        let mut s = base();
        for m in &mut s.fleet {
            // 2.1 s a call, every slot busy: 64 / 2.1 s = 30 docs/s.
            m.status.service_p50_ms = Some(2_100.0);
            m.status.service_p95_ms = Some(2_600.0);
            m.status.enriching = Some(32);
            m.status.in_flight = 64;
        }
        s.commit_rate = Some(30.0);
        s.arrival_rate = Some(120.0);
        let d = diagnose(&s);
        assert_eq!(d.causes[0].kind, CauseKind::SlowService, "{d:?}");
        let c = &d.causes[0];
        assert!(
            c.finding.contains("caps the fleet at 30 docs/s"),
            "{}",
            c.finding
        );
        assert!(c.finding.contains("~120/s arrive"), "{}", c.finding);
        // 120 × 1.25 × 2.1 s = 315 calls at once.
        assert!(c.lever.contains("concurrency 315"), "{}", c.lever);
        assert!(c.effect.contains("lag clears in"), "{}", c.effect);
    }

    #[test]
    fn a_hot_partition_is_named_first_with_its_share_and_owner() {
        let mut s = base();
        for p in &mut s.partitions {
            p.lag.lag = if p.lag.partition == 2 { 9_200 } else { 30 };
        }
        s.lag_total = 9_290;
        let d = diagnose(&s);
        assert_eq!(d.causes[0].kind, CauseKind::HotPartition, "{d:?}");
        assert!(
            d.causes[0].finding.contains("partition 2 holds 99 %"),
            "{}",
            d.causes[0].finding
        );
        assert!(
            d.causes[0].lever.contains("--member m2"),
            "{}",
            d.causes[0].lever
        );
    }

    #[test]
    fn a_held_member_is_named_first_with_its_share() {
        let mut s = base();
        s.fleet[1].status.held = true;
        s.commit_rate = Some(300.0);
        let d = diagnose(&s);
        assert_eq!(d.causes[0].kind, CauseKind::Held, "{d:?}");
        assert!(
            d.causes[0].finding.contains("1 of 2 members (m2)"),
            "{}",
            d.causes[0].finding
        );
        assert_eq!(d.causes[0].lever, "archon-tui release (:release)");
        // The rollback's hold is undone by resume.
        let mut s = base();
        s.held = true;
        s.rollout.enabled = false;
        for m in &mut s.fleet {
            m.status.held = true;
        }
        let d = diagnose(&s);
        assert_eq!(d.causes[0].kind, CauseKind::Held);
        assert!(d.causes[0]
            .finding
            .contains("the whole fleet held by the emergency rollback"));
        assert!(d.causes[0].lever.contains("resume"));
    }

    #[test]
    fn an_open_breaker_is_named_first_with_its_failures() {
        let mut s = base();
        for m in &mut s.fleet {
            m.status.breaker.state = BreakerState::Open;
            m.status.breaker.failure_count = 5;
            m.status.breaker.failure_rate = 0.8;
            m.status.enriching = Some(0);
        }
        s.commit_rate = Some(0.0);
        let d = diagnose(&s);
        assert_eq!(d.causes[0].kind, CauseKind::BreakerOpen, "{d:?}");
        assert!(d.causes[0]
            .finding
            .contains("OPEN on 2 of 2 members (5 failures, 80 %"));
    }

    #[test]
    fn a_slow_graph_is_named_first_when_calls_finish_and_recording_waits() {
        let mut s = base();
        for m in &mut s.fleet {
            m.status.record_p95_ms = Some(1_800.0);
            m.status.enriching = Some(2);
            m.status.in_flight = 64;
        }
        s.commit_rate = Some(90.0);
        let d = diagnose(&s);
        assert_eq!(d.causes[0].kind, CauseKind::SlowGraph, "{d:?}");
        assert!(
            d.causes[0].finding.contains("P95 1800 ms"),
            "{}",
            d.causes[0].finding
        );
        assert!(
            d.causes[0].finding.contains("124 of 128 fetched wait"),
            "{}",
            d.causes[0].finding
        );
    }

    #[test]
    fn a_stopped_consumer_is_named_first_with_the_member_that_went_silent() {
        let mut s = base();
        s.fleet[1].stale = true;
        s.fleet[1].age_ms = 14_000;
        let d = diagnose(&s);
        assert_eq!(d.causes[0].kind, CauseKind::StoppedConsumer, "{d:?}");
        let f = &d.causes[0].finding;
        assert!(f.contains("partitions [2, 3] hold 2000 of the 4000"), "{f}");
        assert!(f.contains("m2 (silent 14 s)"), "{f}");
    }

    #[test]
    fn a_rate_limit_is_named_first_with_the_rate_that_clears_it() {
        let mut s = base();
        for m in &mut s.fleet {
            m.status.max_rate = Some(50.0);
        }
        s.commit_rate = Some(100.0);
        s.arrival_rate = Some(300.0);
        for m in &mut s.fleet {
            m.status.enriching = Some(1);
        }
        let d = diagnose(&s);
        assert_eq!(d.causes[0].kind, CauseKind::RateLimit, "{d:?}");
        let c = &d.causes[0];
        assert!(
            c.finding.contains("caps the fleet at 100/s"),
            "{}",
            c.finding
        );
        // 300 × 1.25 / 2 members = 188 a member.
        assert!(c.lever.contains("rate 188"), "{}", c.lever);
    }

    #[test]
    fn a_full_disk_is_named_with_the_members_reason() {
        let mut s = base();
        s.fleet[0].status.stalled = Some("disk full under /d (0 KiB free)".into());
        s.commit_rate = Some(300.0);
        assert_eq!(first(&s), CauseKind::DiskFull);
    }
}
