//! One request's journey (decode → check → call with retry and breaker) and
//! the batched recording of outcomes. Shared by the consumer and the
//! synchronous path, so both give the same results.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{json, Map, Value};

use crate::engine::Engine;
use crate::events::{
    now_rfc3339, DlqMessage, EnrichmentCompleted, EnrichmentRequest, ErrorDetails, ServiceHealth,
};
use crate::model::Transition;
use crate::ports::broker::OutRecord;
use crate::ports::graph::{ApplyResult, EnrichmentUpdate, FailureUpdate, ReadForEnrichment};
use crate::ports::intelligence::{Analysis, FailureKind, ProcessRequest};

/// How long an intelligence call in flight may still run once the engine
/// is stopping.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct Completed {
    pub request: EnrichmentRequest,
    pub analysis: Analysis,
    /// From the first read to the result: the seeds' processing time.
    pub elapsed: Duration,
    /// The service call that succeeded: the enrichment latency.
    pub call: Duration,
    /// From the first call's start to the successful call's start: failed
    /// calls, backoff and breaker waits ("time in retry"); zero when the
    /// first call succeeded.
    pub in_retry: Duration,
}

/// Where a request came from (for the DLQ record).
#[derive(Debug, Clone)]
pub struct Origin {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

impl Origin {
    pub fn sync_path() -> Self {
        Self {
            topic: "sync".into(),
            partition: -1,
            offset: -1,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Completed(Box<Completed>),
    /// Park in the DLQ; `document` is (id, content_hash) when known.
    Dlq {
        message: Box<DlqMessage>,
        document: Option<(String, String)>,
    },
    /// Nothing to do: the document changed since, or is already enriched.
    Skipped,
    /// Already enriched, but its completed event and vector update may not
    /// have been written (a crash after recording): write them again.
    Reannounce(Box<(EnrichmentRequest, crate::events::EnrichmentResults)>),
    /// A moved file's enrichment, already recorded on its new document
    /// (`mirror::carry_enrichments`): announce it as a completed enrichment.
    Carried(Box<(EnrichmentRequest, crate::events::EnrichmentResults)>),
    /// Engine pausing or stopping while this waited on a retry or the
    /// breaker: the request (with its retry count so far) goes back on the
    /// topic and the document back to pending.
    Returned(Box<EnrichmentRequest>),
}

pub struct Failure<'a> {
    pub exception_type: &'a str,
    pub message: String,
    pub failure_count: u32,
    /// The failed calls before this (empty when there were none).
    pub attempts: Vec<crate::events::TryRecord>,
}

/// Build a §3.2 DLQ message.
pub fn dlq_message(
    engine: &Engine,
    original: Value,
    request: Option<&EnrichmentRequest>,
    failure: Failure<'_>,
    origin: &Origin,
) -> Box<DlqMessage> {
    let intelligence =
        if engine.breaker.state() == crate::engine::resilience::breaker::BreakerState::Closed {
            "healthy"
        } else {
            "unhealthy"
        };
    Box::new(DlqMessage {
        document_id: request.map(|r| r.document_id.clone()).unwrap_or_default(),
        project_name: request.map(|r| r.project_name.clone()).unwrap_or_default(),
        correlation_id: request
            .map(|r| r.correlation_id.clone())
            .unwrap_or_default(),
        failure_reason: format!("{}: {}", failure.exception_type, failure.message),
        failure_timestamp: now_rfc3339(),
        failure_count: failure.failure_count,
        original_message: original,
        error_details: ErrorDetails {
            exception_type: failure.exception_type.to_string(),
            exception_message: failure.message,
            stack_trace: None,
            // As this engine's own calls last saw them.
            service_health: ServiceHealth {
                intelligence_service: intelligence.into(),
                memgraph: engine.observed.graph.as_str().into(),
                qdrant: engine.observed.vectors.as_str().into(),
            },
            attempts: failure.attempts,
        },
        original_topic: origin.topic.clone(),
        original_partition: origin.partition,
        original_offset: origin.offset,
    })
}

/// Undecodable payloads are kept inspectable: JSON if it parses, else a
/// lossy, length-capped string.
fn raw_original(payload: &[u8]) -> Value {
    let parsed = if payload.len() <= 64 * 1024 {
        serde_json::from_slice::<Value>(payload).ok()
    } else {
        None
    };
    match parsed {
        Some(v) => v,
        None => {
            let cap = payload.len().min(4096);
            let mut s = String::from_utf8_lossy(&payload[..cap]).into_owned();
            if payload.len() > cap {
                s.push_str(&format!("… ({} bytes in all)", payload.len()));
            }
            Value::String(s)
        }
    }
}

/// Decode a raw message and enrich it.
pub async fn process_payload(engine: &Engine, payload: &[u8], origin: Origin) -> Outcome {
    match decode_or_park(engine, payload, &origin) {
        Ok(req) => enrich(engine, req, origin).await,
        Err(parked) => parked,
    }
}

/// The request in `payload`, or its DLQ outcome when it does not decode.
pub fn decode_or_park(
    engine: &Engine,
    payload: &[u8],
    origin: &Origin,
) -> Result<EnrichmentRequest, Outcome> {
    EnrichmentRequest::decode(payload).map_err(|e| {
        engine.stats.error("SchemaValidationError");
        Outcome::Dlq {
            message: dlq_message(
                engine,
                raw_original(payload),
                None,
                Failure {
                    exception_type: "SchemaValidationError",
                    message: e.0,
                    failure_count: 1,
                    attempts: Vec::new(),
                },
                origin,
            ),
            document: None,
        }
    })
}

/// A request whose last call failed while the breaker was not closed: it
/// cannot tell an outage from the service failing it in particular. It leaves
/// breaker trials to requests that are not suspects, and while every request
/// in flight is one, the consumer fetches a fresh request to make the next
/// trial (`consumer::fetch_loop`). Counted in `stats.suspects` while marked.
struct Suspect<'a> {
    engine: &'a Engine,
    marked: bool,
}

impl<'a> Suspect<'a> {
    fn new(engine: &'a Engine) -> Self {
        Self {
            engine,
            marked: false,
        }
    }

