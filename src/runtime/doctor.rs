//! `archon-tui doctor`: probe each piece of a deployment the configuration
//! names (brokers and topics, the consumer group, the graph's schema, the
//! Qdrant collection, the intelligence service, the data dir) one at a
//! time, so one that is down is a finding and not the end of the check.
//! The rules are `engine::doctor`.

use std::time::Duration;

use crate::engine::config::EngineConfig;
use crate::engine::doctor::{judge_group, judge_schema, judge_topics, DoctorReport, Level};
use crate::ports::broker::seed_topics;
use crate::settings::GraphSetting;

/// Below this, a data dir is a warning (the embedded stores and the history
/// grow with the work).
const LOW_SPACE_BYTES: u64 = 1 << 30;

pub async fn doctor(cfg: &EngineConfig) -> DoctorReport {
    let mut r = DoctorReport::default();
    data_dir(&mut r, cfg);
    kafka(&mut r, cfg).await;
    graph(&mut r, cfg).await;
    vectors(&mut r, cfg).await;
    intelligence(&mut r, cfg).await;
    r
}

fn data_dir(r: &mut DoctorReport, cfg: &EngineConfig) {
    let dir = &cfg.data_dir;
    let shown = dir.display().to_string();
    // The nearest directory that exists: where the data dir will be made.
    let mut at = dir.as_path();
    while !at.exists() {
        match at.parent() {
            Some(p) => at = p,
            None => break,
        }
    }
    if dir.exists() {
        let probe = dir.join(format!(".doctor-{}", std::process::id()));
        match std::fs::write(&probe, b"ok") {
            Ok(()) => {
                std::fs::remove_file(&probe).ok();
                r.push("data dir", Level::Ok, format!("{shown} is writable"));
            }
            Err(e) => r.push_fix(
                "data dir",
                Level::Fail,
                format!("{shown} is not writable: {e}"),
                "--data-dir DIR / ARCHON_DATA_DIR on a writable disk",
            ),
        }
    } else {
        r.push(
            "data dir",
            Level::Ok,
            format!("{shown} does not exist yet: the first engine makes it"),
        );
    }
    match free_bytes(at) {
        Some(free) if free < LOW_SPACE_BYTES => r.push_fix(
            "data dir",
            Level::Warn,
            format!(
                "{} MiB free under {}: a full disk holds the engine until space returns",
                free >> 20,
                at.display()
            ),
            "free space, or --data-dir DIR on a larger disk",
        ),
        Some(free) => r.push(
            "data dir",
            Level::Ok,
            format!(
                "{:.1} GiB free under {}",
                free as f64 / (1u64 << 30) as f64,
                at.display()
            ),
        ),
        None => r.push("data dir", Level::Skip, "free space unknown"),
    }
}

fn free_bytes(path: &std::path::Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a NUL-terminated path and a struct statvfs fills.
        if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
            return None;
        }
        Some(s.f_bavail as u64 * s.f_frsize as u64)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

async fn kafka(r: &mut DoctorReport, cfg: &EngineConfig) {
    let Some(k) = &cfg.kafka else {
        r.push(
            "brokers",
            Level::Ok,
            "embedded broker in the data dir (no KAFKA_BOOTSTRAP_SERVERS / --kafka-brokers)",
        );
        return;
    };
    let broker = match crate::backends::remote_broker(k) {
        Ok(b) => b,
        Err(e) => {
            r.push("brokers", Level::Fail, format!("{e:#}"));
            return;
        }
    };
    let mut expected = seed_topics(&cfg.enrich_topic, &cfg.dlq_topic, &cfg.completed_topic);
    if let Some(p) = &cfg.progress_topic {
        expected.push(crate::ports::broker::TopicSpec {
            name: p.clone(),
            partitions: crate::events::COMPLETED_PARTITIONS,
            retention_ms: crate::events::PROGRESS_RETENTION_MS,
            compact: false,
        });
    }
    let names: Vec<String> = expected.iter().map(|t| t.name.clone()).collect();
    let found = match broker.describe_topics(&names).await {
        Ok(found) => {
            r.push(
                "brokers",
                Level::Ok,
                format!(
                    "{} reachable (Kafka does not report its version over the protocol; \
                     `kafka-broker-api-versions.sh` lists what each broker speaks)",
                    k.bootstrap_servers
                ),
            );
            found
        }
        Err(e) => {
            r.push_fix(
                "brokers",
                Level::Fail,
                format!("{}: {e:#}", k.bootstrap_servers),
                "check KAFKA_BOOTSTRAP_SERVERS / --kafka-brokers and that the brokers are up",
            );
            return;
        }
    };
    let members = match broker.group_detail(&cfg.group_id, &cfg.enrich_topic).await {
        Ok(m) => m,
        Err(e) => {
            r.push(
                "group",
                Level::Skip,
                format!("cannot describe {}: {e:#}", cfg.group_id),
            );
            Vec::new()
        }
    };
    judge_topics(r, &expected, &found, &cfg.dlq_topic, members.len());
    judge_group(r, &cfg.group_id, &members);
    let assignor = k
        .options
        .iter()
        .rev()
        .find(|(key, _)| key == "partition.assignment.strategy")
        .map_or("cooperative-sticky", |(_, v)| v.as_str());
    if assignor.contains("cooperative") {
        r.push_fix(
            "group",
            Level::Ok,
            format!(
                "assignor {assignor}: the seeds' aiokafka services cannot join this group \
                 (aiokafka has no cooperative assignor; Kafka refuses them with InconsistentGroupProtocol)"
            ),
            "for a group shared with them: --kafka-option partition.assignment.strategy=roundrobin on every engine",
        );
    }
}

