//! Deterministic document embedding by feature hashing (no model download).
//!
//! Identifiers are split into lower-case sub-words (camelCase, snake_case),
//! unigrams and adjacent bigrams are hashed with XXH3 into `DIM` signed
//! buckets, weighted by 1 + ln(tf), and the vector is L2-normalised, so
//! cosine similarity reflects shared vocabulary.

use rustc_hash::FxHashMap;

pub const DIM: usize = 256;

/// The text's lower-case sub-words, written end to end into `arena`, as
/// (start, end) ranges. Tokens are runs of alphanumeric characters, split
/// where a lower-case letter or digit is followed by an upper-case one; a
/// token's last piece counts only when longer than one byte. ASCII bytes
/// are read as bytes; only other characters are decoded (the two branches
/// do the same steps: one loop over `chars()` ran at 77–87 MiB/s on the
/// registry sources, this at 104–108).
fn sub_words(text: &str, arena: &mut Vec<u8>, words: &mut Vec<(u32, u32)>) {
    let mut start = 0usize;
    let mut prev_lower = false;
    let mut close = |arena: &mut Vec<u8>, start: &mut usize, keep_short: bool| {
        if arena.len() - *start > 1 || (keep_short && arena.len() > *start) {
            words.push((*start as u32, arena.len() as u32));
            *start = arena.len();
        } else {
            arena.truncate(*start);
        }
    };
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii() {
            i += 1;
            if !b.is_ascii_alphanumeric() {
                close(arena, &mut start, false);
                prev_lower = false;
                continue;
            }
            if b.is_ascii_uppercase() && prev_lower && arena.len() > start {
                close(arena, &mut start, true);
            }
            prev_lower = b.is_ascii_lowercase() || b.is_ascii_digit();
            arena.push(b.to_ascii_lowercase());
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or_default();
        i += ch.len_utf8().max(1);
        if !ch.is_alphanumeric() {
            close(arena, &mut start, false);
            prev_lower = false;
            continue;
        }
        if ch.is_uppercase() && prev_lower && arena.len() > start {
            close(arena, &mut start, true);
        }
        prev_lower = ch.is_lowercase();
        let mut buf = [0u8; 4];
        for lower in ch.to_lowercase() {
            arena.extend_from_slice(lower.encode_utf8(&mut buf).as_bytes());
        }
    }
    close(arena, &mut start, false);
}

/// Which feature hash made a vector (kept in each point's payload): 2 is
/// XXH3; 1, BLAKE3 of each feature's text, cost a fifth of the indexer's time.
pub const EMBEDDING_VERSION: u32 = 2;

/// A unigram's hash: XXH3 of its text.
fn word_hash(word: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(word)
}

/// A bigram's hash, from its two words' (seeded apart from unigrams).
fn pair_hash(a: u64, b: u64) -> u64 {
    let mut both = [0u8; 16];
    both[..8].copy_from_slice(&a.to_le_bytes());
    both[8..].copy_from_slice(&b.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64_with_seed(&both, 1)
}

/// Add a feature seen `n` times: the hash's low byte picks the bucket, bit
/// 8 the sign.
fn add(v: &mut [f32], hash: u64, n: u32) {
    let sign = if (hash >> 8) & 1 == 0 { 1.0 } else { -1.0 };
    v[(hash % DIM as u64) as usize] += sign * (1.0 + (n as f32).ln());
}

/// Feature hashing: each distinct unigram and adjacent bigram is hashed
/// into a signed bucket, weighted by 1 + ln(tf), and the vector is
/// L2-normalised. Words are interned into one arena (no String per token).
pub fn embed(text: &str) -> Vec<f32> {
    let mut arena = Vec::with_capacity(text.len());
    let mut words = Vec::new();
    sub_words(text, &mut arena, &mut words);
    let word = |(s, e): (u32, u32)| &arena[s as usize..e as usize];
    let mut ids: FxHashMap<&[u8], u32> = FxHashMap::default();
    // Per distinct word: its hash and count.
    let mut unigrams: Vec<(u64, u32)> = Vec::new();
    let mut sequence = Vec::with_capacity(words.len());
    for &range in &words {
        let id = *ids.entry(word(range)).or_insert_with(|| {
            unigrams.push((word_hash(word(range)), 0));
            unigrams.len() as u32 - 1
        });
        unigrams[id as usize].1 += 1;
        sequence.push(id);
    }
    let mut bigrams: FxHashMap<u64, u32> = FxHashMap::default();
    for pair in sequence.windows(2) {
        *bigrams
            .entry(u64::from(pair[0]) << 32 | u64::from(pair[1]))
            .or_default() += 1;
    }
    let mut v = vec![0f32; DIM];
    for &(hash, n) in &unigrams {
        add(&mut v, hash, n);
    }
    for (pair, n) in bigrams {
        let (a, b) = (
            unigrams[(pair >> 32) as usize].0,
            unigrams[pair as u32 as usize].0,
        );
        add(&mut v, pair_hash(a, b), n);
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

    /// The String-per-token version `embed` replaced (with today's feature
    /// hash), kept as its oracle.
    fn reference(text: &str) -> Vec<f32> {
        let mut words = Vec::new();
        for token in text.split(|c: char| !c.is_alphanumeric()) {
            let mut cur = String::new();
            let mut prev_lower = false;
            for ch in token.chars() {
                if ch.is_uppercase() && prev_lower && !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
                cur.extend(ch.to_lowercase());
            }
            if cur.len() > 1 {
                words.push(cur);
            }
        }
        let mut tf: std::collections::BTreeMap<(String, Option<String>), u32> = Default::default();
        for w in &words {
            *tf.entry((w.clone(), None)).or_default() += 1;
        }
        for pair in words.windows(2) {
            *tf.entry((pair[0].clone(), Some(pair[1].clone())))
                .or_default() += 1;
        }
        let mut v = vec![0f32; DIM];
        for ((a, b), n) in tf {
            let h = match b {
                None => word_hash(a.as_bytes()),
                Some(b) => pair_hash(word_hash(a.as_bytes()), word_hash(b.as_bytes())),
            };
            add(&mut v, h, n);
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        v
    }

    #[test]
    fn same_vectors_as_the_string_per_token_version() {
        let mut texts: Vec<String> = [
            "",
            "a",
            "aB",
            "xY zW",
            "parseHTTPRequest v2Config ÉcoleNormale straße ǅungla",
            "İstanbul ΣΊΣΥΦΟΣ fooBar_baz9Qux a1B2c3 x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for p in crate::engine::pipeline::discover::walk(&src).flatten() {
            texts.push(std::fs::read_to_string(p).unwrap());
        }
        for t in &texts {
            let (got, want) = (embed(t), reference(t));
            let off = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(off < 1e-5, "{off} for {:?}", &t[..t.len().min(80)]);
        }
    }
}
