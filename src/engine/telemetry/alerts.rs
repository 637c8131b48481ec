//! Lag alerts without Prometheus: `serve --alert-webhook URL` posts when a
//! partition's Burrow status turns STALL or STOP, or its lag stays over a
//! threshold for a while (offset lag, and time lag: seconds behind, from the
//! timestamp of the oldest message not yet committed), and again when it
//! clears. The rules come from flags or the config file's `[alerts]`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engine::handle::Snapshot;
use crate::engine::telemetry::lagstat::PartitionStatus;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertRules {
    /// Alert when a partition turns STALL or STOP.
    pub on_status: bool,
    /// Alert when a partition's lag (messages) stays above this for `for_secs`.
    pub lag_over: Option<i64>,
    /// Alert when a partition is this many seconds behind for `for_secs`.
    pub seconds_behind_over: Option<f64>,
    pub for_secs: f64,
}

impl Default for AlertRules {
    fn default() -> Self {
        Self {
            on_status: true,
            lag_over: None,
            seconds_behind_over: None,
            for_secs: 60.0,
        }
    }
}

/// One post to the webhook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEvent {
    /// "firing" or "resolved".
    pub state: &'static str,
    /// "status", "lag" or "seconds_behind".
    pub rule: &'static str,
    pub topic: String,
    pub partition: i32,
    pub status: String,
    pub lag: i64,
    pub seconds_behind: Option<f64>,
    pub member_id: String,
    pub at: String,
    pub summary: String,
}

/// Which conditions hold per partition, and since when.
#[derive(Debug, Default)]
pub struct Alerter {
    rules: AlertRules,
    /// (partition, rule) → when the condition started; `firing` once posted.
    open: BTreeMap<(i32, &'static str), (Instant, bool)>,
}

impl Alerter {
    pub fn new(rules: AlertRules) -> Self {
        Self {
            rules,
            open: BTreeMap::new(),
        }
    }

