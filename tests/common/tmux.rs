//! A real terminal for the console tests: tmux runs the binary,
//! `send-keys` types, `capture-pane` reads the screen.

use std::process::Command;
use std::time::{Duration, Instant};

/// One tmux server per test (its own socket), killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(name: &str, width: u16, height: u16, command: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            if std::env::var_os("CI").is_some() {
                panic!("tmux is not installed; scripts/test.sh installs it with apt-get");
            }
            super::skip(&format!(
                "{name}: tmux is not installed (scripts/test.sh installs it)"
            ));
            return None;
        }
        let t = Tmux {
            socket: format!("archon-test-{name}-{}", std::process::id()),
        };
        let ok = t
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .args(["-e", "TERM=xterm-256color"])
            .arg(command)
            .status()
            .expect("run tmux");
        assert!(ok.success(), "tmux new-session failed");
        Some(t)
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    pub fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            let ok = self
                .cmd()
                .args(["send-keys", "-t", "t", k])
                .status()
                .expect("send-keys");
            assert!(ok.success());
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    pub fn literal(&self, text: &str) {
        let ok = self
            .cmd()
            .args(["send-keys", "-t", "t", "-l", text])
            .status()
            .expect("send-keys");
        assert!(ok.success());
    }

    pub fn display(&self, format: &str) -> String {
        let out = self
            .cmd()
            .args(["display", "-p", "-t", "t", format])
            .output()
            .expect("display");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Wait until the screen satisfies `pred`; the screen on timeout.
    ///
    /// A capture can land while the console is still painting a frame (the
    /// top of a new dialog drawn, its bottom not yet), so the screen returned
    /// is a second capture taken a moment later when it still matches: the
    /// caller's further asserts then read a whole frame.
    pub fn wait_for(&self, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if pred(&s) {
                std::thread::sleep(Duration::from_millis(150));
                let settled = self.screen();
                return if pred(&settled) { settled } else { s };
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.cmd().arg("kill-server").status().ok();
    }
}
