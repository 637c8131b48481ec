//! The async rollout: percentage, kill switch, always-async projects
//! (persisted; running engines follow within 100 ms).

use serde::Deserialize;

use super::*;
use crate::engine::fleet::control::ControlChange;
use crate::engine::fleet::rollout::RolloutState;

/// The lever is the change itself: what to set, the rest left alone.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutChange {
    pub enabled: Option<bool>,
    pub percentage: Option<u8>,
    /// Move the percentage by this much (clamped to 0..=100), from the value
    /// stored when the lever runs: the console's ←/→.
    pub shift: Option<i16>,
    pub enable_project: Option<String>,
    pub disable_project: Option<String>,
}

impl RolloutChange {
    /// The rollout after this change (validated first).
    pub fn apply(&self, mut r: RolloutState) -> RolloutState {
        if let Some(p) = self.percentage {
            r.percentage = p;
        }
        if let Some(d) = self.shift {
            r.percentage = (i16::from(r.percentage) + d).clamp(0, 100) as u8;
        }
        if let Some(e) = self.enabled {
            r.enabled = e;
        }
        if let Some(p) = &self.enable_project {
            if !r.enabled_projects.contains(p) {
                r.enabled_projects.push(p.clone());
            }
        }
        if let Some(p) = &self.disable_project {
            r.enabled_projects.retain(|x| x != p);
        }
        r
    }
}

/// The rollout and the fleet's hold: the view of every rollout lever
/// (this one, rollback, resume).
pub(super) fn rollout_view(engine: &Engine) -> String {
    let r = engine.rollout();
    format!(
        "async {} at {}% (+{} projects), fleet held: {}",
        if r.enabled { "on" } else { "OFF" },
        r.percentage,
        r.enabled_projects.len(),
        yes_no(engine.control_state().held)
    )
}

fn from_http(a: &HttpArgs) -> Result<Command, Refusal> {
    Ok(Command::SetRollout(a.body()?))
}

impl Lever for RolloutChange {
    const SPEC: &'static Spec = &Spec {
        name: "rollout",
        scope: Scope::Control,
        help: "the rollout percentage, the kill switch, the always-async projects",
        cli: &["rollout set", "rollout enable", "rollout disable"],
        palette: &["rollout", "enable", "disable"],
        http: &[Http {
            path: "/rollout",
            body: "{\"percentage\": P, \"shift\": ±D, \"enabled\": B, \"enable_project\": P, \"disable_project\": P}",
            parse: from_http,
        }],
    };
    type Outcome = RolloutState;

    fn serial(&self) -> bool {
        true
    }
    fn validate(&self) -> Result<(), CommandError> {
        if *self == RolloutChange::default() {
            return invalid(
                "give percentage (0..=100), enabled, enable_project or disable_project",
            );
        }
        if let Some(p) = self.percentage.filter(|p| *p > 100) {
            return invalid(format!("rollout percentage must be 0..=100, got {p}"));
        }
        if self.percentage.is_some() && self.shift.is_some() {
            return invalid("give percentage or shift, not both");
        }
        if let Some(d) = self.shift.filter(|d| !(-100..=100).contains(d)) {
            return invalid(format!("rollout shift must be -100..=100, got {d}"));
        }
        if let Some(p) = &self.enable_project {
            crate::model::check_project_name(p).or_else(invalid)?;
        }
        Ok(())
    }
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(e) = self.enabled {
            parts.push(format!("async {}", if e { "on" } else { "OFF" }));
        }
        if let Some(p) = self.percentage {
            parts.push(format!("{p}%"));
        }
        if let Some(d) = self.shift {
            parts.push(format!("{d:+}%"));
        }
        if let Some(p) = &self.enable_project {
            parts.push(format!("+{p}"));
        }
        if let Some(p) = &self.disable_project {
            parts.push(format!("-{p}"));
        }
        format!("rollout {}", parts.join(" "))
    }
    fn view(&self, engine: &Engine) -> String {
        rollout_view(engine)
    }
    async fn run(self, engine: &Arc<Engine>) -> Result<RolloutState> {
        // From the stored rollout (the flags' until an operator set one).
        let changed = engine
            .change_control(|s| {
                let current = s
                    .rollout
                    .clone()
                    .unwrap_or_else(|| engine.cfg.rollout.clone());
                Ok(Some(ControlChange::Rollout(self.apply(current))))
            })
            .await?;
        Ok(match changed {
            Some(ControlChange::Rollout(r)) => r,
            _ => engine.rollout(),
        })
    }
}

impl Outcome for RolloutState {
    fn message(&self) -> String {
        format!(
            "async {} at {}%, always async: {}",
            if self.enabled { "on" } else { "OFF" },
            self.percentage,
            self.enabled_projects.len()
        )
    }
}

impl From<RolloutState> for CommandOutcome {
    fn from(r: RolloutState) -> Self {
        CommandOutcome::Rollout(r)
    }
}
