//! HTTP routes. Health, metrics and the fleet are open; DLQ entries and the
//! audit trail need a `read` token, the levers a `control` token, purge an
//! `admin` token (`Authorization: Bearer <token>`, checked before a body is
//! read: 401 without a known token, 403 with too small a scope). Control
//! runs the same typed commands as the console's keys, fleet-wide unless
//! `?member=ID` names one member.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Query, RawPathParams, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::health::{self, ConsumerCounters, Level};
use super::AppState;
use crate::clock::now_ms;
use crate::engine::dlq::DlqFilter;
use crate::engine::fleet::control::Origin;
use crate::engine::fleet::levers::{
    execute_logged, Caller, CommandError, Http, HttpArgs, Refusal, Scope, SPECS,
};
use crate::engine::telemetry::stats::Stats;
use crate::engine::telemetry::status::MemberView;

/// The routes anyone may read.
const OPEN: &[&str] = &[
    "/openapi.json",
    "/health",
    "/health/enrichment",
    "/metrics",
    "/metrics/circuit_breaker",
    "/fleet",
    "/why",
];
/// The GETs a `read` token may use.
const READ: &[&str] = &["/dlq?filter=TEXT&limit=N", "/audit?limit=N", "/jobs"];
/// Largest lever body read (a filter, a few numbers).
const BODY_LIMIT: usize = 1 << 20;

pub fn router(state: AppState) -> Router {
    let scoped =
        |scope: Scope| middleware::from_fn_with_state((state.clone(), scope), require_scope);
    let read = Router::new()
        .route("/dlq", get(dlq_list))
        .route("/audit", get(audit))
        .route("/jobs", get(jobs))
        .route_layer(scoped(Scope::Read));
    // The seeds' bridge API: documents in, with a write token.
    let write = Router::new()
        .route("/api/bridge/document", post(bridge_document))
        .route("/api/bridge/documents", post(bridge_documents))
        .route_layer(scoped(Scope::Write));
    let mut app = Router::new()
        .route("/", get(index))
        .route("/health", get(consumer_health))
        .route("/health/enrichment", get(producer_health))
        .route("/metrics", get(metrics))
        .route("/metrics/circuit_breaker", get(breaker))
        .route("/fleet", get(fleet))
        .route("/why", get(why))
        .route("/openapi.json", get(openapi))
        .merge(read)
        .merge(write);
    // Every lever's routes, from its spec, with its spec's scope.
    for spec in SPECS {
        for http in spec.http {
            let route = Router::new()
                .route(
                    http.path,
                    post(move |s: State<AppState>, req: Request| lever(s, req, http)),
                )
                .route_layer(scoped(spec.scope));
            app = app.merge(route);
        }
    }
    app.fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint; GET / lists them") })
        .with_state(state)
}

fn error(code: StatusCode, message: impl Into<String>) -> Response {
    (code, Json(json!({ "error": message.into() }))).into_response()
}

fn level_code(l: Level) -> StatusCode {
    match l {
        Level::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    }
}

/// The endpoint index: the open and read routes, then every lever's
/// routes by scope, from the specs.
pub fn index_document() -> Value {
    let levers = |scope: Scope| -> Vec<String> {
        SPECS
            .iter()
            .filter(|s| s.scope == scope)
            .flat_map(|s| s.http.iter())
            .map(|h| format!("{} {}", h.path, h.body))
            .collect()
    };
    json!({
        "service": "archon-tui",
        "open": OPEN,
        "read (GET, Authorization: Bearer <read token>)": READ,
        "write (POST, Authorization: Bearer <write token>): the seeds' bridge API": [
            "/api/bridge/document {document_id, project_id, title?, full_text, source_path, document_type?, metadata?}",
            "/api/bridge/documents [ … ] or NDJSON, at most 1000",
        ],
        "control (POST, Authorization: Bearer <control token>; ?member=ID acts on one member)":
            levers(Scope::Control),
        "admin (POST, Authorization: Bearer <admin token>)": levers(Scope::Admin),
    })
}

async fn index() -> Json<Value> {
    Json(index_document())
}

/// GET /openapi.json: the API as OpenAPI (`serve::openapi`).
async fn openapi() -> Json<Value> {
    Json(super::openapi::json_document())
}

