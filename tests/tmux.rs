//! The console in a real terminal: tmux runs the binary, `send-keys` types,
//! `capture-pane` reads the screen. scripts/test.sh installs tmux; without it
//! these tests fail under CI and skip loudly elsewhere.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::tmux::Tmux;
use common::{n, run, status};

fn console_command(data: &Path, extra: &str) -> String {
    format!(
        "env -u ARCHON_CONFIG -u ARCHON_DATA_DIR XDG_CONFIG_HOME=/nonexistent-archon-test-config \
         {} --data-dir {} {extra}; echo ARCHON-EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_archon-tui"),
        data.display()
    )
}

fn corpus(dir: &Path, files: usize) {
    let r = run(
        &dir.join("unused"),
        &[
            "gen-corpus",
            dir.join("src").to_str().unwrap(),
            "--files",
            &files.to_string(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn wait_status(
    data: &Path,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let s = status(data);
        if pred(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {s}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn console_panels_keys_rollback_and_clean_exit() {
    let tmp = tempfile::tempdir().unwrap();
    corpus(tmp.path(), 300);
    let data = tmp.path().join("data");
    // Every failure goes straight to the DLQ (1 attempt) so it has entries.
    let extra = format!(
        "--ingest {} --inject-failure-rate 0.2 --retry-max-attempts 1 --breaker-failure-threshold 1000",
        tmp.path().join("src").display()
    );
    let Some(t) = Tmux::start("main", 200, 60, &console_command(&data, &extra)) else {
        return;
    };

    let screen = t.wait_for("every panel", 30, |s| {
        s.contains("Dead-letter queue") && s.contains("Logs")
    });
    for title in [
        "Lag",
        "Circuit breaker",
        "Rollout",
        "Documents",
        "Throughput",
        "Dead-letter queue",
        "Logs",
    ] {
        assert!(screen.contains(title), "{title} missing:\n{screen}");
    }
    assert_eq!(
        t.display("#{alternate_on}"),
        "1",
        "the console uses the alternate screen"
    );

    let s = wait_status(&data, "the ingest to drain", |s| {
        n(&s["counts"], "completed") + n(&s["counts"], "dlq") == 300 && n(&s["lag"], "total") == 0
    });
    let dlq = n(&s["counts"], "dlq");
    assert!(dlq > 20, "expected DLQ entries at failure rate 0.2: {s}");
    t.wait_for("the DLQ count on screen", 10, |s| {
        s.contains(&format!("Dead-letter queue {dlq} entries"))
    });
    // The ingest says it is done, and the header agrees (issue 28).
    t.wait_for("done: N enriched and CAUGHT UP", 10, |s| {
        s.contains(&format!("done: {} enriched", 300 - dlq)) && s.contains(" CAUGHT UP ")
    });

    // ? help overlay lists the keys; esc closes it.
    t.keys(&["?"]);
    t.wait_for("the help overlay", 5, |s| {
        s.contains("EMERGENCY ROLLBACK") && s.contains("command palette")
    });
    t.keys(&["Escape"]);
    t.wait_for("help closed", 5, |s| !s.contains("command palette"));

    // / filters the DLQ as you type; esc clears the filter.
    t.keys(&["/"]);
    t.literal("type:NoSuchError");
    t.wait_for("an empty filter result", 5, |s| {
        s.contains(&format!("0 of {dlq}"))
    });
    t.keys(&["Escape"]);
    t.wait_for("filter cleared", 5, |s| {
        s.contains(&format!("Dead-letter queue {dlq} entries"))
    });
    t.keys(&["/"]);
    t.literal("type:InjectedFailure");
    t.keys(&["Enter"]);
    t.wait_for("a matching filter", 5, |s| {
        s.contains(&format!("{dlq} of {dlq}"))
    });

    // enter on the focused DLQ opens the full entry.
    t.keys(&["Enter"]);
    t.wait_for("the DLQ detail", 5, |s| {
        s.contains("failure_reason") && s.contains("original_offset")
    });
    t.keys(&["Escape"]);

    // R: dry-run preview, then replay everything filtered.
    t.keys(&["R"]);
    t.wait_for("the replay preview", 10, |s| {
        s.contains(&format!("Replay {dlq} DLQ entries matching"))
    });
    t.keys(&["Enter"]);
    // The replay runs as a redrive job (200/s): wait for its gauge to say
    // done before judging what it left.
    t.wait_for("the redrive to finish", 30, |s| {
        s.contains("redrive r") && s.contains(&format!("done {dlq}/{dlq}"))
    });
    // Injected failures draw afresh on replay: most replayed documents complete.
    let s = wait_status(&data, "the replay to drain", |s| {
        n(&s["counts"], "completed") > 300 - dlq
            && n(&s["lag"], "total") == 0
            && n(&s["counts"], "pending") == 0
    });
    assert!(
        n(&s["counts"], "dlq") < dlq / 2,
        "replay left too many in the DLQ: {s}"
    );
    assert_eq!(
        n(&s["counts"], "completed") + n(&s["counts"], "dlq"),
        300,
        "{s}"
    );

    // ! opens the rollback dialog focused on "Rollback"; enter runs it.
    t.keys(&["!"]);
    t.wait_for("the rollback dialog", 5, |s| {
        s.contains("Emergency rollback") && s.contains("[ Rollback ]")
    });
    t.keys(&["Enter"]);
    t.wait_for("the rollback result", 10, |s| {
        s.contains("Rolled back") && s.contains("effective in")
    });
    let s = status(&data);
    assert_eq!(s["rollout"]["enabled"], false, "{s}");
    t.keys(&["Escape"]);
    t.wait_for("the header says why nothing is consumed", 5, |s| {
        s.contains(" HELD (rollback) ")
    });

    // The palette completes with tab and recalls with ↑ (issue 28).
    t.keys(&[":"]);
    t.literal("resu");
    t.keys(&["Tab"]);
    t.wait_for("the completed command", 5, |s| s.contains(":resume "));
    t.keys(&["Enter"]);
    t.wait_for("the rollback undone", 10, |s| !s.contains(" HELD "));
    t.keys(&[":", "Up"]);
    t.wait_for("the command recalled", 5, |s| s.contains(":resume"));
    t.keys(&["Escape"]);

    // q stops the engine cleanly and restores the terminal; what became of
    // the work in flight is said on the restored screen.
    t.keys(&["q"]);
    let after = t.wait_for("a clean exit", 15, |s| s.contains("ARCHON-EXIT=0"));
    assert!(after.contains("archon-tui: stopping:"), "{after}");
    assert_eq!(t.display("#{alternate_on}"), "0", "terminal restored");
    // Engine gone (no live registration), offsets committed.
    let s = status(&data);
    assert!(s["engine"].is_null(), "{s}");
    assert_eq!(n(&s["lag"], "total"), 0, "{s}");
}

#[test]
fn small_terminal_collapses_and_sigterm_restores_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let Some(t) = Tmux::start(
        "small",
        80,
        24,
        &console_command(&data, "--theme high-contrast"),
    ) else {
        return;
    };
    let compact = t.wait_for("the compact layout", 30, |s| {
        s.contains("breaker CLOSED") && s.contains(" Lag ")
    });
    // Every tab and the keys that matter fit in 80 columns (issue 28).
    assert!(compact.contains(" DLQ  Logs"), "{compact}");
    for hint in ["? help", ": commands", "q quit"] {
        assert!(
            compact.contains(hint),
            "{hint}:
{compact}"
        );
    }
    // tab moves the one visible panel along.
    t.keys(&["Tab"]);
    t.wait_for("the breaker panel", 5, |s| {
        s.contains("state") && s.contains("failures in row")
    });
    t.keys(&[":"]);
    t.literal("rollout 101");
    t.keys(&["Enter"]);
    t.wait_for("a palette error", 5, |s| {
        s.contains("rollout must be 0..=100")
    });
    t.keys(&["Escape"]);
    // SIGTERM to the console (the shell's child) restores the terminal.
    let shell = t.display("#{pane_pid}");
    let out = Command::new("pgrep")
        .args(["-P", &shell])
        .output()
        .expect("pgrep");
    let pid = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .expect("console pid")
        .trim()
        .to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    t.wait_for("exit after SIGTERM", 15, |s| s.contains("ARCHON-EXIT=0"));
    assert_eq!(
        t.display("#{alternate_on}"),
        "0",
        "terminal restored after SIGTERM"
    );
}

#[test]
fn console_refuses_bad_settings_before_touching_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let r = run(tmp.path(), &["--theme", "neon"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("neon") && r.stderr.contains("high-contrast"),
        "{}",
        r.stderr
    );
    let r = run(tmp.path(), &["console", "--ingest", "/no/such/dir"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("/no/such/dir"), "{}", r.stderr);
    // Without a terminal (CI, pipes) it explains instead of drawing.
    let r = run(tmp.path(), &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("needs a terminal"), "{}", r.stderr);
}

/// `--listen`: the console serves the same health, metrics and control as
/// `serve`; a pause over HTTP shows on its screen.
#[test]
fn console_listen_serves_health_and_control() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let extra = format!("--listen 127.0.0.1:{port}");
    let Some(t) = Tmux::start("listen", 120, 40, &console_command(&data, &extra)) else {
        return;
    };
    t.wait_for("the console", 30, |s| s.contains("Dead-letter queue"));
    let base = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        let health: serde_json::Value = loop {
            let r = c.get(format!("{base}/health")).send().await.unwrap();
            if r.status() == 200 {
                break r.json().await.unwrap();
            }
            assert!(Instant::now() < deadline, "health stayed {}", r.status());
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(health["consumer"]["running"], true, "{health}");
        let metrics = c.get(format!("{base}/metrics")).send().await.unwrap();
        assert!(metrics
            .text()
            .await
            .unwrap()
            .contains("archon_enrichment_consumer_circuit_breaker_state 0"));
        let refused = c.post(format!("{base}/pause")).send().await.unwrap();
        assert_eq!(refused.status(), 401);
        let token = std::fs::read_to_string(data.join("control-token")).unwrap();
        let ok = c
            .post(format!("{base}/pause"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
    });
    // POST /pause holds the fleet (this console's engine is all of it).
    t.wait_for("HELD in the header", 10, |s| s.contains("HELD"));
    t.keys(&["q"]);
    t.wait_for("a clean exit", 20, |s| s.contains("ARCHON-EXIT=0"));
}

/// A consumer that dies under a running console (Kafka fenced it: another
/// member took its `group.instance.id`) shows at once — header and dialog —
/// while the console stays open; quitting from the dialog exits 1.
#[test]
fn a_dead_consumer_shows_in_the_console_at_once() {
    let Some(b) = common::broker() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let flags = common::isolated(&b, "console-fenced");
    let group = common::flag(&flags, "--group-id").to_string();
    let topic = common::flag(&flags, "--enrichment-topic").to_string();
    let instance = format!("archon-{group}");
    let extra = format!(
        "{} --kafka-option group.instance.id={instance} --kafka-option heartbeat.interval.ms=500",
        flags.join(" ")
    );
    let Some(t) = Tmux::start("fenced", 140, 40, &console_command(&data, &extra)) else {
        return;
    };
    t.wait_for("the console", 30, |s| s.contains("Dead-letter queue"));
    // Let the console's consumer join the group first.
    std::thread::sleep(Duration::from_secs(3));
    assert!(!t.screen().contains("CONSUMER STOPPED"));
    let fenced_at = Instant::now();
    let _other = common::services::Fencer::join(&b, &group, &topic, &instance);
    t.wait_for("the dead consumer on screen", 20, |s| {
        s.contains("CONSUMER STOPPED") && s.contains("Consumer stopped")
    });
    let shown = fenced_at.elapsed();
    println!(
        "console: consumer stopped on screen {:.1} s after another member took its id (heartbeat 0.5 s)",
        shown.as_secs_f64()
    );
    // kcat's join + one heartbeat + the screen: the screen follows the
    // consumer's state at once (no polling), so this stays well under 4 s.
    assert!(shown < Duration::from_secs(4), "shown after {shown:?}");
    // The dialog's reason (a capture can catch a frame half drawn: wait
    // for the whole dialog rather than read the first capture).
    t.wait_for("the reason in the dialog", 5, |s| {
        s.contains("Consumer stopped") && s.to_lowercase().contains("fenced")
    });
    // Stay: the console keeps running over the dead consumer.
    t.keys(&["Enter"]);
    let s = t.wait_for("the dialog to close", 5, |s| {
        !s.contains("Consumer stopped")
    });
    assert!(s.contains("CONSUMER STOPPED"), "{s}");
    t.keys(&["q"]);
    let s = t.wait_for("the exit", 30, |s| s.contains("ARCHON-EXIT="));
    assert!(s.contains("ARCHON-EXIT=1"), "{s}");
}

/// `--read-only`: the header says so, and every lever the operator tries is
/// refused with a message on the status line; nothing changes.
#[test]
fn a_read_only_console_refuses_levers_with_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let Some(t) = Tmux::start("readonly", 160, 45, &console_command(&data, "--read-only")) else {
        return;
    };
    t.wait_for("the console", 30, |s| {
        s.contains("Dead-letter queue") && s.contains("READ-ONLY")
    });
    for (key, lever) in [(" ", "pause"), ("+", "concurrency"), ("b", "reset breaker")] {
        t.keys(&[key]);
        let s = t.wait_for(&format!("{lever} refused"), 10, |s| {
            s.contains("read-only session") && s.contains(lever)
        });
        assert!(s.contains("is disabled"), "{s}");
    }
    // Nothing changed: consuming as before (nothing to consume: caught up),
    // not paused.
    let s = t.screen();
    assert!(
        s.contains(" CAUGHT UP ") && !s.contains(" PAUSED "),
        "still consuming: {s}"
    );
    t.keys(&["q"]);
    t.wait_for("a clean exit", 20, |s| s.contains("ARCHON-EXIT=0"));
    let trail = run(&data, &["audit", "--json"]).json();
    assert_eq!(
        trail
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["origin"] == "console"
                && e["result"]
                    .as_str()
                    .unwrap()
                    .starts_with("refused: read-only"))
            .count(),
        3,
        "{trail}"
    );
}

/// DLQ triage in a real terminal: the trace timeline of an entry, an edit
/// refused by the schema and then a valid one replayed, the grouped view and
/// a group redrive with its progress gauge.
#[test]
fn dlq_trace_edit_and_group_redrive_in_the_console() {
    let tmp = tempfile::tempdir().unwrap();
    corpus(tmp.path(), 40);
    let data = tmp.path().join("data");
    // All 40 parked first (every call fails, one attempt each).
    let j = common::park_all(&data, &tmp.path().join("src"), &[]);
    assert_eq!(n(&j, "dlq"), 40, "{j}");
    // The console enriches what comes back (no failures injected now).
    let Some(t) = Tmux::start("triage", 200, 60, &console_command(&data, "")) else {
        return;
    };
    t.wait_for("the DLQ", 30, |s| {
        s.contains("Dead-letter queue 40 entries")
    });
    t.keys(&["/"]);
    t.keys(&["Escape"]);

    // t: the selected entry's history.
    t.keys(&["t"]);
    t.wait_for("the trace timeline", 20, |s| {
        s.contains("Trace of") && s.contains("request") && s.contains("InjectedFailure")
    });
    t.keys(&["Escape"]);
    t.wait_for("trace closed", 5, |s| !s.contains("Trace of"));

    // e: a refused edit says why and sends nothing; a valid one shows the
    // diff and is replayed.
    t.keys(&["e"]);
    let s = t.wait_for("the editor", 5, |s| s.contains("Edit DLQ entry"));
    assert!(s.contains("project_name="), "{s}");
    for _ in 0..200 {
        t.keys(&["BSpace"]);
    }
    t.literal("enrichment_type=everything");
    t.keys(&["Enter"]);
    t.wait_for("the schema error", 10, |s| s.contains("fails the schema"));
    assert_eq!(n(&status(&data)["counts"], "dlq"), 40, "nothing sent");
    for _ in 0..10 {
        t.keys(&["BSpace"]);
    }
    t.literal("quality_only");
    t.keys(&["Enter"]);
    t.wait_for("the diff", 10, |s| {
        s.contains("Edit and replay") && s.contains("+ quality_only") && s.contains("- full")
    });
    t.keys(&["Enter"]);
    wait_status(&data, "the edited entry to complete", |s| {
        n(&s["counts"], "dlq") == 39 && n(&s["counts"], "completed") == 1
    });

    // v: grouped by fingerprint; R on the group: preview, then a redrive
    // job whose gauge shows its progress.
    t.keys(&["v"]);
    t.wait_for("the grouped view", 10, |s| {
        s.contains("entries in 1 group ")
    });
    t.keys(&["R"]);
    t.wait_for("the replay preview", 10, |s| {
        s.contains("Replay 39 DLQ entries")
    });
    t.keys(&["Enter"]);
    t.wait_for("the redrive gauge", 15, |s| {
        s.contains("redrive r") && s.contains("/39")
    });
    wait_status(&data, "the redrive to complete", |s| {
        n(&s["counts"], "dlq") == 0 && n(&s["counts"], "completed") == 40
    });
    t.wait_for("the finished job", 10, |s| s.contains("done 39/39"));
    // A finished job takes no lever; the palette says so.
    t.keys(&[":"]);
    t.literal("job pause");
    t.keys(&["Enter"]);
    t.wait_for("no running job", 5, |s| {
        s.contains("no redrive job is running")
    });

    // :history: the samples this console kept in the data dir.
    t.keys(&[":"]);
    t.literal("history 1h");
    t.keys(&["Enter"]);
    t.wait_for("the history overlay", 10, |s| {
        s.contains("History, last 1h")
            && s.contains("docs/s: now")
            && s.contains("circuit breaker:")
    });
    t.keys(&["Escape"]);

    // :seek earliest: the before → after preview, a typed confirmation
    // (a wrong group id sends nothing), then every request is consumed
    // again — skipped, as already enriched.
    t.keys(&[":"]);
    t.literal("seek earliest");
    t.keys(&["Enter"]);
    let s = t.wait_for("the reset preview", 10, |s| {
        s.contains("Reset consumer group offsets") && s.contains("new lag")
    });
    assert!(s.contains("1 member(s) leave the group"), "{s}");
    t.literal("wrong-group");
    t.keys(&["Enter"]);
    t.wait_for("the refusal", 5, |s| s.contains("exactly"));
    for _ in 0..11 {
        t.keys(&["BSpace"]);
    }
    t.literal("archon-intelligence-enrichment-consumer-group");
    t.keys(&["Enter"]);
    t.wait_for("the reset's result", 70, |s| {
        s.contains("moved archon-intelligence-enrichment-consumer-group to earliest")
    });
    let after = wait_status(&data, "the redelivered requests consumed", |s| {
        n(&s["lag"], "total") == 0
    });
    assert_eq!(n(&after["counts"], "completed"), 40, "{after}");
    assert_eq!(n(&after["counts"], "dlq"), 0, "{after}");
    t.keys(&["q"]);
    t.wait_for("a clean exit", 15, |s| s.contains("ARCHON-EXIT=0"));
}

/// `--watch`: the header names the watched tree, and a file edited in it
/// shows up in the log as enriched, with how long it took.
#[test]
fn a_file_edited_in_a_watched_tree_shows_up_as_enriched() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("watched");
    std::fs::create_dir_all(tree.join("src")).unwrap();
    for i in 0..3 {
        std::fs::write(
            tree.join(format!("src/f{i}.rs")),
            format!("fn f{i}() {{}}\n"),
        )
        .unwrap();
    }
    let data = tmp.path().join("data");
    let extra = format!("--watch {} --project w", tree.display());
    let Some(t) = Tmux::start("watch", 160, 48, &console_command(&data, &extra)) else {
        return;
    };
    t.wait_for("the header naming the watch", 30, |s| {
        s.contains("watch") && s.contains("/watched")
    });
    t.wait_for("the first mirror", 30, |s| {
        s.contains("watching") && s.contains("as w:")
    });
    std::fs::write(tree.join("src/f1.rs"), "fn f1() { edited() }\n").unwrap();
    let s = t.wait_for("the edit enriched", 30, |s| {
        s.contains("enriched after a change: src/f1.rs")
    });
    assert!(s.contains("1 changed, 1 indexed"), "{s}");
    t.keys(&["q"]);
    let s = t.wait_for("the exit", 30, |s| s.contains("ARCHON-EXIT="));
    assert!(s.contains("ARCHON-EXIT=0"), "{s}");
}

/// `:doctor` in the console: the check through the engine's own adapters,
/// as an overlay that closes with esc.
#[test]
fn doctor_from_the_palette() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let Some(t) = Tmux::start("doctor", 160, 45, &console_command(&data, "")) else {
        return;
    };
    t.wait_for("the console", 30, |s| s.contains("Dead-letter queue"));
    t.keys(&[":", "doctor", "Enter"]);
    let s = t.wait_for("the doctor overlay", 20, |s| {
        s.contains("Doctor:") && s.contains("embedded broker")
    });
    assert!(s.contains("is writable") && s.contains("0 failures"), "{s}");
    t.keys(&["Escape"]);
    t.wait_for("the overlay closed", 10, |s| !s.contains("Doctor:"));
    t.keys(&["q"]);
    t.wait_for("a clean exit", 20, |s| s.contains("ARCHON-EXIT=0"));
}

/// A size-limited tmpfs holding a data dir; unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// None (with a loud skip) where mounting is not allowed (not root).
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs(at.to_path_buf())),
            Ok(o) => {
                common::skip(&format!(
                    "cannot mount a tmpfs (needs root): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
                None
            }
            Err(e) => {
                common::skip(&format!("cannot run mount: {e}"));
                None
            }
        }
    }

    /// Write zeros until the file system refuses: the bytes written.
    fn fill(&self, file: &Path) -> u64 {
        use std::io::Write;
        let mut f = std::fs::File::create(file).unwrap();
        let chunk = vec![0u8; 64 << 10];
        let mut n = 0u64;
        while let Ok(k) = f.write(&chunk) {
            if k == 0 {
                break;
            }
            n += k as u64;
        }
        f.sync_all().ok();
        n
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        Command::new("umount").arg("-l").arg(&self.0).status().ok();
    }
}

