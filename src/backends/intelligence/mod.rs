//! Intelligence service: turns a document into enrichment results (seed §3.3
//! shape) plus the entities it found.

pub mod analyzer;
pub mod embedded;
pub mod faults;
pub mod http;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::backends::graph::Entity;
use crate::events::EnrichmentResults;

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
    /// `attempt` is 0 for the first call of a request, 1 for its first retry…
    async fn process(
        &self,
        req: &ProcessRequest,
        attempt: u32,
    ) -> Result<Analysis, IntelligenceError>;
}
