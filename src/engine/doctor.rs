//! doctor's judgement: what the probes found (topics, group members, graph
//! schema, …) against what seed 001 §3 asks for and what can lose data or
//! stall, each finding with the command that fixes it. The pieces come in
//! as ports: built cold from the configuration by `runtime::doctor` (the
//! CLI), or a running engine's own (`:doctor`); the rules are pure, so each
//! has a unit test.

use std::fmt;

use serde::Serialize;

use crate::engine::config::EngineConfig;
use crate::ports::broker::{seed_topics, Broker, GroupMember, TopicSpec, TopicState};
use crate::ports::graph::{GraphStore, SchemaItem};
use crate::ports::intelligence::Intelligence;
use crate::ports::vector::VectorStore;
use crate::settings::GraphSetting;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    /// Not checked (nothing configured to check, or a probe could not run).
    Skip,
    /// Works, but risks data or speed.
    Warn,
    /// Broken, or loses data: doctor exits 1.
    Fail,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Skip => "skip",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// brokers, topics, group, graph, vectors, intelligence, data dir.
    pub area: &'static str,
    pub level: Level,
    pub what: String,
    /// The exact command, statement or flag that fixes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DoctorReport {
    pub findings: Vec<Finding>,
}

impl DoctorReport {
    pub fn push(&mut self, area: &'static str, level: Level, what: impl Into<String>) {
        self.findings.push(Finding {
            area,
            level,
            what: what.into(),
            fix: None,
        });
    }

    pub fn push_fix(
        &mut self,
        area: &'static str,
        level: Level,
        what: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.findings.push(Finding {
            area,
            level,
            what: what.into(),
            fix: Some(fix.into()),
        });
    }

    /// Whether anything failed (doctor's exit 1).
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.level == Level::Fail)
    }

    pub fn count(&self, level: Level) -> usize {
        self.findings.iter().filter(|f| f.level == level).count()
    }
}

impl fmt::Display for DoctorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for x in &self.findings {
            writeln!(
                f,
                "{:<4}  {:<12} {}",
                x.level.label(),
                x.area,
                crate::sanitize::clean(&x.what)
            )?;
            if let Some(fix) = &x.fix {
                writeln!(f, "      {:<12} fix: {}", "", crate::sanitize::clean(fix))?;
            }
        }
        write!(
            f,
            "{} ok, {} warnings, {} failures, {} skipped",
            self.count(Level::Ok),
            self.count(Level::Warn),
            self.count(Level::Fail),
            self.count(Level::Skip)
        )
    }
}

/// The command that makes the DLQ topic take keyless records (seed §4.2's
/// `_publish_to_dlq`) with seed §3.2's 30 days.
pub fn dlq_policy_fix(topic: &str) -> String {
    format!(
        "kafka-configs.sh --bootstrap-server $KAFKA_BOOTSTRAP_SERVERS --alter --entity-type topics \
         --entity-name {topic} --add-config cleanup.policy=delete,retention.ms=2592000000"
    )
}

/// Seed §3's replication factor for every topic.
const SEED_REPLICATION: i32 = 3;

fn human_ms(ms: i64) -> String {
    match ms {
        ms if ms < 0 => "forever".into(),
        ms if ms % 86_400_000 == 0 => format!("{} days", ms / 86_400_000),
        ms if ms % 3_600_000 == 0 => format!("{} h", ms / 3_600_000),
        ms => format!("{ms} ms"),
    }
}

