//! Live counters and latency histograms of one engine process.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

pub struct Stats {
    pub discovered: AtomicU64,
    pub indexed: AtomicU64,
    pub published: AtomicU64,
    pub consumed: AtomicU64,
    /// Enrichments written (a duplicate delivery is not counted).
    pub enriched: AtomicU64,
    pub duplicates: AtomicU64,
    pub stale: AtomicU64,
    pub dlq_published: AtomicU64,
    pub retries: AtomicU64,
    pub in_flight: AtomicI64,
    errors: Mutex<BTreeMap<String, u64>>,
    /// Microseconds.
    enrich_latency: Mutex<Histogram<u64>>,
    index_latency: Mutex<Histogram<u64>>,
    /// (when, enriched total) samples for a sliding docs/s rate.
    samples: Mutex<VecDeque<(Instant, u64)>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
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

fn new_histogram() -> Histogram<u64> {
    // 1 µs .. 1 h at 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds")
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            discovered: AtomicU64::new(0),
            indexed: AtomicU64::new(0),
            published: AtomicU64::new(0),
            consumed: AtomicU64::new(0),
            enriched: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            stale: AtomicU64::new(0),
            dlq_published: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            in_flight: AtomicI64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            enrich_latency: Mutex::new(new_histogram()),
            index_latency: Mutex::new(new_histogram()),
            samples: Mutex::new(VecDeque::new()),
        }
    }
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }

    pub fn error(&self, error_type: &str) {
        *self
            .errors
            .lock()
            .unwrap()
            .entry(error_type.to_string())
            .or_default() += 1;
    }

    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors.lock().unwrap().clone()
    }

    pub fn record_enrich(&self, d: Duration) {
        let _ = self
            .enrich_latency
            .lock()
            .unwrap()
            .record(d.as_micros().max(1) as u64);
    }

    pub fn record_index(&self, d: Duration, documents: u64) {
        let _ = self
            .index_latency
            .lock()
            .unwrap()
            .record_n(d.as_micros().max(1) as u64, documents);
    }

    pub fn enrich_summary(&self) -> LatencySummary {
        summary(&self.enrich_latency.lock().unwrap())
    }

    pub fn index_summary(&self) -> LatencySummary {
        summary(&self.index_latency.lock().unwrap())
    }

    /// Enrichments per second over the last `window`, from periodic samples.
    pub fn rate(&self, window: Duration) -> f64 {
        let now = Instant::now();
        let total = Self::get(&self.enriched);
        let mut s = self.samples.lock().unwrap();
        s.push_back((now, total));
        while s.len() > 2 && now.duration_since(s[1].0) > window {
            s.pop_front();
        }
        let (t0, n0) = s[0];
        let dt = now.duration_since(t0).as_secs_f64();
        if dt < 0.2 {
            0.0
        } else {
            (total - n0) as f64 / dt
        }
    }
}
