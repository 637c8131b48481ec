//! Event schemas from the design seeds (§3.1 request, §3.2 DLQ, §3.3 completed).
//!
//! Decoding is strict: a message that does not match §3.1 is a *permanent*
//! failure and goes to the DLQ with a reason that names the offending field.

use serde::{Deserialize, Serialize};

/// Topic names from the seeds (§3.1–3.3).
pub const ENRICH_TOPIC: &str = "dev.archon-intelligence.enrich-document.v1";
pub const DLQ_TOPIC: &str = "dev.archon-intelligence.enrich-document-dlq.v1";
pub const COMPLETED_TOPIC: &str = "dev.archon-intelligence.enrichment-completed.v1";
/// Seed 001 §3.4 (optional): progress of long enrichments.
pub const PROGRESS_TOPIC: &str = "dev.archon-intelligence.enrichment-progress.v1";

/// §3.4 progress event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrichmentProgress {
    pub document_id: String,
    pub correlation_id: String,
    /// "analysis" (the intelligence call started), "recording" (its result
    /// is being written).
    pub stage: String,
    pub progress_percent: u8,
    pub updated_at: String,
    pub estimated_completion: String,
}
/// Partition counts from the seeds' topic configuration.
pub const ENRICH_PARTITIONS: u32 = 4;
pub const DLQ_PARTITIONS: u32 = 1;
pub const COMPLETED_PARTITIONS: u32 = 4;
/// How long progress events (seed 001 §3.4) are kept: they only say how a
/// document is getting on, so a day is plenty.
pub const PROGRESS_RETENTION_MS: i64 = 24 * 3_600_000;

/// §3.1 says retry_count is at most 3.
pub const MAX_RETRY_COUNT: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    Code,
    Documentation,
    Configuration,
    Test,
    Other,
}

impl DocumentType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Documentation => "documentation",
            Self::Configuration => "configuration",
            Self::Test => "test",
            Self::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "code" => Self::Code,
            "documentation" => Self::Documentation,
            "configuration" => Self::Configuration,
            "test" => Self::Test,
            "other" => Self::Other,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EnrichmentType {
    #[default]
    Full,
    Incremental,
    QualityOnly,
    EntitiesOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    High,
    #[default]
    Normal,
    Low,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RequestMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

/// §3.1 DocumentEnrichmentRequest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichmentRequest {
    pub document_id: String,
    pub project_name: String,
    pub content_hash: String,
    pub file_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_type: Option<DocumentType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub indexed_at: String,
    #[serde(default)]
    pub enrichment_type: EnrichmentType,
    #[serde(default)]
    pub priority: Priority,
    pub correlation_id: String,
    #[serde(default)]
    pub metadata: RequestMetadata,
    #[serde(default)]
    pub retry_count: u32,
}

/// Largest payload decoded as a request (file_path ≤ 4096 characters and
/// the other fields leave ample room below this).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Why a payload is not a valid §3.1 request. The text names the field so an
/// operator reading the DLQ knows exactly what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SchemaError(pub String);

fn is_hex(s: &str, upper: bool) -> bool {
    s.bytes().all(|b| {
        b.is_ascii_digit()
            || if upper {
                (b'A'..=b'F').contains(&b)
            } else {
                (b'a'..=b'f').contains(&b)
            }
    })
}

/// 8-4-4-4-12 hex groups, lower- or upper-case as the schema demands.
/// A bridge-posted document id: 1..=255 characters, none of them control
/// or whitespace.
pub fn is_document_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= 255
        && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

fn is_uuid_text(s: &str, upper: bool) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && is_hex(g, upper))
}

