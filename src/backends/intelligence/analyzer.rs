//! Source analyzer: real results computed from a document's content.
//!
//! - entities: functions, methods, classes, structs, enums, traits, interfaces,
//!   types for Rust, Python, TypeScript/JavaScript and Go (and a C-like fallback);
//! - complexity_score: from the cyclomatic complexity per function and the
//!   nesting depth, squashed into 0..1;
//! - quality_score: 1.0 minus penalties for long functions, deep nesting, long
//!   lines, missing comments, debt markers and anti-patterns;
//! - patterns / anti-patterns: named idioms found in the text.
//!
//! Line-oriented regular expressions, not a parser: fast, total (never fails on
//! any input) and good enough to rank and triage documents.

use std::sync::LazyLock;

use regex::Regex;

use super::Analysis;
use crate::backends::graph::Entity;
use crate::events::EnrichmentResults;

struct Rule {
    kind: &'static str,
    /// Text a line must contain for `re` to match it (any of them): a
    /// substring search is far cheaper than a regex call per line.
    needles: &'static [&'static str],
    re: Regex,
}

impl Rule {
    fn may_match(&self, line: &str) -> bool {
        self.needles.iter().any(|n| line.contains(n))
    }
}

fn rules(spec: &[(&'static str, &'static [&'static str], &str)]) -> Vec<Rule> {
    spec.iter()
        .map(|(kind, needles, re)| Rule {
            kind,
            needles,
            re: Regex::new(re).expect("analyzer regex"),
        })
        .collect()
}

static RUST: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        (
            "function",
            &["fn"],
            r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+\S+\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)",
        ),
        (
            "struct",
            &["struct"],
            r"^\s*(?:pub(?:\([^)]*\))?\s+)?struct\s+([A-Za-z_][A-Za-z0-9_]*)",
        ),
        (
            "enum",
            &["enum"],
            r"^\s*(?:pub(?:\([^)]*\))?\s+)?enum\s+([A-Za-z_][A-Za-z0-9_]*)",
        ),
        (
            "trait",
            &["trait"],
            r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?trait\s+([A-Za-z_][A-Za-z0-9_]*)",
        ),
        (
            "type",
            &["type"],
            r"^\s*(?:pub(?:\([^)]*\))?\s+)?type\s+([A-Za-z_][A-Za-z0-9_]*)",
        ),
        (
            "module",
            &["mod"],
            r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)",
        ),
        (
            "macro",
            &["macro_rules!"],
            r"^\s*macro_rules!\s+([A-Za-z_][A-Za-z0-9_]*)",
        ),
    ])
});
static PYTHON: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        (
            "function",
            &["def"],
            r"^\s*(?:async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(",
        ),
        ("class", &["class"], r"^\s*class\s+([A-Za-z_][A-Za-z0-9_]*)"),
    ])
});
static JS: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        (
            "function",
            &["function"],
            r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*([A-Za-z_$][A-Za-z0-9_$]*)",
        ),
        (
            "function",
            &["=>"],
            r"^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][A-Za-z0-9_$]*)\s*(?::[^=]+)?=\s*(?:async\s+)?(?:\([^)]*\)|[A-Za-z_$][A-Za-z0-9_$]*)\s*(?::[^=]+)?=>",
        ),
        (
            "class",
            &["class"],
            r"^\s*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+([A-Za-z_$][A-Za-z0-9_$]*)",
        ),
        (
            "interface",
            &["interface"],
            r"^\s*(?:export\s+)?interface\s+([A-Za-z_$][A-Za-z0-9_$]*)",
        ),
        (
            "type",
            &["type"],
            r"^\s*(?:export\s+)?type\s+([A-Za-z_$][A-Za-z0-9_$]*)\s*(?:<[^>]*>)?\s*=",
        ),
        (
            "enum",
            &["enum"],
            r"^\s*(?:export\s+)?(?:const\s+)?enum\s+([A-Za-z_$][A-Za-z0-9_$]*)",
        ),
        (
            "method",
            &["("],
            r"^\s+(?:public\s+|private\s+|protected\s+|static\s+|readonly\s+|async\s+)*([A-Za-z_$][A-Za-z0-9_$]*)\s*\([^)]*\)\s*(?::\s*[^{]+)?\{\s*$",
        ),
    ])
});
static GO: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        (
            "method",
            &["func"],
            r"^func\s+\([^)]*\)\s*([A-Za-z_][A-Za-z0-9_]*)",
        ),
        ("function", &["func"], r"^func\s+([A-Za-z_][A-Za-z0-9_]*)"),
        (
            "struct",
            &["struct"],
            r"^type\s+([A-Za-z_][A-Za-z0-9_]*)\s+struct\b",
        ),
        (
            "interface",
            &["interface"],
            r"^type\s+([A-Za-z_][A-Za-z0-9_]*)\s+interface\b",
        ),
        (
            "type",
            &["type"],
            r"^type\s+([A-Za-z_][A-Za-z0-9_]*)\s+[^si]",
        ),
    ])
});
static C_LIKE: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        (
            "class",
            &["class", "interface", "record"],
            r"^\s*(?:public\s+|private\s+|protected\s+|abstract\s+|final\s+|static\s+)*(?:class|interface|record)\s+([A-Za-z_][A-Za-z0-9_]*)",
        ),
        (
            "struct",
            &["struct"],
            r"^\s*(?:typedef\s+)?struct\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{?",
        ),
        (
            "function",
            &["("],
            r"^\s*(?:[A-Za-z_][A-Za-z0-9_<>,\*&\s]*\s+)?\**([A-Za-z_][A-Za-z0-9_]*)\s*\([^;{]*\)\s*(?:const\s*)?\{?\s*$",
        ),
    ])
});

