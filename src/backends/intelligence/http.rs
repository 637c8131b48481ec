//! The intelligence service over HTTP: POST {url}/process/document with the
//! seed's request body (plus the content), the answer parsed into the seed's
//! result shape. Failures are classified for the retry logic above:
//! timeouts, connection errors, 5xx and 429 are transient; other 4xx and
//! undecodable answers are permanent.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::{Analysis, Intelligence, IntelligenceError, ProcessRequest};
use crate::backends::graph::Entity;
use crate::events::EnrichmentResults;

/// Answers larger than this are refused (a broken service must not exhaust memory).
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

pub struct HttpIntelligence {
    client: reqwest::Client,
    endpoint: reqwest::Url,
    timeout: Duration,
}

/// The service's answer; like the seed's consumer (`result.get(k, default)`)
/// a missing field takes its default.
#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    entities_extracted: Option<u64>,
    #[serde(default)]
    quality_score: f64,
    #[serde(default)]
    complexity_score: f64,
    #[serde(default)]
    patterns_detected: Vec<String>,
    #[serde(default)]
    anti_patterns_detected: Vec<String>,
    #[serde(default)]
    entities: Vec<Entity>,
}

impl HttpIntelligence {
    /// `base` is the service root, e.g. `http://archon-intelligence:8053`.
    pub fn new(base: &str, timeout: Duration) -> anyhow::Result<Self> {
        let endpoint = parse_base(base)?
            .join("process/document")
            .map_err(|e| anyhow::anyhow!("--intelligence-url {base:?}: {e}"))?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // One pool per engine; idle connections are reused across calls.
            .pool_max_idle_per_host(64)
            .user_agent(concat!("archon-tui/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            endpoint,
            timeout,
        })
    }

    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }
}

/// Checks the URL names an http(s) service; the error names the setting.
pub fn parse_base(base: &str) -> anyhow::Result<reqwest::Url> {
    let mut url = reqwest::Url::parse(base).map_err(|e| {
        anyhow::anyhow!("--intelligence-url / INTELLIGENCE_SERVICE_URL {base:?} is not a URL: {e}")
    })?;
    anyhow::ensure!(
        matches!(url.scheme(), "http" | "https") && url.host().is_some(),
        "--intelligence-url / INTELLIGENCE_SERVICE_URL {base:?} must be http(s)://host[:port]"
    );
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn classify_send_error(e: &reqwest::Error, timeout: Duration) -> IntelligenceError {
    if e.is_timeout() {
        IntelligenceError::transient(
            "TimeoutException",
            format!(
                "Intelligence service timeout after {:.1}s",
                timeout.as_secs_f64()
            ),
        )
    } else if e.is_connect() {
        IntelligenceError::transient(
            "ConnectError",
            format!("cannot connect: {}", source_chain(e)),
        )
    } else {
        IntelligenceError::transient("HttpError", source_chain(e))
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    crate::sanitize::clean(text.trim())
}

#[async_trait]
impl Intelligence for HttpIntelligence {
    fn kind(&self) -> &'static str {
        "http"
    }

    async fn health(&self) -> anyhow::Result<Option<String>> {
        let url = self.endpoint.join("../health")?;
        let resp = self
            .client
            .get(url.clone())
            .timeout(self.timeout.min(Duration::from_secs(5)))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
        anyhow::ensure!(resp.status().is_success(), "{url}: {}", resp.status());
        Ok(Some(format!("{url}: {}", resp.status())))
    }

    async fn process(
        &self,
        req: &ProcessRequest,
        _attempt: u32,
    ) -> Result<Analysis, IntelligenceError> {
        let sent = self
            .client
            .post(self.endpoint.clone())
            .json(req)
            .send()
            .await;
        let mut resp = sent.map_err(|e| classify_send_error(&e, self.timeout))?;
        let status = resp.status();
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return Err(IntelligenceError::permanent(
                            "ResponseTooLarge",
                            format!("answer larger than {MAX_RESPONSE_BYTES} bytes"),
                        ));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(classify_send_error(&e, self.timeout)),
            }
        }
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(IntelligenceError::transient(
                &format!("HTTP{}", status.as_u16()),
                format!("Intelligence service returned {status}: {}", snippet(&body)),
            ));
        }
        if !status.is_success() {
            return Err(IntelligenceError::permanent(
                &format!("HTTP{}", status.as_u16()),
                format!("Intelligence service returned {status}: {}", snippet(&body)),
            ));
        }
        let r: Response = serde_json::from_slice(&body).map_err(|e| {
            IntelligenceError::permanent(
                "ResponseDecodeError",
                format!(
                    "the answer is not the expected JSON ({e}): {}",
                    snippet(&body)
                ),
            )
        })?;
        Ok(Analysis {
            results: EnrichmentResults {
                entities_extracted: r.entities_extracted.unwrap_or(r.entities.len() as u64),
                quality_score: r.quality_score,
                complexity_score: r.complexity_score,
                patterns_detected: r.patterns_detected,
                anti_patterns_detected: r.anti_patterns_detected,
            },
            entities: r.entities,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_joined() {
        let h = HttpIntelligence::new("http://127.0.0.1:8053", Duration::from_secs(1)).unwrap();
        assert_eq!(h.endpoint(), "http://127.0.0.1:8053/process/document");
        let h = HttpIntelligence::new("http://svc/api/", Duration::from_secs(1)).unwrap();
        assert_eq!(h.endpoint(), "http://svc/api/process/document");
        for bad in ["", "127.0.0.1:8053", "ftp://x", "http://"] {
            let e = parse_base(bad).unwrap_err().to_string();
            assert!(e.contains("intelligence-url"), "{bad}: {e}");
        }
    }
}
