//! `paastis inspect` for people: RFC 3339 times and rounded durations next
//! to the epoch milliseconds that scripts read.

use crate::policy::model::Timestamp;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2026-11-30T01:00:12Z` (to the second, UTC).
pub(super) fn rfc3339(at: Timestamp) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(at)).to_string()
}

/// `3h 12m`: to the minute from an hour on, to the second below.
pub(super) fn duration(ms: u64) -> String {
    let secs = ms / 1000;
    let rounded = if secs >= 3600 { secs / 60 * 60 } else { secs };
    humantime::format_duration(Duration::from_secs(rounded)).to_string()
}

/// "asleep since 2026-11-30T01:00:12Z, 3h 12m; last request
/// 2026-11-30T00:59:40Z, 3h 12m ago", for a record as of `now`.
pub(super) fn summary(state: &str, since: Timestamp, last_activity: Option<Timestamp>, now: Timestamp) -> String {
    let mut line = format!("{state} since {}, {}", rfc3339(since), duration(now.saturating_sub(since)));
    match last_activity {
        Some(at) => line.push_str(&format!("; last request {}, {} ago", rfc3339(at), duration(now.saturating_sub(at)))),
        None => line.push_str("; no request yet"),
    }
    line
}

pub(super) fn now() -> Timestamp {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_rfc3339_and_durations_as_hours_and_minutes() {
        let since = 1_764_464_412_345; // 2025-11-30T01:00:12.345Z
        assert_eq!(rfc3339(since), "2025-11-30T01:00:12Z");
        let now = since + (3 * 3600 + 12 * 60 + 40) * 1000;
        assert_eq!(duration(now - since), "3h 12m");
        assert_eq!(duration(95_000), "1m 35s");
        assert_eq!(
            summary("asleep", since, Some(since - 32_000), now),
            "asleep since 2025-11-30T01:00:12Z, 3h 12m; last request 2025-11-30T00:59:40Z, 3h 13m ago"
        );
        assert_eq!(summary("awake", since, None, since), "awake since 2025-11-30T01:00:12Z, 0s; no request yet");
    }
}
