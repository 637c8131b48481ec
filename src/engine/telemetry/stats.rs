//! Live counters and latency histograms of one engine process.
//!
//! Counters and duration histograms are Prometheus metrics (seed §10.1
//! names) in the engine's own registry, so `/metrics` exports exactly what the
//! engine counts. HDR histograms beside them give the console its exact
//! P50/P95/P99.

use std::collections::VecDeque;
use std::sync::atomic::AtomicI64;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use prometheus::{
    Histogram as PromHistogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry,
};
use serde::Serialize;

/// The window docs/s is measured over, in the snapshot and in member
/// reports alike.
pub const RATE_WINDOW: Duration = Duration::from_secs(5);

/// Seconds; fine below 10 ms (embedded indexing), and around the seed's 30 s
/// enrichment alert threshold.
/// A document's wait from index to enrichment: seconds (flowing) to days
/// (held, or a backlog after an outage).
const AGE_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 10800.0, 43200.0, 86400.0, 259200.0,
    604800.0,
];

const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0,
    30.0, 60.0, 120.0,
];

/// Error types the engine itself raises; their series exist (at 0) from the
/// start, so dashboards and `rate()` see them before the first error.
pub const KNOWN_ERROR_TYPES: &[&str] = &[
    "SchemaValidationError",
    "DocumentNotFound",
    "ContentMissing",
    "EncodingError",
    "GraphStoreError",
    "FileTooLarge",
    "UnreadableFile",
    "TimeoutException",
    "ConnectError",
    "HttpError",
    "ResponseDecodeError",
    "ResponseTooLarge",
    "InjectedFailure",
    "AnalyzerPanic",
];

/// The intelligence call failures that are about the service's health.
const TRANSIENT_CALL_ERRORS: &[&str] = &[
    "TimeoutException",
    "ConnectError",
    "HttpError",
    "InjectedFailure",
];

pub struct Stats {
    pub registry: Registry,
    pub discovered: IntCounter,
    /// archon_bridge_documents_indexed_total
    pub indexed: IntCounter,
    /// archon_bridge_documents_received_total: documents POSTed to the
    /// bridge API (tree and watch ingests are `discovered`).
    pub bridge_received: IntCounter,
    /// Files a watched tree's changes sent to be indexed.
    pub watched_files: IntCounter,
    /// archon_bridge_write_batches_total: the writes those documents took
    /// (concurrent posts share one).
    pub bridge_batches: IntCounter,
    /// archon_bridge_enrichment_events_published_total
    pub published: IntCounter,
    /// archon_bridge_enrichment_publish_errors_total
    pub publish_errors: IntCounter,
    /// archon_enrichment_consumer_messages_consumed_total
    pub consumed: IntCounter,
    /// archon_enrichment_consumer_messages_processed_total: consumed messages
    /// whose outcome is recorded (not those handed back for redelivery).
    pub processed: IntCounter,
    /// archon_documents_enriched_total: enrichments written (a duplicate
    /// delivery is not counted).
    pub enriched: IntCounter,
    pub duplicates: IntCounter,
    pub stale: IntCounter,
    /// archon_enrichment_consumer_dlq_published_total
    pub dlq_published: IntCounter,
    /// Messages put back on the request topic unfinished (a stop or an
    /// outage), for another try.
    pub handed_back: IntCounter,
    /// archon_enrichment_consumer_retries_total
    pub retries: IntCounter,
    /// archon_intelligence_enrichment_requests_total
    pub intelligence_requests: IntCounter,
    pub intelligence_errors: IntCounterVec,
    pub intelligence_duration: PromHistogram,
    pub in_flight: AtomicI64,
    /// Of `in_flight`, those in batches a writer is recording now.
    pub recording: AtomicI64,
    /// Of `in_flight`, those whose last call was a breaker trial that failed
    /// (`enrich::Suspect`): they cannot tell an outage from their own fault.
    pub suspects: AtomicI64,
    errors: IntCounterVec,
    index_seconds: PromHistogram,
    enrich_seconds: PromHistogram,
    /// Time a retried document spent in failed calls, backoff and breaker
    /// waits before the call that succeeded.
    retry_wait_seconds: PromHistogram,
    /// Seed §10.1: from index to enrichment.
    age_seconds: PromHistogram,
    /// Microseconds: the successful service call.
    enrich_latency: Mutex<Histogram<u64>>,
    /// Microseconds: time in retry, for documents that needed one.
    retry_wait: Mutex<Histogram<u64>>,
    index_latency: Mutex<Histogram<u64>>,
    /// The last one to two minutes of service calls and of record batches'
    /// writes (the lag diagnosis judges what the service does now, not
    /// since start).
    recent_calls: Mutex<Recent>,
    recent_records: Mutex<Recent>,
    /// (when, enriched total) samples for a sliding docs/s rate.
    samples: Mutex<VecDeque<(Instant, u64)>>,
    /// The same for documents coming in: over HTTP, and from trees.
    in_http: Mutex<VecDeque<(Instant, u64)>>,
    in_trees: Mutex<VecDeque<(Instant, u64)>>,
    in_watch: Mutex<VecDeque<(Instant, u64)>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    /// None when nothing was measured.
    pub fn p50(&self) -> Option<f64> {
        (self.count > 0).then_some(self.p50_ms)
    }
    pub fn p95(&self) -> Option<f64> {
        (self.count > 0).then_some(self.p95_ms)
    }
}

