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
    re: Regex,
}

fn rules(spec: &[(&'static str, &str)]) -> Vec<Rule> {
    spec.iter()
        .map(|(kind, re)| Rule {
            kind,
            re: Regex::new(re).expect("analyzer regex"),
        })
        .collect()
}

static RUST: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        (
            "function",
            r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+\S+\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)",
        ),
        (
            "struct",
            r"^\s*(?:pub(?:\([^)]*\))?\s+)?struct\s+([A-Za-z_][A-Za-z0-9_]*)",
        ),
        (
            "enum",
            r"^\s*(?:pub(?:\([^)]*\))?\s+)?enum\s+([A-Za-z_][A-Za-z0-9_]*)",
        ),
        (
            "trait",
            r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?trait\s+([A-Za-z_][A-Za-z0-9_]*)",
        ),
        (
            "type",
            r"^\s*(?:pub(?:\([^)]*\))?\s+)?type\s+([A-Za-z_][A-Za-z0-9_]*)",
        ),
        (
            "module",
            r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)",
        ),
        ("macro", r"^\s*macro_rules!\s+([A-Za-z_][A-Za-z0-9_]*)"),
    ])
});
static PYTHON: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        (
            "function",
            r"^\s*(?:async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(",
        ),
        ("class", r"^\s*class\s+([A-Za-z_][A-Za-z0-9_]*)"),
    ])
});
static JS: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        (
            "function",
            r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*([A-Za-z_$][A-Za-z0-9_$]*)",
        ),
        (
            "function",
            r"^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][A-Za-z0-9_$]*)\s*(?::[^=]+)?=\s*(?:async\s+)?(?:\([^)]*\)|[A-Za-z_$][A-Za-z0-9_$]*)\s*(?::[^=]+)?=>",
        ),
        (
            "class",
            r"^\s*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+([A-Za-z_$][A-Za-z0-9_$]*)",
        ),
        (
            "interface",
            r"^\s*(?:export\s+)?interface\s+([A-Za-z_$][A-Za-z0-9_$]*)",
        ),
        (
            "type",
            r"^\s*(?:export\s+)?type\s+([A-Za-z_$][A-Za-z0-9_$]*)\s*(?:<[^>]*>)?\s*=",
        ),
        (
            "enum",
            r"^\s*(?:export\s+)?(?:const\s+)?enum\s+([A-Za-z_$][A-Za-z0-9_$]*)",
        ),
        (
            "method",
            r"^\s+(?:public\s+|private\s+|protected\s+|static\s+|readonly\s+|async\s+)*([A-Za-z_$][A-Za-z0-9_$]*)\s*\([^)]*\)\s*(?::\s*[^{]+)?\{\s*$",
        ),
    ])
});
static GO: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        ("method", r"^func\s+\([^)]*\)\s*([A-Za-z_][A-Za-z0-9_]*)"),
        ("function", r"^func\s+([A-Za-z_][A-Za-z0-9_]*)"),
        ("struct", r"^type\s+([A-Za-z_][A-Za-z0-9_]*)\s+struct\b"),
        (
            "interface",
            r"^type\s+([A-Za-z_][A-Za-z0-9_]*)\s+interface\b",
        ),
        ("type", r"^type\s+([A-Za-z_][A-Za-z0-9_]*)\s+[^si]"),
    ])
});
static C_LIKE: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        (
            "class",
            r"^\s*(?:public\s+|private\s+|protected\s+|abstract\s+|final\s+|static\s+)*(?:class|interface|record)\s+([A-Za-z_][A-Za-z0-9_]*)",
        ),
        (
            "struct",
            r"^\s*(?:typedef\s+)?struct\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{?",
        ),
        (
            "function",
            r"^\s*(?:[A-Za-z_][A-Za-z0-9_<>,\*&\s]*\s+)?\**([A-Za-z_][A-Za-z0-9_]*)\s*\([^;{]*\)\s*(?:const\s*)?\{?\s*$",
        ),
    ])
});

/// Words that look like calls but never name a function.
const NOT_NAMES: &[&str] = &[
    "if", "for", "while", "switch", "catch", "return", "match", "else", "sizeof", "new", "function",
];

static DECISION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:if|elif|for|while|case|catch|except|match)\b|&&|\|\||\?\s*[^:?]+:").unwrap()
});
static DEBT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:TODO|FIXME|XXX|HACK)\b").unwrap());

struct PatternRule {
    name: &'static str,
    re: Regex,
}