async fn consumer_health(State(s): State<AppState>) -> Response {
    // The pause and hold as they are now, not as of the last snapshot: an
    // operator (or a rollback elsewhere in the fleet) wants to see it take.
    let mut snap = (*s.snapshots.borrow().clone()).clone();
    snap.held = s.engine.is_held();
    snap.paused = s.engine.is_paused();
    let st = &s.engine.stats;
    let counters = ConsumerCounters {
        consumed: Stats::get(&st.consumed),
        processed: Stats::get(&st.processed),
        errors: st.errors_total(),
        alive: s.consumer.borrow().is_alive(),
    };
    let (level, body) = health::consumer(&snap, counters, now_ms());
    (level_code(level), Json(body)).into_response()
}

async fn producer_health(State(s): State<AppState>) -> Response {
    let snap = s.snapshots.borrow().clone();
    let e = &s.engine;
    let (level, body) = health::producer(
        &snap,
        &e.rollout(),
        &e.cfg.enrich_topic,
        Stats::get(&e.stats.published),
        Stats::get(&e.stats.publish_errors),
        now_ms(),
    );
    (level_code(level), Json(body)).into_response()
}

async fn metrics(State(s): State<AppState>) -> Response {
    let snap = s.snapshots.borrow().clone();
    let text = s
        .exporter
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .render(&s.engine, &snap);
    match text {
        Ok(t) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(prometheus::TEXT_FORMAT),
            )],
            t,
        )
            .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    }
}

/// Seed §5.2 fields, plus the last 64 state changes (oldest first), so an
/// OPEN → HALF_OPEN → CLOSED cycle shorter than a scrape is still visible.
async fn breaker(State(s): State<AppState>) -> Json<Value> {
    let mut v = serde_json::to_value(s.engine.breaker.snapshot()).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        let t: Vec<&str> = s
            .engine
            .breaker
            .transitions()
            .into_iter()
            .map(|t| t.as_str())
            .collect();
        m.insert("transitions".into(), json!(t));
    }
    Json(v)
}

async fn require_scope(
    State((s, needed)): State<(AppState, Scope)>,
    mut req: Request,
    next: Next,
) -> Response {
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    match s.tokens.scope_of(auth) {
        Some(scope) if scope >= needed => {
            let peer = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into());
            req.extensions_mut().insert(Caller {
                origin: Origin::Http,
                actor: format!("{}-token@{peer}", scope.as_str()),
            });
            next.run(req).await
        }
        Some(scope) => {
            tracing::warn!(
                "refused {method} {path}: a {} token, {} needed",
                scope.as_str(),
                needed.as_str()
            );
            error(
                StatusCode::FORBIDDEN,
                format!(
                    "{path} needs a token with the {} scope; this one has {}",
                    needed.as_str(),
                    scope.as_str()
                ),
            )
        }
        None => {
            tracing::warn!("refused {method} {path}: missing or wrong bearer token");
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "this endpoint needs `Authorization: Bearer <token>`: the admin token is in the \
                 data dir's control-token file, or ARCHON_CONTROL_TOKEN; scoped ones are \
                 ARCHON_OPERATOR_TOKEN (control), ARCHON_WRITE_TOKEN (write: the bridge API) and \
                 ARCHON_READ_TOKEN (read)",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"archon-tui\""),
            );
            r
        }
    }
}

/// `?member=ID`: act on one member instead of the fleet.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MemberQuery {
    member: Option<String>,
}

