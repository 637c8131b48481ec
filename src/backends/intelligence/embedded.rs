//! In-process intelligence: runs the analyzer inline or on rayon's pool.

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
        // On rayon's pool, one thread per core, not on the blocking pool: at
        // concurrency 32 that grew to 32 threads analysing at once, each
        // with its own regex caches and malloc arena, for no more throughput
        // than the cores give.
        let req = req.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        rayon::spawn(move || {
            let analysis = std::panic::catch_unwind(|| {
                analyzer::analyze(&req.content, req.language.as_deref())
            });
            let _gone = tx.send(analysis);
        });
        match rx.await {
            Ok(Ok(analysis)) => Ok(analysis),
            Ok(Err(_)) => Err(IntelligenceError::transient(
                "AnalyzerPanic",
                "the analyzer panicked".to_string(),
            )),
            Err(_) => Err(IntelligenceError::transient(
                "AnalyzerPanic",
                "the analyzer's thread went away".to_string(),
            )),
        }
    }
}
