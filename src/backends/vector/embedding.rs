//! Deterministic document embedding by feature hashing (no model download).
//!
//! Identifiers are split into lower-case sub-words (camelCase, snake_case),
//! unigrams and adjacent bigrams are hashed with BLAKE3 into `DIM` signed
//! buckets, weighted by 1 + ln(tf), and the vector is L2-normalised, so
//! cosine similarity reflects shared vocabulary.

use std::collections::HashMap;

pub const DIM: usize = 256;

fn sub_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for token in text.split(|c: char| !c.is_alphanumeric()) {
        let mut cur = String::new();
        let mut prev_lower = false;
        for ch in token.chars() {
            if ch.is_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
            cur.extend(ch.to_lowercase());
        }
        if cur.len() > 1 {
            out.push(cur);
        }
    }
    out
}

pub fn embed(text: &str) -> Vec<f32> {
    let words = sub_words(text);
    let mut tf: HashMap<String, u32> = HashMap::new();
    for w in &words {
        *tf.entry(w.clone()).or_default() += 1;
    }
    for pair in words.windows(2) {
        *tf.entry(format!("{} {}", pair[0], pair[1])).or_default() += 1;
    }
    let mut v = vec![0f32; DIM];
    for (feature, n) in tf {
        let h = blake3::hash(feature.as_bytes());
        let b = h.as_bytes();
        let idx = u16::from_le_bytes([b[0], b[1]]) as usize % DIM;
        let sign = if b[2] & 1 == 0 { 1.0 } else { -1.0 };
        v[idx] += sign * (1.0 + (n as f32).ln());
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_normalised_and_meaningful() {
        let a = embed("fn parseConfigFile(path: &Path) -> Config { read_config(path) }");
        assert_eq!(
            a,
            embed("fn parseConfigFile(path: &Path) -> Config { read_config(path) }")
        );
        assert!((cosine(&a, &a) - 1.0).abs() < 1e-5);
        let near = embed("fn parse_config_file(path) { config }");
        let far = embed("SELECT name FROM users WHERE age > 21 ORDER BY name");
        assert!(
            cosine(&a, &near) > cosine(&a, &far),
            "shared vocabulary ranks closer"
        );
        assert!(embed("").iter().all(|x| *x == 0.0));
    }
}