impl EnrichmentRequest {
    /// Decode and validate a raw payload against §3.1.
    pub fn decode(payload: &[u8]) -> Result<Self, SchemaError> {
        // Every field is bounded, so a real request is a few KB: a bigger
        // payload is refused before it is parsed.
        if payload.len() > MAX_REQUEST_BYTES {
            return Err(SchemaError(format!(
                "payload is {} bytes; a §3.1 request is at most {MAX_REQUEST_BYTES}",
                payload.len()
            )));
        }
        let text = std::str::from_utf8(payload).map_err(|e| {
            SchemaError(format!(
                "payload is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ))
        })?;
        let req: Self = serde_json::from_str(text).map_err(|e| {
            let mut msg = e.to_string();
            // At a character boundary: serde quotes the payload, which may
            // hold any text (a byte count panicked on a multibyte char).
            if let Some((i, _)) = msg.char_indices().nth(300) {
                msg.truncate(i);
            }
            SchemaError(format!("payload is not a valid enrichment request: {msg}"))
        })?;
        req.validate()?;
        Ok(req)
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("request serialises")
    }

    pub fn validate(&self) -> Result<(), SchemaError> {
        // §3.1's pattern is a UUID, and every id this engine makes is one;
        // §9.2's own test posts `test-doc-<uuid>` through the bridge. Both
        // are taken (refusing either would lose documents): 1..=255
        // visible characters.
        if !is_uuid_text(&self.document_id, false) && !is_document_id(&self.document_id) {
            return Err(SchemaError(
                "document_id is neither a lower-case UUID (§3.1 pattern) nor 1..=255 visible characters".into(),
            ));
        }
        if self.project_name.is_empty() || self.project_name.chars().count() > 255 {
            return Err(SchemaError(
                "project_name must be 1..=255 characters".into(),
            ));
        }
        if self.content_hash.len() != 64 || !is_hex(&self.content_hash, false) {
            return Err(SchemaError(
                "content_hash is not 64 lower-case hex characters (BLAKE3)".into(),
            ));
        }
        if self.file_path.is_empty() || self.file_path.chars().count() > 4096 {
            return Err(SchemaError("file_path must be 1..=4096 characters".into()));
        }
        if chrono::DateTime::parse_from_rfc3339(&self.indexed_at).is_err() {
            return Err(SchemaError(
                "indexed_at is not an ISO 8601 date-time".into(),
            ));
        }
        if !is_uuid_text(&self.correlation_id, true) {
            return Err(SchemaError(
                "correlation_id is not an upper-case UUID (§3.1 pattern)".into(),
            ));
        }
        if self.retry_count > MAX_RETRY_COUNT {
            return Err(SchemaError(format!(
                "retry_count {} exceeds the maximum of {MAX_RETRY_COUNT}",
                self.retry_count
            )));
        }
        Ok(())
    }
}

/// The enrichment results of §3.3 (also the intelligence service's answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EnrichmentResults {
    pub entities_extracted: u64,
    pub quality_score: f64,
    pub complexity_score: f64,
    pub patterns_detected: Vec<String>,
    pub anti_patterns_detected: Vec<String>,
}

/// §3.3 enrichment-completed event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrichmentCompleted {
    pub document_id: String,
    pub project_name: String,
    pub enrichment_status: String,
    pub completed_at: String,
    pub processing_time_ms: u64,
    pub correlation_id: String,
    pub enrichment_results: EnrichmentResults,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServiceHealth {
    pub intelligence_service: String,
    pub memgraph: String,
    pub qdrant: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ErrorDetails {
    pub exception_type: String,
    pub exception_message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_trace: Option<String>,
    #[serde(default)]
    pub service_health: ServiceHealth,
    /// Every failed call before the document was parked, oldest first (an
    /// addition to §3.2: the seeds' consumers ignore it; entries without
    /// it, from them or an earlier release, read as empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<TryRecord>,
}

/// One failed intelligence call, for the DLQ entry's history and the trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TryRecord {
    /// 0 for the first call.
    pub attempt: u32,
    /// When the call started (RFC 3339).
    pub at: String,
    pub duration_ms: u64,
    /// `ExceptionType: message`.
    pub error: String,
}

/// §3.2 DLQ message, plus where the original came from so replay and audits
/// can find it. `original_message` is raw JSON when the payload decoded, or
/// a lossy string when it did not (bad input must still be inspectable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DlqMessage {
    /// Document the failure is about; empty when the payload was undecodable.
    #[serde(default)]
    pub document_id: String,
    #[serde(default)]
    pub project_name: String,
    #[serde(default)]
    pub correlation_id: String,
    pub failure_reason: String,
    pub failure_timestamp: String,
    pub failure_count: u32,
    pub original_message: serde_json::Value,
    pub error_details: ErrorDetails,
    #[serde(default)]
    pub original_topic: String,
    #[serde(default)]
    pub original_partition: i32,
    #[serde(default)]
    pub original_offset: i64,
}

