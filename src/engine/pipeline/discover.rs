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

/// How much of a file's start the binary check looks at (git looks at 8000 bytes).
pub const SNIFF_BYTES: usize = 8000;

/// Signatures of common binary formats that can start without a NUL byte.
const BINARY_MAGIC: &[&[u8]] = &[
    b"%PDF-",
    b"GIF87a",
    b"GIF89a",
    b"\x89PNG",
    b"\xff\xd8\xff", // JPEG
    b"PK\x03\x04",   // zip, jar, docx
    b"\x1f\x8b",     // gzip
    b"\x7fELF",
    b"BZh",
    b"\xfd7zXZ\0",       // xz
    b"\x28\xb5\x2f\xfd", // zstd
];

/// Binary by content, judged from the file's first bytes: a NUL byte (git's
/// and ripgrep's rule), a known binary signature that is not valid text
/// (`%PDF-` followed by raw bytes; DER certificates start 0x30 0x82, which no
/// UTF-8 text can), or — for samples that are not UTF-8 — more than one byte in
/// three that is neither printable nor part of a character, which separates
/// compressed or encoded data (about 60 %) from Latin-1 text (a few %).
pub fn looks_binary(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(SNIFF_BYTES)];
    if sample.contains(&0) {
        return true;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => return false,
        // A character cut by the sample's end is still text.
        Err(e) if e.error_len().is_none() => return false,
        Err(_) => {}
    }
    if BINARY_MAGIC.iter().any(|m| sample.starts_with(m)) || sample.starts_with(b"\x30\x82") {
        return true;
    }
    non_text_share(sample) > 0.30
}

/// Share of bytes that are control characters (other than whitespace and
/// ESC/backspace seen in terminal logs) or not part of a valid UTF-8 character.
fn non_text_share(sample: &[u8]) -> f64 {
    let mut odd = 0usize;
    for chunk in sample.utf8_chunks() {
        odd += chunk.invalid().len();
        odd += chunk
            .valid()
            .bytes()
            .filter(|b| {
                b.is_ascii_control() && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b | 0x08)
            })
            .count();
    }
    odd as f64 / sample.len().max(1) as f64
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
    }

    #[test]
    fn binary_by_content() {
        assert!(looks_binary(b"ab\0cd"));
        assert!(!looks_binary("héllo".as_bytes()));
        assert!(!looks_binary(b""));
        // Latin-1 text with a few accents is text (it is parked as EncodingError).
        assert!(!looks_binary(b"caf\xe9 au lait, cr\xe8me br\xfbl\xe9e\n"));
        // A PDF whose header is followed by raw bytes, with no NUL early on.
        let mut pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n".to_vec();
        pdf.extend((1..=255u8).cycle().take(4000));
        assert!(looks_binary(&pdf));
        // A GIF whose size fields happen to have no zero byte.
        assert!(looks_binary(b"GIF89a\x10\x01\x10\x01\xf7\x80\x81\x82"));
        // A DER certificate: SEQUENCE, two-byte length.
        assert!(looks_binary(
            b"\x30\x82\x03\x5a\x30\x82\x02\x42\xa0\x03\x02\x01\x02"
        ));
        // Compressed-looking bytes without a signature or a NUL.
        let noise: Vec<u8> = (0..6000u32).map(|i| (i * 151 % 255 + 1) as u8).collect();
        assert!(looks_binary(&noise));
        // A UTF-8 character cut by the sample's end is not a reason.
        let mut long = "é".repeat(SNIFF_BYTES / 2).into_bytes();
        long.insert(0, b'x');
        assert!(!looks_binary(&long));
        // Text that merely starts like a signature is text ("PK" notes, "BZh…").
        assert!(!looks_binary(b"BZh is how bzip2 files start\n"));
    }
}
