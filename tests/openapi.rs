//! The HTTP API against its own description: `GET /openapi.json` is fetched
//! from a running `serve`, and schemathesis (the tools' Python,
//! scripts/test-services.sh installs it) generates requests for every
//! operation — every answer must be a documented status code and none a 5xx.

mod common;

use common::serve::{client, get, Serve};

const ADMIN: &str = "admin-token-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_as_documented_on_generated_input() {
    let Some(tools) = common::services::Tools::or_skip("schemathesis") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start_with_env(data.path(), &[], &[("ARCHON_CONTROL_TOKEN", ADMIN)]);
    let (code, doc) = get(&client(), &serve.url("/openapi.json")).await;
    assert_eq!(code, 200);
    assert!(
        doc["paths"]["/api/bridge/document"]["post"].is_object(),
        "{doc}"
    );
    // A fixed seed keeps CI reproducible; ARCHON_SCHEMATHESIS_SEED varies it.
    let seed = std::env::var("ARCHON_SCHEMATHESIS_SEED").unwrap_or_else(|_| "20261206".into());
    let out = tools
        .python()
        .args(["-m", "schemathesis.cli", "run"])
        .arg(serve.url("/openapi.json"))
        .args(["-H", &format!("Authorization: Bearer {ADMIN}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance",
            "--max-examples",
            "15",
            "--seed",
            &seed,
            "--no-color",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run schemathesis");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("generated") || l.contains("Tested:"))
        .collect();
    eprintln!("schemathesis: {}", summary.join(" · "));
    assert!(
        out.status.success(),
        "schemathesis found answers the description does not allow:\n{text}\n--- serve ---\n{}",
        std::fs::read_to_string(&serve.log).unwrap_or_default()
    );
    assert!(text.contains("passed"), "{text}");
    serve.terminate();
}
