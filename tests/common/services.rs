//! The real servers of the integration tests, started, stopped and restarted
//! in one place: Apache Kafka in KRaft mode (one node, or a 3-node cluster
//! with replication factor 3 and `min.insync.replicas=2`) and Neo4j 5
//! Community embedded with its Bolt connector. `scripts/test-services.sh
//! install` puts their jars under the tools dir; the shared session of a test
//! run (`examples/test-services.rs`) and the failure tests' servers of their
//! own both start from here. Plus the independent clients that check what the
//! engine wrote: kcat, Kafka's consumer-group tool and the Python neo4j driver.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `scripts/test-services.sh install` put the servers' jars.
#[derive(Clone, Debug)]
pub struct Tools {
    pub dir: PathBuf,
}

impl Tools {
    /// `ARCHON_TOOLS` (default `~/.local/share/archon-tui-tools`) when the
    /// install finished there; otherwise None, and the caller skips (or, on
    /// CI, fails: the test command installs them).
    pub fn locate() -> Option<Tools> {
        let dir = std::env::var_os("ARCHON_TOOLS")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(|h| PathBuf::from(h).join(".local/share/archon-tui-tools"))
            })?;
        let t = Tools { dir };
        let ready = t.dir.join("kafka/libs").is_dir()
            && t.dir.join("neo4j/classes/Neo4jBolt.class").is_file();
        ready.then_some(t)
    }

    /// [`Tools::locate`], or a loud skip (a panic on CI).
    pub fn or_skip(what: &str) -> Option<Tools> {
        let t = Tools::locate();
        if t.is_none() {
            if std::env::var_os("CI").is_some() {
                panic!("{what}: the test servers are not installed (scripts/test.sh runs scripts/test-services.sh install)");
            }
            super::skip(&format!(
                "{what}: test servers not installed (run `bash scripts/test-services.sh install`)"
            ));
        }
        t
    }

    fn kafka_classpath(&self) -> String {
        format!("{}/*", self.dir.join("kafka/libs").display())
    }

    fn neo4j_classpath(&self) -> String {
        format!(
            "{}/*:{}",
            self.dir.join("neo4j/libs").display(),
            self.dir.join("neo4j/classes").display()
        )
    }

    /// Kafka's own tools (`kafka-consumer-groups.sh` and the like) from the
    /// same jars: `class` run with `args`.
    pub fn kafka_tool(&self, class: &str, args: &[&str]) -> std::process::Output {
        Command::new("java")
            .args(["-Xmx256m", "-cp", &self.kafka_classpath()])
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                self.dir.join("kafka/log4j2.properties").display()
            ))
            .arg(class)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {class}: {e}"))
    }

    /// The Python with the neo4j driver and aiokafka on its path.
    pub fn python(&self) -> Command {
        let mut c = Command::new("python3");
        c.env("PYTHONPATH", self.dir.join("py"));
        c.env("PYTHONDONTWRITEBYTECODE", "1");
        c
    }
}

/// A server process started from here; killed when dropped unless detached.
struct Proc {
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    fn spawn(mut cmd: Command, log: PathBuf) -> Proc {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            // Its own process group: a terminal's Ctrl-C reaches the test, not the server.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {:?}: {e}", cmd.get_program()));
        Proc {
            child: Some(child),
            log,
        }
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn signal(&mut self, sig: i32, grace: Duration) {
        if let Some(mut c) = self.child.take() {
            unsafe {
                libc::kill(c.id() as i32, sig);
            }
            let deadline = Instant::now() + grace;
            while c.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    c.kill().ok();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            c.wait().ok();
        }
    }

    fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Leave it running past this process (the shared session).
    fn detach(&mut self) -> Option<u32> {
        self.child.take().map(|c| c.id())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL, Duration::from_secs(5));
    }
}