    /// What changed with this snapshot: alerts to fire and to resolve.
    pub fn observe(&mut self, snap: &Snapshot, topic: &str, now: Instant) -> Vec<AlertEvent> {
        let mut out = Vec::new();
        let hold = Duration::from_secs_f64(self.rules.for_secs.max(0.0));
        for p in &snap.partitions {
            let status_bad = matches!(p.status, PartitionStatus::Stall | PartitionStatus::Stop);
            let conditions: [(&'static str, bool, Duration); 3] = [
                ("status", self.rules.on_status && status_bad, Duration::ZERO),
                (
                    "lag",
                    self.rules.lag_over.is_some_and(|n| p.lag.lag > n),
                    hold,
                ),
                (
                    "seconds_behind",
                    self.rules
                        .seconds_behind_over
                        .is_some_and(|s| p.seconds_behind.is_some_and(|b| b > s)),
                    hold,
                ),
            ];
            for (rule, holds, after) in conditions {
                let key = (p.lag.partition, rule);
                let event = |state| AlertEvent {
                    state,
                    rule,
                    topic: topic.to_string(),
                    partition: p.lag.partition,
                    status: p.status.as_str().into(),
                    lag: p.lag.lag,
                    seconds_behind: p.seconds_behind,
                    member_id: snap.member_id.clone(),
                    at: crate::events::now_rfc3339(),
                    summary: format!(
                        "{topic} partition {} {state}: {rule} (status {}, lag {}{})",
                        p.lag.partition,
                        p.status.as_str(),
                        p.lag.lag,
                        p.seconds_behind
                            .map(|s| format!(", {s:.0} s behind"))
                            .unwrap_or_default()
                    ),
                };
                match (holds, self.open.get(&key).copied()) {
                    (true, None) => {
                        let fire = after.is_zero();
                        self.open.insert(key, (now, fire));
                        if fire {
                            out.push(event("firing"));
                        }
                    }
                    (true, Some((since, false))) if now.duration_since(since) >= after => {
                        self.open.insert(key, (since, true));
                        out.push(event("firing"));
                    }
                    (true, Some(_)) => {}
                    (false, Some((_, fired))) => {
                        self.open.remove(&key);
                        if fired {
                            out.push(event("resolved"));
                        }
                    }
                    (false, None) => {}
                }
            }
        }
        out
    }
}

/// Post each event to the webhook (three tries, backing off); a webhook
/// that does not answer costs a log line, never the engine.
pub async fn post(client: &reqwest::Client, url: &str, events: &[AlertEvent]) {
    for e in events {
        let mut delay = Duration::from_millis(200);
        for attempt in 1..=3 {
            match client.post(url).json(e).send().await {
                Ok(r) if r.status().is_success() => {
                    tracing::info!("alert posted: {}", e.summary);
                    break;
                }
                Ok(r) if attempt == 3 => {
                    tracing::warn!("alert webhook answered {}: {}", r.status(), e.summary)
                }
                Err(err) if attempt == 3 => {
                    tracing::warn!("alert webhook unreachable ({err}): {}", e.summary)
                }
                _ => {}
            }
            tokio::time::sleep(delay).await;
            delay *= 4;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::handle::PartitionView;
    use crate::model::PartitionLag;

    fn snap(status: PartitionStatus, lag: i64) -> Snapshot {
        let mut s = Snapshot::empty();
        s.partitions = vec![PartitionView {
            lag: PartitionLag {
                partition: 0,
                end: 100,
                committed: 100 - lag,
                lag,
            },
            status,
            seconds_behind: Some(lag as f64),
        }];
        s
    }

    #[test]
    fn status_fires_at_once_lag_after_its_duration_and_both_resolve() {
        let mut a = Alerter::new(AlertRules {
            lag_over: Some(10),
            for_secs: 5.0,
            ..Default::default()
        });
        let t0 = Instant::now();
        let fired = a.observe(&snap(PartitionStatus::Stop, 50), "t", t0);
        assert_eq!(fired.len(), 1);
        assert_eq!((fired[0].rule, fired[0].state), ("status", "firing"));
        assert!(a
            .observe(
                &snap(PartitionStatus::Stop, 50),
                "t",
                t0 + Duration::from_secs(4)
            )
            .is_empty());
        let lag = a.observe(
            &snap(PartitionStatus::Stop, 50),
            "t",
            t0 + Duration::from_secs(5),
        );
        assert_eq!(lag.len(), 1);
        assert_eq!(
            (lag[0].rule, lag[0].state, lag[0].lag),
            ("lag", "firing", 50)
        );
        assert!(
            a.observe(
                &snap(PartitionStatus::Stop, 60),
                "t",
                t0 + Duration::from_secs(9)
            )
            .is_empty(),
            "no repeat while it holds"
        );
        let cleared = a.observe(
            &snap(PartitionStatus::Ok, 0),
            "t",
            t0 + Duration::from_secs(10),
        );
        let mut rules: Vec<_> = cleared.iter().map(|e| (e.rule, e.state)).collect();
        rules.sort();
        assert_eq!(rules, [("lag", "resolved"), ("status", "resolved")]);
    }

    #[test]
    fn a_blip_shorter_than_the_duration_posts_nothing() {
        let mut a = Alerter::new(AlertRules {
            on_status: false,
            lag_over: Some(10),
            for_secs: 5.0,
            ..Default::default()
        });
        let t0 = Instant::now();
        assert!(a
            .observe(&snap(PartitionStatus::Ok, 50), "t", t0)
            .is_empty());
        assert!(a
            .observe(
                &snap(PartitionStatus::Ok, 0),
                "t",
                t0 + Duration::from_secs(2)
            )
            .is_empty());
        assert!(
            a.observe(
                &snap(PartitionStatus::Ok, 50),
                "t",
                t0 + Duration::from_secs(6)
            )
            .is_empty(),
            "the clock restarts after the lag cleared"
        );
    }
}