impl DlqMessage {
    /// A DLQ record's value. Records written the way seed 001 §4.2's
    /// `_publish_to_dlq` writes them carry no document id, project or
    /// correlation id of their own (only inside `original_message`), no
    /// origin and no service health: those are taken from the original
    /// request where it has them.
    pub fn decode(value: &[u8]) -> Option<DlqMessage> {
        let mut m: DlqMessage = serde_json::from_slice(value).ok()?;
        let from_original = |field: &str| {
            m.original_message
                .get(field)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let (doc, project, correlation) = (
            from_original("document_id"),
            from_original("project_name"),
            from_original("correlation_id"),
        );
        for (mine, theirs) in [
            (&mut m.document_id, doc),
            (&mut m.project_name, project),
            (&mut m.correlation_id, correlation),
        ] {
            if mine.is_empty() {
                *mine = theirs.unwrap_or_default();
            }
        }
        Some(m)
    }

    /// The key an entry is known by: the record's key, or for a keyless
    /// record (seed §4.2 sends none) its document id, or its place.
    pub fn entry_key(&self, record_key: Option<&[u8]>, partition: i32, offset: i64) -> String {
        match record_key {
            Some(k) if !k.is_empty() => String::from_utf8_lossy(k).into_owned(),
            _ if !self.document_id.is_empty() => self.document_id.clone(),
            _ => format!("p{partition}@{offset}"),
        }
    }
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The example message of seed §3.1, verbatim (tests and benches).
pub const SEED_REQUEST: &str = r#"{
  "document_id": "550e8400-e29b-41d4-a716-446655440000",
  "project_name": "omniarchon",
  "content_hash": "a3c5e8d2f1b4a9e7c6d3f2e1a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3",
  "file_path": "services/bridge/app.py",
  "document_type": "code",
  "language": "python",
  "indexed_at": "2025-10-30T18:30:00.123Z",
  "enrichment_type": "full",
  "priority": "normal",
  "correlation_id": "7DC1746A-42A0-4125-BEA9-1DDF3E48ABA8",
  "metadata": {
    "file_size_bytes": 45678,
    "line_count": 1234,
    "git_commit_hash": "f7b900213a7c",
    "last_modified": "2025-10-30T12:00:00Z"
  },
  "retry_count": 0
}"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// The example message of seed §3.3, verbatim.
    const SEED_COMPLETED: &str = r#"{
      "document_id": "550e8400-e29b-41d4-a716-446655440000",
      "project_name": "omniarchon",
      "enrichment_status": "success",
      "completed_at": "2025-10-30T18:30:15.456Z",
      "processing_time_ms": 8234,
      "correlation_id": "7DC1746A-42A0-4125-BEA9-1DDF3E48ABA8",
      "enrichment_results": {
        "entities_extracted": 42,
        "quality_score": 0.87,
        "complexity_score": 0.65,
        "patterns_detected": ["factory_pattern", "singleton_pattern"],
        "anti_patterns_detected": []
      }
    }"#;

    #[test]
    fn seed_request_example_round_trips() {
        let req = EnrichmentRequest::decode(SEED_REQUEST.as_bytes()).unwrap();
        assert_eq!(req.document_type, Some(DocumentType::Code));
        assert_eq!(req.metadata.line_count, Some(1234));
        let again = EnrichmentRequest::decode(&req.encode()).unwrap();
        assert_eq!(req, again);
        let a: serde_json::Value = serde_json::from_str(SEED_REQUEST).unwrap();
        let b: serde_json::Value = serde_json::from_slice(&req.encode()).unwrap();
        assert_eq!(
            a, b,
            "encoding must reproduce the seed example field for field"
        );
    }

    #[test]
    fn seed_completed_example_round_trips() {
        let ev: EnrichmentCompleted = serde_json::from_str(SEED_COMPLETED).unwrap();
        assert_eq!(ev.enrichment_results.entities_extracted, 42);
        let a: serde_json::Value = serde_json::from_str(SEED_COMPLETED).unwrap();
        assert_eq!(a, serde_json::to_value(&ev).unwrap());
    }

    fn mutated(f: impl FnOnce(&mut serde_json::Value)) -> Result<EnrichmentRequest, SchemaError> {
        let mut v: serde_json::Value = serde_json::from_str(SEED_REQUEST).unwrap();
        f(&mut v);
        EnrichmentRequest::decode(&serde_json::to_vec(&v).unwrap())
    }

    #[test]
    fn schema_violations_are_named() {
        type Mutation = Box<dyn FnOnce(&mut serde_json::Value)>;
        let cases: Vec<(&str, Mutation)> = vec![
            (
                // Neither a UUID nor a bridge id (whitespace).
                "document_id",
                Box::new(|v| v["document_id"] = "no pe".into()),
            ),
            ("document_id", Box::new(|v| v["document_id"] = "".into())),
            (
                "content_hash",
                Box::new(|v| v["content_hash"] = "ABC".into()),
            ),
            (
                "correlation_id",
                Box::new(|v| v["correlation_id"] = "7dc1746a-42a0-4125-bea9-1ddf3e48aba8".into()),
            ),
            ("retry_count", Box::new(|v| v["retry_count"] = 4.into())),
            (
                "document_type",
                Box::new(|v| v["document_type"] = "spreadsheet".into()),
            ),
            (
                "indexed_at",
                Box::new(|v| v["indexed_at"] = "yesterday".into()),
            ),
            ("file_path", Box::new(|v| v["file_path"] = "".into())),
            (
                "project_name",
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("project_name");
                }),
            ),
        ];
        for (field, f) in cases {
            let err = mutated(f).unwrap_err();
            assert!(
                err.0.contains(field) || err.0.contains("unknown variant"),
                "{field}: {err}"
            );
        }
    }

    #[test]
    fn a_long_error_about_multibyte_text_is_cut_between_characters() {
        // proptest's case: serde's message quotes the bad value, and 300
        // bytes in fell inside a 4-byte character.
        let mut v: serde_json::Value = serde_json::from_str(SEED_REQUEST).unwrap();
        // serde: `invalid type: string "a¡¡¡…` — 23 bytes, then 2 a
        // character, so byte 300 falls inside one.
        v["metadata"] = serde_json::json!(["a".to_string() + &"¡".repeat(200)]);
        let err = EnrichmentRequest::decode(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(err.0.contains("invalid type"), "{}", err.0);
        assert!(err.0.chars().count() <= 360, "{}", err.0.len());
    }

    #[test]
    fn bridge_ids_are_taken_as_section_9_2_posts_them() {
        let r =
            mutated(|v| v["document_id"] = "test-doc-6f9619ff-8b86-4011-b42d-00cf4fc964ff".into())
                .unwrap();
        assert!(r.document_id.starts_with("test-doc-"));
    }

    #[test]
    fn undecodable_payloads_are_rejected_with_reason() {
        assert!(EnrichmentRequest::decode(b"\xff\xfe")
            .unwrap_err()
            .0
            .contains("UTF-8"));
        assert!(EnrichmentRequest::decode(b"{not json")
            .unwrap_err()
            .0
            .contains("not a valid"));
        assert!(EnrichmentRequest::decode(b"[]").is_err());
    }

    use proptest::prelude::*;

    /// A JSON value of any shape, for field replacement.
    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(|f| serde_json::json!(f)),
            ".{0,80}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map(".{0,12}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Arbitrary bytes: an error or a request that re-validates, never a panic.
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(req) = EnrichmentRequest::decode(&bytes) {
                prop_assert!(req.validate().is_ok());
            }
        }

        /// The seed request with one field replaced by anything: decoded
        /// requests are always valid, and re-encode to themselves.
        #[test]
        fn mutated_requests_decode_to_valid_requests_or_named_errors(
            field in prop::sample::select(vec![
                "document_id", "project_name", "content_hash", "file_path", "document_type",
                "language", "indexed_at", "enrichment_type", "priority", "correlation_id",
                "metadata", "retry_count", "unexpected_field",
            ]),
            value in any_json(),
        ) {
            let mut v: serde_json::Value = serde_json::from_str(SEED_REQUEST).unwrap();
            v[field] = value;
            match EnrichmentRequest::decode(&serde_json::to_vec(&v).unwrap()) {
                Ok(req) => {
                    prop_assert!(req.validate().is_ok());
                    prop_assert_eq!(EnrichmentRequest::decode(&req.encode()).unwrap(), req);
                }
                Err(e) => prop_assert!(!e.0.is_empty() && e.0.len() < 1_000, "{}", e.0),
            }
        }

        /// DLQ records read back from the topic: any bytes, no panic.
        #[test]
        fn dlq_records_of_any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _dlq = serde_json::from_slice::<DlqMessage>(&bytes);
            let _completed = serde_json::from_slice::<EnrichmentCompleted>(&bytes);
        }
    }
}