    fn mark(&mut self, marked: bool) {
        if self.marked != marked {
            self.marked = marked;
            let by = if marked { 1 } else { -1 };
            self.engine
                .stats
                .suspects
                .fetch_add(by, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl Drop for Suspect<'_> {
    fn drop(&mut self) {
        self.mark(false);
    }
}

/// The request goes back on the topic with the retries made so far.
fn handed_back(req: EnrichmentRequest, attempt: u32) -> Outcome {
    Outcome::Returned(Box::new(EnrichmentRequest {
        retry_count: attempt.min(crate::events::MAX_RETRY_COUNT),
        ..req
    }))
}

/// A graph read before the intelligence call. An unreachable graph store is
/// an outage, not the document's fault: wait (backing off to 5 s) and read
/// again. None: the engine is pausing or stopping, so hand the request back.
async fn until_graph_answers<T, F, Fut>(engine: &Engine, mut read: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut failures = 0;
    loop {
        match engine.observed.graph.note(read().await) {
            Ok(v) => return Some(v),
            Err(e) => {
                engine.stats.error("GraphStoreError");
                failures += 1;
                if failures == 1 {
                    tracing::warn!("graph store read failed; retrying until it answers: {e:#}");
                }
                if engine
                    .sleep_or_yield(
                        crate::engine::resilience::backoff::Backoff::OUTAGE.delay(failures),
                    )
                    .await
                {
                    return None;
                }
            }
        }
    }
}

pub async fn enrich(engine: &Engine, req: EnrichmentRequest, origin: Origin) -> Outcome {
    enrich_read(engine, req, origin, None, Instant::now()).await
}

/// `enrich` with the document's first reads already made for its batch
/// (`GraphStore::read_for_enrichment`); `None` reads them here. `started`:
/// when those reads began, so the enrichment latency includes them.
pub async fn enrich_read(
    engine: &Engine,
    req: EnrichmentRequest,
    origin: Origin,
    read: Option<ReadForEnrichment>,
    started: Instant,
) -> Outcome {
    let original = serde_json::to_value(&req).unwrap_or(Value::Null);
    let park = |exception_type: &str,
                message: String,
                failure_count: u32,
                attempts: Vec<crate::events::TryRecord>| {
        engine.stats.error(exception_type);
        // retry_count travels with the message: the retries made so far.
        let mut original = original.clone();
        original["retry_count"] = serde_json::json!(failure_count
            .saturating_sub(1)
            .min(crate::events::MAX_RETRY_COUNT));
        Outcome::Dlq {
            message: dlq_message(
                engine,
                original,
                Some(&req),
                Failure {
                    exception_type,
                    message,
                    failure_count,
                    attempts,
                },
                &origin,
            ),
            document: Some((req.document_id.clone(), req.content_hash.clone())),
        }
    };
    let graph = &engine.backends.graph;
    let (document, body) = match read {
        Some(r) => (Some(r.document), r.content),
        None => (None, None),
    };
    let document = match document {
        Some(d) => Some(d),
        None => until_graph_answers(engine, || graph.get_document(&req.document_id)).await,
    };
    let doc = match document {
        Some(Some(d)) => d,
        Some(None) => {
            // Removed by a tree ingest after this request was sent: its file
            // is gone, nothing to enrich (seed 004: do not reprocess).
            match until_graph_answers(engine, || graph.deleted(&req.document_id)).await {
                Some(Some(_)) => {
                    engine.stats.stale.inc_by(1);
                    return Outcome::Skipped;
                }
                None => return Outcome::Returned(Box::new(req.clone())),
                Some(None) => {}
            }
            return park(
                "DocumentNotFound",
                "no document with this id is indexed".into(),
                1,
                Vec::new(),
            );
        }
        None => return Outcome::Returned(Box::new(req.clone())),
    };
    if doc.content_hash != req.content_hash {
        engine.stats.stale.inc_by(1);
        return Outcome::Skipped;
    }
    if doc.is_enriched_for(&req.content_hash) {
        engine.stats.duplicates.inc_by(1);
        return match doc.enrichment {
            Some(results) if !doc.announced => Outcome::Reannounce(Box::new((req, results))),
            _ => Outcome::Skipped,
        };
    }
    let content = match body {
        Some(c) => Some(Some(c)),
        None => until_graph_answers(engine, || graph.content(&req.content_hash)).await,
    };
    let content = match content {
        Some(Some(c)) => c,
        Some(None) => {
            return park(
                "ContentMissing",
                "the document's content is not stored".into(),
                1,
                Vec::new(),
            )
        }
        None => return Outcome::Returned(Box::new(req.clone())),
    };
    let content = match String::from_utf8(content) {
        Ok(s) => s,
        Err(e) => {
            return park(
                "EncodingError",
                format!(
                    "content is not UTF-8 (invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
                1,
                Vec::new(),
            )
        }
    };
    let call = ProcessRequest {
        document_id: req.document_id.clone(),
        project_name: req.project_name.clone(),
        file_path: req.file_path.clone(),
        document_type: req.document_type.map(|t| t.as_str().to_string()),
        language: req.language.clone(),
        enrichment_type: serde_json::to_value(req.enrichment_type)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_else(|| "full".into()),
        content,
        replay_count: doc.replay_count,
    };
    let max_attempts = engine.cfg.retry.max_attempts.max(1);
    let mut attempt = req.retry_count;
    // Calls made, free ones after an outage included: what the service is
    // told (`Intelligence::process`), so a repeated call is a new call.
    let mut call_no = req.retry_count;
    let mut suspect = Suspect::new(engine);
    let mut first_call: Option<Instant> = None;
    // The failed calls, for the DLQ entry (and the trace) should it park.
    let mut tries: Vec<crate::events::TryRecord> = Vec::new();
    loop {
        // Wait while the breaker is open: an open breaker never DLQs anything.
        let permit = loop {
            match engine.breaker.try_acquire_as(suspect.marked) {
                Ok(p) => break p,
                Err(wait) => {
                    if engine
                        .sleep_or_yield(wait.min(Duration::from_millis(250)))
                        .await
                    {
                        return handed_back(req, attempt);
                    }
                }
            }
        };
        engine.stats.intelligence_requests.inc();
        let call_started = Instant::now();
        let first_call = *first_call.get_or_insert(call_started);
        // On shutdown a call gets a grace period, then its request goes back
        // on the topic: a hung service cannot hold up the exit.
        let result = tokio::select! {
            r = engine.backends.intelligence.process(&call, call_no) => Some(r),
            _ = engine.stopped_for(STOP_GRACE) => None,
        };
        engine
            .stats
            .intelligence_duration
            .observe(call_started.elapsed().as_secs_f64());
        let Some(result) = result else {
            engine.breaker.release(permit);
            return handed_back(req, attempt);
        };
        if let Err(e) = &result {
            engine
                .stats
                .intelligence_errors
                .with_label_values(&[e.exception_type.as_str()])
                .inc();
            let started_at = chrono::Utc::now()
                - chrono::Duration::from_std(call_started.elapsed()).unwrap_or_default();
            // Kept bounded: calls failing through an outage do not count
            // as attempts and could otherwise pile up here.
            if tries.len() >= 20 {
                tries.remove(0);
            }
            tries.push(crate::events::TryRecord {
                attempt,
                at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                duration_ms: call_started.elapsed().as_millis() as u64,
                error: format!("{}: {}", e.exception_type, e.message),
            });
        }
        match result {
            Ok(analysis) => {
                engine.breaker.success(permit);
                return Outcome::Completed(Box::new(Completed {
                    request: req,
                    analysis,
                    elapsed: started.elapsed(),
                    call: call_started.elapsed(),
                    in_retry: call_started.duration_since(first_call),
                }));
            }
            Err(e) => {
                call_no = call_no.saturating_add(1);
                if e.kind == FailureKind::Permanent {
                    // Not the service's health: the breaker is not charged.
                    engine.breaker.release(permit);
                    return park(&e.exception_type, e.message, attempt + 1, tries);
                }
                engine.breaker.failure(permit, &e.to_string());
                if engine.breaker.state()
                    != crate::engine::resilience::breaker::BreakerState::Closed
                {
                    // The service is deemed down (this failure opened the
                    // breaker, or a trial failed): the outage is not this
                    // document's fault, so it costs no attempt. The loop waits
                    // for the breaker and tries again; an outage never DLQs.
                    // It waits as a suspect: should the service fail it
                    // every time, its trials would hold the breaker open
                    // while healthy work waits (`Suspect`).
                    suspect.mark(true);
                    engine.stats.retries.inc_by(1);
                    engine.stats.error(&e.exception_type);
                    continue;
                }
                suspect.mark(false);
                attempt += 1;
                if attempt >= max_attempts {
                    return park(
                        &e.exception_type,
                        format!("{} (gave up after {attempt} attempts)", e.message),
                        attempt,
                        tries,
                    );
                }
                engine.stats.retries.inc_by(1);
                engine.stats.error(&e.exception_type);
                tracing::debug!(document_id = %req.document_id, attempt, "transient failure, retrying: {e}");
                if engine.sleep_or_yield(engine.cfg.retry.delay(attempt)).await {
                    return handed_back(req, attempt);
                }
            }
        }
    }
}

fn status_payload(status: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("enrichment_status".into(), json!(status));
    m
}

/// Durably record a batch of outcomes (graph, vectors, completed and DLQ
/// topics). Returns only when everything is written, so the caller may then
/// commit the offsets.
pub async fn record(engine: &Engine, outcomes: Vec<Outcome>) -> Result<()> {
    record_attempt(engine, outcomes, false).await
}

/// [`record`], said again after a failed attempt (`again`): a completed
/// enrichment the graph now calls already enriched may be this batch's own
/// write from the attempt before, which failed after it (the completed
/// event or the vector payload refused: a broker restarting). It is
/// announced again instead of skipped: a redelivered announcement costs a
/// duplicate event, a skipped one loses it (its offset is committed next).
pub async fn record_attempt(engine: &Engine, outcomes: Vec<Outcome>, again: bool) -> Result<()> {
    let b = &engine.backends;
    let mut updates = Vec::new();
    let mut completed = Vec::new();
    let mut dlq = Vec::new();
    let mut returned = Vec::new();
    let mut reannounce = Vec::new();
    let mut crashed = 0usize;
    for o in outcomes {
        match o {
            Outcome::Completed(c) => {
                let Completed {
                    request,
                    analysis,
                    elapsed,
                    call,
                    in_retry,
                } = *c;
                updates.push(EnrichmentUpdate {
                    document_id: request.document_id.clone(),
                    content_hash: request.content_hash.clone(),
                    results: analysis.results.clone(),
                    entities: analysis.entities,
                    enriched_at: now_rfc3339(),
                });
                completed.push((request, analysis.results, (elapsed, call, in_retry)));
            }
            Outcome::Dlq { message, document } => dlq.push((message, document)),
            Outcome::Skipped => {}
            Outcome::Reannounce(r) => {
                crashed += 1;
                reannounce.push(*r)
            }
            Outcome::Carried(r) => reannounce.push(*r),
            Outcome::Returned(req) => returned.push(*req),
        }
    }
    if !updates.is_empty() || !reannounce.is_empty() {
        let recording: Vec<(String, String)> = completed
            .iter()
            .map(|(r, _, _)| (r.document_id.clone(), r.correlation_id.clone()))
            .collect();
        publish_progress(engine, &recording, "recording", 90).await;
        let applied = if updates.is_empty() {
            Vec::new()
        } else {
            engine
                .observed
                .graph
                .note(b.graph.record_enrichments(updates).await)?
        };
        crash_point("recorded-before-announce");
        let mut events = Vec::new();
        let mut payloads = Vec::new();
        let mut announced = Vec::new();
        let n = applied
            .iter()
            .filter(|r| {
                **r == ApplyResult::Applied || (again && **r == ApplyResult::AlreadyEnriched)
            })
            .count() as u64;
        let applied_now =
            completed
                .into_iter()
                .zip(applied)
                .filter_map(|(c, result)| match result {
                    ApplyResult::Applied => Some((c.0, c.1, Some(c.2))),
                    ApplyResult::AlreadyEnriched if again => Some((c.0, c.1, Some(c.2))),
                    ApplyResult::AlreadyEnriched => {
                        engine.stats.duplicates.inc_by(1);
                        None
                    }
                    ApplyResult::Stale => {
                        engine.stats.stale.inc_by(1);
                        None
                    }
                });
        if crashed > 0 {
            tracing::info!(
                "announcing {crashed} enrichment(s) recorded before a crash without their completed event"
            );
        }
        let again = reannounce
            .into_iter()
            .map(|(req, results)| (req, results, None));
        for (req, results, times) in applied_now.chain(again) {
            if let Some((elapsed, call, in_retry)) = times {
                engine.stats.record_enrich(elapsed, call, in_retry);
                engine.stats.record_age(&req.indexed_at);
            }
            let elapsed = times.map(|t| t.0).unwrap_or_default();
            announced.push((req.document_id.clone(), req.content_hash.clone()));
            let mut p = status_payload("completed");
            p.insert("quality_score".into(), json!(results.quality_score));
            p.insert("complexity_score".into(), json!(results.complexity_score));
            p.insert(
                "entities_extracted".into(),
                json!(results.entities_extracted),
            );
            payloads.push((req.document_id.clone(), p));
            let ev = EnrichmentCompleted {
                document_id: req.document_id.clone(),
                project_name: req.project_name.clone(),
                enrichment_status: "success".into(),
                completed_at: now_rfc3339(),
                processing_time_ms: elapsed.as_millis() as u64,
                correlation_id: req.correlation_id.clone(),
                enrichment_results: results,
            };
            events.push(OutRecord {
                key: req.document_id.into_bytes(),
                value: serde_json::to_vec(&ev)?,
            });
        }
        engine
            .observed
            .vectors
            .note(b.vectors.set_payload(payloads).await)?;
        b.broker
            .produce(&engine.cfg.completed_topic, events)
            .await?;
        // The outbox mark last: a crash before it re-announces on redelivery.
        // On a server store the mark is a commit of its own; it overlaps the
        // next batches instead of holding this one's offsets (a mark that does
        // not land costs one more completed event if the offset is redelivered).
        if b.graph.parallel_writes() > 1 {
            engine.outbox_marks.note(b.graph.clone(), announced);
        } else {
            engine
                .observed
                .graph
                .note(b.graph.mark_announced(announced).await)?;
        }
        engine.stats.enriched.inc_by(n);
    }
    if !dlq.is_empty() {
        let mut records = Vec::new();
        let mut failures = Vec::new();
        let mut payloads = Vec::new();
        for (msg, doc) in &dlq {
            // Keyed by document so compaction keeps the latest failure per
            // document; undecodable input is keyed by where it came from.
            let key = if msg.document_id.is_empty() {
                format!(
                    "{}/{}/{}",
                    msg.original_topic, msg.original_partition, msg.original_offset
                )
            } else {
                msg.document_id.clone()
            };
            records.push(OutRecord {
                key: key.into_bytes(),
                value: serde_json::to_vec(msg.as_ref())?,
            });
            if let Some((id, hash)) = doc {
                failures.push(FailureUpdate {
                    document_id: id.clone(),
                    content_hash: hash.clone(),
                    reason: msg.failure_reason.clone(),
                });
                payloads.push((id.clone(), status_payload("dlq")));
            }
        }
        let n = records.len() as u64;
        b.broker.produce(&engine.cfg.dlq_topic, records).await?;
        engine
            .observed
            .graph
            .note(b.graph.record_failures(failures).await)?;
        engine
            .observed
            .vectors
            .note(b.vectors.set_payload(payloads).await)?;
        engine.stats.dlq_published.inc_by(n);
        for (msg, _) in &dlq {
            tracing::debug!(document_id = %msg.document_id, "moved to the DLQ: {}", msg.failure_reason);
        }
        engine.parked_log.note(
            dlq.iter()
                .map(|(m, _)| m.error_details.exception_type.clone()),
        );
    }
    if !returned.is_empty() {
        let ids = returned.iter().map(|r| r.document_id.clone()).collect();
        let records = returned
            .iter()
            .map(|r| OutRecord {
                key: r.document_id.clone().into_bytes(),
                value: r.encode(),
            })
            .collect();
        b.broker.produce(&engine.cfg.enrich_topic, records).await?;
        b.graph.transition(ids, Transition::HandBack).await?;
    }
    Ok(())
}

/// Abort the process here when `ARCHON_TEST_CRASH_AT` names this point: the
/// reliability tests' `kill -9` at an exact place (a random kill rarely lands
/// between two writes of one batch).
fn crash_point(name: &str) {
    static AT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if AT
        .get_or_init(|| std::env::var("ARCHON_TEST_CRASH_AT").ok())
        .as_deref()
        == Some(name)
    {
        eprintln!("archon-tui: ARCHON_TEST_CRASH_AT={name}: aborting here");
        std::process::abort();
    }
}

/// Seed 001 §3.4 progress events for these (document id, correlation id)
/// pairs, when the progress topic is on. The estimate is now plus the
/// median enrichment time seen so far (none yet: now). Best effort: a
/// progress event that cannot be written is logged, never a reason to fail
/// the enrichment.
pub async fn publish_progress(
    engine: &Engine,
    docs: &[(String, String)],
    stage: &str,
    percent: u8,
) {
    let Some(topic) = &engine.cfg.progress_topic else {
        return;
    };
    if docs.is_empty() {
        return;
    }
    let now = chrono::Utc::now();
    let left_ms = match stage {
        "analysis" => engine.stats.enrich_summary().p50_ms,
        _ => 0.0,
    };
    let eta = now + chrono::Duration::milliseconds(left_ms as i64);
    let fmt =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let records = docs
        .iter()
        .filter_map(|(doc, corr)| {
            let ev = crate::events::EnrichmentProgress {
                document_id: doc.clone(),
                correlation_id: corr.clone(),
                stage: stage.into(),
                progress_percent: percent,
                updated_at: fmt(now),
                estimated_completion: fmt(eta),
            };
            Some(OutRecord {
                key: doc.clone().into_bytes(),
                value: serde_json::to_vec(&ev).ok()?,
            })
        })
        .collect();
    if let Err(e) = engine.backends.broker.produce(topic, records).await {
        tracing::debug!("progress events not written: {e:#}");
    }
}

/// How often the Logs panel hears about documents parked in the DLQ.
const PARKED_LOG_EVERY: Duration = Duration::from_secs(2);

/// What arrives within `every` of the first arrival, handed to one flush
/// together: the first `add` into an empty gathering starts the timer.
struct Gathered<T>(Arc<Mutex<Option<T>>>);

impl<T> Default for Gathered<T> {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(None)))
    }
}

impl<T: Default + Send + 'static> Gathered<T> {
    fn add<F, Fut>(&self, every: Duration, add: impl FnOnce(&mut T), flush: F)
    where
        F: FnOnce(T) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let mut pending = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let first = pending.is_none();
        add(pending.get_or_insert_with(T::default));
        if first {
            let pending = self.0.clone();
            tokio::spawn(async move {
                tokio::time::sleep(every).await;
                let gathered = pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take()
                    .unwrap_or_default();
                flush(gathered).await;
            });
        }
    }
}

