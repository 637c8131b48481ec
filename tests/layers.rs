//! The layers of docs/design.md, checked on the source: no import from a
//! higher layer into a lower one, adapter crates only in their adapters, UI
//! crates only in the console, and no `block_on` below the two process
//! entry points. Reads the files; needs no server.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// (file relative to src/, its code: no comment lines, nothing from the
/// first `#[cfg(test)]` on, where a file's unit tests are)
fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    rust_files(&src)
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let code: Vec<&str> = text
                .lines()
                .take_while(|l| l.trim() != "#[cfg(test)]")
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            (
                p.strip_prefix(&src)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/"),
                code.join("\n"),
            )
        })
        .collect()
}

/// Files under `dirs` that mention any of `needles`.
fn offenders(dirs: &[&str], needles: &[&str]) -> Vec<String> {
    sources()
        .into_iter()
        .filter(|(f, _)| dirs.iter().any(|d| f.starts_with(d)))
        .filter(|(_, code)| needles.iter().any(|n| code.contains(n)))
        .map(|(f, _)| f)
        .collect()
}

#[test]
fn no_layer_imports_one_above_it() {
    // cli → tui, serve → runtime → engine | backends → settings → ports
    // (docs/design.md); model, events and the other root files are data.
    const ALL_ABOVE_PORTS: &[&str] = &[
        "crate::cli",
        "crate::tui",
        "crate::serve",
        "crate::runtime",
        "crate::engine",
        "crate::backends",
        "crate::config",
        "crate::settings",
    ];
    let cases: &[(&[&str], &[&str])] = &[
        (&["ports/"], ALL_ABOVE_PORTS),
        (&["settings/"], &ALL_ABOVE_PORTS[..7]),
        (&["tui/"], &["crate::cli"]),
        (&["serve/", "runtime/"], &["crate::cli", "crate::tui"]),
        (
            &["engine/"],
            &[
                "crate::cli",
                "crate::tui",
                "crate::serve",
                "crate::runtime",
                "crate::backends",
                "crate::config",
            ],
        ),
        (
            &["backends/"],
            &["crate::cli", "crate::tui", "crate::serve", "crate::runtime"],
        ),
    ];
    for (dirs, above) in cases {
        let bad = offenders(dirs, above);
        assert!(bad.is_empty(), "{dirs:?} import from {above:?}: {bad:?}");
    }
}

#[test]
fn adapter_and_ui_crates_stay_in_their_folders() {
    let everywhere_but = |own: &[&str]| -> Vec<&'static str> {
        let all: &[&'static str] = &[
            "engine/",
            "backends/",
            "serve/",
            "runtime/",
            "tui/",
            "cli/",
            "model.rs",
            "events.rs",
            "config.rs",
        ];
        all.iter()
            .copied()
            .filter(|d| !own.iter().any(|o| d.starts_with(o)))
            .collect()
    };
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["backends/"],
            &["rdkafka::", "neo4rs::", "qdrant_client::"],
        ),
        (&["tui/"], &["ratatui::", "crossterm::", "tui_logger::"]),
        (&["serve/"], &["axum::"]),
    ];
    for (own, crates) in cases {
        let bad = offenders(&everywhere_but(own), crates);
        assert!(bad.is_empty(), "{crates:?} outside {own:?}: {bad:?}");
    }
}

#[test]
fn nothing_below_the_entry_points_blocks_on_a_future() {
    let bad: Vec<String> = sources()
        .into_iter()
        .filter(|(f, _)| f != "main.rs" && !f.starts_with("bin/"))
        .filter(|(_, code)| code.contains("block_on("))
        .map(|(f, _)| f)
        .collect();
    assert!(bad.is_empty(), "block_on below the entry points: {bad:?}");
}

/// Adapters that still import the engine: the one that builds them from
/// the engine's configuration (issue 27 item 2 moves the settings apart
/// from `EngineConfig`). The list may only shrink.
#[test]
fn backends_importing_the_engine_do_not_grow() {
    const KNOWN: &[&str] = &["backends/mod.rs"];
    let bad: Vec<String> = offenders(&["backends/"], &["crate::engine"])
        .into_iter()
        .filter(|f| !KNOWN.contains(&f.as_str()))
        .collect();
    assert!(bad.is_empty(), "backends importing crate::engine: {bad:?}");
}
