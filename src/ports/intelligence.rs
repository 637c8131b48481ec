//! Intelligence service: turns a document into enrichment results (seed §3.3
//! shape) plus the entities it found.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::events::EnrichmentResults;
use crate::ports::graph::Entity;

/// The seed's /process/document request body, plus the content (a remote
/// service cannot read the operator's disk).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessRequest {
    pub document_id: String,
    pub project_name: String,
    pub file_path: String,
    pub document_type: Option<String>,
    pub language: Option<String>,
    pub enrichment_type: String,
    pub content: String,
    /// How often the operator replayed this document from the DLQ; not sent
    /// over HTTP, but lets a rehearsal's injected failures differ on replay.
    #[serde(skip)]
    pub replay_count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    #[serde(flatten)]
    pub results: EnrichmentResults,
    #[serde(default)]
    pub entities: Vec<Entity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureKind {
    /// Timeouts, connection errors, 5xx, 429: worth retrying.
    Transient,
    /// Bad request, validation: retrying cannot help.
    Permanent,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{exception_type}: {message}")]
pub struct IntelligenceError {
    pub kind: FailureKind,
    pub exception_type: String,
    pub message: String,
}

impl IntelligenceError {
    pub fn transient(exception_type: &str, message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Transient,
            exception_type: exception_type.into(),
            message: message.into(),
        }
    }
    pub fn permanent(exception_type: &str, message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Permanent,
            exception_type: exception_type.into(),
            message: message.into(),
        }
    }
}

#[async_trait]
pub trait Intelligence: Send + Sync {
    fn kind(&self) -> &'static str;
    /// `attempt` counts the calls made for the request before this one: 0
    /// for the first, then 1, 2… for each call after a failure (a retry, or
    /// a call made again after an outage, which costs the request no retry).
    async fn process(
        &self,
        req: &ProcessRequest,
        attempt: u32,
    ) -> Result<Analysis, IntelligenceError>;
    /// The service's own health answer (doctor): where it was asked and
    /// what it said; None for an analyzer inside the engine.
    async fn health(&self) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
}

/// Injected failure rate and latency, adjustable while running (rehearsals
/// from the console): any intelligence adapter can be wrapped with it.
#[derive(Default)]
pub struct FaultDial {
    rate_bits: AtomicU64,
    latency_us: AtomicU64,
}

impl FaultDial {
    pub fn new(rate: f64, latency: Duration) -> Self {
        let d = Self::default();
        d.set(rate, latency);
        d
    }
    pub fn set(&self, rate: f64, latency: Duration) {
        self.rate_bits
            .store(rate.clamp(0.0, 1.0).to_bits(), Relaxed);
        self.latency_us.store(latency.as_micros() as u64, Relaxed);
    }
    pub fn rate(&self) -> f64 {
        f64::from_bits(self.rate_bits.load(Relaxed))
    }
    pub fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Relaxed))
    }
}
