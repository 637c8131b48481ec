//! Error fingerprints: DLQ entries that failed the same way share one, so a
//! thousand timeouts are one line to triage, not a thousand. The reason is
//! normalised — ids, hashes, numbers, paths, quoted values and addresses
//! masked — and hashed with the error type into a short id (`fp:3fa9c01e`).

use std::sync::LazyLock;

use regex::Regex;

/// What is masked, in one pass: the alternatives are tried left to right at
/// each position, so a UUID is not first cut into numbers.
static MASKS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)"#,
        r#"|(?P<url>\b[a-z][a-z0-9+.-]*://\S+)"#,
        r#"|(?P<path>(?:\.{0,2}/|\b[A-Za-z]:\\)[^\s:,;'"()\[\]{}]+|\b[\w.-]+/[^\s:,;'"()\[\]{}]+)"#,
        r#"|(?P<quoted>"[^"]*"|'[^']*')"#,
        r#"|(?P<ip>\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b)"#,
        r#"|(?P<hex>\b(?:0x)?[0-9a-fA-F]*[0-9][0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b|\b[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*[0-9][0-9a-fA-F]*\b)"#,
        // Names with a number in them stay (UTF-8, ISO-8859-1, HTTP/2 aside).
        r#"|(?P<word>\b[A-Za-z]+(?:-\d+)+\b)"#,
        r#"|(?P<num>\b\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b)"#,
    ))
    .expect("the fingerprint masks compile")
});

/// A reason with its variable parts masked (`<uuid>`, `<url>`, `<path>`,
/// `<str>`, `<ip>`, `<hex>`, `<n>`), whitespace collapsed, cut to 200 chars.
pub fn pattern(reason: &str) -> String {
    let masked = MASKS.replace_all(reason, |c: &regex::Captures<'_>| {
        let kind = ["uuid", "url", "path", "quoted", "ip", "hex", "word", "num"]
            .into_iter()
            .find(|k| c.name(k).is_some())
            .unwrap_or("num");
        match kind {
            // A short hex-looking word ("dead", "cafe", "a1") is a word.
            "hex" if c[0].len() < 8 => c[0].to_string(),
            "word" => c[0].to_string(),
            "quoted" => "<str>".to_string(),
            "num" => "<n>".to_string(),
            k => format!("<{k}>"),
        }
    });
    let mut out = String::with_capacity(masked.len());
    for word in masked.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() >= 200 {
            break;
        }
    }
    match out.char_indices().nth(200) {
        Some((i, _)) => out[..i].to_string(),
        None => out,
    }
}

/// The short id of (error type, pattern): 8 hex digits of BLAKE3.
pub fn id_of(error_type: &str, pattern: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(error_type.as_bytes());
    h.update(&[0]);
    h.update(pattern.as_bytes());
    h.finalize().to_hex()[..8].to_string()
}

/// The fingerprint id of an entry's error type and reason.
pub fn of(error_type: &str, reason: &str) -> String {
    id_of(error_type, &pattern(reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_parts_are_masked() {
        assert_eq!(
            pattern("TimeoutError: no answer from http://intel:8053/process/document after 60.0 s"),
            "TimeoutError: no answer from <url> after <n> s"
        );
        assert_eq!(
            pattern("document 7ed2f3c4-dac9-5322-a59d-03c601afb529 not found in project 'web'"),
            "document <uuid> not found in project <str>"
        );
        assert_eq!(
            pattern("content is not UTF-8 (invalid byte at offset 3) in src/pkg01/mod02/a.rs"),
            "content is not UTF-8 (invalid byte at offset <n>) in <path>"
        );
        assert_eq!(
            pattern("hash mismatch: 9f86d081884c7d659a2feaa0c55ad015 vs deadbeef00"),
            "hash mismatch: <hex> vs <hex>"
        );
        assert_eq!(pattern("refused by 10.0.0.7:8053"), "refused by <ip>");
        assert_eq!(pattern("  spaces\t\tcollapse \n"), "spaces collapse");
        assert_eq!(pattern("a dead cafe stays"), "a dead cafe stays");
    }

    #[test]
    fn the_same_failure_shares_an_id_and_others_do_not() {
        let a = of("TimeoutError", "no answer after 60 s for doc 17");
        let b = of("TimeoutError", "no answer after 30 s for doc 99812");
        assert_eq!(a, b);
        assert_eq!(a.len(), 8);
        assert_ne!(a, of("HTTPError", "no answer after 60 s for doc 17"));
        assert_ne!(a, of("TimeoutError", "connection refused"));
    }

    #[test]
    fn long_and_hostile_reasons_stay_bounded() {
        let long = "x ".repeat(10_000);
        assert!(pattern(&long).chars().count() <= 200);
        let p = pattern("bad \u{1b}[2J byte ☃ 12");
        assert!(p.ends_with("<n>"), "{p}");
    }
}
