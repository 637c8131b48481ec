//! What the engine tells about itself: counters and rates (`stats`),
//! Prometheus metrics, Burrow-style lag evaluation (`lagstat`), the `status`
//! report, lag alerts, a document's trace across topics and graph, and the
//! one state word every front end shows (`state`).

pub mod alerts;
pub mod lagstat;
pub mod markers;
pub mod metrics;
pub mod state;
pub mod stats;
pub mod status;
pub mod trace;