/// POST to a lever's route: the request becomes its command (400 / 404
/// when it cannot), which runs as the console's keys run it (400: the
/// command refused its input; 403: a read-only engine; 500: a backend
/// failed while running it).
async fn lever(State(s): State<AppState>, req: Request, http: &'static Http) -> Response {
    let (mut parts, body) = req.into_parts();
    let Some(caller) = parts.extensions.get::<Caller>().cloned() else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "no caller");
    };
    let member = match Query::<MemberQuery>::try_from_uri(&parts.uri) {
        Ok(Query(q)) => q.member,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let path = match RawPathParams::from_request_parts(&mut parts, &()).await {
        Ok(p) => p.iter().map(|(_, v)| v.to_string()).collect(),
        Err(_) => Vec::new(),
    };
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return error(StatusCode::PAYLOAD_TOO_LARGE, format!("body: {e}")),
    };
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/json"));
        if !json {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expected request with `Content-Type: application/json`",
            );
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => Some(v),
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("body: {e}")),
        }
    };
    let args = HttpArgs {
        engine: &s.engine,
        body,
        member,
        path,
        actor: caller.actor.clone(),
    };
    let cmd = match (http.parse)(&args) {
        Ok(c) => c,
        Err(Refusal::BadRequest(e)) => return error(StatusCode::BAD_REQUEST, e),
        Err(Refusal::NotFound(e)) => return error(StatusCode::NOT_FOUND, e),
    };
    let described = cmd.describe();
    let result = execute_logged(&s.engine, &caller, cmd).await;
    s.republish.now().await;
    match result {
        Ok(outcome) => Json(json!({
            "ok": true,
            "command": described,
            "message": outcome.describe(),
            "outcome": outcome,
        }))
        .into_response(),
        Err(e @ CommandError::Invalid(_)) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ CommandError::ReadOnly(_)) => error(StatusCode::FORBIDDEN, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// GET /jobs (read scope): redrive jobs, newest first, with progress.
async fn jobs(State(s): State<AppState>) -> Json<Value> {
    Json(json!({ "jobs": s.engine.jobs() }))
}

/// GET /why: the lag diagnosis (`engine::diagnose`) on the latest snapshot.
async fn why(State(s): State<AppState>) -> Json<Value> {
    let snap = s.snapshots.borrow().clone();
    Json(json!(crate::engine::diagnose::diagnose(&snap)))
}

/// GET /fleet: every member as it last reported, with fleet totals.
async fn fleet(State(s): State<AppState>) -> Response {
    match s.engine.members().await {
        Ok(m) => {
            let members = MemberView::of(m, now_ms());
            let live: Vec<_> = members.iter().filter(|m| !m.stale).collect();
            Json(json!({
                "member_id": s.engine.member_id(),
                "control": s.engine.control.kind(),
                "control_trouble": s.engine.control.trouble(),
                "totals": {
                    "members": members.len(),
                    "stale": members.len() - live.len(),
                    "docs_per_sec": live.iter().map(|m| m.status.docs_per_sec).sum::<f64>(),
                    "in_flight": live.iter().map(|m| m.status.in_flight).sum::<i64>(),
                    "concurrency": live.iter().map(|m| m.status.concurrency).sum::<usize>(),
                    "held": live.iter().filter(|m| m.status.held).count(),
                },
                "members": members,
            }))
            .into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, format!("{e:#}")),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    filter: Option<String>,
    limit: Option<usize>,
}

/// GET /audit (read scope): the newest entries, oldest first.
async fn audit(State(s): State<AppState>, Query(q): Query<ListQuery>) -> Response {
    if q.filter.is_some() {
        return error(StatusCode::BAD_REQUEST, "/audit takes ?limit=N only");
    }
    match s
        .engine
        .control
        .audit(q.limit.unwrap_or(100).min(10_000))
        .await
    {
        Ok(entries) => Json(json!({ "entries": entries })).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, format!("{e:#}")),
    }
}

/// GET /dlq (read scope): entries, newest first, with their reasons.
async fn dlq_list(State(s): State<AppState>, Query(q): Query<ListQuery>) -> Response {
    let filter = match q.filter.as_deref().map(DlqFilter::parse).transpose() {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("filter: {e}")),
    };
    match crate::engine::dlq::load_matching(&s.engine, &filter).await {
        Ok(mut entries) => {
            entries.truncate(q.limit.unwrap_or(100));
            Json(json!({ "entries": entries })).into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, format!("{e:#}")),
    }
}

/// Largest bridge body: a document of `--max-file-bytes` in JSON (escaped,
/// with its fields), or a batch of them; beyond it, 413 before parsing.
fn bridge_body_limit(engine: &crate::engine::Engine) -> usize {
    (engine.cfg.max_file_bytes as usize)
        .saturating_mul(2)
        .saturating_add(64 << 10)
        .max(BODY_LIMIT)
}

