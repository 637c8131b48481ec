//! Operator actions through the real binary: DLQ browse/replay/purge, breaker,
//! rollout, emergency rollback, backfill. Embedded backends.

mod common;

use std::time::{Duration, Instant};

use common::{n, run, status};

/// Test timings: millisecond backoff, sub-second breaker recovery.
const FAST: [&str; 4] = [
    "--retry-backoff-base",
    "0.005",
    "--breaker-recovery-secs",
    "0.2",
];

fn corpus(n: usize) -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), n).unwrap();
    src
}

#[test]
fn failures_land_in_the_dlq_and_replay_brings_them_back() {
    let src = corpus(1000);
    let data = tempfile::tempdir().unwrap();
    let mut args = vec![
        "ingest",
        src.path().to_str().unwrap(),
        "--wait",
        "--json",
        "--inject-failure-rate",
        "0.3",
    ];
    args.extend(FAST);
    let r = run(data.path(), &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    let (completed, dlq) = (n(&j, "completed"), n(&j, "dlq"));
    assert_eq!(completed + dlq, 1000, "{j}");
    assert!(
        dlq > 0,
        "30% failures over 3 attempts must park some documents: {j}"
    );
    assert_eq!(n(&j, "pending"), 0);

    let list = run(data.path(), &["dlq", "list", "--json"]).json();
    let entries = list.as_array().unwrap();
    assert_eq!(
        entries.len() as u64,
        dlq,
        "dlq list returns exactly the dlq count"
    );
    for e in entries {
        assert_eq!(e["error_type"], "InjectedFailure");
        assert_eq!(
            e["retries"], 3,
            "transient failures are retried up to max attempts"
        );
        let id = e["id"].as_i64().unwrap().to_string();
        let shown = run(data.path(), &["dlq", "show", &id]).stdout;
        let full: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(
            full["message"]["original_message"]["retry_count"], 2,
            "retry_count travels in the event"
        );
        assert!(e["reason"]
            .as_str()
            .unwrap()
            .contains("gave up after 3 attempts"));
    }
    let first = entries[0]["id"].as_i64().unwrap().to_string();
    let show = run(data.path(), &["dlq", "show", &first]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let full: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(
        full["message"]["error_details"]["exception_type"],
        "InjectedFailure"
    );
    // Observed by the engine's own calls: the graph answered the document
    // read before the (injected) intelligence failure.
    assert_eq!(
        full["message"]["error_details"]["service_health"]["memgraph"], "healthy",
        "{full}"
    );
    assert!(full["message"]["original_message"]["content_hash"].is_string());
    let limited = run(data.path(), &["dlq", "list", "--json", "--limit", "2"]).json();
    assert_eq!(limited.as_array().unwrap().len(), 2.min(dlq as usize));
    let filtered = run(
        data.path(),
        &["dlq", "list", "--json", "--error-type", "EncodingError"],
    )
    .json();
    assert_eq!(filtered.as_array().unwrap().len(), 0);

    // Replaying everything needs --confirm; a dry run says what would happen.
    let refused = run(data.path(), &["dlq", "replay"]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("--confirm"), "{}", refused.stderr);
    let dry = run(data.path(), &["dlq", "replay", "--dry-run", "--json"]).json();
    assert_eq!(n(&dry, "replayed"), dlq);
    assert_eq!(n(&dry["by_error_type"], "InjectedFailure"), dlq);
    assert_eq!(
        n(&status(data.path())["counts"], "dlq"),
        dlq,
        "dry run changes nothing"
    );

    let replay = run(
        data.path(),
        &["dlq", "replay", "--confirm", "--wait", "--json"],
    );
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    let j = replay.json();
    assert_eq!(n(&j, "replayed"), dlq);
    assert_eq!(n(&j, "dlq"), 0);
    assert_eq!(n(&j, "completed"), 1000);
    // Idempotent: nothing left to replay.
    let again = run(data.path(), &["dlq", "replay", "--confirm", "--json"]).json();
    assert_eq!(n(&again, "replayed"), 0);
    assert_eq!(n(&status(data.path())["counts"], "completed"), 1000);
}

#[test]
fn open_breaker_pauses_instead_of_dlqing_and_status_sees_it_live() {
    let src = corpus(300);
    let data = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let child = common::bin()
        .args([
            "ingest",
            src.path().to_str().unwrap(),
            "--wait",
            "--timeout",
            "15",
            "--json",
        ])
        .args([
            "--inject-failure-rate",
            "1.0",
            "--retry-backoff-base",
            "0.005",
            "--data-dir",
        ])
        .arg(data.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // While it runs, another process sees the live breaker.
    let mut live_state = String::new();
    while started.elapsed() < Duration::from_secs(12) {
        let s = status(data.path());
        if !s["engine"].is_null() {
            live_state = s["breaker"]["state"].as_str().unwrap_or("").to_string();
            if live_state == "OPEN" {
                assert!(n(&s["breaker"], "failure_count") >= 5);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        live_state, "OPEN",
        "status --json in another process shows the live breaker"
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["timed_out"], true);
    assert!(j["breaker"] == "OPEN" || j["breaker"] == "HALF_OPEN", "{j}");
    let (dlq, pending) = (n(&j, "dlq"), n(&j, "pending"));
    assert_eq!(
        dlq + pending,
        300,
        "every document pending or in the DLQ: {j}"
    );
    // Only the 10 in flight when it opened can have exhausted their attempts.
    assert!(
        dlq <= 10,
        "the DLQ holds no more than what failed before the breaker opened: {j}"
    );
    assert!(n(&j, "lag") >= 280, "the rest waits on the topic: {j}");
}

#[test]
fn rollback_during_a_drain_is_fast_and_loses_nothing() {
    let src = corpus(1500);
    let data = tempfile::tempdir().unwrap();
    let r = run(
        data.path(),
        &["ingest", src.path().to_str().unwrap(), "--json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut drain = common::bin()
        .args(["drain", "--json", "--inject-latency-ms", "10", "--data-dir"])
        .arg(data.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while n(&status(data.path())["counts"], "completed") < 50 {
        assert!(Instant::now() < deadline, "drain did not start");
        std::thread::sleep(Duration::from_millis(30));
    }
    let rb = run(data.path(), &["rollback", "--json"]);
    assert_eq!(rb.code, 0, "{}", rb.stderr);
    let j = rb.json();
    let ms = n(&j, "effective_ms");
    eprintln!("rollback effective in {ms} ms (engine in another process, 10 ms per enrichment)");
    assert!(ms < 3_000, "rollback took {ms} ms");
    assert_eq!(j["engine_running"], true);
    assert_eq!(n(&j, "in_flight"), 0);
    assert_eq!(j["rollout"]["enabled"], false);

    // Held: nothing moves, and everything is either completed or visibly pending.
    let a = status(data.path());
    std::thread::sleep(Duration::from_millis(500));
    let b = status(data.path());
    assert_eq!(
        n(&a["counts"], "completed"),
        n(&b["counts"], "completed"),
        "consumption is held"
    );
    assert_eq!(
        b["rollout"]["enabled"], false,
        "status in another process shows the kill switch off"
    );
    assert_eq!(b["engine"]["paused"], true);
    let pending = n(&b["counts"], "pending");
    assert_eq!(n(&b["counts"], "completed") + pending, 1500, "{b}");
    assert_eq!(n(&b["counts"], "processing"), 0);
    assert_eq!(n(&j, "pending"), pending);
    drain.kill().unwrap();
    drain.wait().unwrap();

    // New documents take the sync path while the kill switch is off.
    let extra = corpus(10);
    let r = run(
        data.path(),
        &[
            "ingest",
            extra.path().to_str().unwrap(),
            "--project",
            "late",
            "--json",
        ],
    )
    .json();
    assert_eq!((n(&r, "published"), n(&r, "enriched_sync")), (0, 10));

    // The seeds' step 5: enrich what is pending, synchronously.
    let bf = run(data.path(), &["backfill", "--sync", "--json"]);
    assert_eq!(bf.code, 0, "{}", bf.stderr);
    let bf = bf.json();
    assert_eq!(n(&bf, "enriched_sync"), pending);
    assert_eq!(n(&bf, "pending"), 0);
    assert_eq!(n(&bf, "completed"), 1510);

    let resumed = run(data.path(), &["resume", "--json"]).json();
    assert_eq!(resumed["rollout"]["enabled"], true);
    // The old requests still on the topic are duplicates now: consumed, not re-enriched.
    let d = run(data.path(), &["drain", "--json", "--timeout", "60"]).json();
    assert_eq!(
        (n(&d, "completed"), n(&d, "pending"), n(&d, "enriched")),
        (1510, 0, 0),
        "{d}"
    );
}

#[test]
fn rollout_is_persisted_and_validated() {
    let data = tempfile::tempdir().unwrap();
    let r = run(data.path(), &["rollout", "set", "25", "--json"]).json();
    assert_eq!(r["percentage"], 25);
    let r = run(data.path(), &["rollout", "enable", "omniarchon", "--json"]).json();
    assert_eq!(r["enabled_projects"][0], "omniarchon");
    let s = status(data.path());
    assert_eq!(s["rollout"]["percentage"], 25, "another process sees it");
    assert_eq!(s["rollout"]["enabled_projects"][0], "omniarchon");
    let bad = run(data.path(), &["rollout", "set", "101"]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("0..=100"), "{}", bad.stderr);
    assert_eq!(
        status(data.path())["rollout"]["percentage"],
        25,
        "unchanged after bad input"
    );
    let r = run(data.path(), &["rollout", "disable", "omniarchon", "--json"]).json();
    assert_eq!(r["enabled_projects"].as_array().unwrap().len(), 0);
    // The persisted rollout beats the environment's default on the next start.
    let s = common::bin()
        .args(["status", "--json", "--data-dir"])
        .arg(data.path())
        .env("ASYNC_ENRICHMENT_ROLLOUT_PERCENTAGE", "90")
        .output()
        .unwrap();
    let s: serde_json::Value = serde_json::from_slice(&s.stdout).unwrap();
    assert_eq!(s["rollout"]["percentage"], 25);
}

#[test]
fn purge_needs_confirm_and_backfill_re_drives_purged_documents() {
    let src = corpus(200);
    let data = tempfile::tempdir().unwrap();
    let mut args = vec![
        "ingest",
        src.path().to_str().unwrap(),
        "--wait",
        "--json",
        "--inject-failure-rate",
        "0.5",
    ];
    args.extend(FAST);
    args.extend(["--breaker-failure-threshold", "1000"]);
    let j = run(data.path(), &args).json();
    let dlq = n(&j, "dlq");
    assert!(dlq > 0);
    let refused = run(data.path(), &["dlq", "purge"]);
    assert!(refused.code != 0 && refused.stderr.contains("--confirm"));
    let p = run(data.path(), &["dlq", "purge", "--confirm", "--json"]).json();
    assert_eq!(n(&p, "purged"), dlq);
    let s = status(data.path());
    assert_eq!(
        (n(&s["counts"], "dlq"), n(&s["counts"], "failed")),
        (0, dlq),
        "purged documents are failed, not lost"
    );
    assert_eq!(
        run(data.path(), &["dlq", "list", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let bf = run(data.path(), &["backfill", "--json", "--rate", "1000"]).json();
    assert_eq!(n(&bf, "published"), dlq);
    let d = run(data.path(), &["drain", "--json", "--timeout", "60"]).json();
    assert_eq!((n(&d, "completed"), n(&d, "pending")), (200, 0), "{d}");
}

/// Error fingerprints: entries that failed the same way (ids, numbers and
/// paths aside) form one group; a group's fingerprint selects exactly its
/// entries for a replay.
#[test]
fn dlq_entries_group_by_error_fingerprint_and_a_group_replays_alone() {
    let src = corpus(300);
    for i in 0..5 {
        // Latin-1 "café": 0xE9 alone is not UTF-8.
        let mut latin1 = b"caf\xe9 ".to_vec();
        latin1.extend(format!("{i}\n").bytes());
        std::fs::write(src.path().join(format!("latin1-{i}.txt")), latin1).unwrap();
    }
    let data = tempfile::tempdir().unwrap();
    let mut args = vec![
        "ingest",
        src.path().to_str().unwrap(),
        "--wait",
        "--json",
        "--inject-failure-rate",
        "0.3",
    ];
    args.extend(FAST);
    let r = run(data.path(), &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dlq = n(&r.json(), "dlq");
    let groups = run(data.path(), &["dlq", "groups", "--json"]).json();
    let groups = groups.as_array().unwrap();
    let count = |g: &serde_json::Value| g["count"].as_u64().unwrap();
    assert_eq!(groups.iter().map(count).sum::<u64>(), dlq, "{groups:?}");
    let of_type = |t: &str| -> Vec<&serde_json::Value> {
        groups.iter().filter(|g| g["error_type"] == t).collect()
    };
    let (injected, encoding) = (of_type("InjectedFailure"), of_type("EncodingError"));
    assert_eq!(
        injected.len(),
        1,
        "one way of failing, one group: {groups:?}"
    );
    assert_eq!(encoding.len(), 1, "{groups:?}");
    assert_eq!(count(encoding[0]), 5, "{groups:?}");
    assert!(
        encoding[0]["pattern"].as_str().unwrap().contains("<n>"),
        "the offset is masked: {}",
        encoding[0]["pattern"]
    );
    assert!(encoding[0]["projects"].as_object().unwrap().len() == 1);
    let fp = injected[0]["fingerprint"].as_str().unwrap();
    let dry = run(
        data.path(),
        &["dlq", "replay", "--fingerprint", fp, "--dry-run", "--json"],
    )
    .json();
    assert_eq!(n(&dry, "replayed"), count(injected[0]), "{dry}");
    assert_eq!(
        dry["by_error_type"].as_object().unwrap().len(),
        1,
        "only the group's entries: {dry}"
    );
    // The dry run counts per fingerprint and per project before a confirm.
    assert_eq!(dry["by_fingerprint"][0][0], fp, "{dry}");
    assert_eq!(dry["by_fingerprint"][0][3], count(injected[0]), "{dry}");
    let by_project: u64 = dry["by_project"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_project, count(injected[0]), "{dry}");
    let listed = run(data.path(), &["dlq", "list", "--json", "--fingerprint", fp]).json();
    assert_eq!(listed.as_array().unwrap().len() as u64, count(injected[0]));
    let text = run(data.path(), &["dlq", "groups"]).stdout;
    assert!(text.contains(&format!("fp:{fp}")), "{text}");
}

/// MAX_PROCESSING_RATE (seed §5.5): a drain takes at most N messages a
/// second; the lever lifts it for every engine on the data dir.
#[test]
fn max_processing_rate_paces_the_drain_and_the_lever_changes_it() {
    let src = corpus(300);
    let data = tempfile::tempdir().unwrap();
    let mut args = vec![
        "ingest",
        src.path().to_str().unwrap(),
        "--wait",
        "--json",
        "--max-processing-rate",
        "100",
    ];
    args.extend(FAST);
    let r = run(data.path(), &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(n(&j, "completed"), 300, "{j}");
    // One second of burst (100), then 100/s: at least ~2 s for 300.
    let elapsed = n(&j, "elapsed_ms");
    println!("300 documents at max 100/s: {elapsed} ms");
    assert!(elapsed >= 1_800, "{j}");

    let refused = run(data.path(), &["rate", "-5"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("more than 0"), "{}", refused.stderr);
    let set = run(data.path(), &["rate", "off", "--json"]);
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert_eq!(set.json()["message"], "no rate limit");
    let trail = run(data.path(), &["audit", "--json"]).json();
    let last = trail.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "max rate off", "{last}");
    assert_eq!(last["after"], "no rate limit", "{last}");
}

/// The loop guard: a document that keeps failing is replayed at most
/// `--max-replays` times; after that a replay holds it back (and says so)
/// unless forced.
#[test]
fn the_loop_guard_holds_back_documents_replayed_too_often() {
    let src = corpus(20);
    let data = tempfile::tempdir().unwrap();
    // Every call fails; without a breaker (an open one charges no attempt)
    // each document lands in the DLQ after its attempts.
    let failing = [
        "--inject-failure-rate",
        "1.0",
        "--circuit-breaker",
        "false",
        "--max-replays",
        "2",
    ];
    let mut args = vec!["ingest", src.path().to_str().unwrap(), "--wait", "--json"];
    args.extend(FAST);
    args.extend(failing);
    let r = run(data.path(), &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&r.json(), "dlq"), 20);
    let replay = |extra: &[&str]| {
        let mut a = vec!["dlq", "replay", "--confirm", "--wait", "--json"];
        a.extend(FAST);
        a.extend(failing);
        a.extend(extra);
        let r = run(data.path(), &a);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.json()
    };
    for round in 1..=2 {
        let j = replay(&[]);
        assert_eq!(n(&j, "replayed"), 20, "round {round}: {j}");
        assert_eq!(n(&j, "looping"), 0, "round {round}: {j}");
        assert_eq!(n(&j, "dlq"), 20, "they fail again: {j}");
    }
    let held = replay(&[]);
    assert_eq!(n(&held, "replayed"), 0, "{held}");
    assert_eq!(n(&held, "looping"), 20, "{held}");
    let text = run(
        data.path(),
        &["dlq", "replay", "--dry-run", "--max-replays", "2"],
    )
    .stdout;
    assert!(text.contains("loop guard"), "{text}");
    let forced = replay(&["--force"]);
    assert_eq!(n(&forced, "replayed"), 20, "{forced}");
}

/// Export (plain and masked) and import: checked line by line, nothing
/// written when a line is refused, idempotent by entry.
#[test]
fn dlq_export_and_import_round_trip_masked_and_idempotent() {
    let src = corpus(20);
    let data = tempfile::tempdir().unwrap();
    let parked = common::park_all(
        data.path(),
        src.path(),
        &["--breaker-recovery-secs".into(), "0.2".into()],
    );
    assert_eq!(n(&parked, "dlq"), 20, "{parked}");
    let list = run(data.path(), &["dlq", "list", "--json"]).json();
    let a_path = list[0]["file_path"].as_str().unwrap().to_string();

    let out = data.path().join("dlq.jsonl");
    let r = run(
        data.path(),
        &["dlq", "export", "--out", out.to_str().unwrap(), "--json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&r.json(), "exported"), 20);
    let plain = std::fs::read_to_string(&out).unwrap();
    assert_eq!(plain.lines().count(), 20);
    assert!(plain.contains(&a_path));

    let masked_out = data.path().join("masked.jsonl");
    let r = run(
        data.path(),
        &[
            "dlq",
            "export",
            "--mask",
            "--mask-field",
            "correlation_id",
            "--out",
            masked_out.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let masked = std::fs::read_to_string(&masked_out).unwrap();
    assert_eq!(masked.lines().count(), 20);
    assert!(!masked.contains(&a_path), "paths are hashed");
    let corr = list[0]["correlation_id"].as_str().unwrap();
    assert!(!masked.contains(corr), "a configured field is hashed");
    assert!(masked.contains("masked:blake3:"));

    // Into another data dir: all 20, then none the second time.
    let other = tempfile::tempdir().unwrap();
    let import = |file: &std::path::Path| {
        run(
            other.path(),
            &["dlq", "import", file.to_str().unwrap(), "--json"],
        )
    };
    let r = import(&out);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&r.json(), "imported"), 20, "{}", r.stdout);
    let r = import(&out);
    assert_eq!(n(&r.json(), "imported"), 0, "{}", r.stdout);
    assert_eq!(n(&r.json(), "already_present"), 20);
    let there = run(other.path(), &["dlq", "list", "--json"]).json();
    assert_eq!(there.as_array().unwrap().len(), 20, "{there}");

    // A file with one bad line is refused whole, with the line named.
    let bad = data.path().join("bad.jsonl");
    let first = plain.lines().next().unwrap();
    std::fs::write(&bad, format!("{first}\n{{\"id\": 1}}\n")).unwrap();
    let empty = tempfile::tempdir().unwrap();
    let r = run(empty.path(), &["dlq", "import", bad.to_str().unwrap()]);
    assert_eq!(r.code, 2, "refused input: {}", r.stderr);
    assert!(r.stderr.contains("line 2"), "{}", r.stderr);
    let none = run(empty.path(), &["dlq", "list", "--json"]).json();
    assert_eq!(
        none.as_array().unwrap().len(),
        0,
        "nothing imported: {none}"
    );
}

/// Edit and replay one entry: a refused edit (schema, document id, unknown
/// field) sends nothing; a valid one shows its diff, then goes out as edited.
#[test]
fn dlq_edit_checks_the_schema_shows_the_diff_and_replays_the_edit() {
    let src = corpus(3);
    let data = tempfile::tempdir().unwrap();
    let parked = common::park_all(
        data.path(),
        src.path(),
        &["--breaker-recovery-secs".into(), "0.2".into()],
    );
    assert_eq!(n(&parked, "dlq"), 3, "{parked}");
    let ends = |d: &std::path::Path| -> u64 {
        status(d)["lag"]["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| n(p, "end"))
            .sum()
    };
    assert_eq!(ends(data.path()), 3);
    let doc = run(data.path(), &["dlq", "list", "--json"]).json()[0]["document_id"]
        .as_str()
        .unwrap()
        .to_string();
    for (set, why) in [
        ("file_path=", "file_path must be"),
        ("enrichment_type=bogus", "fails the schema"),
        (
            "document_id=6f1c5e0a-0000-4000-8000-000000000000",
            "cannot be edited",
        ),
        ("priority=high", "cannot be edited"),
        ("retry_count=many", "whole number"),
    ] {
        let r = run(data.path(), &["dlq", "edit", &doc, "--set", set]);
        assert_eq!(r.code, 2, "{set}: {}", r.stderr);
        assert!(r.stderr.contains(why), "{set}: {}", r.stderr);
    }
    assert_eq!(ends(data.path()), 3, "nothing was sent");

    let dry = run(
        data.path(),
        &[
            "dlq",
            "edit",
            &doc,
            "--set",
            "enrichment_type=quality_only",
            "--set",
            "retry_count=1",
            "--dry-run",
            "--json",
        ],
    );
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let d = dry.json();
    assert_eq!(
        d["diff"][0],
        serde_json::json!(["enrichment_type", "full", "quality_only"])
    );
    assert_eq!(d["diff"][1], serde_json::json!(["retry_count", "0", "1"]));
    assert_eq!(ends(data.path()), 3, "a dry run sends nothing");

    let r = run(
        data.path(),
        &[
            "dlq",
            "edit",
            &doc,
            "--set",
            "enrichment_type=quality_only",
            "--set",
            "retry_count=1",
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["replayed"], true);
    assert_eq!(ends(data.path()), 4, "one request, as edited");
    let t = run(data.path(), &["trace", &doc, "--json"]).json();
    let last_request = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["kind"] == "request")
        .unwrap()
        .clone();
    assert!(
        last_request["outcome"]
            .as_str()
            .unwrap()
            .starts_with("quality_only"),
        "{t}"
    );
    assert_eq!(last_request["attempt"], 1, "the edited retry_count: {t}");
    let left = run(data.path(), &["dlq", "list", "--json"]).json();
    assert_eq!(
        left.as_array().unwrap().len(),
        2,
        "the edited entry left the DLQ"
    );
}

/// Issue 32 item 5: completions from the parser's own definition complete
/// subcommands and flags in a real bash; the man pages cover every
/// subcommand.
#[test]
fn completions_complete_in_bash_and_man_pages_cover_every_subcommand() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("archon-tui.bash");
    let out = common::bin()
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&script, &out.stdout).unwrap();
    // What bash offers after `archon-tui se` and `archon-tui serve --lis`.
    let complete = |line: &str| -> String {
        let words: Vec<&str> = line.split(' ').collect();
        let probe = format!(
            "source {}; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
             _archon__tui archon-tui '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            words.join(" "),
            words.len() - 1,
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let o = std::process::Command::new("bash")
            .args(["-c", &probe])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let subs = complete("archon-tui se");
    assert!(subs.lines().any(|l| l == "serve"), "{subs}");
    let flags = complete("archon-tui serve --lis");
    assert!(flags.lines().any(|l| l == "--listen"), "{flags}");
    for shell in ["zsh", "fish", "powershell"] {
        let o = common::bin().args(["completions", shell]).output().unwrap();
        assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("archon-tui"));
    }
    let bad = common::bin()
        .args(["completions", "nosh"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));

    let dir = tmp.path().join("man1");
    let o = common::bin()
        .args(["man", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for page in [
        "archon-tui.1",
        "archon-tui-serve.1",
        "archon-tui-dlq-replay.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.contains(".TH"), "{page} is roff");
    }
    let top = std::fs::read_to_string(dir.join("archon-tui.1")).unwrap();
    assert!(
        top.contains("doctor") && top.contains("rollback"),
        "the top page lists the subcommands"
    );
}

/// Issue 32: `why` from a shell names the cause first, on the engine's own
/// evidence: a hold with nobody consuming, then a member draining at its
/// rate limit while the backlog waits.
#[tokio::test(flavor = "multi_thread")]
async fn why_names_a_hold_and_then_a_rate_limit_first() {
    let src = corpus(3000);
    let data = tempfile::tempdir().unwrap();
    let r = run(data.path(), &["ingest", src.path().to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(run(data.path(), &["hold"]).code, 0);
    let why = |window: &str| {
        let r = run(data.path(), &["why", "--json", "--window", window]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.json()
    };
    let d = why("2");
    assert_eq!(d["causes"][0]["kind"], "held", "{d}");
    assert_eq!(d["causes"][0]["lever"], "archon-tui release (:release)");
    assert_eq!(d["lag"], 3000, "{d}");
    assert_eq!(run(data.path(), &["release"]).code, 0);

    // A member at 40 documents a second: the cap, with 3,000 waiting.
    let s = common::serve::Serve::start(
        data.path(),
        &["--max-processing-rate".to_string(), "40".into()],
    );
    let d = why("6");
    let first = &d["causes"][0];
    assert_eq!(first["kind"], "rate_limit", "{d}");
    assert!(
        first["finding"]
            .as_str()
            .unwrap()
            .contains("caps the fleet at 40/s"),
        "{d}"
    );
    assert!(d["commit_rate"].as_f64().unwrap() > 20.0, "{d}");
    // The same answer over HTTP.
    let (code, body) = common::serve::get(&common::serve::client(), &s.url("/why")).await;
    assert_eq!(code, 200);
    assert!(body["causes"].is_array(), "{body}");
    let (code, _) = s.terminate();
    assert_eq!(code, 0);
    // Bad input: exit 2 with the setting named.
    let r = run(data.path(), &["why", "--window", "0"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--window"), "{}", r.stderr);
}

/// Issue 32 item 4: `bundle` writes a tar.gz that says what it holds and
/// what it masked; no secret given in the settings or a log survives, and
/// the DLQ's samples are patterns only.
#[test]
fn a_bundle_holds_the_state_and_no_secret() {
    let src = corpus(300);
    let data = tempfile::tempdir().unwrap();
    let mut args = vec![
        "ingest",
        src.path().to_str().unwrap(),
        "--wait",
        "--inject-failure-rate",
        "0.3",
        "--retry-max-attempts",
        "1",
    ];
    args.extend(FAST);
    assert_eq!(run(data.path(), &args).code, 0);
    let log = data.path().join("serve.log");
    std::fs::write(
        &log,
        "INFO start\nWARN graph bolt://neo4j:s3cret-pw@db:7687 refused\nINFO token=tok-123 ok\n",
    )
    .unwrap();
    let out = data.path().join("b.tar.gz");
    let r = run(
        data.path(),
        &[
            "bundle",
            "--out",
            out.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--graph-password",
            "hunter-graph",
            "--kafka-option",
            "sasl.password=hunter-kafka",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Masked:"), "{}", r.stdout);
    assert!(r.stdout.contains("settings.graph.password"), "{}", r.stdout);
    let listing = std::process::Command::new("tar")
        .arg("tzf")
        .arg(&out)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for f in [
        "README.txt",
        "versions.json",
        "settings.json",
        "doctor.json",
        "status.json",
        "fleet.json",
        "audit.json",
        "history-6h.json",
        "dlq-groups.json",
        "logs/0-serve.log",
    ] {
        assert!(
            listing.contains(&format!("archon-tui-bundle/{f}")),
            "{f}: {listing}"
        );
    }
    let all = std::process::Command::new("tar")
        .arg("xzOf")
        .arg(&out)
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&all.stdout);
    for secret in ["hunter-graph", "hunter-kafka", "s3cret-pw", "tok-123"] {
        assert!(!all.contains(secret), "{secret} is in the bundle");
    }
    let status: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(
        &std::process::Command::new("tar")
            .arg("xzOf")
            .arg(&out)
            .arg("archon-tui-bundle/status.json")
            .output()
            .unwrap()
            .stdout,
    ))
    .unwrap();
    let dlq = status["counts"]["dlq"].as_u64().unwrap();
    assert!(dlq > 0, "{status}");
    assert!(all.contains("\"groups\""), "DLQ groups are in");
}
