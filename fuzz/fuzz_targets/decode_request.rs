//! Raw request-topic payloads: decode never panics; what decodes is valid
//! and round-trips.
#![no_main]
use archon_tui::events::{DlqMessage, EnrichmentRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = EnrichmentRequest::decode(data) {
        assert!(req.validate().is_ok());
        assert_eq!(EnrichmentRequest::decode(&req.encode()).unwrap(), req);
    }
    let _ = serde_json::from_slice::<DlqMessage>(data);
});
