//! Walks a source tree (respecting .gitignore) and classifies each file.

use std::path::{Path, PathBuf};

use crate::events::DocumentType;

/// Files above this size are indexed with a reason and not enriched.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 5 * 1024 * 1024;

pub fn walk(root: &Path) -> impl Iterator<Item = Result<PathBuf, ignore::Error>> {
    ignore::WalkBuilder::new(root)
        .hidden(true)
        .git_ignore(true)
        .git_exclude(true)
        .require_git(false)
        .sort_by_file_path(|a, b| a.cmp(b))
        .build()
        .filter_map(|entry| match entry {
            Ok(e) if e.file_type().is_some_and(|t| t.is_file()) => Some(Ok(e.into_path())),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
}

/// Binary if a NUL byte appears early (git's heuristic).
pub fn looks_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(8000)].contains(&0)
}

pub fn language_of(path: &str) -> Option<&'static str> {
    let ext = Path::new(path).extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "rs" => "rust",
        "py" | "pyi" => "python",
        "ts" | "mts" | "cts" => "typescript",
        "tsx" => "typescript",
        "js" | "mjs" | "cjs" | "jsx" => "javascript",
        "go" => "go",
        "java" => "java",
        "kt" | "kts" => "kotlin",
        "c" | "h" => "c",
        "cc" | "cpp" | "cxx" | "hpp" | "hh" => "cpp",
        "cs" => "csharp",
        "rb" => "ruby",
        "php" => "php",
        "swift" => "swift",
        "scala" => "scala",
        "sh" | "bash" | "zsh" => "shell",
        "sql" => "sql",
        "lua" => "lua",
        "md" | "markdown" => "markdown",
        "toml" => "toml",
        "yaml" | "yml" => "yaml",
        "json" => "json",
        _ => return None,
    })
}

pub fn document_type_of(path: &str) -> DocumentType {
    let lower = path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    let in_test_dir = lower
        .split('/')
        .any(|seg| matches!(seg, "test" | "tests" | "__tests__" | "spec" | "testdata"));
    let test_name = name.starts_with("test_")
        || name.contains("_test.")
        || name.contains(".test.")
        || name.contains(".spec.")
        || name.ends_with("_spec.rb");
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let is_code = matches!(
        language_of(path),
        Some(l) if !matches!(l, "markdown" | "toml" | "yaml" | "json")
    );
    if (in_test_dir || test_name) && is_code {
        return DocumentType::Test;
    }
    if is_code {
        return DocumentType::Code;
    }
    if matches!(ext, "md" | "markdown" | "rst" | "txt" | "adoc" | "org")
        || ["readme", "license", "changelog", "contributing", "authors"]
            .iter()
            .any(|p| name.starts_with(p))
    {
        return DocumentType::Documentation;
    }
    if matches!(
        ext,
        "toml"
            | "yaml"
            | "yml"
            | "json"
            | "ini"
            | "cfg"
            | "conf"
            | "env"
            | "xml"
            | "properties"
            | "lock"
    ) || matches!(
        name,
        "dockerfile" | "makefile" | ".gitignore" | ".editorconfig"
    ) {
        return DocumentType::Configuration;
    }
    DocumentType::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        use DocumentType::*;
        for (p, t) in [
            ("src/main.rs", Code),
            ("tests/flow.rs", Test),
            ("pkg/server_test.go", Test),
            ("web/app.spec.ts", Test),
            ("test_api.py", Test),
            ("README.md", Documentation),
            ("docs/guide.rst", Documentation),
            ("Cargo.toml", Configuration),
            ("deploy/values.yaml", Configuration),
            ("Dockerfile", Configuration),
            ("assets/logo.svg", Other),
            ("tests/fixtures/data.json", Configuration),
        ] {
            assert_eq!(document_type_of(p), t, "{p}");
        }
        assert_eq!(language_of("a/b.tsx"), Some("typescript"));
        assert_eq!(language_of("Makefile"), None);
    }

    #[test]
    fn walk_respects_gitignore_and_skips_hidden() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".gitignore"), "target/\n*.log\n").unwrap();
        std::fs::create_dir_all(dir.path().join("target")).unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("target/x.rs"), "x").unwrap();
        std::fs::write(dir.path().join("a.log"), "x").unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), "x").unwrap();
        let files: Vec<_> = walk(dir.path()).map(|p| p.unwrap()).collect();
        assert_eq!(files, vec![dir.path().join("src/lib.rs")]);
        assert!(looks_binary(b"ab\0cd"));
        assert!(!looks_binary("héllo".as_bytes()));
    }
}