/// Documents parked in the DLQ, told in one line per two seconds ("moved 14
/// to the DLQ: 12 InjectedFailure, 2 EncodingError"), not one per document:
/// the Logs panel keeps the operator's own lines in view, and the DLQ panel
/// has every entry.
#[derive(Default)]
pub struct ParkedLog(Gathered<std::collections::BTreeMap<String, u64>>);

impl ParkedLog {
    pub fn note(&self, types: impl Iterator<Item = String>) {
        let add = |counts: &mut std::collections::BTreeMap<String, u64>| {
            for t in types {
                *counts.entry(t).or_default() += 1;
            }
        };
        self.0.add(PARKED_LOG_EVERY, add, |counts| async move {
            let n: u64 = counts.values().sum();
            let types: Vec<String> = counts
                .iter()
                .map(|(t, n)| format!("{n} {}", crate::sanitize::clean(t)))
                .collect();
            tracing::warn!("moved {n} to the DLQ: {}", types.join(", "));
        });
    }
}

/// How long outbox marks gather before they are written together.
const MARKS_EVERY: Duration = Duration::from_millis(25);

/// Outbox marks on a server store, written together every [`MARKS_EVERY`]:
/// one statement for every batch recorded meanwhile instead of a commit per
/// batch (Kafka + Neo4j, 10,000 files: 688 mark statements → ~100). The
/// completed events are already written; a mark that never lands (a crash
/// within the window) costs one more completed event if the offset is
/// redelivered, never a lost one.
#[derive(Default)]
pub struct OutboxMarks(Gathered<Vec<Mark>>);

/// (document id, content hash) whose completed event is written.
type Mark = (String, String);

impl OutboxMarks {
    pub fn note(&self, graph: Arc<dyn crate::ports::graph::GraphStore>, marks: Vec<Mark>) {
        if marks.is_empty() {
            return;
        }
        self.0.add(
            MARKS_EVERY,
            |pending| pending.extend(marks),
            |marks| async move {
                if let Err(e) = graph.mark_announced(marks).await {
                    tracing::debug!("outbox marks not written (harmless): {e:#}");
                }
            },
        );
    }
}
