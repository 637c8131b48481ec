//! Seed 004 "Trace Complete Event Flow", as one command: a document's whole
//! history across the request, DLQ and completed topics and the graph, each
//! event with where it is (topic / partition / offset), when, the attempt and
//! the outcome. The seed does it by hand with kafka-console-consumer | grep
//! on each topic and a Cypher query; this reads the same places.

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use serde::Serialize;
use serde_json::Value;

use crate::engine::dlq::DlqRecord;
use crate::engine::Engine;
use crate::ports::graph::DocumentRecord;

/// One thing that happened to the document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceEvent {
    /// When it happened (the record's timestamp; for the graph, its own).
    pub at_ms: i64,
    /// "request", "progress", "dlq", "dlq cleared", "completed", or "graph".
    pub kind: &'static str,
    pub topic: String,
    pub partition: i32,
    /// -1 for the graph's own facts.
    pub offset: i64,
    /// Request: its retry_count; DLQ: attempts made (failure_count).
    pub attempt: Option<u64>,
    /// What the event says (success, the failure reason, the status…).
    pub outcome: String,
    pub correlation_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    /// What was asked for.
    pub query: String,
    pub document_id: String,
    pub document: Option<DocumentRecord>,
    pub correlation_ids: BTreeSet<String>,
    /// Oldest first.
    pub events: Vec<TraceEvent>,
    /// Records read to find them.
    pub scanned: u64,
}