/// Words that look like calls but never name a function.
const NOT_NAMES: &[&str] = &[
    "if", "for", "while", "switch", "catch", "return", "match", "else", "sizeof", "new", "function",
];

// Word boundaries are ASCII (`(?-u:\b)`): the lazy DFA then runs over any
// text, where a Unicode `\b` sends every file with one non-ASCII byte to the
// PikeVM.

/// Whole-text rules: the pattern detectors and the anti-patterns a regular
/// expression finds. Each names the literals one of which every match
/// contains: one Aho-Corasick pass finds which of them the text has, and
/// only those rules' regexes run (a regex search per rule per file, or one
/// RegexSet pass, was most of the analyzer's time). Rules without anchors
/// have theirs in most files (`fn`, `@`, `err`, `def`): they always run.
struct TextRule {
    name: &'static str,
    pattern: bool,
    anchors: &'static [&'static str],
    re: &'static str,
    /// The match must start a line (after nothing but whitespace): checked
    /// on each match of `re`, which a leading `(?m)^\s*` made slow to search.
    at_line_start: bool,
}

const fn rule(
    name: &'static str,
    pattern: bool,
    anchors: &'static [&'static str],
    re: &'static str,
) -> TextRule {
    TextRule {
        name,
        pattern,
        anchors,
        re,
        at_line_start: false,
    }
}

const TEXT_RULES: &[TextRule] = &[
    rule(
        "factory_pattern",
        true,
        &[],
        r"(?-u:\b)(?:fn\s+(?:new|create|make|build)_?\w*\s*\(|def\s+create_\w+|func\s+New[A-Z]\w*)",
    ),
    rule(
        "factory_pattern",
        true,
        &["Factory"],
        r"(?-u:\b)[A-Z]\w*Factory(?-u:\b)",
    ),
    rule(
        "singleton_pattern",
        true,
        &[
            "OnceLock",
            "OnceCell",
            "lazy_static!",
            "LazyLock",
            "getInstance",
            "_instance",
            "sync.Once",
        ],
        r"(?-u:\b)(?:OnceLock|OnceCell|lazy_static!|LazyLock|getInstance|_instance(?-u:\b)|sync\.Once)",
    ),
    rule(
        "builder_pattern",
        true,
        &["Builder"],
        r"(?-u:\b)[A-Z]\w*Builder(?-u:\b)",
    ),
    rule(
        "observer_pattern",
        true,
        &[
            "subscribe",
            "add_listener",
            "addEventListener",
            "add_observer",
            "notify_all",
            "on_event",
        ],
        r"(?-u:\b)(?:subscribe|unsubscribe|add_listener|addEventListener|add_observer|notify_all|on_event)(?-u:\b)",
    ),
    rule(
        "iterator_pattern",
        true,
        &["Iterator", "__iter__", "Symbol.iterator", "yield"],
        r"(?:impl(?:<[^>]*>)?\s+Iterator\s+for|def\s+__iter__|Symbol\.iterator|(?-u:\b)yield(?-u:\b))",
    ),
    rule(
        "decorator_pattern",
        true,
        &[],
        r"(?m)^\s*@[A-Za-z_][\w.]*(?:\(|$)",
    ),
    rule(
        "async_await",
        true,
        &["async", "await"],
        r"(?-u:\b)(?:async\s+(?:fn|def|function)|await(?-u:\b)|\.await(?-u:\b))",
    ),
    rule(
        "error_propagation",
        true,
        &[],
        r"(?:\)\?;|Result<|raise\s+\w+Error|if\s+err\s*!=\s*nil)",
    ),
    rule(
        "dependency_injection",
        true,
        &[],
        r"(?-u:\b)(?:Arc<dyn\s|Box<dyn\s|@inject|@Inject(?-u:\b))",
    ),
    rule(
        "test_suite",
        true,
        &[],
        r"(?:#\[test\]|#\[tokio::test\]|def\s+test_\w+|(?-u:\b)describe\(|(?-u:\b)it\(|func\s+Test[A-Z]\w*\()",
    ),
    TextRule {
        at_line_start: true,
        ..rule("bare_except", false, &["except"], r"except\s*:")
    },
    rule(
        "swallowed_error",
        false,
        &["catch", "except"],
        r"catch\s*(?:\([^)]*\))?\s*\{\s*\}|except[^:\n]*:\s*\n\s*pass(?-u:\b)",
    ),
    TextRule {
        at_line_start: true,
        ..rule("mutable_global_state", false, &["global"], r"global\s+\w")
    },
    TextRule {
        at_line_start: true,
        ..rule(
            "mutable_global_state",
            false,
            &["static"],
            r"static\s+mut\s",
        )
    },
    rule(
        "debug_output",
        false,
        &["console.log", "dbg!", "System.out.println", "print("],
        r"(?-u:\b)(?:console\.log|dbg!|System\.out\.println)(?-u:\b)|(?-u:\b)print\(f?[\x22']DEBUG",
    ),
];