fn summary(h: &Histogram<u64>) -> LatencySummary {
    let ms = |v: u64| v as f64 / 1000.0;
    LatencySummary {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p95_ms: ms(h.value_at_quantile(0.95)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
    }
}

/// Latencies of the last one to two minutes: two histograms, the older
/// dropped each minute.
struct Recent {
    current: Histogram<u64>,
    previous: Histogram<u64>,
    since: Instant,
}

const RECENT_SPAN: Duration = Duration::from_secs(60);

impl Recent {
    fn new() -> Self {
        Recent {
            current: new_histogram(),
            previous: new_histogram(),
            since: Instant::now(),
        }
    }

    fn rotate(&mut self) {
        let age = self.since.elapsed();
        if age >= 2 * RECENT_SPAN {
            self.previous.reset();
            self.current.reset();
            self.since = Instant::now();
        } else if age >= RECENT_SPAN {
            std::mem::swap(&mut self.previous, &mut self.current);
            self.current.reset();
            self.since = Instant::now();
        }
    }

    fn record(&mut self, d: Duration) {
        self.rotate();
        self.current.saturating_record(d.as_micros().max(1) as u64);
    }

    fn summary(&mut self) -> LatencySummary {
        self.rotate();
        let mut both = self.previous.clone();
        both.add(&self.current).ok();
        summary(&both)
    }
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs .. 1 h at 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds")
}

/// Registers metrics; names and help texts are constants, so a failure here
/// is a programming error caught by every test.
struct Register<'a>(&'a Registry);

impl Register<'_> {
    fn counter(&self, name: &str, help: &str) -> IntCounter {
        let c = IntCounter::new(name, help).expect("counter");
        self.0.register(Box::new(c.clone())).expect("register");
        c
    }
    fn counter_vec(&self, name: &str, help: &str, label: &str) -> IntCounterVec {
        let c = IntCounterVec::new(Opts::new(name, help), &[label]).expect("counter vec");
        self.0.register(Box::new(c.clone())).expect("register");
        c
    }
    fn seconds(&self, name: &str, help: &str) -> PromHistogram {
        self.seconds_in(name, help, DURATION_BUCKETS)
    }

    fn seconds_in(&self, name: &str, help: &str, buckets: &[f64]) -> PromHistogram {
        let h = PromHistogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
            .expect("histogram");
        self.0.register(Box::new(h.clone())).expect("register");
        h
    }
}

