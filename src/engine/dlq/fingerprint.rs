//! Error fingerprints: DLQ entries that failed the same way share one, so a
//! thousand timeouts are one line to triage, not a thousand. The reason is
//! normalised — ids, hashes, numbers, paths, quoted values and addresses
//! masked — and hashed with the error type into a short id (`fp:3fa9c01e`).

//!
//! The masks, most specific first (at each position the first that matches
//! wins, so a UUID is not first cut into numbers), as regular expressions:
//!
//! | mask | matches |
//! | --- | --- |
//! | `<uuid>` | `\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-…-[0-9a-fA-F]{12}\b` |
//! | `<url>` | `\b[a-z][a-z0-9+.-]*://\S+` |
//! | `<path>` | `(?:\.{0,2}/\|\b[A-Za-z]:\\)P+` or `\b[\w.-]+/P+`, P = `[^\s:,;'"()\[\]{}]` |
//! | `<str>` | `"[^"]*"` or `'[^']*'` |
//! | `<ip>` | `\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b` |
//! | `<hex>` | `\b(?:0x)?` hex digits with a digit and a letter `\b`, 8 characters or more |
//! | (kept) | `\b[A-Za-z]+(?:-\d+)+\b`: names with numbers (UTF-8, ISO-8859-1) |
//! | `<n>` | `\b\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b` |
//!
//! They are matched by hand in one pass over the bytes (word characters:
//! ASCII letters, digits, `_` and any non-ASCII byte): the same masks as one
//! regex alternation cost ~10× as much on 100,000 reasons (issue 19's
//! 50 ms budget). The tests check the scanner against that regex.

/// What a token at some position is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mask {
    Uuid,
    Url,
    Path,
    Quoted,
    Ip,
    Hex,
    /// A name with numbers: kept as it is.
    Word,
    Num,
}

const WORD: u8 = 1;
const PATH: u8 = 2;

/// Byte classes, looked up once per byte.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
            t[b] |= WORD;
        }
        let special = matches!(
            c,
            b':' | b',' | b';' | b'\'' | b'"' | b'(' | b')' | b'[' | b']' | b'{' | b'}'
        );
        if !(c.is_ascii_whitespace() || special) {
            t[b] |= PATH;
        }
        b += 1;
    }
    t
};

fn is_word(b: u8) -> bool {
    CLASS[b as usize] & WORD != 0
}

fn is_path(b: u8) -> bool {
    CLASS[b as usize] & PATH != 0
}

/// The end of the run of bytes from `i` that satisfy `f`.
fn run(s: &[u8], i: usize, f: impl Fn(u8) -> bool) -> usize {
    s[i.min(s.len())..]
        .iter()
        .position(|b| !f(*b))
        .map_or(s.len(), |n| i + n)
}

/// A word boundary after position `end` (`\b` after a word character).
fn ends_word(s: &[u8], end: usize) -> bool {
    end >= s.len() || !is_word(s[end])
}

fn digits(s: &[u8], i: usize) -> usize {
    run(s, i, |b| b.is_ascii_digit())
}

fn uuid_at(s: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    for (n, len) in [8usize, 4, 4, 4, 12].into_iter().enumerate() {
        if n > 0 {
            if s.get(j) != Some(&b'-') {
                return None;
            }
            j += 1;
        }
        let e = run(s, j, |b| b.is_ascii_hexdigit());
        if e - j < len {
            return None;
        }
        j += len;
    }
    ends_word(s, j).then_some(j)
}

fn url_at(s: &[u8], i: usize) -> Option<usize> {
    if !s[i].is_ascii_lowercase() {
        return None;
    }
    let j = run(s, i + 1, |b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b)
    });
    if !s[j..].starts_with(b"://") {
        return None;
    }
    let e = run(s, j + 3, |b| !b.is_ascii_whitespace());
    (e > j + 3).then_some(e)
}

fn path_at(s: &[u8], i: usize, boundary: bool) -> Option<usize> {
    let rest = |j: usize| {
        let e = run(s, j, is_path);
        (e > j).then_some(e)
    };
    // ./x ../x /x
    let dots = s[i..].iter().take(2).take_while(|b| **b == b'.').count();
    if s.get(i + dots) == Some(&b'/') {
        if let Some(e) = rest(i + dots + 1) {
            return Some(e);
        }
    }
    if !boundary || !is_word(s[i]) {
        return None;
    }
    // C:\x
    if s[i].is_ascii_alphabetic() && s.get(i + 1) == Some(&b':') && s.get(i + 2) == Some(&b'\\') {
        if let Some(e) = rest(i + 3) {
            return Some(e);
        }
    }
    // dir/x, a.b-c/x
    let j = run(s, i, |b| is_word(b) || b == b'.' || b == b'-');
    if j > i && s.get(j) == Some(&b'/') {
        return rest(j + 1);
    }
    None
}

