//! A tree ingest mirrors its tree (issue 29 item 5), embedded backends:
//! removed files leave the index, moved files keep their enrichment, posted
//! documents and other trees are never touched, and DLQ entries of removed
//! files are marked FILE_NOT_FOUND and left out of a replay.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use archon_tui::backends::graph::Status;
use archon_tui::engine::config::EngineConfig;
use archon_tui::engine::pipeline::bridge::{parse, BridgeWriter};
use archon_tui::engine::{dlq, pipeline::consumer, pipeline::drain, pipeline::producer, Engine};

async fn engine(dir: &Path) -> Arc<Engine> {
    let mut cfg = EngineConfig::with_data_dir(dir);
    cfg.retry.base_delay = Duration::from_millis(5);
    cfg.retry.max_delay = Duration::from_millis(20);
    cfg.max_file_bytes = 4096;
    archon_tui::runtime::open_engine(cfg).await.unwrap()
}

async fn drain(engine: &Arc<Engine>) {
    let task = tokio::spawn(consumer::run(engine.clone()));
    assert!(
        drain::wait_drained(engine, Some(Duration::from_secs(60)), &|_| {})
            .await
            .unwrap(),
        "drained"
    );
    engine.stop();
    task.await.unwrap().unwrap();
}

/// The tree's files, sorted.
fn files(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = archon_tui::engine::pipeline::discover::walk(root)
        .map(|p| p.unwrap())
        .collect();
    out.sort();
    out
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap().to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_ingest_removes_gone_files_keeps_moved_enrichments_and_never_touches_posted_documents() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 40).unwrap();
    // Over the 4 KiB limit: parked in the DLQ at once (FileTooLarge).
    std::fs::write(src.path().join("big.txt"), "x".repeat(10_000)).unwrap();
    let e = engine(data.path()).await;
    let first = producer::ingest(&e, src.path(), "p", &|_| {})
        .await
        .unwrap();
    assert_eq!((first.indexed, first.deleted, first.renamed), (41, 0, 0));
    // A document of the same project posted over HTTP.
    let writer = BridgeWriter::spawn(&e);
    let posted = parse(
        &serde_json::json!({
            "document_id": "posted-1", "project_id": "p", "title": "t",
            "full_text": "fn posted() {}", "source_path": "elsewhere/posted.rs",
            "document_type": "code", "metadata": {}
        }),
        "",
        1 << 20,
    )
    .unwrap();
    writer.submit(vec![posted]).await.unwrap();
    drain(&e).await;
    let p = drain::progress(&e).await.unwrap();
    assert_eq!(p.total(Status::Completed), 41);
    assert_eq!(p.total(Status::Dlq), 1);

    let all = files(src.path());
    // Remove 8 files and the oversized one; move 3 with their content.
    let removed: Vec<PathBuf> = all
        .iter()
        .filter(|f| !f.ends_with("big.txt"))
        .take(8)
        .cloned()
        .collect();
    for f in &removed {
        std::fs::remove_file(f).unwrap();
    }
    std::fs::remove_file(src.path().join("big.txt")).unwrap();
    let moved: Vec<(String, String)> = all[20..23]
        .iter()
        .map(|f| {
            let to = f.with_file_name(format!(
                "moved_{}",
                f.file_name().unwrap().to_string_lossy()
            ));
            std::fs::rename(f, &to).unwrap();
            (rel(src.path(), f), rel(src.path(), &to))
        })
        .collect();

    let e = engine(data.path()).await;
    let again = producer::ingest(&e, src.path(), "p", &|_| {})
        .await
        .unwrap();
    assert_eq!(again.deleted, 9, "8 removed files and the oversized one");
    assert_eq!(again.renamed, 3);
    assert_eq!(again.published, 0, "moved files are not enriched again");
    assert_eq!(again.deletion_skipped, None);
    for (from, to) in &moved {
        let old = e
            .backends
            .graph
            .get_document(&producer::document_id("p", from))
            .await
            .unwrap();
        assert!(old.is_none(), "{from} is gone");
        let new = e
            .backends
            .graph
            .get_document(&producer::document_id("p", to))
            .await
            .unwrap()
            .expect("moved document");
        assert_eq!(new.enrichment_status, Status::Completed, "{to}");
        assert!(new.enrichment.is_some());
        assert!(new.announced, "its completed event was written");
    }
    for f in &removed {
        let id = producer::document_id("p", &rel(src.path(), f));
        assert!(e.backends.graph.get_document(&id).await.unwrap().is_none());
        assert!(e.backends.graph.entities(&id).await.unwrap().is_empty());
    }
    // The posted document is untouched.
    let posted = e.backends.graph.get_document("posted-1").await.unwrap();
    assert_eq!(posted.unwrap().enrichment_status, Status::Completed);
    let p = drain::progress(&e).await.unwrap();
    assert_eq!(p.total(Status::Completed), 40 - 8 + 1);
    assert_eq!(p.total(Status::Dlq), 0);
    assert_eq!(p.total(Status::Pending), 0);
    // One vector point per document left (32 of the tree and the posted one).
    assert_eq!(e.backends.vectors.count(None).await.unwrap(), 33);

    // The oversized file's DLQ entry says the file is gone, and a replay leaves it out.
    let entries = dlq::load(&e).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].error_type(), "FILE_NOT_FOUND");
    assert!(entries[0].message.failure_reason.contains("big.txt"));
    let r = dlq::replay(&e, &entries, false, false).await.unwrap();
    assert_eq!((r.replayed, r.file_not_found), (0, 1));
    let forced = dlq::replay(&e, &entries, true, true).await.unwrap();
    assert_eq!(forced.replayed, 1, "forced, it would be replayed");

    // `status` says where the project's documents come from: the tree, and HTTP.
    let status = archon_tui::engine::telemetry::status::StatusReport::read(&e)
        .await
        .unwrap();
    let from = &status.sources["p"];
    assert!(
        from.starts_with("tree …/") && from.ends_with(" + http"),
        "{from}"
    );
    assert!(status.to_string().contains("from tree …/"), "{status}");

    // A third ingest of the same tree changes nothing.
    let third = producer::ingest(&e, src.path(), "p", &|_| {})
        .await
        .unwrap();
    assert_eq!(
        (third.indexed, third.deleted, third.renamed, third.unchanged),
        (0, 0, 0, 32)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_for_a_removed_file_is_skipped_not_parked() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 10).unwrap();
    let e = engine(data.path()).await;
    producer::ingest(&e, src.path(), "p", &|_| {})
        .await
        .unwrap();
    // Removed before any consumer ran: its request is on the topic.
    std::fs::remove_file(&files(src.path())[0]).unwrap();
    let r = producer::ingest(&e, src.path(), "p", &|_| {})
        .await
        .unwrap();
    assert_eq!(r.deleted, 1);
    drain(&e).await;
    let e = engine(data.path()).await;
    let p = drain::progress(&e).await.unwrap();
    assert_eq!(p.total(Status::Completed), 9);
    assert!(
        dlq::load(&e).await.unwrap().is_empty(),
        "no DocumentNotFound entry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_root_of_the_same_project_and_an_emptied_tree_remove_nothing() {
    let data = tempfile::tempdir().unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(a.path().join("one.rs"), "fn one() {}").unwrap();
    std::fs::write(b.path().join("two.rs"), "fn two() {}").unwrap();
    let e = engine(data.path()).await;
    producer::ingest(&e, a.path(), "p", &|_| {}).await.unwrap();
    let r = producer::ingest(&e, b.path(), "p", &|_| {}).await.unwrap();
    assert_eq!(r.deleted, 0, "a's documents are a's");
    // Everything under a removed: kept, and said why.
    std::fs::remove_file(a.path().join("one.rs")).unwrap();
    let r = producer::ingest(&e, a.path(), "p", &|_| {}).await.unwrap();
    assert_eq!(r.deleted, 0);
    assert!(r
        .deletion_skipped
        .as_deref()
        .is_some_and(|w| w.contains("no files")));
    let p = drain::progress(&e).await.unwrap();
    assert_eq!(p.counts["p"].values().sum::<u64>(), 2);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_that_cannot_be_listed_removes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    if unsafe { libc::geteuid() } == 0 {
        // The rule itself is unit-tested (`mirror::tests`).
        common::skip("running as root: a directory cannot be made unreadable");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir(src.path().join("locked")).unwrap();
    std::fs::write(src.path().join("locked/a.rs"), "fn a() {}").unwrap();
    std::fs::write(src.path().join("b.rs"), "fn b() {}").unwrap();
    let e = engine(data.path()).await;
    producer::ingest(&e, src.path(), "p", &|_| {})
        .await
        .unwrap();
    let locked = src.path().join("locked");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let r = producer::ingest(&e, src.path(), "p", &|_| {}).await;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = r.unwrap();
    assert_eq!(r.deleted, 0);
    assert!(r.deletion_skipped.is_some(), "{r:?}");
}
