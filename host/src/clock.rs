//! Wall-clock time as the policy contract counts it.

use crate::policy::model::Timestamp;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch. A clock before 1970 reads as 0 rather
/// than failing: policies compare durations, and a broken clock is logged by
/// the OS, not by us.
pub fn now_ms() -> Timestamp {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as Timestamp)
}
