//! HTTP routes. Health, metrics and the fleet are open; DLQ entries and the
//! audit trail need a `read` token, the levers a `control` token, purge an
//! `admin` token (`Authorization: Bearer <token>`, checked before a body is
//! read: 401 without a known token, 403 with too small a scope). Control
//! runs the same typed commands as the console's keys, fleet-wide unless
//! `?member=ID` names one member.

use axum::extract::rejection::JsonRejection;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::health::{self, ConsumerCounters, Level};
use super::token::Scope;
use super::AppState;
use crate::clock::now_ms;
use crate::engine::commands::{Command, CommandError, RolloutChange};
use crate::engine::control::Origin;
use crate::engine::dlq::DlqFilter;
use crate::engine::handle::{execute_logged, Caller};
use crate::engine::stats::Stats;
use crate::engine::status::MemberView;

pub fn router(state: AppState) -> Router {
    let scoped =
        |scope: Scope| middleware::from_fn_with_state((state.clone(), scope), require_scope);
    let read = Router::new()
        .route("/dlq", get(dlq_list))
        .route("/audit", get(audit))
        .route("/jobs", get(jobs))
        .route_layer(scoped(Scope::Read));
    let control = Router::new()
        .route("/circuit_breaker/reset", post(reset_breaker))
        .route("/pause", post(pause))
        .route("/resume", post(resume))
        .route("/concurrency", post(concurrency))
        .route("/rate", post(rate))
        .route("/rollout", post(rollout))
        .route("/rollback", post(rollback))
        .route("/dlq/replay", post(replay))
        .route("/backfill", post(backfill))
        .route("/jobs/{id}/{action}", post(control_job))
        .route_layer(scoped(Scope::Control));
    let admin = Router::new()
        .route("/dlq/purge", post(purge))
        .route("/offsets/reset", post(reset_offsets))
        .route_layer(scoped(Scope::Admin));
    Router::new()
        .route("/", get(index))
        .route("/health", get(consumer_health))
        .route("/health/enrichment", get(producer_health))
        .route("/metrics", get(metrics))
        .route("/metrics/circuit_breaker", get(breaker))
        .route("/fleet", get(fleet))
        .merge(read)
        .merge(control)
        .merge(admin)
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
        "open": ["/health", "/health/enrichment", "/metrics", "/metrics/circuit_breaker", "/fleet"],
        "read (GET, Authorization: Bearer <read token>)": ["/dlq?filter=TEXT&limit=N", "/audit?limit=N"],
        "control (POST, Authorization: Bearer <control token>; ?member=ID acts on one member)": [
            "/circuit_breaker/reset", "/pause", "/resume", "/concurrency {\"n\": N}",
            "/rate {\"per_sec\": N} (null: no limit)",
            "/rollout {\"percentage\": P}", "/rollback",
            "/dlq/replay {\"filter\": \"type:Timeout\", \"dry_run\": true}",
            "/backfill {\"project\": P, \"rate\": R}"
        ],
        "admin (POST, Authorization: Bearer <admin token>)": [
            "/dlq/purge {\"filter\": \"type:T\", \"confirm\": true}",
            "/offsets/reset {\"to\": \"time\", \"time\": \"2026-12-01T10:00:00Z\", \"dry_run\": true} (run: \"confirm\": GROUP)"
        ],
    }))
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
                 ARCHON_OPERATOR_TOKEN (control) and ARCHON_READ_TOKEN (read)",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"archon-tui\""),
            );
            r
        }
    }
}