/// Issue 31 item 5: the disk under the data dir fills mid-drain. The engine
/// holds with the reason in the console's header and in `/health`, fetches
/// nothing new, answers a POST with 503, resumes by itself when space
/// returns, and every document ends completed exactly once.
#[test]
fn a_full_disk_mid_drain_holds_with_its_reason_and_resumes_when_space_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&tmp.path().join("mnt"), "24m") else {
        return;
    };
    corpus(tmp.path(), 1500);
    let data = fs.0.join("data");
    let port = common::service::free_port();
    // 100 a second: the drain lasts ~15 s, long enough to fill the disk in.
    let extra = format!(
        "--listen 127.0.0.1:{port} --ingest {} --inject-latency-ms 20 --concurrency 4 --max-processing-rate 100",
        tmp.path().join("src").display()
    );
    let Some(t) = Tmux::start("diskfull", 200, 50, &console_command(&data, &extra)) else {
        return;
    };
    let base = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = reqwest::Client::new();
    let health = |pred: &dyn Fn(&serde_json::Value) -> bool, what: &str, secs: u64| {
        rt.block_on(async {
            let deadline = Instant::now() + Duration::from_secs(secs);
            loop {
                let h: serde_json::Value = match c.get(format!("{base}/health")).send().await {
                    Ok(r) => r.json().await.unwrap_or_default(),
                    Err(_) => serde_json::Value::Null,
                };
                if pred(&h) {
                    return h;
                }
                assert!(
                    Instant::now() < deadline,
                    "timed out waiting for {what}: {h}\nscreen:\n{}",
                    t.screen()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let completed = |h: &serde_json::Value| h["documents"]["completed"].as_u64().unwrap_or(0);
    health(&|h| completed(h) >= 200, "200 completed", 60);

    let filled = fs.fill(&fs.0.join("filler"));
    eprintln!(
        "filled the last {} KiB of the data dir's disk",
        filled >> 10
    );
    let h = health(
        &|h| h["consumer"]["state"] == "disk_full",
        "the disk-full hold in /health",
        30,
    );
    assert_eq!(h["status"], "degraded", "{h}");
    let reason = h["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .find(|r| r.starts_with("disk full under"))
        .unwrap_or_else(|| panic!("no disk-full reason: {h}"))
        .to_string();
    assert!(reason.contains(data.to_str().unwrap()), "{reason}");
    let screen = t.wait_for("the hold in the header", 10, |s| {
        s.lines()
            .next()
            .is_some_and(|l| l.contains("HELD (disk full)"))
            && s.contains("disk full under")
    });
    assert!(
        screen.contains("resumes by itself when space returns"),
        "the Lag note says what lifts it:\n{screen}"
    );
    // Held: nothing is recorded while the disk is full.
    let before = completed(&h);
    std::thread::sleep(Duration::from_secs(3));
    let still = health(&|_| true, "health", 5);
    assert_eq!(completed(&still), before, "nothing recorded on a full disk");
    assert_eq!(still["consumer"]["state"], "disk_full", "{still}");
    // A document POSTed now is refused (the caller keeps it), not dropped.
    let token = std::fs::read_to_string(data.join("control-token")).unwrap();
    let refused = rt.block_on(async {
        c.post(format!("{base}/api/bridge/document"))
            .bearer_auth(token.trim())
            .json(&serde_json::json!({
                "document_id": "posted-on-a-full-disk",
                "project_id": "p",
                "title": "a.py",
                "full_text": "print(1)",
                "source_path": "a.py",
                "document_type": "code",
                "metadata": {}
            }))
            .send()
            .await
            .unwrap()
    });
    assert_eq!(refused.status(), 503, "a POST on a full disk");

    std::fs::remove_file(fs.0.join("filler")).unwrap();
    let freed = Instant::now();
    let h = health(
        &|h| h["consumer"]["state"] != "disk_full",
        "the hold lifted",
        30,
    );
    eprintln!(
        "space returned: the hold lifted {} ms later ({})",
        freed.elapsed().as_millis(),
        h["consumer"]["state"]
    );
    let h = health(
        &|h| h["consumer"]["state"] == "caught_up" && completed(h) == 1500,
        "every document completed",
        90,
    );
    assert_eq!(h["documents"]["dlq"], 0, "{h}");
    assert_eq!(h["documents"]["pending"], 0, "{h}");
    t.wait_for("the header back to CAUGHT UP", 10, |s| {
        s.lines().next().is_some_and(|l| l.contains("CAUGHT UP"))
    });
    t.keys(&["q"]);
    t.wait_for("a clean exit", 30, |s| s.contains("ARCHON-EXIT=0"));
    let db = common::sqlite(&data);
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM documents WHERE enrichment_status = 'completed'"
        ),
        1500
    );
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM documents WHERE enrichment_applied <> 1"
        ),
        0,
        "each applied exactly once"
    );
}

/// Issue 32: `w` in the console answers "why is it lagging?" live: a
/// member capped by its rate limit is named first, with the lever.
#[test]
fn w_says_why_it_is_lagging() {
    let tmp = tempfile::tempdir().unwrap();
    corpus(tmp.path(), 2000);
    let data = tmp.path().join("data");
    let extra = format!(
        "--ingest {} --max-processing-rate 30",
        tmp.path().join("src").display()
    );
    let Some(t) = Tmux::start("why", 160, 45, &console_command(&data, &extra)) else {
        return;
    };
    t.wait_for("the drain", 60, |s| s.contains("DRAINING"));
    t.keys(&["w"]);
    let s = t.wait_for("the rate limit named first", 30, |s| {
        s.contains("Why is it lagging?") && s.contains("1. rate limit")
    });
    assert!(s.contains("caps the fleet at 30/s"), "{s}");
    assert!(s.contains("fix: archon-tui rate"), "{s}");
    t.keys(&["Escape"]);
    t.wait_for("the overlay closed", 10, |s| {
        !s.contains("Why is it lagging?")
    });
    t.keys(&["q"]);
    t.wait_for("a clean exit", 30, |s| s.contains("ARCHON-EXIT=0"));
}

/// Issue 32 item 2: a DLQ filter and layout saved with `:view save NAME`
/// is listed by `archon-tui views` and reopened by `--view NAME`.
#[test]
fn a_saved_view_reopens_with_its_filter_and_layout() {
    let tmp = tempfile::tempdir().unwrap();
    corpus(tmp.path(), 200);
    let data = tmp.path().join("data");
    let config = tmp.path().join("config");
    let console = |extra: &str| {
        format!(
            "env -u ARCHON_CONFIG -u ARCHON_DATA_DIR XDG_CONFIG_HOME={} {} --data-dir {} {extra}; \
             echo ARCHON-EXIT=$?; sleep 60",
            config.display(),
            env!("CARGO_BIN_EXE_archon-tui"),
            data.display()
        )
    };
    let extra = format!(
        "--ingest {} --inject-failure-rate 0.3 --retry-max-attempts 1 --breaker-failure-threshold 1000",
        tmp.path().join("src").display()
    );
    let Some(t) = Tmux::start("views", 160, 45, &console(&extra)) else {
        return;
    };
    t.wait_for("the console", 30, |s| s.contains("Dead-letter queue"));
    let s = wait_status(&data, "the ingest to drain", |s| {
        n(&s["counts"], "completed") + n(&s["counts"], "dlq") == 200 && n(&s["lag"], "total") == 0
    });
    let dlq = n(&s["counts"], "dlq");
    assert!(dlq > 10, "{s}");
    t.wait_for("the DLQ count", 10, |s| {
        s.contains(&format!("Dead-letter queue {dlq} entries"))
    });
    t.keys(&["/"]);
    t.literal("type:InjectedFailure");
    t.keys(&["Enter"]);
    t.wait_for("the filter", 5, |s| s.contains(&format!("{dlq} of {dlq}")));
    t.keys(&[":"]);
    t.literal("view save failures");
    t.keys(&["Enter"]);
    t.wait_for("saved", 5, |s| s.contains("view failures saved"));
    t.keys(&["q"]);
    t.wait_for("a clean exit", 30, |s| s.contains("ARCHON-EXIT=0"));
    drop(t);

    let listed = Command::new(env!("CARGO_BIN_EXE_archon-tui"))
        .args(["views", "--json"])
        .env("XDG_CONFIG_HOME", &config)
        .output()
        .unwrap();
    let views: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(
        views["failures"]["dlq_filter"], "type:InjectedFailure",
        "{views}"
    );
    assert_eq!(views["failures"]["focus"], "DLQ", "{views}");

    // Reopened on the view's panel and filter.
    let Some(t) = Tmux::start("views2", 160, 45, &console("--view failures")) else {
        return;
    };
    t.wait_for("the view's filter applied", 30, |s| {
        s.contains(&format!("{dlq} of {dlq}")) && s.contains("type:InjectedFailure")
    });
    t.keys(&[":"]);
    t.literal("view nope");
    t.keys(&["Enter"]);
    t.wait_for("an unknown view named with the known ones", 5, |s| {
        s.contains("no view \"nope\"; saved views: failures")
    });
    t.keys(&["q"]);
    t.wait_for("a clean exit", 30, |s| s.contains("ARCHON-EXIT=0"));
    // An unknown --view is refused before the screen opens.
    let refused = Command::new(env!("CARGO_BIN_EXE_archon-tui"))
        .args(["--view", "nope", "--data-dir"])
        .arg(&data)
        .env("XDG_CONFIG_HOME", &config)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--view: no view"));
}
