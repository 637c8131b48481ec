//! UNWIND batches cut to the message budget, file bodies cut into chunks.

use base64::Engine as _;
use neo4rs::BoltType;
use serde_json::{json, Value};

/// An upper bound of a value's PackStream size, without encoding it: a
/// marker and a length of at most 5 bytes before each string, list and map.
pub(super) fn bolt_size(v: &BoltType) -> usize {
    match v {
        BoltType::String(s) => 5 + s.value.len(),
        BoltType::List(l) => 5 + l.value.iter().map(bolt_size).sum::<usize>(),
        BoltType::Map(m) => {
            5 + m
                .value
                .iter()
                .map(|(k, v)| 5 + k.value.len() + bolt_size(v))
                .sum::<usize>()
        }
        BoltType::Bytes(b) => 5 + b.value.len(),
        _ => 9,
    }
}

/// Splits `rows` into batches whose `size` sum stays within `budget`; a row
/// larger than the budget goes alone.
pub(super) fn cut_by_size<T>(
    rows: Vec<T>,
    size: impl Fn(&T) -> usize,
    budget: usize,
) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut batch = Vec::new();
    let mut total = 0;
    for row in rows {
        let n = size(&row);
        if !batch.is_empty() && total + n > budget {
            out.push(std::mem::take(&mut batch));
            total = 0;
        }
        total += n;
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
        let bolt = |v: Value| BoltType::try_from(v).unwrap();
        let rows: Vec<BoltType> = (0..100)
            .map(|i| bolt(json!({"id": format!("doc-{i:03}")})))
            .collect();
        let one = bolt_size(&rows[0]);
        let batches = cut_by_size(rows.clone(), bolt_size, one * 10);
        assert_eq!(batches.len(), 10);
        assert!(batches.iter().all(|b| b.len() == 10));
        assert_eq!(batches.concat(), rows);
        // A row over the budget still goes, alone.
        let big = vec![bolt(json!("x".repeat(500))), bolt(json!("y"))];
        assert_eq!(cut_by_size(big, bolt_size, 100).len(), 2);
    }

    #[test]
    fn the_bolt_size_bound_counts_every_key_and_string_byte() {
        let row: BoltType = BoltType::try_from(json!({
            "id": "doc-1", "score": 0.5, "n": 7, "none": null,
            "kinds": ["function", "struct"], "lines": [1, 20000],
            "body": "ü∑€".repeat(100),
        }))
        .unwrap();
        let encoded = json!({
            "id": "doc-1", "score": 0.5, "n": 7, "none": null,
            "kinds": ["function", "struct"], "lines": [1, 20000],
            "body": "ü∑€".repeat(100),
        })
        .to_string()
        .len();
        let bound = bolt_size(&row);
        // Every key and string byte (26 + 819), a header for each.
        assert!(bound >= 845 + 5 * 11, "{bound}");
        // And not far above: no larger than the JSON text plus headers.
        assert!(bound <= encoded + 64, "{bound} vs {encoded}");
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