struct TextMatcher {
    anchors: aho_corasick::AhoCorasick,
    /// Per anchor pattern id, the rules it gates.
    gates: Vec<Vec<usize>>,
    regexes: Vec<Regex>,
}

static TEXT: LazyLock<TextMatcher> = LazyLock::new(|| {
    let mut words: Vec<&str> = Vec::new();
    let mut gates: Vec<Vec<usize>> = Vec::new();
    for (i, r) in TEXT_RULES.iter().enumerate() {
        for a in r.anchors {
            let id = words.iter().position(|w| w == a).unwrap_or_else(|| {
                words.push(a);
                gates.push(Vec::new());
                words.len() - 1
            });
            gates[id].push(i);
        }
    }
    TextMatcher {
        anchors: aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(&words)
            .expect("analyzer anchors"),
        gates,
        regexes: TEXT_RULES
            .iter()
            .map(|r| Regex::new(r.re).expect("analyzer regex"))
            .collect(),
    }
});

/// `(?m)^\s*` just before `at`: only whitespace back to a line start.
fn starts_line(text: &str, at: usize) -> bool {
    let before = &text[..at];
    let kept = before.trim_end_matches(char::is_whitespace);
    kept.is_empty() || before[kept.len()..].contains('\n')
}

/// Which of `TEXT_RULES` match `text`.
fn text_rule_hits(text: &str) -> Vec<bool> {
    let m = &*TEXT;
    // Rules without anchors (theirs are in most files) always run.
    let mut gated: Vec<bool> = TEXT_RULES.iter().map(|r| r.anchors.is_empty()).collect();
    // Every occurrence, overlapping ones too: each search resumes one byte
    // after the last match's start (no anchor is a prefix of another, so
    // one starting there is the one reported), and can use the prefilter an
    // overlapping search cannot.
    let mut at = 0;
    while let Some(hit) = m.anchors.find(aho_corasick::Input::new(text).range(at..)) {
        for &rule in &m.gates[hit.pattern().as_usize()] {
            gated[rule] = true;
        }
        at = hit.start() + 1;
    }
    let mut hits = vec![false; TEXT_RULES.len()];
    for (i, r) in TEXT_RULES.iter().enumerate() {
        if !gated[i] {
            continue;
        }
        let re = &m.regexes[i];
        hits[i] = if r.at_line_start {
            re.find_iter(text).any(|f| starts_line(text, f.start()))
        } else {
            re.is_match(text)
        };
    }
    hits
}

const DECISION_WORDS: &[&[u8]] = &[
    b"if", b"elif", b"for", b"while", b"case", b"catch", b"except", b"match",
];
const DEBT_MARKERS: &[&[u8]] = &[b"TODO", b"FIXME", b"XXX", b"HACK"];

const fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Byte classes for the decision scanner: 1 a word byte, 2 `&` `|` `?`.
static BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if is_word_byte(c) {
            t[b] = 1;
        } else if c == b'&' || c == b'|' || c == b'?' {
            t[b] = 2;
        }
        b += 1;
    }
    t
};

