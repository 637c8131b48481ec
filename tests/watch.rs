//! A watched tree stays fresh (issue 29 item 6), embedded backends: edits,
//! deletes, moves and an editor's write-temp-then-rename are taken as they
//! happen; a burst of thousands of files is a few batches; a vanished
//! directory keeps its documents and is mirrored again when it is back.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use archon_tui::backends::graph::Status;
use archon_tui::engine::config::EngineConfig;
use archon_tui::engine::pipeline::watch::{watch, ChangeReport};
use archon_tui::engine::{pipeline::consumer, pipeline::producer, Engine};

async fn engine(dir: &Path) -> Arc<Engine> {
    let cfg = EngineConfig::with_data_dir(dir);
    archon_tui::runtime::open_engine(cfg).await.unwrap()
}

/// Poll `check` until it holds or `secs` pass.
async fn until(secs: u64, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

async fn status_of(e: &Engine, project: &str, rel: &str) -> Option<(Status, String)> {
    e.backends
        .graph
        .get_document(&producer::document_id(project, rel))
        .await
        .unwrap()
        .map(|d| (d.enrichment_status, d.content_hash))
}

fn hash(body: &str) -> String {
    blake3::hash(body.as_bytes()).to_hex().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_tree_follows_edits_deletes_moves_and_bursts() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(src.path()).unwrap();
    std::fs::create_dir(root.join("src")).unwrap();
    std::fs::write(root.join(".gitignore"), "target/\n").unwrap();
    for i in 0..5 {
        std::fs::write(root.join(format!("src/f{i}.rs")), format!("fn f{i}() {{}}")).unwrap();
    }
    let e = engine(data.path()).await;
    let consumer = tokio::spawn(consumer::run(e.clone()));
    let batches: Arc<Mutex<Vec<ChangeReport>>> = Arc::default();
    let watcher = {
        let (e, root, batches) = (e.clone(), root.clone(), batches.clone());
        tokio::spawn(async move {
            watch(&e, &root, "w", &move |r| {
                batches.lock().unwrap().push(r.clone())
            })
            .await
        })
    };
    until(20, "the first mirror enriched", async || {
        status_of(&e, "w", "src/f4.rs").await.map(|s| s.0) == Some(Status::Completed)
    })
    .await;
    assert_eq!(
        e.watches.views(Duration::from_secs(10))[0].root,
        root.display().to_string()
    );

    // An edit is enriched with its new content.
    std::fs::write(root.join("src/f0.rs"), "fn f0() { edited() }").unwrap();
    until(10, "the edit enriched", async || {
        status_of(&e, "w", "src/f0.rs").await
            == Some((Status::Completed, hash("fn f0() { edited() }")))
    })
    .await;

    // Ignored and hidden paths are not indexed.
    std::fs::create_dir(root.join("target")).unwrap();
    std::fs::write(root.join("target/out.rs"), "fn out() {}").unwrap();
    std::fs::write(root.join(".scratch.rs"), "fn scratch() {}").unwrap();

    // A delete propagates.
    std::fs::remove_file(root.join("src/f1.rs")).unwrap();
    until(10, "the delete propagated", async || {
        status_of(&e, "w", "src/f1.rs").await.is_none()
    })
    .await;

    // A move keeps the enrichment: completed at once, not sent again.
    let published = e.stats.published.get();
    std::fs::rename(root.join("src/f2.rs"), root.join("src/moved.rs")).unwrap();
    until(10, "the move taken", async || {
        status_of(&e, "w", "src/f2.rs").await.is_none()
            && status_of(&e, "w", "src/moved.rs").await.map(|s| s.0) == Some(Status::Completed)
    })
    .await;
    assert_eq!(
        e.stats.published.get(),
        published,
        "a move is not re-enriched"
    );

    // An editor's save: write a temp file, rename it over the file.
    let changes_before = batches.lock().unwrap().len();
    std::fs::write(root.join("src/.f3.rs.swp"), "fn f3() { saved() }").unwrap();
    std::fs::rename(root.join("src/.f3.rs.swp"), root.join("src/f3.rs")).unwrap();
    until(10, "the save enriched", async || {
        status_of(&e, "w", "src/f3.rs").await
            == Some((Status::Completed, hash("fn f3() { saved() }")))
    })
    .await;
    {
        let b = batches.lock().unwrap();
        let after: Vec<_> = b[changes_before..].iter().collect();
        assert_eq!(after.len(), 1, "one change for the save: {after:?}");
        assert_eq!(after[0].indexed, 1, "{after:?}");
    }
    assert!(status_of(&e, "w", "target/out.rs").await.is_none());
    assert!(status_of(&e, "w", ".scratch.rs").await.is_none());

    // A checkout of 5,000 files is a few batches, not 5,000 writes.
    let before = batches.lock().unwrap().len();
    let started = Instant::now();
    std::fs::create_dir(root.join("checkout")).unwrap();
    for i in 0..5000 {
        std::fs::write(
            root.join(format!("checkout/c{i}.rs")),
            format!("fn c{i}() {{}}"),
        )
        .unwrap();
    }
    let wrote = started.elapsed();
    until(60, "the checkout indexed", async || {
        batches.lock().unwrap()[before..]
            .iter()
            .map(|b| b.indexed)
            .sum::<u64>()
            >= 5000
    })
    .await;
    let burst = batches.lock().unwrap().len() - before;
    eprintln!("5,000 files written in {wrote:?}: {burst} batches of changes");
    assert!(burst <= 40, "{burst} batches for one checkout");

    e.stop();
    watcher.await.unwrap().unwrap();
    consumer.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_directory_keeps_its_documents_and_is_mirrored_when_back() {
    let data = tempfile::tempdir().unwrap();
    let parent = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(parent.path()).unwrap().join("tree");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("a.rs"), "fn a() {}").unwrap();
    std::fs::write(root.join("b.rs"), "fn b() {}").unwrap();
    let e = engine(data.path()).await;
    let watcher = {
        let (e, root) = (e.clone(), root.clone());
        tokio::spawn(async move { watch(&e, &root, "v", &|_| {}).await })
    };
    until(20, "the first mirror", async || {
        status_of(&e, "v", "b.rs").await.is_some()
    })
    .await;
    std::fs::remove_dir_all(&root).unwrap();
    until(10, "the watch says the directory is gone", async || {
        e.watches.views(Duration::from_secs(10))[0].vanished
    })
    .await;
    assert!(status_of(&e, "v", "a.rs").await.is_some(), "documents kept");
    assert!(status_of(&e, "v", "b.rs").await.is_some(), "documents kept");
    // Back, with one file of the two: mirrored again.
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("a.rs"), "fn a() {}").unwrap();
    until(10, "mirrored when back", async || {
        !e.watches.views(Duration::from_secs(10))[0].vanished
            && status_of(&e, "v", "b.rs").await.is_none()
    })
    .await;
    assert!(status_of(&e, "v", "a.rs").await.is_some());
    // And watched again.
    std::fs::write(root.join("c.rs"), "fn c() {}").unwrap();
    until(10, "a new file after the return", async || {
        status_of(&e, "v", "c.rs").await.is_some()
    })
    .await;
    e.stop();
    watcher.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_made_during_the_first_mirror_is_not_missed() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(src.path()).unwrap();
    archon_tui::corpus::generate(&root, 3000).unwrap();
    let e = engine(data.path()).await;
    let consumer = tokio::spawn(consumer::run(e.clone()));
    let watcher = {
        let (e, root) = (e.clone(), root.clone());
        tokio::spawn(async move { watch(&e, &root, "m", &|_| {}).await })
    };
    // Edited once the watch exists and before its first mirror is done.
    until(20, "the watch registered", async || {
        !e.watches.views(Duration::from_secs(10)).is_empty()
    })
    .await;
    let mut files: Vec<_> = archon_tui::engine::pipeline::discover::walk(&root)
        .map(|f| f.unwrap())
        .collect();
    files.sort();
    // The first file: read by the mirror's first batch, before the edit.
    let first = files[0].clone();
    let rel = first
        .strip_prefix(&root)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    until(20, "the mirror's first batch read", async || {
        e.stats.discovered.get() >= 256
    })
    .await;
    let synced_at_edit = e.watches.views(Duration::from_secs(10))[0].synced;
    std::fs::write(&first, "fn edited_during_the_mirror() {}").unwrap();
    until(60, "the edit enriched", async || {
        status_of(&e, "m", &rel).await
            == Some((Status::Completed, hash("fn edited_during_the_mirror() {}")))
    })
    .await;
    assert!(
        !synced_at_edit,
        "the edit came after the mirror: the test proves nothing"
    );
    e.stop();
    watcher.await.unwrap().unwrap();
    consumer.await.unwrap().unwrap();
}
