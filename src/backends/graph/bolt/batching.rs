//! UNWIND batches cut to the message budget, file bodies cut into chunks.

use base64::Engine as _;
use serde_json::{json, Value};

/// Splits rows into batches whose JSON size (an upper bound of their Bolt
/// size: PackStream is never larger) stays within `budget`; a row larger than
/// the budget goes alone.
pub(super) fn batches_by_size(rows: Vec<Value>, budget: usize) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    let mut batch = Vec::new();
    let mut size = 0;
    for row in rows {
        let n = row.to_string().len() + 1;
        if !batch.is_empty() && size + n > budget {
            out.push(std::mem::take(&mut batch));
            size = 0;
        }
        size += n;
        batch.push(row);
    }
    if !batch.is_empty() {
        out.push(batch);
    }
    out
}

/// A body as DocumentContent rows of at most `chunk` bytes: text when it is
/// UTF-8 (readable from Cypher, cut on character boundaries), base64
/// otherwise, so nothing is lost either way.
pub(super) fn content_rows(hash: &str, body: &[u8], chunk: usize) -> Vec<Value> {
    let chunk = chunk.max(16);
    let mut pieces: Vec<(Option<&str>, Option<String>)> = Vec::new();
    match std::str::from_utf8(body) {
        Ok(mut text) => {
            while !text.is_empty() {
                let mut end = text.len().min(chunk);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                pieces.push((Some(&text[..end]), None));
                text = &text[end..];
            }
        }
        Err(_) => {
            // base64 grows 4/3.
            for part in body.chunks(chunk * 3 / 4) {
                pieces.push((
                    None,
                    Some(base64::engine::general_purpose::STANDARD.encode(part)),
                ));
            }
        }
    }
    if pieces.is_empty() {
        pieces.push((Some(""), None));
    }
    let total = pieces.len();
    pieces
        .into_iter()
        .enumerate()
        .map(|(seq, (text, b64))| {
            json!({"hash": hash, "seq": seq, "chunks": total, "body": text, "b64": b64})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stay_under_the_budget_and_keep_order() {
        let rows: Vec<Value> = (0..100)
            .map(|i| json!({"id": format!("doc-{i:03}")}))
            .collect();
        let one = rows[0].to_string().len() + 1;
        let batches = batches_by_size(rows.clone(), one * 10);
        assert_eq!(batches.len(), 10);
        assert!(batches.iter().all(|b| b.len() == 10));
        assert_eq!(batches.concat(), rows);
        // A row over the budget still goes, alone.
        let big = vec![json!("x".repeat(500)), json!("y")];
        assert_eq!(batches_by_size(big, 100).len(), 2);
    }

    #[test]
    fn content_chunks_cut_on_character_boundaries_and_round_trip() {
        let text = "ü∑€".repeat(100); // 2-, 3- and 3-byte characters
        let rows = content_rows("h", text.as_bytes(), 64);
        assert!(rows.len() > 1);
        let mut joined = String::new();
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r["seq"], i);
            assert_eq!(r["chunks"], rows.len());
            let piece = r["body"].as_str().unwrap();
            assert!(piece.len() <= 64);
            joined.push_str(piece);
        }
        assert_eq!(joined, text);
        let binary = [0xffu8, 0xfe, 0, 1, 2];
        let rows = content_rows("h", &binary, 64);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(rows[0]["b64"].as_str().unwrap())
                .unwrap(),
            binary
        );
        assert_eq!(
            content_rows("h", b"", 64).len(),
            1,
            "an empty body is stored too"
        );
    }
}
