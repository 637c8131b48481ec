//! Edit and replay one DLQ entry: change what made its request fail
//! (project, path, enrichment type, retry count — never the document id),
//! check the result against the §3.1 request schema, see the diff, send it.

use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use crate::engine::dlq::DlqEntry;
use crate::engine::fleet::levers::CommandError;
use crate::engine::Engine;
use crate::events::EnrichmentRequest;

/// The request fields an operator may change.
pub const EDITABLE: [&str; 4] = [
    "project_name",
    "file_path",
    "enrichment_type",
    "retry_count",
];

/// (field, before, after) for each field an edit changes.
pub type Diff = Vec<(String, String, String)>;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EditReport {
    pub entry_id: i64,
    pub document_id: String,
    /// (field, before, after) for each field that changes.
    pub diff: Diff,
    pub dry_run: bool,
    /// Sent (false on a dry run, or when the document had left the DLQ).
    pub replayed: bool,
    /// The request as sent (or as it would be).
    pub request: Value,
}

/// `project_name=web file_path=a/b.rs` → pairs (values may be quoted).
pub fn parse_changes(text: &str) -> Result<Vec<(String, String)>, String> {
    let words = shell_words(text)?;
    if words.is_empty() {
        return Err(format!(
            "give FIELD=VALUE for any of: {}",
            EDITABLE.join(", ")
        ));
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_string(), v.to_string())),
            None => Err(format!("{w:?} is not FIELD=VALUE")),
        })
        .collect()
}

/// Split on spaces outside double quotes.
fn shell_words(text: &str) -> Result<Vec<String>, String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return Err("a quote is not closed".into());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

fn shown(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "(none)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The entry's request with `changes` applied, checked against the schema;
/// with the diff. Refusals are `Invalid` (nothing is sent).
pub fn edited(
    entry: &DlqEntry,
    changes: &[(String, String)],
) -> Result<(Value, Diff), CommandError> {
    let invalid = |m: String| Err(CommandError::Invalid(m));
    let original = &entry.message.original_message;
    if !original.is_object() {
        return invalid(
            "this entry's payload was never a JSON request; it cannot be edited (purge it)".into(),
        );
    }
    let mut request = original.clone();
    let mut diff = Vec::new();
    for (field, value) in changes {
        if field == "document_id" {
            return invalid("document_id cannot be edited: it names the document".into());
        }
        if !EDITABLE.contains(&field.as_str()) {
            return invalid(format!(
                "{field:?} cannot be edited; editable: {}",
                EDITABLE.join(", ")
            ));
        }
        let new = if field == "retry_count" {
            match value.parse::<u64>() {
                Ok(n) => Value::from(n),
                Err(_) => {
                    return invalid(format!("retry_count must be a whole number, got {value:?}"))
                }
            }
        } else {
            Value::String(value.clone())
        };
        let before = shown(request.get(field));
        if request.get(field) != Some(&new) {
            diff.push((field.clone(), before, shown(Some(&new))));
        }
        request[field.as_str()] = new;
    }
    let bytes = serde_json::to_vec(&request).map_err(|e| CommandError::Failed(e.into()))?;
    if let Err(e) = EnrichmentRequest::decode(&bytes) {
        return invalid(format!("the edited request fails the schema: {e}"));
    }
    Ok((request, diff))
}

impl Engine {
    /// Edit one entry's request and replay it (or only show the diff).
    pub async fn edit_and_replay(
        self: &Arc<Self>,
        entry: &DlqEntry,
        changes: &[(String, String)],
        dry_run: bool,
    ) -> Result<EditReport> {
        let (request, diff) = edited(entry, changes)?;
        let mut report = EditReport {
            entry_id: entry.id,
            document_id: entry.message.document_id.clone(),
            diff,
            dry_run,
            replayed: false,
            request: request.clone(),
        };
        if dry_run {
            return Ok(report);
        }
        let mut sent = entry.clone();
        sent.message.original_message = request;
        report.replayed = crate::engine::dlq::send_back_with(self, &[&sent], false)
            .await?
            .0
            == 1;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_parse_with_quotes_and_refuse_junk() {
        assert_eq!(
            parse_changes(r#"project_name=web file_path="a b/c.rs""#).unwrap(),
            vec![
                ("project_name".into(), "web".into()),
                ("file_path".into(), "a b/c.rs".into())
            ]
        );
        assert!(parse_changes("").is_err());
        assert!(parse_changes("project_name").is_err());
        assert!(parse_changes(r#"file_path="open"#).is_err());
    }
}
