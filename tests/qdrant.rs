//! The engine against a Qdrant server. No Qdrant binary can be installed on
//! these machines, so the server test runs only when QDRANT_URL is set (gRPC,
//! e.g. http://127.0.0.1:6334); the unreachable-server check always runs.

mod common;

use common::run;

#[test]
fn an_unreachable_qdrant_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = tempfile::tempdir().unwrap();
    let r = run(
        data.path(),
        &[
            "status",
            "--json",
            "--qdrant-url",
            &format!("http://127.0.0.1:{port}"),
        ],
    );
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("Qdrant"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[cfg(feature = "qdrant")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_and_their_status_land_in_qdrant() {
    let Ok(url) = std::env::var("QDRANT_URL") else {
        common::skip("QDRANT_URL is not set (no Qdrant server is installable here)");
        return;
    };
    use archon_tui::backends::vector::{qdrant::QdrantVectors, VectorStore};
    let src = tempfile::tempdir().unwrap();
    archon_tui::corpus::generate(src.path(), 200).unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut cfg = archon_tui::engine::config::EngineConfig::with_data_dir(data.path());
    cfg.qdrant_url = Some(url.clone());
    let engine = archon_tui::runtime::open_engine(cfg).await.unwrap();
    assert_eq!(engine.backends.vectors.kind(), "qdrant");
    archon_tui::engine::pipeline::producer::ingest(&engine, src.path(), "qdrant-test", &|_| {})
        .await
        .unwrap();
    let task = tokio::spawn(archon_tui::engine::pipeline::consumer::run(engine.clone()));
    archon_tui::engine::pipeline::drain::wait_drained(
        &engine,
        Some(std::time::Duration::from_secs(120)),
        &|_| {},
    )
    .await
    .unwrap();
    engine.stop();
    task.await.unwrap().unwrap();
    let after = engine
        .backends
        .vectors
        .count(Some("completed".into()))
        .await
        .unwrap();
    // Ids are UUID v5 of project + path: a re-run updates the same 200 points.
    assert!(after >= 200, "completed points: {after}");
    let q = QdrantVectors::connect(
        &url,
        None,
        archon_tui::backends::vector::qdrant::DEFAULT_COLLECTION,
        256,
    )
    .await
    .unwrap();
    assert!(q.count(None).await.unwrap() >= after);
}
