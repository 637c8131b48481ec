//! Helpers shared by the integration tests: run the real binary, parse JSON.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_archon-tui"));
    // Keep the developer's environment and config file out of the tests.
    for var in [
        "MAX_CONCURRENT_ENRICHMENTS",
        "ENABLE_ASYNC_ENRICHMENT",
        "ASYNC_ENRICHMENT_ROLLOUT_PERCENTAGE",
        "ASYNC_ENRICHMENT_ENABLED_PROJECTS",
        "KAFKA_GROUP_ID",
        "KAFKA_BOOTSTRAP_SERVERS",
        "RETRY_MAX_ATTEMPTS",
        "RETRY_BACKOFF_BASE",
        "ARCHON_CONFIG",
        "ARCHON_DATA_DIR",
    ] {
        c.env_remove(var);
    }
    c.env("XDG_CONFIG_HOME", "/nonexistent-archon-test-config");
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn run(data_dir: &Path, args: &[&str]) -> Run {
    let out = bin()
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run archon-tui");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn status(data_dir: &Path) -> Value {
    let r = run(data_dir, &["status", "--json"]);
    assert_eq!(r.code, 0, "status failed: {}", r.stderr);
    r.json()
}

pub fn n(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing or not a number in {v}"))
}