/// Run a command and answer with what happened (400: the command refused
/// its input; 403: a read-only engine; 500: a backend failed while running it).
async fn run(s: &AppState, caller: &Caller, cmd: Command) -> Response {
    let described = cmd.describe();
    let result = execute_logged(&s.engine, caller, cmd).await;
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
        Err(e @ CommandError::ReadOnly(_)) => error(StatusCode::FORBIDDEN, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `?member=ID`: act on one member instead of the fleet.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MemberQuery {
    member: Option<String>,
}

/// A JSON body, or what is wrong with it (for a 400).
fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, String> {
    b.map(|Json(t)| t).map_err(|e| e.body_text())
}

async fn reset_breaker(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<MemberQuery>,
) -> Response {
    run(&s, &c, Command::ResetBreaker { member: q.member }).await
}

/// Hold the fleet, or one member (`?member=ID`); the kill switch is left alone.
async fn pause(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<MemberQuery>,
) -> Response {
    let cmd = Command::Hold {
        member: q.member,
        held: true,
    };
    run(&s, &c, cmd).await
}

/// Undo what stopped consumption: one member's hold (`?member=ID`), a
/// rollback (kill switch back on, like `archon-tui resume`), or a hold.
async fn resume(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<MemberQuery>,
) -> Response {
    let cmd = match q.member {
        Some(m) => Command::Hold {
            member: Some(m),
            held: false,
        },
        None if s.engine.control_state().held && !s.engine.rollout().enabled => Command::Resume,
        None => Command::Hold {
            member: None,
            held: false,
        },
    };
    run(&s, &c, cmd).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConcurrencyBody {
    n: usize,
    member: Option<String>,
}

async fn concurrency(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<MemberQuery>,
    b: Result<Json<ConcurrencyBody>, JsonRejection>,
) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let cmd = Command::SetConcurrency {
        n: b.n,
        member: b.member.or(q.member),
    };
    run(&s, &c, cmd).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateBody {
    per_sec: Option<f64>,
}

/// MAX_PROCESSING_RATE for the fleet.
async fn rate(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    b: Result<Json<RateBody>, JsonRejection>,
) -> Response {
    let per_sec = match body(b) {
        Ok(b) => b.per_sec,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    run(&s, &c, Command::SetMaxRate { per_sec }).await
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
    Extension(c): Extension<Caller>,
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
    run(&s, &c, Command::SetRollout(change)).await
}

async fn rollback(State(s): State<AppState>, Extension(c): Extension<Caller>) -> Response {
    run(&s, &c, Command::Rollback).await
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
    /// Past the loop guard, as the CLI's --force.
    #[serde(default)]
    force: bool,
    /// Entries a second: replay as a redrive job (see GET /jobs).
    rate: Option<f64>,
}

/// The filter, or why it is not one (for a 400).
fn filter_of(spec: Option<FilterSpec>) -> Result<DlqFilter, String> {
    match spec {
        None => Ok(DlqFilter::default()),
        Some(FilterSpec::Text(t)) => DlqFilter::parse(&t).map_err(|e| format!("filter: {e}")),
        Some(FilterSpec::Fields(f)) => Ok(f),
    }
}

async fn replay(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    b: Result<Json<ReplayBody>, JsonRejection>,
) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let filter = match filter_of(b.filter) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let cmd = match b.rate {
        Some(rate) if !b.dry_run => Command::StartRedrive {
            filter,
            rate,
            force: b.force,
            confirmed: b.confirm,
            actor: c.actor.clone(),
        },
        _ => Command::ReplayDlq {
            filter,
            dry_run: b.dry_run,
            confirmed: b.confirm,
            force: b.force,
        },
    };
    run(&s, &c, cmd).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    /// earliest | latest | offset | time
    to: String,
    #[serde(default)]
    offset: Option<i64>,
    /// RFC 3339, or epoch milliseconds as a string.
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    partitions: Option<Vec<i32>>,
    #[serde(default)]
    dry_run: bool,
    /// The consumer group id, typed.
    #[serde(default)]
    confirm: Option<String>,
}

/// POST /offsets/reset (admin scope): seed 004 Procedure 2, as
/// `offsets reset` does it; without `confirm` only a dry run is allowed.
async fn reset_offsets(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    b: Result<Json<ResetBody>, JsonRejection>,
) -> Response {
    use crate::engine::group_reset::ResetTarget;
    let b = match body(b) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let mut words = vec![b.to.as_str()];
    let offset = b.offset.map(|o| o.to_string());
    if let Some(o) = &offset {
        words.push(o);
    }
    if let Some(t) = &b.time {
        words.push(t);
    }
    let target = match ResetTarget::parse(&words) {
        Ok(t) => t,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let cmd = Command::ResetOffsets {
        target,
        partitions: b.partitions,
        dry_run: b.dry_run,
        confirm: b.confirm,
        actor: c.actor.clone(),
    };
    run(&s, &c, cmd).await
}

/// GET /jobs (read scope): redrive jobs, newest first, with progress.
async fn jobs(State(s): State<AppState>) -> Json<Value> {
    Json(json!({ "jobs": s.engine.jobs() }))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct JobRateBody {
    rate: f64,
}

/// POST /jobs/ID/pause | resume | cancel, or /jobs/ID/rate {"rate": N}.
async fn control_job(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    axum::extract::Path((id, action)): axum::extract::Path<(String, String)>,
    b: Option<Json<JobRateBody>>,
) -> Response {
    use crate::engine::commands::JobAction;
    let action = match (action.as_str(), b) {
        ("pause", _) => JobAction::Pause,
        ("resume", _) => JobAction::Resume,
        ("cancel", _) => JobAction::Cancel,
        ("rate", Some(Json(b))) => JobAction::Rate(b.rate),
        ("rate", None) => return error(StatusCode::BAD_REQUEST, "rate: give {\"rate\": N}"),
        (other, _) => {
            return error(
                StatusCode::NOT_FOUND,
                format!(
                    "no job action {:?}: pause, resume, cancel or rate",
                    crate::sanitize::clean(other)
                ),
            )
        }
    };
    if s.engine.job(&id).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            format!("no redrive job {:?}", crate::sanitize::clean(&id)),
        );
    }
    run(&s, &c, Command::ControlJob { id, action }).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BackfillBody {
    project: Option<String>,
    rate: Option<f64>,
}

async fn backfill(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    b: Option<Json<BackfillBody>>,
) -> Response {
    let b = b.map(|Json(b)| b).unwrap_or_default();
    run(
        &s,
        &c,
        Command::Backfill {
            project: b.project,
            rate: b.rate,
            sync: false,
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PurgeBody {
    filter: Option<FilterSpec>,
    #[serde(default)]
    confirm: bool,
}

async fn purge(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    b: Result<Json<PurgeBody>, JsonRejection>,
) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let filter = match filter_of(b.filter) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let cmd = Command::PurgeDlq {
        filter,
        confirmed: b.confirm,
    };
    run(&s, &c, cmd).await
}

/// GET /fleet: every member as it last reported, with fleet totals.
async fn fleet(State(s): State<AppState>) -> Response {
    match s.engine.members() {
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
    match s.engine.control.audit(q.limit.unwrap_or(100).min(10_000)) {
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
