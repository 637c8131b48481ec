//! What the engine tells about itself: counters and rates (`stats`),
//! Prometheus metrics, Burrow-style lag evaluation (`lagstat`), the `status`
//! report, lag alerts, and a document's trace across topics and graph.

pub mod alerts;
pub mod lagstat;
pub mod metrics;
pub mod stats;
pub mod status;
pub mod trace;
