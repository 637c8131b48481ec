//! `archon-tui bundle`: one tar.gz for a bug report (Redpanda Console's
//! debug bundle, kubectl cluster-info dump). Everything in it is what the
//! other read commands print, with secrets masked: the resolved settings
//! (any key naming a password, key, secret or token; the password in a
//! URL), DLQ samples reduced to their fingerprint patterns, and secrets in
//! the log lines given with `--log`. It says what it holds and what it
//! masked, in the archive's README.txt and on stdout.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::config::Settings;
use crate::engine::config::EngineConfig;
use crate::engine::Engine;

/// Lines kept from the end of each `--log` file.
const LOG_LINES: usize = 5_000;

/// What goes in, in order: (name in the archive, bytes).
struct Contents {
    files: Vec<(String, Vec<u8>)>,
    masked: Vec<String>,
    missing: Vec<String>,
}

impl Contents {
    fn json(&mut self, name: &str, v: &impl serde::Serialize) {
        match serde_json::to_vec_pretty(v) {
            Ok(b) => self.files.push((name.to_string(), b)),
            Err(e) => self.missing.push(format!("{name}: {e}")),
        }
    }

    fn or_missing<T: serde::Serialize>(&mut self, name: &str, r: Result<T>) {
        match r {
            Ok(v) => self.json(name, &v),
            Err(e) => self.missing.push(format!(
                "{name}: {}",
                crate::sanitize::clean(&format!("{e:#}"))
            )),
        }
    }
}

/// A key whose value is a secret, by its name.
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "api_key",
        "apikey",
        "jaas",
        "credential",
    ]
    .iter()
    .any(|s| k.contains(s))
        || k.ends_with(".key")
}

/// A URL's password (`scheme://user:PASSWORD@host`) masked.
fn mask_url_password(s: &str) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    let (userinfo, host) = rest.split_once('@')?;
    let (user, _) = userinfo.split_once(':')?;
    Some(format!("{scheme}://{user}:***@{host}"))
}

/// Mask every secret under `v` (in place); the paths masked go to `out`.
pub fn mask_secrets(v: &mut Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if secret_key(k) && !child.is_null() {
                    *child = Value::String("***".into());
                    out.push(here);
                } else {
                    mask_secrets(child, &here, out);
                }
            }
        }
        Value::Array(items) => {
            // A (KEY, VALUE) pair, as `--kafka-option` is kept.
            if let [Value::String(k), value @ Value::String(_)] = items.as_mut_slice() {
                if !k.contains('=') && secret_key(k) {
                    *value = Value::String("***".into());
                    out.push(format!("{path} ({k})"));
                    return;
                }
            }
            for (i, item) in items.iter_mut().enumerate() {
                // `--kafka-option KEY=VALUE`: the key says whether it is secret.
                if let Value::String(s) = item {
                    let key = s.split_once('=').map(|(k, _)| k.to_string());
                    if let Some(k) = key.filter(|k| secret_key(k)) {
                        *s = format!("{k}=***");
                        out.push(format!("{path}[{i}] ({k})"));
                        continue;
                    }
                }
                mask_secrets(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::String(s) => {
            if let Some(m) = mask_url_password(s) {
                *s = m;
                out.push(format!("{path} (the password in the URL)"));
            }
        }
        _ => {}
    }
}

/// A log line with `password=…`, `token: …`, `Bearer …` and URL passwords
/// masked, and terminal control characters gone.
fn mask_log_line(line: &str) -> (String, bool) {
    static RULES: std::sync::OnceLock<Vec<regex::Regex>> = std::sync::OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [
            r#"(?i)((?:password|passwd|secret|token|api[_-]?key)["']?\s*[:=]\s*["']?)[^\s"',}]+"#,
            r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+",
            r"(://[^:/@\s]+:)[^@/\s]+(@)",
        ]
        .iter()
        .map(|r| regex::Regex::new(r).expect("a fixed pattern"))
        .collect()
    });
    let mut out = crate::sanitize::clean(line);
    let before = out.clone();
    for r in rules {
        out = r.replace_all(&out, "${1}***${2}").into_owned();
    }
    let masked = out != before;
    (out, masked)
}