fn quoted_at(s: &[u8], i: usize) -> Option<usize> {
    let q = s[i];
    if q != b'"' && q != b'\'' {
        return None;
    }
    s[i + 1..]
        .iter()
        .position(|b| *b == q)
        .map(|n| i + 1 + n + 1)
}

fn ip_at(s: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    for n in 0..4 {
        if n > 0 {
            if s.get(j) != Some(&b'.') {
                return None;
            }
            j += 1;
        }
        let e = digits(s, j);
        if e == j || e - j > 3 {
            return None;
        }
        j = e;
    }
    if s.get(j) == Some(&b':') {
        let e = digits(s, j + 1);
        if e > j + 1 && ends_word(s, e) {
            return Some(e);
        }
    }
    ends_word(s, j).then_some(j)
}

fn hex_at(s: &[u8], i: usize) -> Option<usize> {
    let start = if s[i..].starts_with(b"0x") { i + 2 } else { i };
    let e = run(s, start, |b| b.is_ascii_hexdigit());
    let h = &s[start..e];
    let mixed = h.iter().any(u8::is_ascii_digit) && h.iter().any(u8::is_ascii_alphabetic);
    (mixed || (start > i && !h.is_empty()))
        .then_some(e)
        .filter(|e| ends_word(s, *e))
}

fn word_at(s: &[u8], i: usize) -> Option<usize> {
    let mut j = run(s, i, |b| b.is_ascii_alphabetic());
    if j == i {
        return None;
    }
    // The longest run of -digits groups that ends a word (as the regex
    // backtracks).
    let mut found = None;
    while s.get(j) == Some(&b'-') {
        let e = digits(s, j + 1);
        if e == j + 1 {
            break;
        }
        j = e;
        if ends_word(s, j) {
            found = Some(j);
        }
    }
    found
}

fn num_at(s: &[u8], i: usize) -> Option<usize> {
    let int = digits(s, i);
    if int == i {
        return None;
    }
    let mut frac = int;
    if s.get(int) == Some(&b'.') {
        let e = digits(s, int + 1);
        if e > int + 1 {
            frac = e;
        }
    }
    let mut exp = frac;
    if matches!(s.get(frac), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(s.get(frac + 1), Some(b'-' | b'+')));
        let e = digits(s, frac + 1 + sign);
        if e > frac + 1 + sign {
            exp = e;
        }
    }
    // Longest first, as the regex backtracks.
    [exp, frac, int].into_iter().find(|e| ends_word(s, *e))
}

/// The token starting at `i`, if any, and where it ends.
fn token_at(s: &[u8], i: usize) -> Option<(Mask, usize)> {
    let b = s[i];
    let boundary = i == 0 || !is_word(s[i - 1]);
    if boundary && b.is_ascii_alphanumeric() {
        if b.is_ascii_hexdigit() {
            if let Some(e) = uuid_at(s, i) {
                return Some((Mask::Uuid, e));
            }
        }
        if let Some(e) = url_at(s, i) {
            return Some((Mask::Url, e));
        }
    }
    if b == b'.' || b == b'/' || (boundary && is_word(b)) {
        if let Some(e) = path_at(s, i, boundary) {
            return Some((Mask::Path, e));
        }
    }
    if let Some(e) = quoted_at(s, i) {
        return Some((Mask::Quoted, e));
    }
    if !boundary || !b.is_ascii_alphanumeric() {
        return None;
    }
    if b.is_ascii_digit() {
        if let Some(e) = ip_at(s, i) {
            return Some((Mask::Ip, e));
        }
    }
    if b.is_ascii_hexdigit() {
        if let Some(e) = hex_at(s, i) {
            return Some((Mask::Hex, e));
        }
    }
    if let Some(e) = word_at(s, i) {
        return Some((Mask::Word, e));
    }
    num_at(s, i).map(|e| (Mask::Num, e))
}

const PATTERN_CHARS: usize = 200;

/// Text appended with whitespace collapsed to one space, counting chars.
#[derive(Default)]
struct Collapsed {
    out: String,
    chars: usize,
    gap: bool,
}