/// Each expected topic against the broker's. `dlq` names the DLQ topic;
/// `members` is how many consumers the group has now.
pub fn judge_topics(
    report: &mut DoctorReport,
    expected: &[TopicSpec],
    found: &[TopicState],
    dlq: &str,
    members: usize,
) {
    for spec in expected {
        let Some(t) = found.iter().find(|t| t.name == spec.name) else {
            report.push_fix(
                "topics",
                Level::Warn,
                format!(
                    "{} does not exist: the first engine to start creates it ({} partitions, {})",
                    spec.name,
                    spec.partitions,
                    if spec.compact { "compact" } else { "delete" }
                ),
                format!(
                    "kafka-topics.sh --bootstrap-server $KAFKA_BOOTSTRAP_SERVERS --create --topic {} \
                     --partitions {} --replication-factor {SEED_REPLICATION} --config retention.ms={}",
                    spec.name, spec.partitions, spec.retention_ms
                ),
            );
            continue;
        };
        let config = |k: &str| t.configs.get(k).cloned();
        let min_isr: Option<i32> = config("min.insync.replicas").and_then(|v| v.parse().ok());
        let retention: Option<i64> = config("retention.ms").and_then(|v| v.parse().ok());
        report.push(
            "topics",
            Level::Ok,
            format!(
                "{}: {} partitions, replication {}, cleanup {}, retention {}, min.insync.replicas {}",
                t.name,
                t.partitions,
                t.replication_factor,
                config("cleanup.policy").unwrap_or_else(|| "?".into()),
                retention.map_or_else(|| "?".into(), human_ms),
                min_isr.map_or_else(|| "?".into(), |m| m.to_string()),
            ),
        );
        let alter = |config: &str| {
            format!(
                "kafka-configs.sh --bootstrap-server $KAFKA_BOOTSTRAP_SERVERS --alter --entity-type topics \
                 --entity-name {} --add-config {config}",
                t.name
            )
        };
        if t.name == dlq && t.compacted() {
            report.push_fix(
                "topics",
                Level::Fail,
                format!(
                    "{} is compacted: Kafka refuses keyless records there, and the seeds' services park \
                     failures without a key (seed §4.2 `_publish_to_dlq`): every one would be lost",
                    t.name
                ),
                dlq_policy_fix(&t.name),
            );
        }
        if t.replication_factor >= 3 && min_isr.is_some_and(|m| m <= 1) {
            report.push_fix(
                "topics",
                Level::Warn,
                format!(
                    "{}: replication {} with min.insync.replicas {}: acks=all is met by one replica, \
                     and a record acknowledged just before that broker fails is lost",
                    t.name,
                    t.replication_factor,
                    min_isr.unwrap_or(1)
                ),
                alter("min.insync.replicas=2"),
            );
        }
        if t.replication_factor < SEED_REPLICATION {
            report.push_fix(
                "topics",
                Level::Warn,
                format!(
                    "{}: replication {} (seed §3: {SEED_REPLICATION}): losing a broker loses its records",
                    t.name, t.replication_factor
                ),
                "kafka-reassign-partitions.sh --bootstrap-server $KAFKA_BOOTSTRAP_SERVERS \
                 --reassignment-json-file more-replicas.json --execute (a single-node test cluster cannot)",
            );
        }
        if let Some(r) = retention {
            if r >= 0 && r < spec.retention_ms {
                report.push_fix(
                    "topics",
                    Level::Warn,
                    format!(
                        "{}: retention {} is shorter than seed §3's {}: records can expire before \
                         they are consumed during a long outage",
                        t.name,
                        human_ms(r),
                        human_ms(spec.retention_ms)
                    ),
                    alter(&format!("retention.ms={}", spec.retention_ms)),
                );
            }
        }
        if spec.name != dlq
            && spec.partitions > 1
            && members > t.partitions as usize
            && t.name == expected[0].name
        {
            report.push_fix(
                "topics",
                Level::Warn,
                format!(
                    "{}: {} partitions for {} members: {} of them get nothing to do",
                    t.name,
                    t.partitions,
                    members,
                    members - t.partitions as usize
                ),
                format!(
                    "kafka-topics.sh --bootstrap-server $KAFKA_BOOTSTRAP_SERVERS --alter --topic {} --partitions {members}",
                    t.name
                ),
            );
        }
    }
}

/// Whether a group member is one of ours (an archon-tui engine's consumer
/// sets `client.id` to `archon-tui…`).
pub fn is_ours(m: &GroupMember) -> bool {
    m.client_id.starts_with("archon-tui")
}

/// The consumer group's members: ours and the others, which levers cannot
/// reach.
pub fn judge_group(report: &mut DoctorReport, group: &str, members: &[GroupMember]) {
    let ours = members.iter().filter(|m| is_ours(m)).count();
    if members.is_empty() {
        report.push(
            "group",
            Level::Ok,
            format!("{group}: no members now (nothing consumes)"),
        );
        return;
    }
    report.push(
        "group",
        Level::Ok,
        format!(
            "{group}: {} members ({ours} archon-tui, {} other)",
            members.len(),
            members.len() - ours
        ),
    );
    for m in members.iter().filter(|m| !is_ours(m)) {
        report.push_fix(
            "group",
            Level::Warn,
            format!(
                "member {} on {} (partitions {}) is not archon-tui: not steerable (hold, rate, \
                 concurrency and rollback do not reach it), and seed §4.2's consumer commits what it \
                 fetched, not what it finished",
                m.client_id,
                m.host,
                list(&m.partitions)
            ),
            "stop it once archon-tui engines carry the load (docs/operations.md, Running beside the seeds' services)",
        );
    }
}

