//! Rollout decision of seed §6 phase 5: kill switch, explicit project list,
//! then a percentage over stable per-project buckets.

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutState {
    /// ENABLE_ASYNC_ENRICHMENT: off sends every project down the sync path.
    pub enabled: bool,
    /// ASYNC_ENRICHMENT_ROLLOUT_PERCENTAGE, 0..=100.
    pub percentage: u8,
    /// ASYNC_ENRICHMENT_ENABLED_PROJECTS: always async while enabled.
    pub enabled_projects: Vec<String>,
}

impl Default for RolloutState {
    fn default() -> Self {
        Self {
            enabled: true,
            percentage: 100,
            enabled_projects: Vec::new(),
        }
    }
}

/// The seed's bucket: first 8 hex digits of md5(project) mod 100. A project
/// is in when bucket < percentage, so raising the percentage only ever adds
/// projects and every engine (and the seed's Python bridge) agrees.
pub fn bucket(project: &str) -> u32 {
    let digest = Md5::digest(project.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % 100
}

impl RolloutState {
    pub fn use_async(&self, project: &str) -> bool {
        if !self.enabled {
            return false;
        }
        if self.enabled_projects.iter().any(|p| p == project) {
            return true;
        }
        bucket(project) < u32::from(self.percentage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_matches_the_seed_formula() {
        // int(hashlib.md5(b"omniarchon").hexdigest()[:8], 16) % 100, computed by hand:
        let hex = format!("{:x}", Md5::digest(b"omniarchon"));
        let expect = u32::from_str_radix(&hex[..8], 16).unwrap() % 100;
        assert_eq!(bucket("omniarchon"), expect);
    }

    #[test]
    fn raising_the_percentage_never_drops_a_project() {
        let projects: Vec<String> = (0..5_000).map(|i| format!("project-{i}")).collect();
        let mut previous: Vec<bool> = vec![false; projects.len()];
        for pct in 0..=100u8 {
            let st = RolloutState {
                enabled: true,
                percentage: pct,
                enabled_projects: vec![],
            };
            let now: Vec<bool> = projects.iter().map(|p| st.use_async(p)).collect();
            for (i, (was, is)) in previous.iter().zip(&now).enumerate() {
                assert!(!was || *is, "{} dropped at {pct}%", projects[i]);
            }
            let share = now.iter().filter(|x| **x).count() as f64 / projects.len() as f64;
            assert!(
                (share - pct as f64 / 100.0).abs() < 0.05,
                "{pct}% gave {share}"
            );
            previous = now;
        }
        assert!(previous.iter().all(|x| *x), "100% includes everyone");
    }

    #[test]
    fn kill_switch_beats_list_and_list_beats_percentage() {
        let mut st = RolloutState {
            enabled: true,
            percentage: 0,
            enabled_projects: vec!["vip".into()],
        };
        assert!(st.use_async("vip"));
        assert!(!st.use_async("other"));
        st.enabled = false;
        st.percentage = 100;
        assert!(!st.use_async("vip"));
        assert!(!st.use_async("other"));
    }
}