static PATTERNS: LazyLock<Vec<PatternRule>> = LazyLock::new(|| {
    [
        ("factory_pattern", r"\b(?:fn\s+(?:new|create|make|build)_?\w*\s*\(|def\s+create_\w+|[A-Z]\w*Factory\b|func\s+New[A-Z]\w*)"),
        ("singleton_pattern", r"\b(?:OnceLock|OnceCell|lazy_static!|LazyLock|getInstance|_instance\b|sync\.Once)"),
        ("builder_pattern", r"\b[A-Z]\w*Builder\b"),
        ("observer_pattern", r"\b(?:subscribe|unsubscribe|add_listener|addEventListener|add_observer|notify_all|on_event)\b"),
        ("iterator_pattern", r"(?:impl(?:<[^>]*>)?\s+Iterator\s+for|def\s+__iter__|Symbol\.iterator|\byield\b)"),
        ("decorator_pattern", r"(?m)^\s*@[A-Za-z_][\w.]*(?:\(|$)"),
        ("async_await", r"\b(?:async\s+(?:fn|def|function)|await\b|\.await\b)"),
        ("error_propagation", r"(?:\)\?;|Result<|raise\s+\w+Error|if\s+err\s*!=\s*nil)"),
        ("dependency_injection", r"\b(?:Arc<dyn\s|Box<dyn\s|@inject|@Inject\b)"),
        ("test_suite", r"(?:#\[test\]|#\[tokio::test\]|def\s+test_\w+|\bdescribe\(|\bit\(|func\s+Test[A-Z]\w*\()"),
    ]
    .into_iter()
    .map(|(name, re)| PatternRule {
        name,
        re: Regex::new(re).unwrap(),
    })
    .collect()
});

static BARE_EXCEPT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)^\s*except\s*:").unwrap());
static EMPTY_CATCH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"catch\s*(?:\([^)]*\))?\s*\{\s*\}|except[^:\n]*:\s*\n\s*pass\b").unwrap()
});
static UNWRAP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\.unwrap\(\)").unwrap());
static GLOBAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^\s*(?:global\s+\w|static\s+mut\s)").unwrap());
static DEBUG_PRINT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:console\.log|dbg!|System\.out\.println)\b|\bprint\(f?[\x22']DEBUG").unwrap()
});

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

fn indent_width(line: &str) -> usize {
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
        for ch in l.chars() {
            match ch {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => depth -= 1,
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

pub fn analyze(content: &str, language: Option<&str>) -> Analysis {
    let lines: Vec<&str> = content.lines().collect();
    let indent_based = language == Some("python");
    let mut entities = Vec::new();
    let mut function_spans = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.len() > 2_000 {
            continue; // minified or generated; no declarations worth naming
        }
        for rule in rules_for(language) {
            let Some(name) = rule.re.captures(line).and_then(|c| c.get(1)) else {
                continue;
            };
            let name = name.as_str();
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

    let code_lines = lines.iter().filter(|l| !l.trim().is_empty()).count().max(1);
    let comment_lines = lines.iter().filter(|l| is_comment(l.trim())).count();
    let long_lines = lines
        .iter()
        .filter(|l| l.chars().count() > LONG_LINE)
        .count();
    let decisions: usize = lines
        .iter()
        .filter(|l| !is_comment(l.trim()))
        .map(|l| DECISION.find_iter(l).count())
        .sum();
    let debt = lines
        .iter()
        .map(|l| DEBT.find_iter(l).count())
        .sum::<usize>();
    // Four columns (or one tab) per level in every language we read.
    let unit = 4;
    let max_depth = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent_width(l) / unit)
        .max()
        .unwrap_or(0);
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

    let mut patterns: Vec<String> = PATTERNS
        .iter()
        .filter(|p| p.re.is_match(content))
        .map(|p| p.name.to_string())
        .collect();
    patterns.sort();

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
    if BARE_EXCEPT.is_match(content) {
        anti.push("bare_except");
    }
    if EMPTY_CATCH.is_match(content) {
        anti.push("swallowed_error");
    }
    if language == Some("rust") && UNWRAP.find_iter(content).count() > 10 {
        anti.push("unwrap_abuse");
    }
    if GLOBAL.is_match(content) {
        anti.push("mutable_global_state");
    }
    if DEBUG_PRINT.is_match(content) {
        anti.push("debug_output");
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

    #[test]
    fn total_on_garbage() {
        let a = analyze("\u{1b}[2J}}}}{{{{ ((((\0\0 fn", None);
        assert!(a.results.quality_score.is_finite());
        let a = analyze("", Some("rust"));
        assert_eq!(a.results.entities_extracted, 0);
    }
}