fn list(p: &[i32]) -> String {
    if p.is_empty() {
        return "-".into();
    }
    p.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// The graph store's constraints and indexes.
pub fn judge_schema(report: &mut DoctorReport, items: &[SchemaItem]) {
    let missing: Vec<&SchemaItem> = items.iter().filter(|i| !i.present).collect();
    if items.is_empty() {
        return;
    }
    if missing.is_empty() {
        report.push(
            "graph",
            Level::Ok,
            format!("{} constraints and indexes present", items.len()),
        );
    }
    for m in missing {
        report.push_fix(
            "graph",
            Level::Fail,
            format!(
                "{} missing: without the uniqueness constraints two engines can create one document twice",
                m.name
            ),
            m.create.clone(),
        );
    }
}

/// One piece to probe: `Ok(None)` when the configuration names none (the
/// embedded one), `Err` when it could not even be built or reached.
pub type Part<T> = anyhow::Result<Option<std::sync::Arc<T>>>;

/// The pieces of a deployment to probe: built cold by `runtime::doctor`
/// for the CLI (one that is down is a finding), or a running engine's own.
pub struct Parts {
    pub broker: Part<dyn Broker>,
    pub graph: Part<dyn GraphStore>,
    pub vectors: Part<dyn VectorStore>,
    pub intelligence: Part<dyn Intelligence>,
}

/// Probe each piece, one at a time, and judge what they say.
pub async fn check(cfg: &EngineConfig, parts: Parts) -> DoctorReport {
    let mut r = DoctorReport::default();
    data_dir(&mut r, cfg);
    kafka(&mut r, cfg, parts.broker).await;
    graph(&mut r, cfg, parts.graph).await;
    vectors(&mut r, cfg, parts.vectors).await;
    intelligence(&mut r, cfg, parts.intelligence).await;
    r
}

/// Below this, a data dir is a warning (the embedded stores and the history
/// grow with the work).
const LOW_SPACE_BYTES: u64 = 1 << 30;

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
    match crate::engine::resilience::stall::free_bytes(at) {
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

async fn kafka(r: &mut DoctorReport, cfg: &EngineConfig, broker: Part<dyn Broker>) {
    let Some(k) = &cfg.kafka else {
        r.push(
            "brokers",
            Level::Ok,
            "embedded broker in the data dir (no KAFKA_BOOTSTRAP_SERVERS / --kafka-brokers)",
        );
        return;
    };
    let broker = match broker {
        Ok(Some(b)) => b,
        Ok(None) => return,
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

async fn graph(r: &mut DoctorReport, cfg: &EngineConfig, graph: Part<dyn GraphStore>) {
    let GraphSetting::Bolt(s) = &cfg.graph else {
        r.push(
            "graph",
            Level::Ok,
            "embedded graph in the data dir (no MEMGRAPH_URI / --graph-uri)",
        );
        return;
    };
    match graph {
        Ok(None) => {}
        Ok(Some(g)) => {
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

async fn vectors(r: &mut DoctorReport, cfg: &EngineConfig, vectors: Part<dyn VectorStore>) {
    let Some(url) = &cfg.qdrant_url else {
        r.push(
            "vectors",
            Level::Ok,
            "embedded vector store in the data dir (no QDRANT_URL)",
        );
        return;
    };
    match vectors {
        Ok(None) => {}
        Ok(Some(v)) => match v.collection().await {
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

async fn intelligence(r: &mut DoctorReport, cfg: &EngineConfig, service: Part<dyn Intelligence>) {
    let Some(url) = &cfg.intelligence_url else {
        r.push(
            "intelligence",
            Level::Ok,
            "embedded analyzer (no INTELLIGENCE_SERVICE_URL)",
        );
        return;
    };
    let answer = match service {
        Ok(Some(s)) => s.health().await,
        Ok(None) => return,
        Err(e) => Err(e),
    };
    match answer {
        Ok(Some(said)) => r.push("intelligence", Level::Ok, said),
        Ok(None) => r.push("intelligence", Level::Ok, format!("{url} (no health endpoint)")),
        Err(e) => r.push_fix(
            "intelligence",
            Level::Fail,
            format!("{e:#}"),
            "check INTELLIGENCE_SERVICE_URL / --intelligence-url, that the service is up and its GET /health answers 2xx",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::broker::seed_topics;

    fn state(name: &str, partitions: u32, rf: i32, cfg: &[(&str, &str)]) -> TopicState {
        TopicState {
            name: name.into(),
            partitions,
            replication_factor: rf,
            configs: cfg
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn judged(found: &[TopicState], members: usize) -> DoctorReport {
        let mut r = DoctorReport::default();
        judge_topics(
            &mut r,
            &seed_topics("req", "dlq", "done"),
            found,
            "dlq",
            members,
        );
        r
    }

    const SEED: [(&str, &str); 3] = [
        ("cleanup.policy", "delete"),
        ("retention.ms", "604800000"),
        ("min.insync.replicas", "2"),
    ];

    #[test]
    fn a_compacted_dlq_fails_with_the_command_that_fixes_it() {
        let r = judged(
            &[
                state("req", 4, 3, &SEED),
                state(
                    "dlq",
                    1,
                    3,
                    &[
                        ("cleanup.policy", "compact"),
                        ("retention.ms", "2592000000"),
                        ("min.insync.replicas", "2"),
                    ],
                ),
                state("done", 4, 3, &SEED),
            ],
            2,
        );
        assert!(r.failed(), "{r}");
        let fail = r.findings.iter().find(|f| f.level == Level::Fail).unwrap();
        assert!(fail.what.contains("keyless"), "{fail:?}");
        assert!(
            fail.fix
                .as_deref()
                .unwrap()
                .contains("cleanup.policy=delete"),
            "{fail:?}"
        );
        assert_eq!(r.count(Level::Warn), 0, "{r}");
    }

    #[test]
    fn settings_that_can_lose_or_stall_are_warnings() {
        let weak = [
            ("cleanup.policy", "delete"),
            ("retention.ms", "3600000"),
            ("min.insync.replicas", "1"),
        ];
        let r = judged(&[state("req", 4, 3, &weak), state("done", 4, 1, &SEED)], 6);
        assert!(!r.failed(), "{r}");
        let text = r.to_string();
        for needle in [
            "min.insync.replicas 1",
            "min.insync.replicas=2",
            "retention 1 h is shorter",
            "4 partitions for 6 members: 2 of them",
            "done: replication 1",
            "dlq does not exist",
        ] {
            assert!(text.contains(needle), "{needle:?} in\n{text}");
        }
    }

    #[test]
    fn members_that_are_not_ours_are_named_not_steerable() {
        let m = |client: &str, host: &str, p: Vec<i32>| GroupMember {
            member_id: format!("{client}-1"),
            client_id: client.into(),
            host: host.into(),
            partitions: p,
        };
        let mut r = DoctorReport::default();
        judge_group(
            &mut r,
            "g",
            &[
                m("archon-tui", "a", vec![0, 1]),
                m("aiokafka-0.12.0", "10.0.0.9", vec![2, 3]),
            ],
        );
        let text = r.to_string();
        assert!(text.contains("2 members (1 archon-tui, 1 other)"), "{text}");
        assert!(
            text.contains(
                "aiokafka-0.12.0 on 10.0.0.9 (partitions 2,3) is not archon-tui: not steerable"
            ),
            "{text}"
        );
        assert!(!r.failed());
    }

    #[test]
    fn a_missing_constraint_fails_with_its_statement() {
        let mut r = DoctorReport::default();
        judge_schema(
            &mut r,
            &[
                SchemaItem {
                    name: "a".into(),
                    present: true,
                    create: "CREATE A".into(),
                },
                SchemaItem {
                    name: "archon_document_id".into(),
                    present: false,
                    create: "CREATE CONSTRAINT archon_document_id …".into(),
                },
            ],
        );
        assert!(r.failed());
        assert_eq!(
            r.findings[0].fix.as_deref(),
            Some("CREATE CONSTRAINT archon_document_id …")
        );
    }
}