/// Decision points in one line, as `DECISION` (in the tests) finds them
/// left to right: a whole ASCII word among `DECISION_WORDS`, `&&`, `||`, or
/// a `?` whose text up to the next `:` has no `?` and is not empty (that
/// span is consumed, like the regex's match).
fn line_decisions(line: &[u8]) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < line.len() {
        match BYTE_CLASS[line[i] as usize] {
            0 => i += 1,
            1 => {
                let start = i;
                i += 1;
                while i < line.len() && BYTE_CLASS[line[i] as usize] == 1 {
                    i += 1;
                }
                let word = &line[start..i];
                // Every decision word is 2–6 lower-case letters.
                if (2..=6).contains(&word.len())
                    && word[0].is_ascii_lowercase()
                    && DECISION_WORDS.contains(&word)
                {
                    n += 1;
                }
            }
            _ => {
                let b = line[i];
                if b != b'?' && line.get(i + 1) == Some(&b) {
                    n += 1;
                    i += 2;
                    continue;
                }
                if b == b'?' {
                    let rest = &line[i + 1..];
                    if let Some(k) = memchr::memchr2(b':', b'?', rest) {
                        if rest[k] == b':' && k > 0 {
                            n += 1;
                            i += k + 2;
                            continue;
                        }
                    }
                }
                i += 1;
            }
        }
    }
    n
}

/// Debt markers as whole ASCII words anywhere in the text.
fn debt_markers(text: &[u8]) -> usize {
    DEBT_MARKERS
        .iter()
        .map(|m| {
            memchr::memmem::find_iter(text, m)
                .filter(|&at| {
                    let before = at.checked_sub(1).map(|j| text[j]);
                    let after = text.get(at + m.len()).copied();
                    !before.is_some_and(is_word_byte) && !after.is_some_and(is_word_byte)
                })
                .count()
        })
        .sum()
}

const LONG_FUNCTION_LINES: usize = 80;
const DEEP_NESTING_LEVELS: usize = 6;
const LONG_LINE: usize = 120;

fn rules_for(language: Option<&str>) -> &'static [Rule] {
    match language.unwrap_or("") {
        "rust" => &RUST,
        "python" => &PYTHON,
        "typescript" | "javascript" | "tsx" | "jsx" => &JS,
        "go" => &GO,
        _ => &C_LIKE,
    }
}

/// Whether any of the language's entity rules could match `line`: a
/// necessary condition read off the rules (the words they can start with,
/// how they must end), so the regexes run on the few lines that pass —
/// running every rule on every line was most of the analyzer's time.
fn may_declare(language: Option<&str>, line: &str) -> bool {
    let starts = |words: &[&str]| {
        let t = line.trim_start();
        words.iter().any(|w| t.starts_with(w))
    };
    match language.unwrap_or("") {
        "rust" => starts(&[
            "pub",
            "const",
            "async",
            "unsafe",
            "extern",
            "fn",
            "struct",
            "enum",
            "trait",
            "type",
            "mod",
            "macro_rules!",
        ]),
        "python" => starts(&["async", "def", "class"]),
        "typescript" | "javascript" | "tsx" | "jsx" => {
            starts(&[
                "export",
                "default",
                "async",
                "function",
                "const",
                "let",
                "var",
                "abstract",
                "class",
                "interface",
                "type",
                "enum",
            ]) || (line.starts_with(char::is_whitespace) && line.trim_end().ends_with('{'))
        }
        "go" => line.starts_with("func") || line.starts_with("type"),
        _ => {
            let end = line.trim_end();
            starts(&[
                "public",
                "private",
                "protected",
                "abstract",
                "final",
                "static",
                "class",
                "interface",
                "record",
                "typedef",
                "struct",
            ]) || (line.contains('(')
                && (end.ends_with(')') || end.ends_with('{') || end.ends_with("const")))
        }
    }
}

fn indent_width(line: &str) -> usize {
    let b = line.as_bytes();
    let ascii = b.iter().take_while(|c| matches!(c, b' ' | b'\t')).count();
    if b.get(ascii)
        .is_none_or(|c| c.is_ascii() && !c.is_ascii_whitespace())
    {
        let tabs = b[..ascii].iter().filter(|c| **c == b'\t').count();
        return ascii + 3 * tabs;
    }
    line.chars()
        .take_while(|c| c.is_whitespace())
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum()
}

/// Last line (0-based, inclusive) of the block that starts at `start`.
fn block_end(lines: &[&str], start: usize, indent_based: bool) -> usize {
    if indent_based {
        let base = indent_width(lines[start]);
        let mut end = start;
        for (i, l) in lines.iter().enumerate().skip(start + 1) {
            if l.trim().is_empty() {
                continue;
            }
            if indent_width(l) <= base {
                break;
            }
            end = i;
        }
        return end;
    }
    let mut depth = 0i64;
    let mut opened = false;
    for (i, l) in lines.iter().enumerate().skip(start) {
        for b in l.bytes() {
            match b {
                b'{' => {
                    depth += 1;
                    opened = true;
                }
                b'}' => depth -= 1,
                _ => {}
            }
        }
        if opened && depth <= 0 {
            return i;
        }
        if !opened && i > start + 3 {
            return start; // a declaration without a body
        }
    }
    lines.len().saturating_sub(1)
}