impl Collapsed {
    fn push(&mut self, text: &str) {
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_whitespace() {
                self.gap = true;
                i += 1;
                continue;
            }
            let end = run(b, i, |c| !c.is_ascii_whitespace());
            if self.gap && !self.out.is_empty() {
                self.out.push(' ');
                self.chars += 1;
            }
            self.gap = false;
            // Both ends are ASCII (or the text's own ends): char boundaries.
            self.out.push_str(&text[i..end]);
            self.chars += b[i..end].iter().filter(|c| (**c & 0xC0) != 0x80).count();
            i = end;
        }
    }
}

/// A reason with its variable parts masked (`<uuid>`, `<url>`, `<path>`,
/// `<str>`, `<ip>`, `<hex>`, `<n>`), whitespace collapsed, cut to 200 chars.
pub fn pattern(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len().min(PATTERN_CHARS + 8));
    pattern_into(reason, &mut out);
    out
}

/// `pattern` into `out` (cleared first), reusing its allocation.
pub fn pattern_into(reason: &str, out: &mut String) {
    out.clear();
    let s = reason.as_bytes();
    let mut c = Collapsed {
        out: std::mem::take(out),
        ..Default::default()
    };
    let (mut i, mut copied) = (0usize, 0usize);
    while i < s.len() && c.chars <= PATTERN_CHARS {
        // A word with no digit, followed by none of the bytes a mask could
        // go on with, is no mask: most words of a reason, skipped at once.
        if is_word(s[i]) && (i == 0 || !is_word(s[i - 1])) {
            let end = run(s, i, is_word);
            let digit = s[i..end].iter().any(u8::is_ascii_digit);
            if !digit && !matches!(s.get(end), Some(b'/' | b':' | b'.' | b'-' | b'\\' | b'+')) {
                i = end;
                continue;
            }
        }
        // Every mask starts with an ASCII byte, so cuts fall on char boundaries.
        let Some((mask, end)) = (s[i] < 0x80).then(|| token_at(s, i)).flatten() else {
            // No mask starts inside a word (they start at a word's first
            // byte, or at `.` `/` and quotes, which are not word bytes).
            i = if is_word(s[i]) {
                run(s, i, is_word)
            } else {
                i + 1
            };
            continue;
        };
        let text = &reason[i..end];
        c.push(&reason[copied..i]);
        c.push(match mask {
            // A short hex-looking word ("dead", "cafe", "a1") is a word.
            Mask::Hex if text.len() < 8 => text,
            Mask::Word => text,
            Mask::Uuid => "<uuid>",
            Mask::Url => "<url>",
            Mask::Path => "<path>",
            Mask::Quoted => "<str>",
            Mask::Ip => "<ip>",
            Mask::Hex => "<hex>",
            Mask::Num => "<n>",
        });
        i = end;
        copied = end;
    }
    if c.chars <= PATTERN_CHARS {
        c.push(&reason[copied..]);
    }
    *out = c.out;
    if let Some((i, _)) = out.char_indices().nth(PATTERN_CHARS) {
        out.truncate(i);
    }
}

/// The short id of (error type, pattern): 8 hex digits of XXH3-64 (a
/// fixed, specified algorithm, so ids stay the same across versions and
/// machines; not a security hash — a collision only merges two groups).
pub fn id_of(error_type: &str, pattern: &str) -> String {
    let hex = id_hex(error_type, pattern);
    String::from_utf8_lossy(&hex).into_owned()
}

fn id_hex(error_type: &str, pattern: &str) -> [u8; 8] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(error_type.as_bytes());
    h.update(&[0]);
    h.update(pattern.as_bytes());
    let top = (h.digest() >> 32) as u32;
    let mut hex = [0u8; 8];
    for (i, d) in hex.iter_mut().enumerate() {
        *d = DIGITS[((top >> (28 - 4 * i)) & 0xf) as usize];
    }
    hex
}

/// The fingerprint id of an entry's error type and reason.
pub fn of(error_type: &str, reason: &str) -> String {
    with_id(error_type, reason, str::to_string)
}

