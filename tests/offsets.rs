//! Consumer-group offset reset (issue 19 item 6, seed 004 Procedure 2) on
//! the embedded default and on Apache Kafka: with a `serve` engine in the
//! group, `offsets reset --to-datetime T` moves each partition's committed
//! offset to the first offset at or after T — checked against the broker's
//! own answer (the embedded log's rows; kcat's offsets-for-times query and
//! Kafka's kafka-consumer-groups tool) — the member leaves and rejoins, the
//! requests after T are redelivered and skipped as already enriched, and
//! nothing changes without the typed group id.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::serve::Serve;
use common::{broker, count, flag, isolated, n, run_s, services, sqlite, with};
use serde_json::Value;

const GROUP_DEFAULT: &str = "archon-intelligence-enrichment-consumer-group";

struct Setup<'a> {
    data: &'a Path,
    backends: &'a [String],
}

impl Setup<'_> {
    fn cli(&self, args: &[&str]) -> common::Run {
        run_s(self.data, &with(args, self.backends))
    }

    fn ok_json(&self, args: &[&str]) -> Value {
        let r = self.cli(args);
        assert_eq!(r.code, 0, "{args:?}: {}\n{}", r.stdout, r.stderr);
        r.json()
    }

    fn status(&self) -> Value {
        self.ok_json(&["status", "--json"])
    }

    /// Until `completed` documents are completed and the group has no lag.
    fn wait_drained(&self, completed: u64, what: &str) {
        let started = Instant::now();
        loop {
            let s = self.status();
            if n(&s["counts"], "completed") == completed && n(&s["lag"], "total") == 0 {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{what}: not drained after 120 s: {s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn committed(&self) -> BTreeMap<i64, i64> {
        let o = self.ok_json(&["offsets", "--json"]);
        o["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["partition"].as_i64().unwrap(),
                    p["committed"].as_i64().unwrap(),
                )
            })
            .collect()
    }

    fn ingest(&self, src: &Path, project: &str) {
        let r = self.cli(&["ingest", src.to_str().unwrap(), "--project", project]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
}

/// The scenario on these backends; `expected_at` answers, from outside
/// archon-tui, the first offset at or after a time per partition.
fn reset_to_a_timestamp(
    backends: &[String],
    group: &str,
    expected_at: impl Fn(&Path, i64) -> BTreeMap<i64, i64>,
) -> (tempfile::TempDir, Serve, BTreeMap<i64, i64>) {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    archon_tui::corpus::generate(a.path(), 200).unwrap();
    archon_tui::corpus::generate(b.path(), 150).unwrap();
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start(data.path(), &with(&["--concurrency", "16"], backends));
    let s = Setup {
        data: data.path(),
        backends,
    };
    s.ingest(a.path(), "before");
    s.wait_drained(200, "the first 200");
    std::thread::sleep(Duration::from_millis(50));
    let t = archon_tui::clock::now_ms();
    std::thread::sleep(Duration::from_millis(50));
    s.ingest(b.path(), "after");
    s.wait_drained(350, "all 350");
    let end = s.committed();

    let t_arg = t.to_string();
    let dry = s.ok_json(&[
        "offsets",
        "reset",
        "--to-datetime",
        &t_arg,
        "--dry-run",
        "--json",
    ]);
    let expected = expected_at(data.path(), t);
    let planned: BTreeMap<i64, i64> = dry["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["partition"].as_i64().unwrap(),
                m["new_offset"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(planned, expected, "the preview: {dry}");
    let lag_after: i64 = dry["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["lag_after"].as_i64().unwrap())
        .sum();
    assert_eq!(
        lag_after, 150,
        "exactly the 150 requests produced after T are before the end: {dry}"
    );
    assert_eq!(dry["members"].as_array().unwrap().len(), 1, "{dry}");
    assert_eq!(s.committed(), end, "a dry run moves nothing");

    // Held, so the offsets stay where the reset put them for a look.
    s.ok_json(&["hold", "--json"]);
    let refused = s.cli(&["offsets", "reset", "--to-datetime", &t_arg]);
    assert_eq!(refused.code, 2, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("type the consumer group id"),
        "{}",
        refused.stderr
    );
    let wrong = s.cli(&[
        "offsets",
        "reset",
        "--to-datetime",
        &t_arg,
        "--confirm",
        "not-the-group",
    ]);
    assert_eq!(wrong.code, 2, "{}", wrong.stderr);
    assert_eq!(s.committed(), end, "refused resets move nothing");

    let done = s.ok_json(&[
        "offsets",
        "reset",
        "--to-datetime",
        &t_arg,
        "--confirm",
        group,
        "--json",
    ]);
    println!(
        "reset to {t}: members left, offsets committed, in {} ms: {done}",
        done["waited_ms"]
    );
    assert_eq!(
        done["members"].as_array().unwrap().len(),
        1,
        "serve was in the group and had to leave: {done}"
    );
    assert_eq!(s.committed(), expected, "archon-tui's own reading");
    let audit = s.ok_json(&["audit", "--json"]);
    let entry = audit
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["action"].as_str().unwrap().starts_with("reset consumer"))
        .cloned()
        .unwrap_or_else(|| panic!("no audit line: {audit}"));
    assert!(
        entry["result"].as_str().unwrap().starts_with("ok: moved"),
        "{entry}"
    );
    (data, serve, expected)
}

/// After the look: release, and the 150 redelivered requests are consumed
/// again (skipped: already enriched); nothing lost, nothing in the DLQ.
fn release_and_drain(data: &Path, backends: &[String]) {
    let s = Setup { data, backends };
    s.ok_json(&["release", "--json"]);
    s.wait_drained(350, "after the reset");
    let st = s.status();
    assert_eq!(n(&st["counts"], "dlq"), 0, "{st}");
    assert_eq!(n(&st["counts"], "pending"), 0, "{st}");
}

const REQUESTS: &str = "dev.archon-intelligence.enrich-document.v1";

#[test]
fn reset_to_a_timestamp_on_the_embedded_default() {
    // The embedded broker's log, read directly: the first offset at or
    // after T, or the end.
    let first_at = |data: &Path, t: i64| -> BTreeMap<i64, i64> {
        let db = sqlite(data);
        (0..4)
            .map(|p| {
                let sql = format!(
                    "SELECT COALESCE(
                       (SELECT MIN(offset) FROM broker_log WHERE topic = '{REQUESTS}'
                          AND partition = {p} AND timestamp_ms >= {t}),
                       (SELECT next_offset FROM broker_partitions
                          WHERE topic = '{REQUESTS}' AND partition = {p}))"
                );
                (p, count(&db, &sql) as i64)
            })
            .collect()
    };
    let (data, serve, expected) = reset_to_a_timestamp(&[], GROUP_DEFAULT, first_at);
    let db = sqlite(data.path());
    let committed: BTreeMap<i64, i64> = (0..4)
        .map(|p| {
            let sql = format!(
                "SELECT committed FROM broker_commits WHERE group_id = '{GROUP_DEFAULT}'
                   AND topic = '{REQUESTS}' AND partition = {p}"
            );
            (p, count(&db, &sql) as i64)
        })
        .collect();
    assert_eq!(committed, expected, "the commits table itself");
    release_and_drain(data.path(), &[]);
    drop(serve);
}

/// kcat's offsets query (`-Q -t topic:partition:timestamp`; -1: the end):
/// its own librdkafka asks the brokers.
fn kcat_query(bootstrap: &str, topic: &str, t: i64) -> BTreeMap<i64, i64> {
    let mut cmd = std::process::Command::new("kcat");
    cmd.args(["-b", bootstrap, "-Q"]);
    for p in 0..4 {
        cmd.args(["-t", &format!("{topic}:{p}:{t}")]);
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("run kcat (scripts/test-services.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kcat -Q: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "<topic> [<partition>]  offset <n>"
    let parsed: BTreeMap<i64, i64> = text
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once('[')?;
            let (p, rest) = rest.split_once(']')?;
            Some((
                p.trim().parse().ok()?,
                rest.split_whitespace().last()?.parse().ok()?,
            ))
        })
        .collect();
    assert_eq!(parsed.len(), 4, "kcat -Q: {text}");
    parsed
}

/// The first offset at or after `t` per partition, the end when none
/// (kcat answers -1 then).
fn kcat_offsets_at(bootstrap: &str, topic: &str, t: i64) -> BTreeMap<i64, i64> {
    let ends = kcat_query(bootstrap, topic, -1);
    kcat_query(bootstrap, topic, t)
        .into_iter()
        .map(|(p, o)| (p, if o < 0 { ends[&p] } else { o }))
        .collect()
}

#[test]
fn reset_to_a_timestamp_on_kafka() {
    let Some(b) = broker() else { return };
    let Some(tools) = services::Tools::or_skip("Kafka's consumer-group tool") else {
        return;
    };
    let backends = isolated(&b, "offsets");
    let group = flag(&backends, "--group-id").to_string();
    let topic = flag(&backends, "--enrichment-topic").to_string();
    let bb = b.clone();
    let (data, serve, expected) = reset_to_a_timestamp(&backends, &group, move |_, t| {
        kcat_offsets_at(&bb, &topic, t)
    });
    let topic = flag(&backends, "--enrichment-topic");
    let described: BTreeMap<i64, i64> = services::group_offsets(&tools, &b, &group)
        .into_iter()
        .filter(|o| o.topic == topic)
        .map(|o| (o.partition as i64, o.committed.expect("a committed offset")))
        .collect();
    assert_eq!(
        described, expected,
        "kafka-consumer-groups --describe: each partition at the first offset at or after T"
    );
    release_and_drain(data.path(), &backends);
    drop(serve);
}