impl Default for Stats {
    fn default() -> Self {
        let registry = Registry::new();
        let r = Register(&registry);
        let s = Self {
            discovered: r.counter(
                "archon_bridge_files_discovered_total",
                "Files found by ingest walks",
            ),
            indexed: r.counter(
                "archon_bridge_documents_indexed_total",
                "Documents indexed (created or changed)",
            ),
            bridge_received: r.counter(
                "archon_bridge_documents_received_total",
                "Documents POSTed to the bridge API",
            ),
            watched_files: r.counter(
                "archon_watch_files_changed_total",
                "Files a watched tree's changes sent to be indexed",
            ),
            bridge_batches: r.counter(
                "archon_bridge_write_batches_total",
                "Index writes the bridge API's documents took (concurrent posts share one)",
            ),
            published: r.counter(
                "archon_bridge_enrichment_events_published_total",
                "Enrichment request events published",
            ),
            publish_errors: r.counter(
                "archon_bridge_enrichment_publish_errors_total",
                "Enrichment request events that could not be published",
            ),
            consumed: r.counter(
                "archon_enrichment_consumer_messages_consumed_total",
                "Messages fetched from the enrichment topic",
            ),
            processed: r.counter(
                "archon_enrichment_consumer_messages_processed_total",
                "Consumed messages whose outcome (completed, duplicate, stale or DLQ) is recorded",
            ),
            enriched: r.counter(
                "archon_documents_enriched_total",
                "Enrichments written to the stores",
            ),
            duplicates: r.counter(
                "archon_enrichment_consumer_duplicates_total",
                "Redelivered requests for documents already enriched with the same content",
            ),
            stale: r.counter(
                "archon_enrichment_consumer_stale_total",
                "Requests for content that has changed since they were published",
            ),
            dlq_published: r.counter(
                "archon_enrichment_consumer_dlq_published_total",
                "Messages parked in the dead-letter queue",
            ),
            handed_back: r.counter(
                "archon_enrichment_consumer_handed_back_total",
                "Messages put back on the request topic unfinished (a stop or an outage)",
            ),
            retries: r.counter(
                "archon_enrichment_consumer_retries_total",
                "Retry attempts after transient failures",
            ),
            errors: r.counter_vec(
                "archon_enrichment_consumer_errors_total",
                "Processing errors by type",
                "error_type",
            ),
            intelligence_requests: r.counter(
                "archon_intelligence_enrichment_requests_total",
                "Calls to the intelligence service",
            ),
            intelligence_errors: r.counter_vec(
                "archon_intelligence_enrichment_errors_total",
                "Failed calls to the intelligence service by type",
                "error_type",
            ),
            intelligence_duration: r.seconds(
                "archon_intelligence_enrichment_duration_seconds",
                "Duration of one intelligence service call",
            ),
            index_seconds: r.seconds(
                "archon_bridge_indexing_duration_seconds",
                "Indexing latency per document (its batch's write time)",
            ),
            enrich_seconds: r.seconds(
                "archon_enrichment_consumer_processing_duration_seconds",
                "From start of processing to enrichment result, retries included",
            ),
            retry_wait_seconds: r.seconds(
                "archon_enrichment_retry_wait_seconds",
                "Per enriched document that was retried: failed calls, backoff and breaker waits before the call that succeeded",
            ),
            age_seconds: r.seconds_in(
                "archon_enrichment_age_seconds",
                "From indexing (the request's indexed_at) to the enrichment being recorded",
                AGE_BUCKETS,
            ),
            in_flight: AtomicI64::new(0),
            suspects: AtomicI64::new(0),
            recording: AtomicI64::new(0),
            enrich_latency: Mutex::new(new_histogram()),
            retry_wait: Mutex::new(new_histogram()),
            index_latency: Mutex::new(new_histogram()),
            recent_calls: Mutex::new(Recent::new()),
            recent_records: Mutex::new(Recent::new()),
            samples: Mutex::new(VecDeque::new()),
            in_http: Mutex::new(VecDeque::new()),
            in_watch: Mutex::new(VecDeque::new()),
            in_trees: Mutex::new(VecDeque::new()),
            registry,
        };
        for t in KNOWN_ERROR_TYPES {
            s.errors.with_label_values(&[*t]);
        }
        for t in TRANSIENT_CALL_ERRORS {
            s.intelligence_errors.with_label_values(&[*t]);
        }
        s
    }
}

impl Stats {
    pub fn add(counter: &IntCounter, n: u64) {
        counter.inc_by(n);
    }

    pub fn get(counter: &IntCounter) -> u64 {
        counter.get()
    }

    pub fn error(&self, error_type: &str) {
        self.errors.with_label_values(&[error_type]).inc();
    }

    /// Processing errors so far, by type.
    pub fn errors_total(&self) -> u64 {
        use prometheus::core::Collector;
        self.errors
            .collect()
            .iter()
            .flat_map(|f| f.get_metric())
            .map(|m| m.get_counter().get_value() as u64)
            .sum()
    }

    /// One enrichment recorded: `elapsed` from its first read to its result
    /// (the seeds' processing time, retries included), `call` the service
    /// call that succeeded (the console's enrichment latency), `in_retry`
    /// the time before that call spent on failed ones and waits.
    pub fn record_enrich(&self, elapsed: Duration, call: Duration, in_retry: Duration) {
        self.enrich_seconds.observe(elapsed.as_secs_f64());
        // Saturating: a value beyond the histogram's range is clamped.
        self.enrich_latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .saturating_record(call.as_micros().max(1) as u64);
        self.recent_calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .record(call);
        if !in_retry.is_zero() {
            self.retry_wait_seconds.observe(in_retry.as_secs_f64());
            self.retry_wait
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .saturating_record(in_retry.as_micros().max(1) as u64);
        }
    }

    /// A document enriched `indexed_at` (RFC 3339) after it was indexed;
    /// an unreadable or future time is not counted.
    pub fn record_age(&self, indexed_at: &str) {
        let Ok(t) = chrono::DateTime::parse_from_rfc3339(indexed_at) else {
            return;
        };
        let age = chrono::Utc::now().signed_duration_since(t);
        if let Ok(d) = age.to_std() {
            self.age_seconds.observe(d.as_secs_f64());
        }
    }

    /// One batch of `documents` indexed in `d`: each document waited `d`.
    pub fn record_index(&self, d: Duration, documents: u64) {
        for _ in 0..documents {
            self.index_seconds.observe(d.as_secs_f64());
        }
        self.index_latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .saturating_record_n(d.as_micros().max(1) as u64, documents);
    }

