//! HTTP routes. Reads are open; every POST needs `Authorization: Bearer
//! <token>` and is checked before its body is read. Control runs the same
//! typed commands as the console's keys.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Request, State};
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
use crate::engine::commands::{Command, CommandError, RolloutChange};
use crate::engine::dlq::DlqFilter;
use crate::engine::handle::execute_logged;
use crate::engine::stats::Stats;

pub fn router(state: AppState) -> Router {
    let control = Router::new()
        .route("/circuit_breaker/reset", post(reset_breaker))
        .route("/pause", post(pause))
        .route("/resume", post(resume))
        .route("/concurrency", post(concurrency))
        .route("/rollout", post(rollout))
        .route("/rollback", post(rollback))
        .route("/dlq/replay", post(replay))
        .route("/backfill", post(backfill))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/", get(index))
        .route("/health", get(consumer_health))
        .route("/health/enrichment", get(producer_health))
        .route("/metrics", get(metrics))
        .route("/metrics/circuit_breaker", get(breaker))
        .merge(control)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint; GET / lists them") })
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

async fn index() -> Json<Value> {
    Json(json!({
        "service": "archon-tui",
        "read": ["/health", "/health/enrichment", "/metrics", "/metrics/circuit_breaker"],
        "control (POST, Authorization: Bearer <token>)": [
            "/circuit_breaker/reset", "/pause", "/resume", "/concurrency {\"n\": N}",
            "/rollout {\"percentage\": P}", "/rollback",
            "/dlq/replay {\"filter\": \"type:Timeout\", \"dry_run\": true}",
            "/backfill {\"project\": P, \"rate\": R}"
        ],
    }))
}

async fn consumer_health(State(s): State<AppState>) -> Response {
    let snap = s.snapshots.borrow().clone();
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

async fn require_token(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if s.token.admits(auth) {
        return next.run(req).await;
    }
    tracing::warn!(
        "refused {} {}: missing or wrong bearer token",
        req.method(),
        req.uri().path()
    );
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "control needs `Authorization: Bearer <token>`: the token is in the data dir's \
         control-token file, or ARCHON_CONTROL_TOKEN",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"archon-tui\""),
    );
    r
}

/// Run a command and answer with what happened (400: the command refused
/// its input; 500: a backend failed while running it).
async fn run(s: &AppState, cmd: Command) -> Response {
    let described = cmd.describe();
    let result = execute_logged(&s.engine, cmd).await;
    s.republish.now();
    match result {
        Ok(outcome) => Json(json!({
            "ok": true,
            "command": described,
            "message": outcome.describe(),
            "outcome": outcome,
        }))
        .into_response(),
        Err(e @ CommandError::Invalid(_)) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// A JSON body, or what is wrong with it (for a 400).
fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, String> {
    b.map(|Json(t)| t).map_err(|e| e.body_text())
}

async fn reset_breaker(State(s): State<AppState>) -> Response {
    run(&s, Command::ResetBreaker).await
}

async fn pause(State(s): State<AppState>) -> Response {
    run(&s, Command::Pause).await
}

/// Undo whatever stopped consumption: a rollback hold (kill switch back on,
/// like `archon-tui resume`) or a pause (rollout left alone).
async fn resume(State(s): State<AppState>) -> Response {
    let cmd = if s.engine.is_held() {
        Command::Resume
    } else {
        Command::Run
    };
    run(&s, cmd).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConcurrencyBody {
    n: usize,
}

async fn concurrency(
    State(s): State<AppState>,
    b: Result<Json<ConcurrencyBody>, JsonRejection>,
) -> Response {
    let n = match body(b) {
        Ok(b) => b.n,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    run(&s, Command::SetConcurrency(n)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolloutBody {
    percentage: Option<u8>,
    enabled: Option<bool>,
    enable_project: Option<String>,
    disable_project: Option<String>,
}

async fn rollout(
    State(s): State<AppState>,
    b: Result<Json<RolloutBody>, JsonRejection>,
) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let change = RolloutChange {
        enabled: b.enabled,
        percentage: b.percentage,
        enable_project: b.enable_project,
        disable_project: b.disable_project,
    };
    run(&s, Command::SetRollout(change)).await
}

async fn rollback(State(s): State<AppState>) -> Response {
    run(&s, Command::Rollback).await
}

/// A DLQ filter as the console's `/` text ("type:Timeout project:web") or
/// as fields.
#[derive(Deserialize)]
#[serde(untagged)]
enum FilterSpec {
    Text(String),
    Fields(DlqFilter),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    filter: Option<FilterSpec>,
    #[serde(default)]
    dry_run: bool,
    /// Required to replay every entry (no filter), as on the CLI.
    #[serde(default)]
    confirm: bool,
}

async fn replay(State(s): State<AppState>, b: Result<Json<ReplayBody>, JsonRejection>) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let filter = match b.filter {
        None => DlqFilter::default(),
        Some(FilterSpec::Text(t)) => match DlqFilter::parse(&t) {
            Ok(f) => f,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("filter: {e}")),
        },
        Some(FilterSpec::Fields(f)) => f,
    };
    run(
        &s,
        Command::ReplayDlq {
            filter,
            dry_run: b.dry_run,
            confirmed: b.confirm,
        },
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BackfillBody {
    project: Option<String>,
    rate: Option<f64>,
}

async fn backfill(State(s): State<AppState>, b: Option<Json<BackfillBody>>) -> Response {
    let b = b.map(|Json(b)| b).unwrap_or_default();
    run(
        &s,
        Command::Backfill {
            project: b.project,
            rate: b.rate,
            sync: false,
        },
    )
    .await
}