/// `f` of the fingerprint id, without allocating (the DLQ index interns
/// it: 100,000 entries share a handful).
pub fn with_id<T>(error_type: &str, reason: &str, f: impl FnOnce(&str) -> T) -> T {
    thread_local! {
        static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    SCRATCH.with_borrow_mut(|buf| {
        pattern_into(reason, buf);
        let hex = id_hex(error_type, buf);
        f(std::str::from_utf8(&hex).unwrap_or("????????"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The masks as the regex alternation the scanner replaces.
    /// None where the regex version could not tell what it matched (a path
    /// starting with `.` right after a word: its anchored `\b` fails, and it
    /// fell back to `<n>`; the scanner says `.<path>`).
    fn regex_pattern(reason: &str) -> Option<String> {
        static RES: std::sync::LazyLock<(regex::Regex, Vec<(&str, regex::Regex)>)> =
            std::sync::LazyLock::new(compile);
        let (all, kinds) = &*RES;
        regex_mask(reason, all, kinds)
    }

    fn compile() -> (regex::Regex, Vec<(&'static str, regex::Regex)>) {
        let parts = [
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
                r#"\b[0-9a-fA-F]*[0-9][0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b|\b[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*[0-9][0-9a-fA-F]*\b"#,
            ),
            ("word", r#"\b[A-Za-z]+(?:-\d+)+\b"#),
            ("num", r#"\b\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b"#),
        ];
        let all = regex::Regex::new(
            &parts
                .iter()
                .map(|(_, r)| format!("(?:{r})"))
                .collect::<Vec<_>>()
                .join("|"),
        )
        .unwrap();
        let kinds: Vec<(&str, regex::Regex)> = parts
            .iter()
            .map(|(k, r)| (*k, regex::Regex::new(&format!("^(?:{r})$")).unwrap()))
            .collect();
        (all, kinds)
    }

    fn regex_mask(
        reason: &str,
        all: &regex::Regex,
        kinds: &[(&str, regex::Regex)],
    ) -> Option<String> {
        let mut masked = String::new();
        let mut at = 0;
        for m in all.find_iter(reason) {
            masked.push_str(&reason[at..m.start()]);
            at = m.end();
            let t = m.as_str();
            match kinds
                .iter()
                .find(|(_, re)| re.is_match(t))
                .map(|(k, _)| *k)?
            {
                "hex" if t.len() < 8 => masked.push_str(t),
                "word" => masked.push_str(t),
                "quoted" => masked.push_str("<str>"),
                "num" => masked.push_str("<n>"),
                k => masked.push_str(&format!("<{k}>")),
            }
        }
        masked.push_str(&reason[at..]);
        let out = masked.split_whitespace().collect::<Vec<_>>().join(" ");
        Some(out.chars().take(PATTERN_CHARS).collect())
    }

    #[test]
    fn the_scanner_masks_as_the_regex_did() {
        let fragments = [
            "TimeoutError:",
            "no answer from",
            "http://intel:8053/process/document",
            "after",
            "60.0",
            "s",
            "document",
            "7ed2f3c4-dac9-5322-a59d-03c601afb529",
            "'web'",
            "\"quoted value\"",
            "in",
            "src/pkg01/mod02/a.rs",
            "./x",
            "../up/y.txt",
            "/abs/p",
            "C:\\Users\\x",
            "10.0.0.7:8053",
            "1.2.3.4",
            "9f86d081884c7d659a2f",
            "deadbeef00",
            "dead",
            "cafe",
            "a1",
            "UTF-8",
            "ISO-8859-1",
            "HTTP/2",
            "1e10",
            "3.5e-2",
            "12abc",
            "(offset",
            "3)",
            "x=17,",
            "v2",
            "1.5x",
            "[id",
            "42]",
            "{n:",
            "7}",
            "file_9.py",
            "a.b-c/d",
            "s3://bucket/key",
            "1234.5.6.7",
            "99.1.2.3:x",
            "e5",
            "-",
            "__init__",
            "line 7:",
            "at",
            "12:30:05",
            "2026-12-01T10:00:00Z",
            "ab-12-cd",
            "x-1",
            "0.5",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut unclear = 0;
        for _ in 0..20_000 {
            let mut reason = String::new();
            for _ in 0..(seed % 9 + 1) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                reason.push_str(fragments[(seed % fragments.len() as u64) as usize]);
                reason.push_str([" ", "\t", ",", "", ":", "  ", "("][(seed % 7) as usize]);
            }
            match regex_pattern(&reason) {
                Some(expected) => assert_eq!(pattern(&reason), expected, "reason {reason:?}"),
                None => unclear += 1,
            }
        }
        assert!(unclear < 1_000, "{unclear} of 20,000 not comparable");
    }

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
