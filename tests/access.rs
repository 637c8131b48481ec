//! Who may pull which lever: scoped HTTP tokens (401 without a known token,
//! 403 with too small a scope, nothing changed either way), a read-only
//! session that refuses every lever visibly, loopback-only listening unless
//! allowed, and the audit trail those actions leave (embedded default).

mod common;

use common::run;
use common::serve::{client, get, Serve};
use serde_json::{json, Value};

const OPERATOR: &str = "operator-token-0123456789";
const READER: &str = "read-token-0123456789abc";

async fn call(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = c.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_tokens_answer_401_and_403_and_change_nothing() {
    let data = tempfile::tempdir().unwrap();
    let s = Serve::start_with_env(
        data.path(),
        &[],
        &[
            ("ARCHON_OPERATOR_TOKEN", OPERATOR),
            ("ARCHON_READ_TOKEN", READER),
        ],
    );
    let admin = std::fs::read_to_string(data.path().join("control-token")).unwrap();
    let c = client();
    use reqwest::Method as M;
    let url = |p: &str| s.url(p);

    // Open: health, metrics, the fleet (this engine, once its first report
    // is out: the heartbeat writes it within a second of the start).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let f = loop {
        let (code, f) = call(&c, M::GET, url("/fleet"), None, None).await;
        assert_eq!(code, 200, "{f}");
        if f["totals"]["members"] == 1 || std::time::Instant::now() > deadline {
            break f;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(f["totals"]["members"], 1, "{f}");
    assert_eq!(f["members"][0]["member_id"], f["member_id"], "{f}");

    // Read scope: DLQ entries and the trail need a token.
    for path in ["/dlq", "/audit"] {
        assert_eq!(
            call(&c, M::GET, url(path), None, None).await.0,
            401,
            "{path}"
        );
        for t in [READER, OPERATOR, admin.as_str()] {
            let (code, b) = call(&c, M::GET, url(path), Some(t), None).await;
            assert_eq!(code, 200, "{path}: {b}");
        }
    }

    // A read token pulls no lever: 403 naming the scope, nothing changes.
    let levers: Vec<(&str, Option<Value>)> = vec![
        ("/pause", None),
        ("/concurrency", Some(json!({"n": 2}))),
        ("/rollout", Some(json!({"percentage": 5}))),
        ("/rollback", None),
        ("/circuit_breaker/reset", None),
        ("/backfill", Some(json!({}))),
    ];
    for (path, body) in &levers {
        let (code, e) = call(&c, M::POST, url(path), Some(READER), body.clone()).await;
        assert_eq!(code, 403, "{path}: {e}");
        assert!(
            e["error"].as_str().unwrap().contains("control scope"),
            "{path}: {e}"
        );
    }
    let (_, h) = get(&c, &url("/health")).await;
    assert_eq!(h["consumer"]["held"], false, "{h}");
    assert_eq!(h["consumer"]["concurrency"], 10, "{h}");

    // A control token pulls levers, but purging needs admin.
    let (code, r) = call(
        &c,
        M::POST,
        url("/concurrency"),
        Some(OPERATOR),
        Some(json!({"n": 5})),
    )
    .await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(
        get(&c, &url("/health")).await.1["consumer"]["concurrency"],
        5
    );
    let purge = json!({"filter": "type:InjectedFailure", "confirm": true});
    let (code, e) = call(
        &c,
        M::POST,
        url("/dlq/purge"),
        Some(OPERATOR),
        Some(purge.clone()),
    )
    .await;
    assert_eq!(code, 403, "{e}");
    assert!(e["error"].as_str().unwrap().contains("admin scope"), "{e}");
    let (code, r) = call(&c, M::POST, url("/dlq/purge"), Some(&admin), Some(purge)).await;
    assert_eq!(code, 200, "{r}");

    // An offset reset is an admin lever too: previewed, refused without the
    // typed group id, run with it (serve leaves the group and rejoins).
    let preview = json!({"to": "earliest", "dry_run": true});
    let (code, e) = call(
        &c,
        M::POST,
        url("/offsets/reset"),
        Some(OPERATOR),
        Some(preview.clone()),
    )
    .await;
    assert_eq!(code, 403, "{e}");
    let (code, r) = call(
        &c,
        M::POST,
        url("/offsets/reset"),
        Some(&admin),
        Some(preview),
    )
    .await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["outcome"]["moves"].as_array().unwrap().len(), 4, "{r}");
    let unconfirmed = json!({"to": "earliest"});
    let (code, e) = call(
        &c,
        M::POST,
        url("/offsets/reset"),
        Some(&admin),
        Some(unconfirmed),
    )
    .await;
    assert_eq!(code, 400, "{e}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("type the consumer group id"),
        "{e}"
    );
    let (code, e) = call(
        &c,
        M::POST,
        url("/offsets/reset"),
        Some(&admin),
        Some(json!({"to": "sideways"})),
    )
    .await;
    assert_eq!(code, 400, "{e}");
    let confirmed =
        json!({"to": "latest", "confirm": "archon-intelligence-enrichment-consumer-group"});
    let (code, r) = call(
        &c,
        M::POST,
        url("/offsets/reset"),
        Some(&admin),
        Some(confirmed),
    )
    .await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["outcome"]["members"].as_array().unwrap().len(), 1, "{r}");

    // Each lever pulled is in the trail, with the token's scope and the peer.
    let (_, trail) = call(&c, M::GET, url("/audit"), Some(READER), None).await;
    let entries = trail["entries"].as_array().unwrap();
    let conc = entries
        .iter()
        .find(|e| e["action"] == "concurrency 5 (fleet)")
        .unwrap_or_else(|| panic!("no concurrency entry in {trail}"));
    assert_eq!(conc["origin"], "http", "{conc}");
    assert_eq!(conc["actor"], "control-token@127.0.0.1", "{conc}");
    assert_eq!(conc["before"], "fleet concurrency: flag default", "{conc}");
    assert_eq!(conc["after"], "fleet concurrency: 5", "{conc}");
    assert!(
        entries
            .iter()
            .any(|e| e["action"].as_str().unwrap().starts_with("purge DLQ")
                && e["actor"] == "admin-token@127.0.0.1"),
        "{trail}"
    );
    assert!(
        !entries.iter().any(|e| e["actor"] == "read-token@127.0.0.1"),
        "refused calls never reached a command: {trail}"
    );
    // The CLI on the same data dir reads the same trail.
    let r = run(data.path(), &["audit", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json().as_array().unwrap().len(), entries.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_session_refuses_every_lever_visibly() {
    let data = tempfile::tempdir().unwrap();
    let s = Serve::start(data.path(), &["--read-only".to_string()]);
    let admin = std::fs::read_to_string(data.path().join("control-token")).unwrap();
    let c = client();
    for (path, body) in [
        ("/pause", None),
        ("/rollback", None),
        ("/concurrency", Some(json!({"n": 4}))),
    ] {
        let (code, e) = call(&c, reqwest::Method::POST, s.url(path), Some(&admin), body).await;
        assert_eq!(code, 403, "{path}: {e}");
        assert!(e["error"].as_str().unwrap().contains("read-only"), "{e}");
    }
    let (_, h) = get(&c, &s.url("/health")).await;
    assert_eq!(h["consumer"]["held"], false, "{h}");
    // A DLQ dry run is no lever: it answers.
    let (code, r) = call(
        &c,
        reqwest::Method::POST,
        s.url("/dlq/replay"),
        Some(&admin),
        Some(json!({"dry_run": true})),
    )
    .await;
    assert_eq!(code, 200, "{r}");
    drop(s);

    // The CLI: exit 2 with the reason, and the audit trail records the refusal.
    let r = run(data.path(), &["rollout", "set", "50", "--read-only"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("read-only"), "{}", r.stderr);
    let shown = run(data.path(), &["rollout", "show", "--json"]).json();
    assert_eq!(shown["percentage"], 100, "nothing changed: {shown}");
    let trail = run(data.path(), &["audit", "--json"]).json();
    assert!(
        trail
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["origin"] == "cli"
                && e["result"]
                    .as_str()
                    .unwrap()
                    .starts_with("refused: read-only")),
        "{trail}"
    );
}

#[test]
fn listening_beyond_loopback_needs_allow_remote() {
    let data = tempfile::tempdir().unwrap();
    let r = run(data.path(), &["serve", "--listen", "0.0.0.0:0"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("not a loopback address") && r.stderr.contains("--allow-remote"),
        "{}",
        r.stderr
    );
}