async fn graph(r: &mut DoctorReport, cfg: &EngineConfig) {
    let GraphSetting::Bolt(s) = &cfg.graph else {
        r.push(
            "graph",
            Level::Ok,
            "embedded graph in the data dir (no MEMGRAPH_URI / --graph-uri)",
        );
        return;
    };
    match crate::backends::remote_graph(s).await {
        Ok(g) => {
            r.push("graph", Level::Ok, format!("{} reachable", s.uri));
            match g.schema().await {
                Ok(items) => judge_schema(r, &items),
                Err(e) => r.push(
                    "graph",
                    Level::Skip,
                    format!("cannot list the schema: {e:#}"),
                ),
            }
        }
        Err(e) => r.push_fix(
            "graph",
            Level::Fail,
            format!("{e:#}"),
            "check MEMGRAPH_URI / --graph-uri, the user and password, and that the server is up",
        ),
    }
}

async fn vectors(r: &mut DoctorReport, cfg: &EngineConfig) {
    let Some(url) = &cfg.qdrant_url else {
        r.push(
            "vectors",
            Level::Ok,
            "embedded vector store in the data dir (no QDRANT_URL)",
        );
        return;
    };
    let key = cfg.qdrant_api_key.clone().map(|s| s.0);
    match crate::backends::remote_vectors(url, key).await {
        Ok(v) => match v.collection().await {
            Ok(Some((name, dim))) if dim == crate::embedding::DIM as u64 => r.push(
                "vectors",
                Level::Ok,
                format!("Qdrant {url}: collection {name}, {dim} dimensions"),
            ),
            Ok(Some((name, dim))) => r.push_fix(
                "vectors",
                Level::Fail,
                format!(
                    "Qdrant collection {name} has {dim} dimensions; archon-tui writes {}",
                    crate::embedding::DIM
                ),
                format!("delete or rename collection {name} (it is made again at start)"),
            ),
            Ok(None) => r.push("vectors", Level::Ok, format!("Qdrant {url} reachable")),
            Err(e) => r.push("vectors", Level::Fail, format!("{e:#}")),
        },
        Err(e) => r.push_fix(
            "vectors",
            Level::Fail,
            format!("{e:#}"),
            "check QDRANT_URL / --qdrant-url and QDRANT_API_KEY",
        ),
    }
}

async fn intelligence(r: &mut DoctorReport, cfg: &EngineConfig) {
    let Some(url) = &cfg.intelligence_url else {
        r.push(
            "intelligence",
            Level::Ok,
            "embedded analyzer (no INTELLIGENCE_SERVICE_URL)",
        );
        return;
    };
    let health = format!("{}/health", url.trim_end_matches('/'));
    let answer = async {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?
            .get(&health)
            .send()
            .await
    };
    match answer.await {
        Ok(resp) if resp.status().is_success() => r.push(
            "intelligence",
            Level::Ok,
            format!("{health}: {}", resp.status()),
        ),
        Ok(resp) => r.push_fix(
            "intelligence",
            Level::Fail,
            format!("{health}: {}", resp.status()),
            "the service is up but not healthy: see its logs; the breaker opens on its failures",
        ),
        Err(e) => r.push_fix(
            "intelligence",
            Level::Fail,
            format!("{health}: {e}"),
            "check INTELLIGENCE_SERVICE_URL / --intelligence-url and that the service is up",
        ),
    }
}
