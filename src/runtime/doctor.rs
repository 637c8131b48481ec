//! `archon-tui doctor` from a cold shell: each adapter the configuration
//! names is built on its own, so one that is down is a finding and not the
//! end of the check. The probes and rules are `engine::doctor`.

use std::sync::Arc;

use crate::engine::config::EngineConfig;
use crate::engine::doctor::{check, DoctorReport, Parts};
use crate::settings::GraphSetting;

pub async fn doctor(cfg: &EngineConfig) -> DoctorReport {
    let broker = match &cfg.kafka {
        Some(k) => crate::backends::remote_broker(k).map(Some),
        None => Ok(None),
    };
    let graph = match &cfg.graph {
        GraphSetting::Bolt(s) => crate::backends::remote_graph(s).await.map(Some),
        GraphSetting::Embedded => Ok(None),
    };
    let vectors = match &cfg.qdrant_url {
        Some(url) => crate::backends::remote_vectors(url, cfg.qdrant_api_key.clone().map(|s| s.0))
            .await
            .map(Some),
        None => Ok(None),
    };
    let intelligence: crate::engine::doctor::Part<dyn crate::ports::intelligence::Intelligence> =
        match &cfg.intelligence_url {
            Some(url) => crate::backends::intelligence::http::HttpIntelligence::new(
                url,
                std::time::Duration::from_secs(5),
            )
            .map(|h| Some(Arc::new(h) as Arc<dyn crate::ports::intelligence::Intelligence>)),
            None => Ok(None),
        };
    check(
        cfg,
        Parts {
            broker,
            graph,
            vectors,
            intelligence,
        },
    )
    .await
}
