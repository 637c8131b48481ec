//! DLQ export and import as JSON Lines: one entry per line, as `dlq show`
//! prints it (`{"id", "partition", "key", "message"}`), so a file can be
//! read, grepped, attached to a ticket (masked) or brought into another
//! environment's DLQ.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::dlq::{self, DlqEntry, DlqFilter};
use crate::engine::Engine;
use crate::events::DlqMessage;
use crate::ports::broker::OutRecord;

/// Fields masked by `--mask` whatever else is configured: payload bodies and
/// where documents live (paths name customers and projects).
pub const DEFAULT_MASKED: &[&str] = &["content", "file_path", "source_path"];

#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportReport {
    pub exported: u64,
    pub masked: bool,
    pub path: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// Written to the DLQ topic.
    pub imported: u64,
    /// The same entry is already the current one for its key: left alone.
    pub already_present: u64,
    /// Lines refused, with why (nothing is imported when any is).
    pub invalid: Vec<String>,
}

/// One line of an export file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: i64,
    partition: i32,
    key: String,
    message: Value,
}

/// `blake3:` and the first 16 hex digits of the value: equal values stay
/// equal (grouping still works), the text is gone.
fn hash_of(v: &str) -> String {
    format!(
        "masked:blake3:{}",
        &blake3::hash(v.as_bytes()).to_hex()[..16]
    )
}

/// Replace every string under a masked key (at any depth) by its hash; the
/// failure reason, exception message and each try's error by its
/// fingerprint pattern (ids, paths, numbers masked).
pub fn mask(v: &mut Value, fields: &[String]) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if fields.iter().any(|f| f == k) {
                    match child {
                        Value::String(s) => *s = hash_of(s),
                        Value::Null => {}
                        other => *other = Value::String(hash_of(&other.to_string())),
                    }
                } else if matches!(k.as_str(), "failure_reason" | "exception_message" | "error") {
                    // Reasons (the entry's, and each failed try's) keep
                    // only their fingerprint pattern.
                    if let Value::String(s) = child {
                        *s = crate::engine::dlq::fingerprint::pattern(s);
                    }
                } else {
                    mask(child, fields);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| mask(i, fields)),
        _ => {}
    }
}

/// Write the entries `filter` matches to `path` (newest first); masked
/// with `mask_fields` when given.
pub async fn export(
    engine: &Engine,
    filter: &DlqFilter,
    path: &Path,
    mask_fields: Option<&[String]>,
) -> Result<ExportReport> {
    let entries = dlq::load_matching(engine, filter).await?;
    let tmp = path.with_extension("jsonl.partial");
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?,
    );
    for e in &entries {
        let mut line = serde_json::to_value(e)?;
        if let Some(fields) = mask_fields {
            mask(&mut line["message"], fields);
        }
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    drop(out);
    // Whole or not at all: a reader never sees half a file.
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(ExportReport {
        exported: entries.len() as u64,
        masked: mask_fields.is_some(),
        path: path.display().to_string(),
    })
}

/// Read an export file: every line must be an entry whose message is a DLQ
/// message; then write those not already current to the DLQ topic. Nothing
/// is written when any line is refused.
pub async fn import(engine: &Engine, path: &Path, dry_run: bool) -> Result<ImportReport> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut report = ImportReport::default();
    let mut parsed: Vec<(String, DlqMessage)> = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let at = i + 1;
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                report.invalid.push(format!("line {at}: {e}"));
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(&line) {
            Ok(entry) => parsed.push(entry),
            Err(e) => report
                .invalid
                .push(format!("line {at}: {}", crate::sanitize::clean(&e))),
        }
        if report.invalid.len() >= 20 {
            report
                .invalid
                .push("… (stopped after 20 refused lines)".into());
            break;
        }
    }
    if !report.invalid.is_empty() {
        return Ok(report);
    }
    // Idempotent by entry: what is current for a key is not written again.
    let current: HashMap<String, DlqMessage> = dlq::load(engine)
        .await?
        .into_iter()
        .map(|e: DlqEntry| (e.key, e.message))
        .collect();
    let mut records = Vec::new();
    for (key, message) in parsed {
        if current.get(&key).is_some_and(|m| same(m, &message)) {
            report.already_present += 1;
            continue;
        }
        records.push(OutRecord {
            key: key.into_bytes(),
            value: serde_json::to_vec(&message)?,
        });
    }
    report.imported = records.len() as u64;
    if !dry_run {
        for chunk in records.chunks(1000) {
            engine
                .backends
                .broker
                .produce(&engine.cfg.dlq_topic, chunk.to_vec())
                .await?;
        }
    }
    Ok(report)
}

