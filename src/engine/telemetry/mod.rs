//! What the engine tells about itself: counters and rates (`stats`),
//! Prometheus metrics, Burrow-style lag evaluation (`lagstat`), the `status`
//! report, lag alerts, a document's trace across topics and graph, and the
//! one state word every front end shows (`state`), and the graph's counts
//! read at a pace their cost allows (`counts`).

pub mod alerts;
pub mod counts;
pub mod lagstat;
pub mod markers;
pub mod metrics;
pub mod state;
pub mod stats;
pub mod status;
pub mod trace;