fn is_comment(trimmed: &str) -> bool {
    trimmed.starts_with("//")
        || trimmed.starts_with('#') && !trimmed.starts_with("#[") && !trimmed.starts_with("#!")
        || trimmed.starts_with("/*")
        || trimmed.starts_with('*')
        || trimmed.starts_with("\"\"\"")
        || trimmed.starts_with("'''")
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Per-line facts, gathered in one pass.
struct LineFacts {
    code_lines: usize,
    comment_lines: usize,
    long_lines: usize,
    max_indent: usize,
    /// Decision points outside comment lines.
    decisions: usize,
}

fn line_facts(lines: &[&str]) -> LineFacts {
    let mut f = LineFacts {
        code_lines: 0,
        comment_lines: 0,
        long_lines: 0,
        max_indent: 0,
        decisions: 0,
    };
    for l in lines {
        let trimmed = l.trim();
        if is_comment(trimmed) {
            f.comment_lines += 1;
        } else {
            f.decisions += line_decisions(l.as_bytes());
        }
        if !trimmed.is_empty() {
            f.code_lines += 1;
            f.max_indent = f.max_indent.max(indent_width(l));
        }
        // Bytes bound characters: count them only when the bytes say it may be long.
        if l.len() > LONG_LINE && l.chars().count() > LONG_LINE {
            f.long_lines += 1;
        }
    }
    f
}

/// `str::lines`, split with the SIMD memchr (the standard library's is
/// the analyzer's largest cost after the regexes).
fn split_lines(content: &str) -> Vec<&str> {
    let mut lines = Vec::with_capacity(content.len() / 32 + 1);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', content.as_bytes()) {
        let line = &content[start..end];
        lines.push(line.strip_suffix('\r').unwrap_or(line));
        start = end + 1;
    }
    if start < content.len() {
        lines.push(&content[start..]);
    }
    lines
}

