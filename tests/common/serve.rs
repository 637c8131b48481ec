//! `archon-tui serve` driven from tests: start on a free port, HTTP helpers,
//! Prometheus scrapes parsed with a text-format parser.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::bin;

/// A running `serve` on a free loopback port; killed when dropped.
pub struct Serve {
    pub child: Child,
    pub base: String,
    /// serve's stderr, shown when a test fails.
    pub log: std::path::PathBuf,
}

impl Serve {
    pub fn start(data: &Path, args: &[String]) -> Self {
        Self::start_with_env(data, args, &[])
    }

    /// `start` with these environment variables set.
    pub fn start_with_env(data: &Path, args: &[String], env: &[(&str, &str)]) -> Self {
        let log = data.join("serve.stderr.log");
        let mut child = bin()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .args(args)
            .env_remove("ARCHON_CONTROL_TOKEN")
            .env_remove("ARCHON_OPERATOR_TOKEN")
            .env_remove("ARCHON_READ_TOKEN")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).ok();
            tx.send(line).ok();
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("serve prints where it listens");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Self { child, base, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then the exit code and how long the exit took.
    pub fn terminate(mut self) -> (i32, Duration) {
        let started = Instant::now();
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return (s.code().unwrap_or(-1), started.elapsed());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "serve did not exit 30 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- serve stderr ---\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

pub async fn get(c: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = c.get(url).send().await.expect("GET");
    let code = r.status().as_u16();
    (code, r.json().await.expect("JSON body"))
}

pub async fn post(
    c: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = c.post(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("POST");
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

pub async fn scrape(c: &reqwest::Client, s: &Serve) -> prometheus_parse::Scrape {
    let r = c.get(s.url("/metrics")).send().await.expect("GET /metrics");
    assert_eq!(r.status().as_u16(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = r.text().await.unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parse")
}

/// The value of one sample (counter, gauge or untyped), by name and labels.
pub fn value(s: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let sample = s
        .samples
        .iter()
        .find(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"));
    match &sample.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => *v,
        other => panic!("{name} is not a scalar: {other:?}"),
    }
}

pub fn kind(s: &prometheus_parse::Scrape, name: &str) -> &'static str {
    match s
        .samples
        .iter()
        .find(|x| x.metric == name)
        .map(|x| &x.value)
    {
        Some(prometheus_parse::Value::Counter(_)) => "counter",
        Some(prometheus_parse::Value::Gauge(_)) => "gauge",
        Some(prometheus_parse::Value::Histogram(_)) => "histogram",
        Some(_) => "other",
        None => panic!("{name} is not exported"),
    }
}

/// Poll `/health` every 100 ms until `done(status code, body)` holds; the
/// body then. Fails naming `what` after `secs`.
pub async fn wait_health(
    c: &reqwest::Client,
    s: &Serve,
    what: &str,
    secs: u64,
    done: impl Fn(u16, &Value) -> bool,
) -> Value {
    let url = s.url("/health");
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (code, h) = get(c, &url).await;
        if done(code, &h) {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {h}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
