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

/// (file relative to src/, its text without comment lines)
fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    rust_files(&src)
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let code: Vec<&str> = text
                .lines()
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
    // cli → tui, serve, runtime → engine → backends (docs/design.md).
    let cases: &[(&[&str], &[&str])] = &[
        (&["tui/"], &["crate::cli"]),
        (&["serve/", "runtime/"], &["crate::cli", "crate::tui"]),
        (
            &["engine/"],
            &["crate::cli", "crate::tui", "crate::serve", "crate::runtime"],
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

/// Backends that still import engine types (issue 27 item 3: the ports
/// are to move out of `engine` so adapters depend on them alone). The list
/// may only shrink: a new adapter importing the engine fails here.
#[test]
fn backends_importing_the_engine_do_not_grow() {
    const KNOWN: &[&str] = &[
        "backends/control/kafka.rs",
        "backends/control/sqlite.rs",
        "backends/intelligence/analyzer.rs",
        "backends/mod.rs",
        "backends/vector/embedding.rs",
    ];
    let bad: Vec<String> = offenders(&["backends/"], &["crate::engine"])
        .into_iter()
        .filter(|f| !KNOWN.contains(&f.as_str()))
        .collect();
    assert!(bad.is_empty(), "backends importing crate::engine: {bad:?}");
}
