//! The fleet's topics: control, status and audit, beside the request topic.

use crate::ports::broker::TopicSpec;

/// The fleet's three topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetTopics {
    pub control: String,
    pub status: String,
    pub audit: String,
}

impl FleetTopics {
    /// Beside the request topic: `…enrich-document.v1` gives
    /// `…enrichment-control.v1`, `…enrichment-status.v1`, `…enrichment-audit.v1`
    /// (so the seeds' default gives `dev.archon-intelligence.enrichment-control.v1`).
    pub fn beside(enrich_topic: &str) -> Self {
        let stem = enrich_topic
            .strip_suffix("enrich-document.v1")
            .map(|p| p.to_string())
            .unwrap_or_else(|| format!("{enrich_topic}."));
        let t = |kind: &str| format!("{stem}enrichment-{kind}.v1");
        Self {
            control: t("control"),
            status: t("status"),
            audit: t("audit"),
        }
    }

    pub fn specs(&self) -> Vec<TopicSpec> {
        vec![
            TopicSpec {
                name: self.control.clone(),
                partitions: 1,
                retention_ms: -1,
                compact: true,
            },
            TopicSpec {
                name: self.status.clone(),
                partitions: 1,
                retention_ms: -1,
                compact: true,
            },
            TopicSpec {
                name: self.audit.clone(),
                partitions: 1,
                retention_ms: 2_592_000_000,
                compact: false,
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_topics_sit_beside_the_request_topic() {
        let t = FleetTopics::beside(crate::events::ENRICH_TOPIC);
        assert_eq!(t.control, "dev.archon-intelligence.enrichment-control.v1");
        assert_eq!(t.status, "dev.archon-intelligence.enrichment-status.v1");
        assert_eq!(t.audit, "dev.archon-intelligence.enrichment-audit.v1");
        assert_eq!(
            FleetTopics::beside("odd").control,
            "odd.enrichment-control.v1"
        );
    }
}