/// Wait until `port` accepts on loopback while `proc` lives.
fn wait_accepting(proc: &mut Proc, port: u16, what: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            proc.running(),
            "{what} exited while starting; log:\n{}",
            proc.log_tail()
        );
        assert!(
            Instant::now() < deadline,
            "{what} did not accept on 127.0.0.1:{port} within {secs} s; log:\n{}",
            proc.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One KRaft node (broker and controller in one process).
struct KafkaNode {
    id: i32,
    port: u16,
    controller_port: u16,
    dir: PathBuf,
    proc: Option<Proc>,
}

/// Apache Kafka on loopback: `n` combined broker+controller nodes.
pub struct KafkaCluster {
    tools: Tools,
    nodes: Vec<KafkaNode>,
}

impl KafkaCluster {
    /// Format and start `n` nodes under `dir` on free ports (or on `ports`:
    /// broker, controller for each node), and wait until every broker is in
    /// the cluster's metadata.
    pub fn start(tools: &Tools, dir: &Path, n: usize, ports: Option<Vec<u16>>) -> KafkaCluster {
        let ports = ports.unwrap_or_else(|| super::service::free_ports(2 * n));
        assert_eq!(ports.len(), 2 * n);
        let voters: Vec<String> = (0..n)
            .map(|i| format!("{}@127.0.0.1:{}", i + 1, ports[2 * i + 1]))
            .collect();
        // As Kafka's own `Uuid.randomUuid`: never one starting with '-', which
        // the tool's argument parser takes for an option (1 in 64 ids failed
        // CI with "--cluster-id: expected one argument").
        let cluster_id = loop {
            use base64::Engine as _;
            let id = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(uuid::Uuid::new_v4().as_bytes());
            if !id.starts_with('-') {
                break id;
            }
        };
        let replicas = n.min(3);
        let min_isr = if n >= 3 { 2 } else { 1 };
        let mut nodes = Vec::new();
        for i in 0..n {
            let node = KafkaNode {
                id: i as i32 + 1,
                port: ports[2 * i],
                controller_port: ports[2 * i + 1],
                dir: dir.join(format!("node-{}", i + 1)),
                proc: None,
            };
            std::fs::create_dir_all(&node.dir).unwrap();
            let props = format!(
                "process.roles=broker,controller\n\
                 node.id={id}\n\
                 controller.quorum.voters={voters}\n\
                 listeners=PLAINTEXT://127.0.0.1:{p},CONTROLLER://127.0.0.1:{c}\n\
                 advertised.listeners=PLAINTEXT://127.0.0.1:{p}\n\
                 controller.listener.names=CONTROLLER\n\
                 listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
                 inter.broker.listener.name=PLAINTEXT\n\
                 log.dirs={logs}\n\
                 num.partitions=4\n\
                 default.replication.factor={replicas}\n\
                 min.insync.replicas={min_isr}\n\
                 offsets.topic.replication.factor={replicas}\n\
                 offsets.topic.num.partitions=8\n\
                 transaction.state.log.replication.factor={replicas}\n\
                 transaction.state.log.min.isr={min_isr}\n\
                 share.coordinator.state.topic.replication.factor={replicas}\n\
                 share.coordinator.state.topic.min.isr={min_isr}\n\
                 group.initial.rebalance.delay.ms=0\n\
                 log.flush.interval.messages=1000000\n\
                 auto.create.topics.enable=true\n",
                id = node.id,
                voters = voters.join(","),
                p = node.port,
                c = node.controller_port,
                logs = node.dir.join("data").display(),
            );
            let props_path = node.dir.join("node.properties");
            std::fs::write(&props_path, props).unwrap();
            let out = Command::new("java")
                .args(["-Xmx256m", "-cp", &tools.kafka_classpath()])
                .arg("kafka.tools.StorageTool")
                .args(["format", "--ignore-formatted", "-t", &cluster_id, "-c"])
                .arg(&props_path)
                .stdin(Stdio::null())
                .output()
                .expect("run kafka StorageTool");
            assert!(
                out.status.success(),
                "kafka StorageTool format: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            nodes.push(node);
        }
        let mut cluster = KafkaCluster {
            tools: tools.clone(),
            nodes,
        };
        for id in 1..=n as i32 {
            cluster.spawn_node(id);
        }
        for id in 1..=n as i32 {
            cluster.wait_node(id);
        }
        cluster.wait_brokers(n, Duration::from_secs(90));
        cluster
    }

    fn node(&mut self, id: i32) -> &mut KafkaNode {
        self.nodes
            .iter_mut()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no Kafka node {id}"))
    }

    fn spawn_node(&mut self, id: i32) {
        let cp = self.tools.kafka_classpath();
        let log4j = self.tools.dir.join("kafka/log4j2.properties");
        let node = self.node(id);
        let mut cmd = Command::new("java");
        cmd.args([
            "-Xms128m",
            "-Xmx512m",
            "-XX:+UseG1GC",
            "-XX:TieredStopAtLevel=1",
        ])
        .arg(format!("-Dlog4j2.configurationFile={}", log4j.display()))
        .args(["-cp", &cp, "kafka.Kafka"])
        .arg(node.dir.join("node.properties"));
        node.proc = Some(Proc::spawn(cmd, node.dir.join("kafka.log")));
    }

    fn wait_node(&mut self, id: i32) {
        let node = self.node(id);
        let port = node.port;
        let proc = node.proc.as_mut().expect("node started");
        wait_accepting(proc, port, &format!("Kafka node {id}"), 90);
    }

    /// Wait until the cluster's metadata lists `n` brokers.
    pub fn wait_brokers(&self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let seen = kcat_metadata(&self.bootstrap(), None)
                .and_then(|m| m["brokers"].as_array().map(Vec::len))
                .unwrap_or(0);
            if seen >= n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Kafka: {seen} of {n} brokers up after {within:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Every node's listener, comma-separated.
    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    /// The node leading `topic`'s `partition` now.
    pub fn leader_of(&self, topic: &str, partition: i32) -> i32 {
        let m = kcat_metadata(&self.bootstrap(), Some(topic)).expect("topic metadata (kcat -L)");
        m["topics"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["topic"] == topic))
            .and_then(|t| t["partitions"].as_array())
            .and_then(|ps| ps.iter().find(|p| p["partition"] == partition))
            .and_then(|p| p["leader"].as_i64())
            .map(|l| l as i32)
            .unwrap_or_else(|| panic!("no leader of {topic} [{partition}] in {m}"))
    }

    /// `kill -9` node `id`.
    pub fn kill9(&mut self, id: i32) {
        if let Some(mut p) = self.node(id).proc.take() {
            p.signal(libc::SIGKILL, Duration::from_secs(5));
        }
    }

    /// SIGTERM node `id` (a controlled shutdown) and wait for it to go.
    pub fn stop(&mut self, id: i32) {
        if let Some(mut p) = self.node(id).proc.take() {
            p.signal(libc::SIGTERM, Duration::from_secs(60));
        }
    }

    /// Start node `id` again on its ports and data, and wait for it.
    pub fn restart(&mut self, id: i32) {
        self.spawn_node(id);
        self.wait_node(id);
    }

    /// Leave every node running past this process; their pids.
    pub fn detach(&mut self) -> Vec<u32> {
        self.nodes
            .iter_mut()
            .filter_map(|n| n.proc.as_mut().and_then(Proc::detach))
            .collect()
    }

    pub fn pids(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .filter_map(|n| n.proc.as_ref().and_then(Proc::pid))
            .collect()
    }
}

/// Neo4j 5 Community, embedded with its Bolt connector (Neo4jBolt.java).
pub struct Neo4j {
    tools: Tools,
    dir: PathBuf,
    pub port: u16,
    proc: Option<Proc>,
}

impl Neo4j {
    /// Start on `port` (0: a free one) with its store under `dir`; wait
    /// until Bolt accepts.
    pub fn start(tools: &Tools, dir: &Path, port: u16) -> Neo4j {
        std::fs::create_dir_all(dir).unwrap();
        let port = if port == 0 {
            super::service::free_port()
        } else {
            port
        };
        let mut n = Neo4j {
            tools: tools.clone(),
            dir: dir.to_path_buf(),
            port,
            proc: None,
        };
        n.start_again();
        n
    }

    pub fn uri(&self) -> String {
        format!("bolt://127.0.0.1:{}", self.port)
    }

    /// Start (again) on the same store and port.
    pub fn start_again(&mut self) {
        let mut cmd = Command::new("java");
        cmd.args(["-Xms256m", "-Xmx768m", "-XX:+UseG1GC"])
            .args(["-cp", &self.tools.neo4j_classpath(), "Neo4jBolt"])
            .arg(self.dir.join("store"))
            .arg(self.port.to_string());
        let mut proc = Proc::spawn(cmd, self.dir.join("neo4j.log"));
        wait_accepting(&mut proc, self.port, "Neo4j (Bolt)", 120);
        // The ready line comes once the default database is available.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !std::fs::read_to_string(&proc.log)
            .unwrap_or_default()
            .contains("neo4j ready")
        {
            assert!(
                Instant::now() < deadline && proc.running(),
                "Neo4j did not become ready; log:\n{}",
                proc.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        self.proc = Some(proc);
    }

    /// SIGTERM (a clean shutdown) and wait.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.signal(libc::SIGTERM, Duration::from_secs(60));
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.signal(libc::SIGKILL, Duration::from_secs(5));
        }
    }

    pub fn detach(&mut self) -> Option<u32> {
        self.proc.as_mut().and_then(Proc::detach)
    }
}

/// Every record's value on `topic` as JSON, read by Debian's kcat (its own
/// librdkafka, not archon-tui) from the beginning to the end of each
/// partition. A value that is not one line of JSON fails the test.
pub fn kcat_values(bootstrap: &str, topic: &str) -> Vec<serde_json::Value> {
    let out = Command::new("kcat")
        .args([
            "-b",
            bootstrap,
            "-C",
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
        ])
        .args(["-f", "%s\\n"])
        .stdin(Stdio::null())
        .output()
        .expect("run kcat (scripts/test-services.sh installs it)");
    assert!(
        out.status.success(),
        "kcat -C -t {topic}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("kcat: {topic} holds {l:?}: {e}"))
        })
        .collect()
}

/// The cluster's metadata as kcat reports it (`kcat -L -J`): brokers, and
/// the partitions of `topic` (or of every topic) with their leaders. None
/// when no broker answers.
pub fn kcat_metadata(bootstrap: &str, topic: Option<&str>) -> Option<serde_json::Value> {
    let mut cmd = Command::new("kcat");
    cmd.args(["-b", bootstrap, "-L", "-J", "-m", "5"]);
    if let Some(t) = topic {
        cmd.args(["-t", t]);
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("run kcat (scripts/test-services.sh installs it)");
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// Another member of `group` with the static id `instance` (kcat's
/// balanced consumer), which fences the member that had that id: Kafka
/// answers its next heartbeat with FENCED_INSTANCE_ID, a fatal error for
/// librdkafka. Killed when dropped.
pub struct Fencer(Child);

impl Fencer {
    pub fn join(bootstrap: &str, group: &str, topic: &str, instance: &str) -> Fencer {
        let child = Command::new("kcat")
            .args(["-b", bootstrap, "-G", group, topic, "-q", "-o", "end"])
            .args(["-X", &format!("group.instance.id={instance}")])
            .args(["-X", "session.timeout.ms=6000"])
            // The engine's assignor: a group takes one protocol.
            .args(["-X", "partition.assignment.strategy=cooperative-sticky"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run kcat (scripts/test-services.sh installs it)");
        Fencer(child)
    }
}

impl Drop for Fencer {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// One row of `kafka-consumer-groups.sh --describe`.
#[derive(Debug, Clone)]
pub struct GroupOffset {
    pub topic: String,
    pub partition: i32,
    pub committed: Option<i64>,
    pub log_end: i64,
    pub lag: Option<i64>,
}

/// The group's committed offsets and lag as Kafka's own consumer-group tool
/// reports them.
pub fn group_offsets(tools: &Tools, bootstrap: &str, group: &str) -> Vec<GroupOffset> {
    let out = tools.kafka_tool(
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        &[
            "--bootstrap-server",
            bootstrap,
            "--describe",
            "--group",
            group,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kafka-consumer-groups --describe {group}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let num = |s: &str| s.parse::<i64>().ok();
    text.lines()
        .filter_map(|l| {
            // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 6 || f[0] != group {
                return None;
            }
            Some(GroupOffset {
                topic: f[1].to_string(),
                partition: f[2].parse().ok()?,
                committed: num(f[3]),
                log_end: num(f[4])?,
                lag: num(f[5]),
            })
        })
        .collect()
}

/// Run `tests/services/<script>` with the tools' Python and parse the JSON
/// it prints.
pub fn python_json<T: serde::de::DeserializeOwned>(
    tools: &Tools,
    script: &str,
    args: &[&str],
) -> T {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/services")
        .join(script);
    let out = tools
        .python()
        .arg(path)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{script} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// (enrichment_status, enrichment_applied, documents) of one project's
/// Document nodes, read by the Python neo4j driver: a Bolt client that is
/// not archon-tui's adapter.
pub fn neo4j_status_rows(tools: &Tools, uri: &str, project: &str) -> Vec<(String, u64, u64)> {
    python_json(tools, "graph_counts.py", &[uri, project])
}

/// One Document node's `{status, entities_extracted, project_name}` by
/// entity id, read by the Python neo4j driver ({} when absent).
pub fn neo4j_document(tools: &Tools, uri: &str, entity_id: &str) -> serde_json::Value {
    python_json(tools, "graph_document.py", &[uri, entity_id])
}

/// How many consumers are members of `group` now, as Kafka's own
/// consumer-group tool lists them (`--describe --members`).
pub fn group_members(tools: &Tools, bootstrap: &str, group: &str) -> usize {
    let out = tools.kafka_tool(
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        &[
            "--bootstrap-server",
            bootstrap,
            "--describe",
            "--members",
            "--group",
            group,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kafka-consumer-groups --describe --members {group}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS
    text.lines()
        .filter(|l| l.split_whitespace().next() == Some(group))
        .count()
}

/// The group's committed offset of each partition (-1: none yet), read
/// without joining the group.
#[cfg(feature = "kafka")]
pub fn committed(
    c: &rdkafka::consumer::BaseConsumer,
    topic: &str,
    partitions: i32,
) -> std::collections::BTreeMap<i32, i64> {
    use rdkafka::consumer::Consumer;
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let mut out = std::collections::BTreeMap::new();
    if let Ok(got) = c.committed_offsets(tpl, Duration::from_secs(3)) {
        for e in got.elements() {
            let o = match e.offset() {
                rdkafka::Offset::Offset(o) => o,
                _ => -1,
            };
            out.insert(e.partition(), o);
        }
    }
    out
}

/// Every partition of every topic has all its replicas in sync (kcat -L):
/// the point a rolling restart waits for before taking the next node down.
pub fn all_in_sync(bootstrap: &str) -> bool {
    let Some(m) = kcat_metadata(bootstrap, None) else {
        return false;
    };
    m["topics"].as_array().is_some_and(|ts| {
        ts.iter().all(|t| {
            t["partitions"].as_array().is_some_and(|ps| {
                ps.iter().all(|p| {
                    let n = |k: &str| p[k].as_array().map_or(0, Vec::len);
                    n("replicas") > 0 && n("isrs") == n("replicas")
                })
            })
        })
    })
}