pub fn analyze(content: &str, language: Option<&str>) -> Analysis {
    let lines = split_lines(content);
    let mut locations: Vec<_> = rules_for(language)
        .iter()
        .map(|r| r.re.capture_locations())
        .collect();
    let indent_based = language == Some("python");
    let mut entities = Vec::new();
    let mut function_spans = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.len() > 2_000 || !may_declare(language, line) {
            continue; // minified or generated; no declarations worth naming
        }
        for (rule, locs) in rules_for(language).iter().zip(&mut locations) {
            if !rule.may_match(line) || rule.re.captures_read(locs, line).is_none() {
                continue;
            }
            let Some((from, to)) = locs.get(1) else {
                continue;
            };
            let name = &line[from..to];
            // Keyword rules (fn/def/func/class) cannot match keywords; only the
            // looser call-shaped rules need the stop list.
            if NOT_NAMES.contains(&name) && !matches!(language, Some("rust" | "python" | "go")) {
                continue;
            }
            let kind = if rule.kind == "function" && indent_based && indent_width(line) > 0 {
                "method"
            } else {
                rule.kind
            };
            entities.push(Entity {
                kind: kind.to_string(),
                name: name.to_string(),
                line: (i + 1) as u32,
            });
            if matches!(kind, "function" | "method") {
                function_spans.push((i, block_end(&lines, i, indent_based)));
            }
            break; // one entity per line
        }
    }

    let facts = line_facts(&lines);
    let code_lines = facts.code_lines.max(1);
    let comment_lines = facts.comment_lines;
    let long_lines = facts.long_lines;
    let decisions = facts.decisions;
    let debt = debt_markers(content.as_bytes());
    // Four columns (or one tab) per level in every language we read.
    let unit = 4;
    let max_depth = facts.max_indent / unit;
    let longest_function = function_spans
        .iter()
        .map(|(s, e)| e - s + 1)
        .max()
        .unwrap_or(0);

    // Cyclomatic complexity ≈ 1 + decisions, averaged over functions (the whole
    // file counts as one unit when it has none).
    let units = function_spans.len().max(1) as f64;
    let avg_cyclomatic = 1.0 + decisions as f64 / units;
    let nesting_factor = (max_depth.saturating_sub(2) as f64 / 10.0).min(0.3);
    let complexity = (1.0 - (-(avg_cyclomatic - 1.0) / 8.0).exp()) * 0.7 + nesting_factor;

    let hits = text_rule_hits(content);
    let hit = |name: &str| {
        TEXT_RULES
            .iter()
            .zip(&hits)
            .any(|(r, hit)| r.name == name && *hit)
    };
    let mut patterns: Vec<String> = TEXT_RULES
        .iter()
        .zip(&hits)
        .filter(|(r, hit)| r.pattern && **hit)
        .map(|(r, _)| r.name.to_string())
        .collect();
    patterns.sort();
    patterns.dedup();

    let mut anti = Vec::new();
    if longest_function > LONG_FUNCTION_LINES {
        anti.push("god_function");
    }
    if max_depth > DEEP_NESTING_LEVELS {
        anti.push("deep_nesting");
    }
    if long_lines * 20 > code_lines {
        anti.push("long_lines");
    }
    for name in ["bare_except", "swallowed_error"] {
        if hit(name) {
            anti.push(name);
        }
    }
    if language == Some("rust")
        && memchr::memmem::find_iter(content.as_bytes(), ".unwrap()").count() > 10
    {
        anti.push("unwrap_abuse");
    }
    for name in ["mutable_global_state", "debug_output"] {
        if hit(name) {
            anti.push(name);
        }
    }
    if debt > 3 {
        anti.push("technical_debt_markers");
    }

    let comment_ratio = comment_lines as f64 / code_lines as f64;
    let mut quality = 1.0;
    quality -= 0.08 * anti.len() as f64;
    if code_lines > 30 && comment_ratio < 0.05 {
        quality -= 0.1;
    }
    quality -= (debt as f64 * 0.02).min(0.1);
    quality -= (long_lines as f64 / code_lines as f64).min(0.1);
    quality -= (complexity - 0.5).max(0.0) * 0.3;

    Analysis {
        results: EnrichmentResults {
            entities_extracted: entities.len() as u64,
            quality_score: round3(quality.clamp(0.0, 1.0)),
            complexity_score: round3(complexity.clamp(0.0, 1.0)),
            patterns_detected: patterns,
            anti_patterns_detected: anti.into_iter().map(String::from).collect(),
        },
        entities,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(a: &Analysis, kind: &str) -> Vec<String> {
        a.entities
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.name.clone())
            .collect()
    }

    #[test]
    fn rust_entities_and_patterns() {
        let src = r#"
//! A module.
pub struct Config { x: u32 }
enum Mode { A, B }
pub trait Store { fn get(&self); }
impl Config {
    /// Make one.
    pub fn new() -> Self { Config { x: 1 } }
    pub(crate) async fn load(path: &str) -> Result<Self, E> {
        if path.is_empty() && true { return Err(E); }
        let v = read(path).await?;
        Ok(v)
    }
}
static CELL: OnceLock<Config> = OnceLock::new();
#[test]
fn it_works() {}
"#;
        let a = analyze(src, Some("rust"));
        assert_eq!(names(&a, "struct"), vec!["Config"]);
        assert_eq!(names(&a, "enum"), vec!["Mode"]);
        assert_eq!(names(&a, "trait"), vec!["Store"]);
        assert_eq!(names(&a, "function"), vec!["new", "load", "it_works"]);
        assert_eq!(a.results.entities_extracted, a.entities.len() as u64);
        for p in [
            "factory_pattern",
            "singleton_pattern",
            "async_await",
            "error_propagation",
            "test_suite",
        ] {
            assert!(
                a.results.patterns_detected.contains(&p.to_string()),
                "{p}: {:?}",
                a.results.patterns_detected
            );
        }
        assert!(
            a.results.anti_patterns_detected.is_empty(),
            "{:?}",
            a.results.anti_patterns_detected
        );
    }

    #[test]
    fn python_methods_and_anti_patterns() {
        let src = "class Shop:\n    def __iter__(self):\n        yield 1\n\n    async def buy(self):\n        try:\n            pass\n        except:\n            pass\n\ndef helper(x):\n    global COUNT\n    return x\n";
        let a = analyze(src, Some("python"));
        assert_eq!(names(&a, "class"), vec!["Shop"]);
        assert_eq!(names(&a, "method"), vec!["__iter__", "buy"]);
        assert_eq!(names(&a, "function"), vec!["helper"]);
        assert!(a
            .results
            .patterns_detected
            .contains(&"iterator_pattern".into()));
        for ap in ["bare_except", "mutable_global_state"] {
            assert!(
                a.results.anti_patterns_detected.contains(&ap.to_string()),
                "{ap}"
            );
        }
    }

    #[test]
    fn typescript_and_go() {
        let ts = "export interface User { id: string }\nexport type Id = string;\nexport class UserService {\n  async find(id: string): Promise<User> {\n    return db.get(id);\n  }\n}\nexport const handler = async (req) => { console.log(req); };\nfunction helper() {}\n";
        let a = analyze(ts, Some("typescript"));
        assert_eq!(names(&a, "interface"), vec!["User"]);
        assert_eq!(names(&a, "type"), vec!["Id"]);
        assert_eq!(names(&a, "class"), vec!["UserService"]);
        assert_eq!(names(&a, "method"), vec!["find"]);
        assert_eq!(names(&a, "function"), vec!["handler", "helper"]);
        assert!(a
            .results
            .anti_patterns_detected
            .contains(&"debug_output".into()));

        let go = "package main\n\ntype Server struct {\n\taddr string\n}\n\ntype Handler interface {\n\tServe()\n}\n\nfunc NewServer() *Server {\n\treturn &Server{}\n}\n\nfunc (s *Server) Run() error {\n\tif err != nil {\n\t\treturn err\n\t}\n\treturn nil\n}\n";
        let a = analyze(go, Some("go"));
        assert_eq!(names(&a, "struct"), vec!["Server"]);
        assert_eq!(names(&a, "interface"), vec!["Handler"]);
        assert_eq!(names(&a, "function"), vec!["NewServer"]);
        assert_eq!(names(&a, "method"), vec!["Run"]);
        assert!(a
            .results
            .patterns_detected
            .contains(&"factory_pattern".into()));
    }

    #[test]
    fn complexity_and_quality_move_with_the_code() {
        let simple = analyze("fn a() -> u32 {\n    1\n}\n", Some("rust"));
        let mut branchy = String::from("fn b(x: u32) -> u32 {\n");
        for i in 0..120 {
            branchy.push_str(&format!("    if x == {i} && x > 0 {{ return {i}; }}\n"));
        }
        branchy.push_str("    0\n}\n");
        let branchy = analyze(&branchy, Some("rust"));
        assert!(branchy.results.complexity_score > simple.results.complexity_score + 0.5);
        assert!(branchy.results.quality_score < simple.results.quality_score);
        assert!(branchy
            .results
            .anti_patterns_detected
            .contains(&"god_function".into()));
        for a in [&simple, &branchy] {
            assert!((0.0..=1.0).contains(&a.results.quality_score));
            assert!((0.0..=1.0).contains(&a.results.complexity_score));
        }
    }

    /// The regexes the hand scanners replaced.
    static DECISION: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?-u:\b)(?:if|elif|for|while|case|catch|except|match)(?-u:\b)|&&|\|\||\?\s*[^:?]+:",
        )
        .unwrap()
    });
    static DEBT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?-u:\b)(?:TODO|FIXME|XXX|HACK)(?-u:\b)").unwrap());

    /// Entities as found with every rule tried on every line (the analyzer
    /// before `may_declare`), and decisions counted a line at a time.
    fn reference(content: &str, language: Option<&str>) -> (Vec<(String, String, u32)>, usize) {
        let mut found = Vec::new();
        for (i, line) in content.lines().enumerate() {
            if line.len() > 2_000 {
                continue;
            }
            for rule in rules_for(language) {
                let Some(name) = rule.re.captures(line).and_then(|c| c.get(1)) else {
                    continue;
                };
                if NOT_NAMES.contains(&name.as_str())
                    && !matches!(language, Some("rust" | "python" | "go"))
                {
                    continue;
                }
                found.push((
                    rule.kind.to_string(),
                    name.as_str().to_string(),
                    i as u32 + 1,
                ));
                break;
            }
        }
        let decisions = content
            .lines()
            .filter(|l| !is_comment(l.trim()))
            .map(|l| DECISION.find_iter(l).count())
            .sum();
        (found, decisions)
    }

    fn oracle_corpus() -> Vec<(String, Option<&'static str>)> {
        let mut texts = Vec::new();
        let mut add_tree = |root: &std::path::Path, cap: usize| {
            let mut n = 0;
            for p in crate::engine::pipeline::discover::walk(root).flatten() {
                let rel = p.to_string_lossy().to_string();
                let Some(lang) = crate::engine::pipeline::discover::language_of(&rel) else {
                    continue;
                };
                if let Ok(t) = std::fs::read_to_string(&p) {
                    texts.push((t, Some(lang)));
                    n += 1;
                }
                if n >= cap {
                    break;
                }
            }
        };
        let generated = tempfile::tempdir().unwrap();
        crate::corpus::generate(generated.path(), 200).unwrap();
        add_tree(generated.path(), usize::MAX);
        add_tree(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("src")
                .as_path(),
            usize::MAX,
        );
        // Real code in many languages, when a build left the crate sources here.
        if let Some(home) = std::env::var_os("CARGO_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo"))
            })
        {
            add_tree(&home.join("registry/src"), 1_500);
        }
        for edge in [
            "\tpub fn tabbed() {}\n  \u{a0}fn nbsp() {}\n\u{3000}struct Wide;\n",
            "x = a ? b : c;\r\nif (a && b || c) {\r\n  // if for while\r\n}\r\n",
            "   foo(bar) {\n\tconst\n int main(void)\n",
            "a\r\n\r\nb\r",
            "\n\n",
            "try:\n    x()\n  except :\n    pass\n",
            "a = 1; static mut X: u8 = 0;\n",
            "\n\t static\n mut y\n global  z\n",
            "x global y\nstatic mut\u{a0}z\n",
        ] {
            for lang in [
                None,
                Some("rust"),
                Some("python"),
                Some("typescript"),
                Some("go"),
            ] {
                texts.push((edge.to_string(), lang));
            }
        }
        texts
    }

    #[test]
    fn gated_rules_and_whole_text_counts_agree_with_rule_by_rule_line_by_line() {
        let corpus = oracle_corpus();
        assert!(corpus.len() > 500, "corpus of {} texts", corpus.len());
        // The rules as they were: one regex each, searched over the whole text.
        let singles: Vec<(&str, Regex)> = [
            ("factory_pattern", r"(?-u:\b)(?:fn\s+(?:new|create|make|build)_?\w*\s*\(|def\s+create_\w+|[A-Z]\w*Factory(?-u:\b)|func\s+New[A-Z]\w*)"),
            ("bare_except", r"(?m)^\s*except\s*:"),
            ("mutable_global_state", r"(?m)^\s*(?:global\s+\w|static\s+mut\s)"),
        ]
        .into_iter()
        .map(|(name, re)| (name, Regex::new(re).unwrap()))
        .chain(
            TEXT_RULES
                .iter()
                .filter(|r| !matches!(r.name, "factory_pattern" | "bare_except" | "mutable_global_state"))
                .map(|r| (r.name, Regex::new(r.re).unwrap())),
        )
        .collect();
        for (text, lang) in &corpus {
            let a = analyze(text, *lang);
            let (want, decisions) = reference(text, *lang);
            let got: Vec<_> = a
                .entities
                .iter()
                .map(|e| {
                    let kind = if e.kind == "method" && *lang == Some("python") {
                        "function"
                    } else {
                        e.kind.as_str()
                    };
                    (kind.to_string(), e.name.clone(), e.line)
                })
                .collect();
            let want: Vec<_> = want
                .into_iter()
                .map(|(k, n, l)| {
                    let k = if k == "method" && *lang == Some("python") {
                        "function".into()
                    } else {
                        k
                    };
                    (k, n, l)
                })
                .collect();
            assert_eq!(got, want, "{lang:?}: {}", &text[..text.len().min(200)]);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(line_facts(&lines).decisions, decisions, "{lang:?}");
            assert_eq!(debt_markers(text.as_bytes()), DEBT.find_iter(text).count());
            let hits = text_rule_hits(text);
            for (name, one) in &singles {
                let got = TEXT_RULES
                    .iter()
                    .zip(&hits)
                    .any(|(r, h)| r.name == *name && *h);
                assert_eq!(got, one.is_match(text), "{one}");
            }
            assert_eq!(split_lines(text), lines);
        }
    }

    #[test]
    fn no_anchor_starts_another() {
        let all: Vec<&str> = TEXT_RULES
            .iter()
            .flat_map(|r| r.anchors.iter().copied())
            .collect();
        for a in &all {
            for b in &all {
                assert!(a == b || !b.starts_with(a), "{a} starts {b}");
            }
        }
    }

    #[test]
    fn word_boundaries_are_ascii() {
        // `if` after an ASCII letter is no keyword; after a non-ASCII one it is
        // (the ASCII boundary the DFA can run with everywhere).
        assert_eq!(line_decisions(b"xif y"), 0);
        assert_eq!(line_decisions("éif y".as_bytes()), 1);
        assert_eq!(line_decisions(b"a ? b : c && d || e ?: f ? g ? h : i"), 4);
        let a = analyze("// TODO one\n/* FIXME */ HACK XXX done\n", None);
        assert!(a
            .results
            .anti_patterns_detected
            .contains(&"technical_debt_markers".into()));
    }

    #[test]
    fn total_on_garbage() {
        let a = analyze("\u{1b}[2J}}}}{{{{ ((((\0\0 fn", None);
        assert!(a.results.quality_score.is_finite());
        let a = analyze("", Some("rust"));
        assert_eq!(a.results.entities_extracted, 0);
    }
}
