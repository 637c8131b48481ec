//! Error fingerprints: DLQ entries that failed the same way share one, so a
//! thousand timeouts are one line to triage, not a thousand. The reason is
//! normalised — ids, hashes, numbers, paths, quoted values and addresses
//! masked — and hashed with the error type into a short id (`fp:3fa9c01e`).

use std::sync::LazyLock;

use regex::Regex;

/// The masks, most specific first: at each position the first that matches
/// wins, so a UUID is not first cut into numbers.
const MASK_PARTS: [(&str, &str); 8] = [
    (
        "uuid",
        r#"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"#,
    ),
    ("url", r#"\b[a-z][a-z0-9+.-]*://\S+"#),
    (
        "path",
        r#"(?:\.{0,2}/|\b[A-Za-z]:\\)[^\s:,;'"()\[\]{}]+|\b[\w.-]+/[^\s:,;'"()\[\]{}]+"#,
    ),
    ("quoted", r#""[^"]*"|'[^']*'"#),
    ("ip", r#"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"#),
    (
        "hex",
        r#"\b(?:0x)?[0-9a-fA-F]*[0-9][0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b|\b[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*[0-9][0-9a-fA-F]*\b"#,
    ),
    // Names with a number in them stay (UTF-8, ISO-8859-1, HTTP/2 aside).
    ("word", r#"\b[A-Za-z]+(?:-\d+)+\b"#),
    ("num", r#"\b\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b"#),
];

/// All masks as one alternation, searched without captures (the fast DFA
/// path: capture groups cost ~10× on 100,000 reasons).
static MASKS: LazyLock<Regex> = LazyLock::new(|| {
    let alts: Vec<String> = MASK_PARTS
        .iter()
        .map(|(_, re)| format!("(?:{re})"))
        .collect();
    Regex::new(&alts.join("|")).expect("the fingerprint masks compile")
});

/// Each mask alone, anchored, to tell which one a match is.
static MASK_KINDS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    MASK_PARTS
        .iter()
        .map(|(k, re)| {
            (
                *k,
                Regex::new(&format!("^(?:{re})$")).expect("a mask compiles"),
            )
        })
        .collect()
});

/// A reason with its variable parts masked (`<uuid>`, `<url>`, `<path>`,
/// `<str>`, `<ip>`, `<hex>`, `<n>`), whitespace collapsed, cut to 200 chars.
pub fn pattern(reason: &str) -> String {
    let mut masked = String::with_capacity(reason.len());
    let mut at = 0;
    for m in MASKS.find_iter(reason) {
        masked.push_str(&reason[at..m.start()]);
        at = m.end();
        let text = m.as_str();
        let kind = MASK_KINDS
            .iter()
            .find(|(_, re)| re.is_match(text))
            .map_or("num", |(k, _)| *k);
        match kind {
            // A short hex-looking word ("dead", "cafe", "a1") is a word.
            "hex" if text.len() < 8 => masked.push_str(text),
            "word" => masked.push_str(text),
            "quoted" => masked.push_str("<str>"),
            "num" => masked.push_str("<n>"),
            k => {
                masked.push('<');
                masked.push_str(k);
                masked.push('>');
            }
        }
    }
    masked.push_str(&reason[at..]);
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
