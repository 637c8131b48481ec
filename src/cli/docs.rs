//! Shell completions (clap_complete) and man pages (clap_mangen), both
//! generated from the same clap definition the binary parses with, so they
//! never drift from the flags.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

const NAME: &str = "archon-tui";

/// The completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<i32> {
    let mut cmd = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, NAME, &mut script);
    let mut script = String::from_utf8(script).context("completion script")?;
    if shell == clap_complete::Shell::Bash {
        // clap_complete 4.6 spells a hyphenated bin name two ways in bash
        // (the loop's `archon__tui__subcmd__serve`, the case arms'
        // `archon__subcmd__tui__subcmd__serve`), so nothing after a
        // subcommand completed: clap-rs/clap#6421, #6529 (open). Spell the
        // arms as the loop does.
        script = script.replace("archon__subcmd__tui", "archon__tui");
    }
    let mut out = std::io::stdout().lock();
    out.write_all(script.as_bytes())?;
    out.flush().ok();
    Ok(0)
}

/// The top page on stdout, or every page (one per subcommand) into `dir`.
pub fn man(dir: Option<&Path>) -> Result<i32> {
    let cmd = super::Cli::command().name(NAME);
    match dir {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            out.flush().ok();
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("cannot write the man pages under {}", dir.display()))?;
            let n = std::fs::read_dir(dir)?
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "1"))
                .count();
            eprintln!("wrote {n} man pages under {}", dir.display());
        }
    }
    Ok(0)
}
