//! In-process intelligence: runs the analyzer on a blocking thread.

use async_trait::async_trait;

use super::{analyzer, Analysis, Intelligence, IntelligenceError, ProcessRequest};

pub struct EmbeddedIntelligence;

#[async_trait]
impl Intelligence for EmbeddedIntelligence {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn process(
        &self,
        req: &ProcessRequest,
        _attempt: u32,
    ) -> Result<Analysis, IntelligenceError> {
        // Small files are cheaper to analyse inline than to hand to a thread.
        if req.content.len() < 16 * 1024 {
            return Ok(analyzer::analyze(&req.content, req.language.as_deref()));
        }
        let req = req.clone();
        tokio::task::spawn_blocking(move || {
            analyzer::analyze(&req.content, req.language.as_deref())
        })
        .await
        .map_err(|e| IntelligenceError::transient("AnalyzerPanic", e.to_string()))
    }
}
