//! What operators steer and every member of a fleet follows: the shared
//! operator state (`control`), the levers (`levers`, one spec each), the
//! async rollout, and consumer-group offset resets.

pub mod control;
pub mod group_reset;
pub mod levers;
pub mod rollout;