    /// Time in retry, over the documents that needed a retry.
    pub fn retry_wait_summary(&self) -> LatencySummary {
        summary(
            &self
                .retry_wait
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    pub fn enrich_summary(&self) -> LatencySummary {
        summary(
            &self
                .enrich_latency
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// One batch of outcomes recorded (graph, vectors, events) in `d`.
    pub fn record_batch_written(&self, d: Duration) {
        self.recent_records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .record(d);
    }

    /// Service calls over the last one to two minutes.
    pub fn recent_call_summary(&self) -> LatencySummary {
        self.recent_calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .summary()
    }

    /// Record batches' writes over the last one to two minutes.
    pub fn recent_record_summary(&self) -> LatencySummary {
        self.recent_records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .summary()
    }

    pub fn index_summary(&self) -> LatencySummary {
        summary(
            &self
                .index_latency
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Failed intelligence calls, all kinds (the member report's errors).
    pub fn errors(&self) -> u64 {
        use prometheus::core::Collector;
        self.intelligence_errors
            .collect()
            .iter()
            .flat_map(|f| f.get_metric())
            .map(|m| m.get_counter().get_value() as u64)
            .sum()
    }

    /// Enrichments per second over the last `window`, from periodic samples.
    /// Everything that shows docs/s uses [`RATE_WINDOW`], so the console's
    /// rate and the fleet's member reports agree.
    pub fn rate(&self, window: Duration) -> f64 {
        sliding_rate(&self.samples, Self::get(&self.enriched), window)
    }

    /// Documents coming in a second over the last `window`: (POSTed to the
    /// bridge API, from tree ingests, from watched trees' changes). The
    /// console shows them side by side.
    pub fn inflow(&self, window: Duration) -> (f64, f64, f64) {
        let http = Self::get(&self.bridge_received);
        let watched = Self::get(&self.watched_files);
        let trees = Self::get(&self.discovered).saturating_sub(http + watched);
        (
            sliding_rate(&self.in_http, http, window),
            sliding_rate(&self.in_trees, trees, window),
            sliding_rate(&self.in_watch, watched, window),
        )
    }
}

/// Per second over the last `window`, from (when, total) samples taken at
/// each call; 0 until 0.2 s of samples exist.
pub(crate) fn sliding_rate(
    samples: &Mutex<VecDeque<(Instant, u64)>>,
    total: u64,
    window: Duration,
) -> f64 {
    let now = Instant::now();
    let mut s = samples
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    s.push_back((now, total));
    while s.len() > 2 && now.duration_since(s[1].0) > window {
        s.pop_front();
    }
    let (t0, n0) = s[0];
    let dt = now.duration_since(t0).as_secs_f64();
    if dt < 0.2 {
        0.0
    } else {
        total.saturating_sub(n0) as f64 / dt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflow_tells_http_from_trees() {
        let s = Stats::default();
        assert_eq!(s.inflow(RATE_WINDOW), (0.0, 0.0, 0.0));
        std::thread::sleep(Duration::from_millis(250));
        // 35 documents in: 10 POSTed and 5 from a watch (counted in both),
        // 20 from a tree ingest.
        s.discovered.inc_by(35);
        s.bridge_received.inc_by(10);
        s.watched_files.inc_by(5);
        let (http, trees, watched) = s.inflow(RATE_WINDOW);
        assert!(http > 0.0 && trees > 0.0, "{http} {trees}");
        assert!((trees / http - 2.0).abs() < 0.01, "{http} {trees}");
        assert!((http / watched - 2.0).abs() < 0.01, "{http} {watched}");
    }

    #[test]
    fn counters_and_histograms_are_in_the_registry() {
        let s = Stats::default();
        s.indexed.inc_by(3);
        s.record_index(Duration::from_millis(2), 3);
        s.error("Timeout");
        s.error("Timeout");
        s.error("HttpError");
        assert_eq!(s.errors_total(), 3);
        let families = s.registry.gather();
        let find = |n: &str| families.iter().find(|f| f.name() == n).cloned();
        let idx = find("archon_bridge_indexing_duration_seconds").expect("histogram");
        assert_eq!(idx.get_metric()[0].get_histogram().get_sample_count(), 3);
        let errs = find("archon_enrichment_consumer_errors_total").expect("errors");
        let types: Vec<_> = errs
            .get_metric()
            .iter()
            .map(|m| m.get_label()[0].value().to_string())
            .collect();
        assert!(types.contains(&"HttpError".to_string()) && types.contains(&"Timeout".to_string()));
        assert_eq!(
            types.len(),
            KNOWN_ERROR_TYPES.len() + 1,
            "Timeout is not a known type"
        );
    }
}
