//! What the subcommands print: progress bars on a terminal's stderr, JSON
//! or human text on stdout.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

/// A progress bar on stderr when it is a terminal (None otherwise).
pub(crate) fn bar(len: Option<u64>, msg: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}] {wide_bar} {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    Some(pb)
}

/// JSON on stdout, or the human rendering.
pub(crate) fn print_json_or(v: &Value, as_json: bool, human: impl FnOnce()) {
    if as_json {
        println!("{v}");
    } else {
        human();
    }
}
