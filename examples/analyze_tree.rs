//! The analyzer or the embedding alone over a tree's text files, one core,
//! everything read first: a clean target for `perf record`.
//! `cargo run --release --example analyze_tree -- DIR [analyze|embed]`
use archon_tui::backends::intelligence::analyzer;
use archon_tui::embedding;
use archon_tui::engine::pipeline::discover;
fn main() {
    let tree = std::path::PathBuf::from(std::env::args().nth(1).unwrap());
    let what = std::env::args().nth(2).unwrap_or_default();
    let mut texts = Vec::new();
    for p in discover::walk(&tree).flatten() {
        if let Ok(t) = std::fs::read_to_string(&p) {
            if t.len() < 5 << 20 && !discover::looks_binary(t.as_bytes()) {
                let l = discover::language_of(&p.to_string_lossy());
                texts.push((t, l));
            }
        }
    }
    let bytes: usize = texts.iter().map(|t| t.0.len()).sum();
    let t = std::time::Instant::now();
    for (text, l) in &texts {
        if what != "embed" {
            std::hint::black_box(analyzer::analyze(text, *l));
        }
        if what != "analyze" {
            std::hint::black_box(embedding::embed(text));
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{} MiB in {s:.2}s: {:.1} MiB/s",
        bytes >> 20,
        bytes as f64 / 1048576.0 / s
    );
}
