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
    // Binaries with no NUL byte early on, found on real trees: by content, not
    // by extension (none of these names says "binary" to the walk).
    let mut pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    pdf.extend((1..=255u8).cycle().take(3000));
    std::fs::write(src.path().join("manual.pdf"), &pdf).unwrap();
    std::fs::write(
        src.path().join("spin.gif"),
        b"GIF89a\x10\x01\x10\x01\xf7\x80\x81",
    )
    .unwrap();
    std::fs::write(
        src.path().join("ca.der"),
        b"\x30\x82\x03\x5a\x30\x82\x02\x42\xa0\x03",
    )
    .unwrap();
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
    assert_eq!(n(&j, "discovered"), 8);
    assert_eq!(n(&j, "skipped_binary"), 4, "png, pdf, gif, der");
    assert_eq!(n(&j, "completed"), 2, "good.rs and the oddly named file");
    assert_eq!(n(&j, "dlq"), 2, "not UTF-8, too large");
    assert_eq!(n(&j, "rejected"), 2);
    assert_eq!(n(&j, "pending"), 0);
    assert!(
        !r.stderr.contains('\u{1b}'),
        "no raw escape reaches the terminal: {:?}",
        r.stderr
    );
    // The file over the limit was judged from its metadata, not read: its
    // hash is not the hash of its content.
    let list = run(
        data.path(),
        &["dlq", "list", "--json", "--error-type", "FileTooLarge"],
    )
    .json();
    let id = list[0]["id"].as_i64().unwrap().to_string();
    let full: serde_json::Value =
        serde_json::from_str(&run(data.path(), &["dlq", "show", &id]).stdout).unwrap();
    let stored = full["message"]["original_message"]["content_hash"]
        .as_str()
        .unwrap();
    let read = blake3::hash("// x\n".repeat(500).as_bytes())
        .to_hex()
        .to_string();
    assert_eq!(stored.len(), 64);
    assert_ne!(stored, read, "an oversized file is not read to be hashed");
}

#[test]
fn a_huge_sparse_file_is_judged_without_being_read() {
    let src = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let path = src.path().join("huge.txt");
    let f = std::fs::File::create(&path).unwrap();
    // Text for the first 8 KB the binary check looks at, then a hole.
    std::io::Write::write_all(&mut &f, "looks like text\n".repeat(600).as_bytes()).unwrap();
    // 30 GiB, sparse: reading it whole took 34 s before it was judged by size.
    if let Err(e) = f.set_len(30 << 30) {
        common::skip(&format!(
            "this filesystem refuses a 30 GiB sparse file: {e}"
        ));
        return;
    }
    drop(f);
    let started = std::time::Instant::now();
    let r = run(
        data.path(),
        &["ingest", src.path().to_str().unwrap(), "--wait", "--json"],
    );
    eprintln!("30 GiB sparse file ingested in {:?}", started.elapsed());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(n(&j, "rejected"), 1, "{j}");
    assert_eq!(n(&j, "dlq"), 1, "parked as FileTooLarge: {j}");
    let list = run(data.path(), &["dlq", "list", "--json"]).json();
    assert_eq!(list[0]["error_type"], "FileTooLarge", "{list}");
}

#[test]
fn project_names_with_control_characters_are_refused() {
    let src = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("a.rs"), "fn a() {}\n").unwrap();
    let dir = src.path().to_str().unwrap();
    for bad in ["evil\u{1b}[2J", "tab\there", "bell\u{7}"] {
        let r = run(data.path(), &["ingest", dir, "--project", bad, "--json"]);
        assert_eq!(r.code, 2, "refused as bad input: {}", r.stderr);
        assert!(r.stderr.contains("control character"), "{}", r.stderr);
        assert!(
            !r.stderr.contains('\u{1b}'),
            "the name is not echoed raw: {:?}",
            r.stderr
        );
    }
    let r = run(data.path(), &["rollout", "enable", "x\u{7}y"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    // A directory whose own name has one is refused with the way out.
    let odd = src.path().join("odd\u{7}name");
    std::fs::create_dir(&odd).unwrap();
    let r = run(data.path(), &["ingest", odd.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("--project NAME"), "{}", r.stderr);
    assert_eq!(
        n(&status(data.path())["counts"], "pending"),
        0,
        "nothing was indexed"
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

/// `history`: what a running engine sampled, read back from the data dir.
#[test]
fn the_history_command_reads_what_an_engine_kept() {
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 400).unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut child = common::bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--ingest"])
        .arg(src.path())
        .arg("--data-dir")
        .arg(data.path())
        .args(["--inject-latency-ms", "5"])
        .env("ARCHON_HISTORY_EVERY_MS", "100")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(4));
    child.kill().unwrap();
    child.wait().unwrap();
    // A lever pulled in the window is one of its markers.
    assert_eq!(run(data.path(), &["concurrency", "5"]).code, 0);
    let r = run(data.path(), &["history", "--since", "1h", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let window = r.json();
    let samples = window["samples"].as_array().unwrap();
    let markers = window["markers"].as_array().unwrap();
    assert_eq!(markers.len(), 1, "{window}");
    assert_eq!(markers[0]["kind"], "concurrency", "{window}");
    assert!(
        samples.len() >= 10,
        "a sample every 100 ms for ~4 s: {}",
        samples.len()
    );
    let busiest = samples
        .iter()
        .map(|s| s["docs_per_sec"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(busiest > 0.0, "throughput was sampled: {samples:?}");
    let text = run(data.path(), &["history", "--since", "30m"]).stdout;
    assert!(text.contains("samples over the last 30m"), "{text}");
    let r = run(data.path(), &["history", "--since", "9d"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}