fn parse_line(line: &str) -> Result<(String, DlqMessage), String> {
    let l: Line = serde_json::from_str(line).map_err(|e| format!("not an exported entry: {e}"))?;
    if l.key.is_empty() || l.key.len() > 512 {
        return Err("key must be 1..=512 bytes".into());
    }
    let raw = serde_json::to_vec(&l.message).map_err(|e| e.to_string())?;
    let m = DlqMessage::decode(&raw).ok_or("message is not a DLQ message (seed 001 §3.2)")?;
    Ok((l.key, m))
}

/// The same failure (an export read back, a file imported twice).
fn same(a: &DlqMessage, b: &DlqMessage) -> bool {
    a.document_id == b.document_id
        && a.failure_timestamp == b.failure_timestamp
        && a.failure_reason == b.failure_reason
        && a.original_message == b.original_message
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masking_hashes_configured_fields_at_any_depth_and_keeps_equal_values_equal() {
        let mut v = json!({
            "failure_reason": "failed to enrich /srv/acme/secret.rs after 3 tries",
            "error_details": {"exception_message": "cannot read /srv/acme/secret.rs",
                              "attempts": [{"attempt": 0, "error": "E: /srv/acme/secret.rs"}]},
            "original_message": {"file_path": "acme/secret.rs", "project_name": "acme",
                                  "nested": [{"content": "password=hunter2"}]},
            "other": {"file_path": "acme/secret.rs"}
        });
        let fields: Vec<String> = DEFAULT_MASKED.iter().map(|s| s.to_string()).collect();
        mask(&mut v, &fields);
        let text = v.to_string();
        assert!(
            !text.contains("secret.rs") && !text.contains("hunter2"),
            "{text}"
        );
        assert_eq!(
            v["original_message"]["project_name"], "acme",
            "not configured"
        );
        assert_eq!(
            v["original_message"]["file_path"], v["other"]["file_path"],
            "equal values hash equal"
        );
        assert!(v["original_message"]["file_path"]
            .as_str()
            .unwrap()
            .starts_with("masked:blake3:"));
    }

    #[test]
    fn lines_are_checked() {
        assert!(parse_line("{}").is_err());
        assert!(parse_line("not json").is_err());
        let m = json!({"document_id": "d1", "failure_reason": "x", "failure_timestamp": "t",
                       "failure_count": 1, "original_message": {},
                       "error_details": {"exception_type": "E", "exception_message": "x",
                                         "service_health": {"intelligence_service": "down",
                                                            "memgraph": "healthy",
                                                            "qdrant": "healthy"}}});
        let ok = json!({"id": 1, "partition": 0, "key": "d1", "message": m}).to_string();
        assert!(parse_line(&ok).is_ok(), "{:?}", parse_line(&ok));
        let no_message = json!({"id": 1, "partition": 0, "key": "d1", "message": {"a": 1}});
        assert!(parse_line(&no_message.to_string())
            .unwrap_err()
            .contains("not a DLQ message"));
        let extra = json!({"id": 1, "partition": 0, "key": "d1", "message": m, "x": 1});
        assert!(
            parse_line(&extra.to_string()).is_err(),
            "unknown fields are refused"
        );
    }
}