fn tail(path: &Path) -> Result<Vec<String>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut last = std::collections::VecDeque::with_capacity(LOG_LINES);
    for line in std::io::BufReader::new(f).lines() {
        let line = match line {
            Ok(l) => l,
            Err(_) => continue, // not UTF-8: skipped, not fatal
        };
        if last.len() == LOG_LINES {
            last.pop_front();
        }
        last.push_back(line);
    }
    Ok(last.into())
}

fn readme(c: &Contents, out: &Path) -> String {
    let mut s = format!(
        "archon-tui {} support bundle, made {}\n\n",
        env!("CARGO_PKG_VERSION"),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    s.push_str("Contents:\n");
    for (name, bytes) in &c.files {
        s.push_str(&format!("  {name} ({} bytes)\n", bytes.len()));
    }
    s.push_str("\nMasked:\n");
    if c.masked.is_empty() {
        s.push_str("  nothing was secret in the settings given\n");
    }
    for m in &c.masked {
        s.push_str(&format!("  {m}\n"));
    }
    s.push_str(
        "  dlq-groups.json: each group's sample reason is its fingerprint pattern \
         (ids, paths, numbers and hashes masked); no payload bodies\n",
    );
    if !c.missing.is_empty() {
        s.push_str("\nNot included (could not be read):\n");
        for m in &c.missing {
            s.push_str(&format!("  {m}\n"));
        }
    }
    s.push_str(&format!(
        "\nNo log file is kept by archon-tui itself (serve logs to stderr, the console to its \
         Logs panel): give `--log FILE` to add the last {LOG_LINES} lines of one.\n\
         Written to {}.\n",
        out.display()
    ));
    s
}

pub async fn bundle(
    settings: &Settings,
    cfg: EngineConfig,
    out: Option<PathBuf>,
    logs: &[PathBuf],
) -> Result<i32> {
    let out = out.unwrap_or_else(|| {
        PathBuf::from(format!(
            "archon-tui-bundle-{}.tar.gz",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ))
    });
    let mut c = Contents {
        files: Vec::new(),
        masked: Vec::new(),
        missing: Vec::new(),
    };
    c.json(
        "versions.json",
        &json!({
            "archon_tui": env!("CARGO_PKG_VERSION"),
            "os": std::env::consts::OS,
            "arch": std::env::consts::ARCH,
            "features": {
                "kafka": cfg!(feature = "kafka"),
                "bolt": cfg!(feature = "bolt"),
                "qdrant": cfg!(feature = "qdrant"),
            },
            "librdkafka": crate::backends::librdkafka_version(),
        }),
    );
    let mut settings = serde_json::to_value(settings)?;
    let mut masked = Vec::new();
    mask_secrets(&mut settings, "settings", &mut masked);
    c.masked.extend(masked);
    c.json("settings.json", &settings);
    let doctor = crate::runtime::doctor::doctor(&cfg).await;
    let mut doctor = serde_json::to_value(&doctor)?;
    let mut masked = Vec::new();
    mask_secrets(&mut doctor, "doctor", &mut masked);
    c.masked.extend(masked);
    c.json("doctor.json", &doctor);
    let engine = crate::runtime::open_engine(cfg).await?;
    c.or_missing(
        "status.json",
        crate::engine::telemetry::status::StatusReport::read(&engine).await,
    );
    c.or_missing("fleet.json", fleet(&engine).await);
    c.or_missing("audit.json", engine.control.audit(500).await);
    c.or_missing(
        "history-6h.json",
        crate::engine::fleet::levers::pull(
            &engine,
            &crate::engine::fleet::levers::Caller::local(
                crate::engine::fleet::control::Origin::Cli,
            ),
            crate::engine::fleet::levers::History {
                window_ms: 6 * 3_600_000,
            },
        )
        .await
        .map(|h| h.samples)
        .map_err(anyhow::Error::from),
    );
    c.or_missing("dlq-groups.json", dlq_groups(&engine).await);
    for (i, log) in logs.iter().enumerate() {
        match tail(log) {
            Ok(lines) => {
                let mut n = 0;
                let mut text = String::new();
                for l in &lines {
                    let (line, masked) = mask_log_line(l);
                    n += usize::from(masked);
                    text.push_str(&line);
                    text.push('\n');
                }
                if n > 0 {
                    c.masked.push(format!(
                        "logs/{i}: {n} line(s) with a password, token or key"
                    ));
                }
                let name = log
                    .file_name()
                    .map(|f| crate::sanitize::clean(&f.to_string_lossy()))
                    .unwrap_or_else(|| "log".into());
                c.files
                    .push((format!("logs/{i}-{name}"), text.into_bytes()));
            }
            Err(e) => c.missing.push(format!("{}: {e:#}", log.display())),
        }
    }
    let readme = readme(&c, &out);
    write_archive(&out, &readme, &c.files)?;
    print!("{readme}");
    std::io::stdout().flush().ok();
    Ok(0)
}

/// The fleet as `fleet --json` has it: ours, then the others in the group.
async fn fleet(engine: &Arc<Engine>) -> Result<Value> {
    let members = crate::engine::telemetry::status::MemberView::of(
        engine.members().await?,
        crate::clock::now_ms(),
    );
    let others = engine.other_members().await.unwrap_or_default();
    Ok(json!({ "members": members, "others": others }))
}

/// The DLQ's groups with each sample reason reduced to its pattern.
async fn dlq_groups(engine: &Arc<Engine>) -> Result<Value> {
    let entries =
        crate::engine::dlq::load_matching(engine, &crate::engine::dlq::DlqFilter::default())
            .await?;
    let mut groups = crate::engine::dlq::groups(entries.iter());
    for g in &mut groups {
        g.sample_reason = crate::engine::dlq::fingerprint::pattern(&g.sample_reason);
    }
    Ok(json!({ "entries": entries.len(), "groups": groups }))
}

fn write_archive(out: &Path, readme: &str, files: &[(String, Vec<u8>)]) -> Result<()> {
    let tmp = out.with_extension("partial");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let now = crate::clock::now_ms() / 1000;
    let mut add = |name: &str, bytes: &[u8]| -> Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o600);
        h.set_mtime(now.max(0) as u64);
        h.set_cksum();
        tar.append_data(&mut h, format!("archon-tui-bundle/{name}"), bytes)?;
        Ok(())
    };
    add("README.txt", readme.as_bytes())?;
    for (name, bytes) in files {
        add(name, bytes)?;
    }
    let gz = tar.into_inner()?;
    let file = gz.finish()?;
    file.sync_all()?;
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_by_key_in_lists_and_in_urls() {
        let mut v = json!({
            "kafka": {"sasl_password": "hunter2", "sasl_username": "bob",
                      "option": ["sasl.password=hunter3", "linger.ms=5"],
                      "options": [["ssl.key.password", "hunter5"], ["acks", "all"]]},
            "graph": {"password": null, "uri": "bolt://neo4j:hunter4@db:7687"},
            "qdrant": {"api_key": "k-1"},
        });
        let mut masked = Vec::new();
        mask_secrets(&mut v, "settings", &mut masked);
        let text = v.to_string();
        for s in ["hunter2", "hunter3", "hunter4", "hunter5", "k-1"] {
            assert!(!text.contains(s), "{s} left in {text}");
        }
        assert!(
            text.contains("bob") && text.contains("linger.ms=5"),
            "{text}"
        );
        assert_eq!(v["graph"]["password"], Value::Null, "nothing to mask");
        assert!(text.contains(r#"["acks","all"]"#), "{text}");
        assert_eq!(masked.len(), 5, "{masked:?}");
    }

    #[test]
    fn log_lines_lose_their_secrets_and_control_characters() {
        let (l, m) = mask_log_line(
            "connect password=s3cr3t token: \"abc\" Authorization: Bearer xyz.1 \x1b[2J",
        );
        assert!(m);
        assert!(
            !l.contains("s3cr3t") && !l.contains("abc") && !l.contains("xyz.1"),
            "{l}"
        );
        assert!(!l.contains('\x1b'), "{l}");
        let (l, m) = mask_log_line("fetch failed: bolt://u:pw@h:7687 refused");
        assert!(m && !l.contains(":pw@"), "{l}");
        assert!(!mask_log_line("a plain line").1);
    }
}