/// The body of a bridge POST: 413 over the limit, 415 when not JSON.
async fn bridge_body(
    s: &AppState,
    req: Request,
    ndjson_ok: bool,
) -> Result<axum::body::Bytes, Response> {
    let (parts, body) = req.into_parts();
    let kind = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let json = kind.starts_with("application/json")
        || (ndjson_ok
            && (kind.starts_with("application/x-ndjson") || kind.starts_with("application/jsonl")));
    if !json {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            if ndjson_ok {
                "Expected `Content-Type: application/json` (an array) or `application/x-ndjson`"
            } else {
                "Expected request with `Content-Type: application/json`"
            },
        ));
    }
    let limit = bridge_body_limit(&s.engine);
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body: over the {limit}-byte limit"),
        )
    })
}

fn field_error(e: crate::engine::pipeline::bridge::FieldError) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"ok": false, "error": e.to_string(), "field": e.field, "reason": e.reason})),
    )
        .into_response()
}

fn unavailable(why: String) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "not accepted: {why}. Documents indexed before the failure stay pending and \
             visible; a backfill (or drain) re-drives them. Retry the request."
        ),
    )
}

/// POST /api/bridge/document: one document, the seeds' shape (§9.2).
async fn bridge_document(State(s): State<AppState>, req: Request) -> Response {
    use crate::engine::pipeline::bridge;
    let bytes = match bridge_body(&s, req, false).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return field_error(bridge::FieldError {
                field: "body".into(),
                reason: format!("is not JSON: {e}"),
            })
        }
    };
    let doc = match bridge::parse(&value, "", s.engine.cfg.max_file_bytes) {
        Ok(d) => d,
        Err(e) => return field_error(e),
    };
    match s.bridge.submit(vec![doc]).await {
        Ok(mut done) => match done.pop() {
            Some(a) => Json(json!({
                "ok": true,
                "document_id": a.document_id,
                "project_id": a.project_id,
                "correlation_id": a.correlation_id,
                "status": a.status,
            }))
            .into_response(),
            None => unavailable("no outcome".into()),
        },
        Err(why) => unavailable(why),
    }
}

/// POST /api/bridge/documents: a JSON array or NDJSON, one result each.
async fn bridge_documents(State(s): State<AppState>, req: Request) -> Response {
    use crate::engine::pipeline::bridge;
    let bytes = match bridge_body(&s, req, true).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let docs = match bridge::parse_batch(&bytes, s.engine.cfg.max_file_bytes) {
        Ok(d) => d,
        Err(e) => return field_error(e),
    };
    match s.bridge.submit(docs).await {
        Ok(done) => {
            let count = |st| done.iter().filter(|a| a.status == st).count();
            use crate::engine::pipeline::producer::Disposition as D;
            Json(json!({
                "ok": true,
                "accepted": done.len(),
                "async": count(D::Async),
                "sync": count(D::Sync),
                "unchanged": count(D::Unchanged),
                "documents": done,
            }))
            .into_response()
        }
        Err(why) => unavailable(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index lists every lever route under the scope its spec names
    /// (purge and the offset reset are admin: the router and the specs
    /// cannot disagree, they are one list).
    #[test]
    fn the_endpoint_index_comes_from_the_specs() {
        let index = index_document();
        let listed = |key: &str| -> Vec<String> {
            index[key]
                .as_array()
                .unwrap_or(&Vec::new())
                .iter()
                .filter_map(|v| {
                    v.as_str()
                        .map(|s| s.split(' ').next().unwrap_or("").to_string())
                })
                .collect()
        };
        let admin = listed("admin (POST, Authorization: Bearer <admin token>)");
        let control = listed(
            "control (POST, Authorization: Bearer <control token>; ?member=ID acts on one member)",
        );
        assert!(admin.contains(&"/dlq/purge".to_string()), "{admin:?}");
        assert!(admin.contains(&"/offsets/reset".to_string()), "{admin:?}");
        assert!(control.contains(&"/rate".to_string()), "{control:?}");
        let routes: usize = SPECS.iter().map(|s| s.http.len()).sum();
        assert_eq!(
            admin.len() + control.len(),
            routes,
            "every route listed once"
        );
    }
}
