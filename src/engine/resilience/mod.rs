//! What keeps a sick service or store from losing work or flooding the
//! DLQ: retry backoff with jitter, the circuit breaker, the processing rate
//! limit, the stores' health as the engine's own calls observed it, and the
//! hold while writes cannot land (a full disk).

pub mod backoff;
pub mod breaker;
pub mod observed;
pub mod rate;
pub mod stall;
