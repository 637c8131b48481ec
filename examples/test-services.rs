//! The shared session of a test run: one Apache Kafka node and one Neo4j,
//! started by tests/common/services.rs (the same code the failure tests use
//! for servers of their own) and left running. `scripts/test-services.sh
//! start` runs `start DIR` and evals the `export` lines it prints; `stop DIR`
//! ends them. Ports: KAFKA_TEST_PORT (19092, controller +1), BOLT_TEST_PORT
//! (17687).

#[path = "../tests/common/service.rs"]
#[allow(dead_code)]
mod service;
#[path = "../tests/common/services.rs"]
#[allow(dead_code)]
mod services;

use std::path::{Path, PathBuf};

/// What services.rs calls when the tools are missing (the tests' skip log).
fn skip(what: &str) {
    eprintln!("test-services: {what}");
}
use std::time::{Duration, Instant};

fn port(var: &str, default: u16) -> u16 {
    std::env::var(var)
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(default)
}

fn stop(dir: &Path) {
    let Ok(pids) = std::fs::read_to_string(dir.join("pids")) else {
        return;
    };
    let pids: Vec<i32> = pids
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for &pid in &pids {
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for &pid in &pids {
        while unsafe { libc::kill(pid, 0) } == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    std::fs::remove_dir_all(dir).ok();
    eprintln!("test-services: stopped {} servers", pids.len());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (cmd, dir) = match args.as_slice() {
        [_, cmd, dir] => (cmd.as_str(), PathBuf::from(dir)),
        _ => {
            eprintln!("usage: test-services start|stop DIR");
            std::process::exit(2);
        }
    };
    // A stale session (an earlier run that was killed) holds the ports.
    stop(&dir);
    if cmd == "stop" {
        return;
    }
    assert_eq!(cmd, "start", "usage: test-services start|stop DIR");
    let tools = services::Tools::locate()
        .expect("the test servers are not installed: run `bash scripts/test-services.sh install`");
    std::fs::create_dir_all(&dir).unwrap();
    let started = Instant::now();
    let kafka_port = port("KAFKA_TEST_PORT", 19092);
    let neo4j_dir = dir.join("neo4j");
    let bolt_port = port("BOLT_TEST_PORT", 17687);
    // Neo4j starts in its own thread: both JVMs warm up at once.
    let neo4j = {
        let tools = tools.clone();
        std::thread::spawn(move || services::Neo4j::start(&tools, &neo4j_dir, bolt_port))
    };
    let mut kafka = services::KafkaCluster::start(
        &tools,
        &dir.join("kafka"),
        1,
        Some(vec![kafka_port, kafka_port + 1]),
    );
    let mut neo4j = neo4j.join().expect("Neo4j started");
    let mut pids = kafka.detach();
    pids.extend(neo4j.detach());
    std::fs::write(
        dir.join("pids"),
        pids.iter().map(|p| format!("{p}\n")).collect::<String>(),
    )
    .unwrap();
    eprintln!(
        "test-services: Kafka on {} and Neo4j on {} in {:.1} s (logs under {})",
        kafka.bootstrap(),
        neo4j.uri(),
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    println!("export ARCHON_TEST_KAFKA={}", kafka.bootstrap());
    println!("export ARCHON_TEST_BOLT={}", neo4j.uri());
    println!("export ARCHON_TOOLS={}", tools.dir.display());
}
