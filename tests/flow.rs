//! The engine foundation end to end through the real binary, embedded backends.

mod common;

use common::{n, run, status};

#[test]
fn ingest_wait_enriches_everything_and_a_rerun_changes_nothing() {
    let src = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 3000).unwrap();
    let path = src.path().to_str().unwrap();

    let r = run(
        data.path(),
        &["ingest", path, "--project", "mixed", "--wait", "--json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(n(&j, "discovered"), 3000);
    assert_eq!(n(&j, "indexed"), 3000);
    assert_eq!(n(&j, "published"), 3000);
    assert_eq!(n(&j, "completed"), 3000);
    assert_eq!(n(&j, "enriched"), 3000);
    assert_eq!(n(&j, "dlq"), 0);
    assert_eq!(n(&j, "pending"), 0);
    assert_eq!(j["breaker"], "CLOSED");
    assert_eq!(j["timed_out"], false);
    assert!(j["docs_per_sec"].as_f64().unwrap() > 0.0);
    eprintln!("3000-file ingest --wait: {j}");

    let again = run(
        data.path(),
        &["ingest", path, "--project", "mixed", "--wait", "--json"],
    )
    .json();
    assert_eq!(n(&again, "discovered"), 3000);
    assert_eq!(
        n(&again, "indexed"),
        0,
        "unchanged content is not re-indexed"
    );
    assert_eq!(n(&again, "published"), 0);
    assert_eq!(n(&again, "enriched"), 0, "no new enrichment");
    assert_eq!(n(&again, "unchanged"), 3000);
    assert_eq!(n(&again, "completed"), 3000);

    let s = status(data.path());
    assert_eq!(n(&s["counts"], "completed"), 3000);
    let total: u64 = ["pending", "processing", "completed", "failed", "dlq"]
        .iter()
        .map(|k| n(&s["counts"], k))
        .sum();
    assert_eq!(total, 3000);
    assert_eq!(n(&s["lag"], "total"), 0);
    let parts = s["lag"]["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 4, "request topic has 4 partitions");
    let ends: u64 = parts.iter().map(|p| n(p, "end")).sum();
    assert_eq!(ends, 3000, "one request per document");
    for p in parts {
        assert_eq!(n(p, "lag"), n(p, "end") - n(p, "committed"));
    }
    assert_eq!(s["rollout"]["enabled"], true);
    assert_eq!(s["rollout"]["percentage"], 100);
    assert_eq!(s["concurrency"], 10);
    assert_eq!(s["breaker"]["state"], "CLOSED");
}

#[test]
fn changed_file_is_re_enriched_and_others_are_not() {
    let src = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 50).unwrap();
    let path = src.path().to_str().unwrap();
    let first = run(data.path(), &["ingest", path, "--wait", "--json"]).json();
    assert_eq!(n(&first, "completed"), 50);
    std::fs::write(
        src.path().join("pkg00/mod00/item_0.rs"),
        "pub fn changed() {}\n",
    )
    .unwrap();
    std::fs::write(
        src.path().join("pkg00/mod00/new_file.py"),
        "def added():\n    pass\n",
    )
    .unwrap();
    let second = run(data.path(), &["ingest", path, "--wait", "--json"]).json();
    assert_eq!(n(&second, "indexed"), 2);
    assert_eq!(n(&second, "enriched"), 2);
    assert_eq!(n(&second, "completed"), 51);
}

#[test]
fn killed_mid_drain_then_drain_completes_everything() {
    let src = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 1500).unwrap();
    let r = run(
        data.path(),
        &["ingest", src.path().to_str().unwrap(), "--json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        n(&r.json(), "pending"),
        1500,
        "without --wait nothing is enriched yet"
    );

    // A slow drain (5 ms per call, 4 at a time) so the kill lands mid-way.
    let mut child = common::bin()
        .args([
            "drain",
            "--json",
            "--inject-latency-ms",
            "5",
            "--concurrency",
            "4",
            "--data-dir",
        ])
        .arg(data.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let s = status(data.path());
        let done = n(&s["counts"], "completed");
        if done >= 100 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "drain made no progress"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL: no clean shutdown
    child.wait().unwrap();
    let mid = status(data.path());
    let done_at_kill = n(&mid["counts"], "completed");
    assert!(
        done_at_kill < 1500,
        "the kill must land mid-drain (completed {done_at_kill})"
    );

    let r = run(data.path(), &["drain", "--json", "--timeout", "120"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(n(&j, "completed"), 1500);
    assert_eq!(n(&j, "pending"), 0);
    assert_eq!(n(&j, "dlq"), 0);
    assert_eq!(n(&j, "lag"), 0);
    // Redelivered messages whose outcome was already recorded are not enriched twice.
    assert!(
        n(&j, "enriched") <= 1500 - done_at_kill,
        "{j} after {done_at_kill}"
    );
}

#[test]
fn projects_outside_the_rollout_take_the_sync_path() {
    let src = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 40).unwrap();
    let r = run(
        data.path(),
        &[
            "ingest",
            src.path().to_str().unwrap(),
            "--json",
            "--rollout-percentage",
            "0",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(n(&j, "published"), 0);
    assert_eq!(n(&j, "enriched_sync"), 40);
    assert_eq!(n(&j, "completed"), 40, "enriched inline, without --wait");
    let s = status(data.path());
    assert_eq!(n(&s["lag"], "total"), 0);

    // The explicit list wins over the percentage.
    let data2 = tempfile::tempdir().unwrap();
    let j = run(
        data2.path(),
        &[
            "ingest",
            src.path().to_str().unwrap(),
            "--project",
            "vip",
            "--json",
            "--rollout-percentage",
            "0",
            "--enabled-projects",
            "other,vip",
        ],
    )
    .json();
    assert_eq!(n(&j, "published"), 40);
    // The kill switch beats the list.
    let data3 = tempfile::tempdir().unwrap();
    let j = run(
        data3.path(),
        &[
            "ingest",
            src.path().to_str().unwrap(),
            "--project",
            "vip",
            "--json",
            "--enabled-projects",
            "vip",
            "--async-enrichment",
            "false",
        ],
    )
    .json();
    assert_eq!((n(&j, "published"), n(&j, "enriched_sync")), (0, 40));
}

#[test]
fn bad_files_are_recorded_with_a_reason_and_nothing_is_lost() {
    let src = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("good.rs"), "fn main() {}\n").unwrap();
    std::fs::write(src.path().join("latin1.txt"), b"caf\xe9 au lait\n").unwrap();
    std::fs::write(src.path().join("big.rs"), "// x\n".repeat(500)).unwrap();
    std::fs::write(
        src.path().join("image.png"),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
    )
    .unwrap();
    std::fs::write(src.path().join("\u{1b}[2Jevil.py"), "x = 1\n").unwrap();
    let r = run(
        data.path(),
        &[
            "ingest",
            src.path().to_str().unwrap(),
            "--wait",
            "--json",
            "--max-file-bytes",
            "1000",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(n(&j, "discovered"), 5);
    assert_eq!(n(&j, "skipped_binary"), 1);
    assert_eq!(n(&j, "completed"), 2, "good.rs and the oddly named file");
    assert_eq!(n(&j, "dlq"), 2, "not UTF-8, too large");
    assert_eq!(n(&j, "rejected"), 2);
    assert_eq!(n(&j, "pending"), 0);
    assert!(
        !r.stderr.contains('\u{1b}'),
        "no raw escape reaches the terminal: {:?}",
        r.stderr
    );
}

#[test]
fn bad_operator_input_gives_clear_errors() {
    let data = tempfile::tempdir().unwrap();
    let r = run(data.path(), &["ingest", "/definitely/not/here", "--json"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("/definitely/not/here"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"));

    let r = run(data.path(), &["status", "--json", "--concurrency", "0"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("MAX_CONCURRENT_ENRICHMENTS"),
        "{}",
        r.stderr
    );
    let r = run(
        data.path(),
        &["status", "--json", "--rollout-percentage", "101"],
    );
    assert!(
        r.code != 0 && r.stderr.contains("ROLLOUT_PERCENTAGE"),
        "{}",
        r.stderr
    );

    let cfg = data.path().join("bad.toml");
    std::fs::write(&cfg, "concurrency = \"many\"\n").unwrap();
    let r = run(data.path(), &["status", "--config", cfg.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("bad.toml") && r.stderr.contains("concurrency"),
        "{}",
        r.stderr
    );

    let corrupt = tempfile::tempdir().unwrap();
    std::fs::write(corrupt.path().join("archon.sqlite3"), vec![0x42u8; 8192]).unwrap();
    let r = run(corrupt.path(), &["status", "--json"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("corrupt"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"));
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        vec!["--help"],
        vec!["ingest", "--help"],
        vec!["drain", "--help"],
        vec!["status", "--help"],
    ] {
        let out = common::bin().args(&sub).output().unwrap();
        assert!(out.status.success(), "{sub:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("--data-dir"), "{sub:?}: {text}");
    }
}