fn millis(rfc3339: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn text(v: &Value, field: &str) -> String {
    v.get(field)
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_string()
}

/// The timeline as text lines: time, event, where, attempt, outcome.
pub fn lines(t: &Trace) -> Vec<String> {
    t.events
        .iter()
        .map(|e| {
            let at = chrono::DateTime::from_timestamp_millis(e.at_ms)
                .map(|d| d.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
                .unwrap_or_default();
            let place = if e.offset < 0 {
                e.topic.clone()
            } else {
                format!("{} p{} @{}", e.topic, e.partition, e.offset)
            };
            let attempt = e.attempt.map_or(String::new(), |a| format!(" try {a}"));
            format!("{at}  {:<11} {place}{attempt}  {}", e.kind, e.outcome)
        })
        .collect()
}

impl Engine {
    /// The history of the document `query` names: its id, a correlation id
    /// (of any of its requests), or its path (`project/path` or a path some
    /// project holds).
    pub async fn trace(&self, query: &str) -> Result<Trace> {
        let query = query.trim();
        if query.is_empty() || query.len() > 4096 {
            bail!("give a document id, a correlation id or a path");
        }
        let graph = &self.backends.graph;
        let mut document = graph.get_document(query).await?;
        if document.is_none() {
            // A path: as `project/path`, or the path in any project.
            let projects: Vec<String> = graph.counts().await?.into_keys().collect();
            for p in &projects {
                let candidates = [
                    query
                        .strip_prefix(&format!("{p}/"))
                        .map(|rest| crate::engine::pipeline::producer::document_id(p, rest)),
                    Some(crate::engine::pipeline::producer::document_id(p, query)),
                ];
                for id in candidates.into_iter().flatten() {
                    if let Some(d) = graph.get_document(&id).await? {
                        document = Some(d);
                        break;
                    }
                }
                if document.is_some() {
                    break;
                }
            }
        }
        // Known document: match its id. Otherwise a correlation id: match
        // it, and learn the document from the first hit.
        let mut doc_id = document.as_ref().map(|d| d.entity_id.clone());
        let correlation = doc_id.is_none().then(|| query.to_ascii_uppercase());
        let mut trace = Trace {
            query: query.to_string(),
            document_id: String::new(),
            document: None,
            correlation_ids: BTreeSet::new(),
            events: Vec::new(),
            scanned: 0,
        };
        let mut topics = vec![
            (self.cfg.enrich_topic.clone(), "request"),
            (self.cfg.dlq_topic.clone(), "dlq"),
            (self.cfg.completed_topic.clone(), "completed"),
        ];
        if let Some(p) = &self.cfg.progress_topic {
            topics.push((p.clone(), "progress"));
        }
        let known = doc_id.is_some();
        for (topic, kind) in &topics {
            self.scan(topic, kind, &mut doc_id, correlation.as_deref(), &mut trace)
                .await?;
        }
        if !known && doc_id.is_some() {
            // Found by a correlation id: read again for all of the document's
            // events (its other requests have other correlation ids).
            trace.events.clear();
            for (topic, kind) in &topics {
                self.scan(topic, kind, &mut doc_id, None, &mut trace)
                    .await?;
            }
        }
        let Some(id) = doc_id else {
            bail!(
                "nothing matches {:?}: not a document id, a path of an indexed document, \
                 or a correlation id on the request, DLQ or completed topics",
                crate::sanitize::clean(query)
            );
        };
        if document.is_none() {
            document = graph.get_document(&id).await?;
        }
        if let Some(d) = &document {
            trace.correlation_ids.insert(d.correlation_id.clone());
            let graph_event = |at: &str, what: String| TraceEvent {
                at_ms: millis(at).unwrap_or(0),
                kind: "graph",
                topic: format!("graph ({})", graph.kind()),
                partition: -1,
                offset: -1,
                attempt: None,
                outcome: what,
                correlation_id: d.correlation_id.clone(),
            };
            trace.events.push(graph_event(
                &d.indexed_at,
                format!(
                    "indexed (hash {})",
                    &d.content_hash[..d.content_hash.len().min(12)]
                ),
            ));
            if let Some(at) = &d.replayed_at {
                trace.events.push(graph_event(
                    at,
                    format!("replayed from the DLQ (replay {})", d.replay_count),
                ));
            }
            if let Some(at) = &d.enriched_at {
                trace
                    .events
                    .push(graph_event(at, "enrichment recorded".into()));
            }
            let mut now = format!("status now: {}", d.enrichment_status.as_str());
            if let Some(r) = &d.failure_reason {
                now.push_str(&format!(" ({r})"));
            }
            trace.events.push(TraceEvent {
                at_ms: i64::MAX,
                ..graph_event("", now)
            });
        }
        trace.events.sort_by_key(|e| (e.at_ms, e.offset));
        if let Some(last) = trace.events.last_mut().filter(|e| e.at_ms == i64::MAX) {
            last.at_ms = crate::clock::now_ms();
        }
        trace.document_id = id;
        trace.document = document;
        Ok(trace)
    }

    /// Every record of `topic` about the document (or carrying `correlation`).
    async fn scan(
        &self,
        topic: &str,
        kind: &'static str,
        doc_id: &mut Option<String>,
        correlation: Option<&str>,
        trace: &mut Trace,
    ) -> Result<()> {
        let broker = &self.backends.broker;
        for part in broker.lag("archon-tui-trace", topic).await? {
            let mut from = 0;
            while from < part.end {
                let recs = broker.read(topic, part.partition, from, 5_000).await?;
                let Some(last) = recs.last() else { break };
                from = last.offset + 1;
                trace.scanned += recs.len() as u64;
                for r in recs {
                    // Cheap test before any JSON: the id's bytes are in the record.
                    let needle = doc_id.as_deref().or(correlation).unwrap_or_default();
                    let hit = |b: &[u8]| {
                        memchr::memmem::find(b, needle.as_bytes()).is_some()
                            || memchr::memmem::find(b, needle.to_ascii_lowercase().as_bytes())
                                .is_some()
                    };
                    if !hit(&r.value) && !r.key.as_deref().is_some_and(hit) {
                        continue;
                    }
                    let Some(ev) = self.event_of(kind, topic, &r, doc_id, correlation) else {
                        continue;
                    };
                    if !ev.correlation_id.is_empty() {
                        trace.correlation_ids.insert(ev.correlation_id.clone());
                    }
                    if kind == "dlq" {
                        // Every failed call before it was parked (entries
                        // that carry them: ours since issue 28).
                        if let DlqRecord::Entry(_, m) = DlqRecord::of(&r) {
                            trace
                                .events
                                .extend(m.error_details.attempts.iter().map(|t| TraceEvent {
                                    at_ms: millis(&t.at).unwrap_or(ev.at_ms),
                                    kind: "call failed",
                                    topic: "intelligence".into(),
                                    partition: -1,
                                    offset: -1,
                                    attempt: Some(u64::from(t.attempt)),
                                    outcome: format!("{} ({} ms)", t.error, t.duration_ms),
                                    correlation_id: ev.correlation_id.clone(),
                                }));
                        }
                    }
                    trace.events.push(ev);
                }
            }
        }
        Ok(())
    }

    fn event_of(
        &self,
        kind: &'static str,
        topic: &str,
        r: &crate::ports::broker::Record,
        doc_id: &mut Option<String>,
        correlation: Option<&str>,
    ) -> Option<TraceEvent> {
        let base = |kind, attempt, outcome: String, corr: String| TraceEvent {
            at_ms: r.timestamp_ms,
            kind,
            topic: topic.to_string(),
            partition: r.partition,
            offset: r.offset,
            attempt,
            outcome,
            correlation_id: corr,
        };
        let belongs = |doc: &str, corr: &str, doc_id: &mut Option<String>| match doc_id {
            Some(d) => d == doc,
            None if correlation.is_some_and(|c| c.eq_ignore_ascii_case(corr)) => {
                *doc_id = Some(doc.to_string());
                true
            }
            None => false,
        };
        if kind == "dlq" {
            return match DlqRecord::of(r) {
                DlqRecord::Tombstone(key) => (doc_id.as_deref() == Some(key.as_str())).then(|| {
                    base(
                        "dlq cleared",
                        None,
                        "entry removed (replayed or purged)".into(),
                        String::new(),
                    )
                }),
                DlqRecord::Entry(_, m) => {
                    belongs(&m.document_id, &m.correlation_id, doc_id).then(|| {
                        base(
                            "dlq",
                            Some(u64::from(m.failure_count)),
                            if m.failure_reason
                                .starts_with(&m.error_details.exception_type)
                            {
                                m.failure_reason.clone()
                            } else {
                                format!("{}: {}", m.error_details.exception_type, m.failure_reason)
                            },
                            m.correlation_id.clone(),
                        )
                    })
                }
                DlqRecord::Unreadable => None,
            };
        }
        let v: Value = serde_json::from_slice(&r.value).ok()?;
        let (doc, corr) = (text(&v, "document_id"), text(&v, "correlation_id"));
        if !belongs(&doc, &corr, doc_id) {
            return None;
        }
        Some(if kind == "progress" {
            base(
                "progress",
                None,
                format!(
                    "{} {}% (estimated done {})",
                    text(&v, "stage"),
                    v.get("progress_percent")
                        .and_then(|x| x.as_u64())
                        .unwrap_or(0),
                    text(&v, "estimated_completion")
                ),
                corr,
            )
        } else if kind == "request" {
            base(
                "request",
                v.get("retry_count").and_then(|x| x.as_u64()),
                format!(
                    "{} {} (hash {})",
                    text(&v, "enrichment_type"),
                    text(&v, "file_path"),
                    &text(&v, "content_hash")
                        .chars()
                        .take(12)
                        .collect::<String>()
                ),
                corr,
            )
        } else {
            base(
                "completed",
                None,
                format!(
                    "{} in {} ms",
                    text(&v, "enrichment_status"),
                    v.get("processing_time_ms")
                        .and_then(|x| x.as_u64())
                        .unwrap_or(0)
                ),
                corr,
            )
        })
    }
}
