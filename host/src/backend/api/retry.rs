//! When and how long to wait before retrying an API call.

use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub max_retries: u32,
    pub backoff: Duration,
    pub max_wait: Duration,
}

/// Statuses worth retrying: rate limited, or the platform having a bad moment.
pub(crate) fn retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

impl RetryPolicy {
    /// The delay before retry number `retry` (0-based): the server's
    /// Retry-After when it gave one, else exponential backoff. `None` when
    /// the server asks for more than `max_wait`: better a clear failure now
    /// than a request hanging for an hour.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        match retry_after {
            Some(wait) if wait > self.max_wait => None,
            Some(wait) => Some(wait),
            None => Some(self.backoff.saturating_mul(1 << retry.min(16)).min(self.max_wait)),
        }
    }
}

/// Parses Retry-After: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub(super) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate(value)?;
    Some(when.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// Parses a rate limit reset (Render's `Ratelimit-Reset`): documented as
/// epoch seconds, shown in examples as seconds from now; both are accepted
/// (a value past 2001 as epoch seconds).
pub(super) fn parse_reset(value: &str) -> Option<Duration> {
    let secs = value.trim().parse::<u64>().ok()?;
    if secs < 1_000_000_000 {
        return Some(Duration::from_secs(secs));
    }
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(secs.saturating_sub(now)))
}

fn httpdate(value: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(&imf_to_rfc3339(value)?).ok()
}

/// "Wed, 21 Oct 2015 07:28:00 GMT" → "2015-10-21T07:28:00".
fn imf_to_rfc3339(value: &str) -> Option<String> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| m == month)? + 1;
    Some(format!("{year}-{month:02}-{:0>2}T{time}", day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn reset_in_seconds_or_epoch_seconds() {
        assert_eq!(parse_reset("45"), Some(Duration::from_secs(45)));
        assert_eq!(parse_reset("1000000000"), Some(Duration::ZERO), "in the past");
        let soon = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() + 30;
        let wait = parse_reset(&soon.to_string()).unwrap();
        assert!(wait <= Duration::from_secs(30) && wait >= Duration::from_secs(28), "{wait:?}");
        assert_eq!(parse_reset("x"), None);
    }

    #[test]
    fn backoff_doubles_and_retry_after_wins_within_the_cap() {
        let policy =
            RetryPolicy { max_retries: 5, backoff: Duration::from_millis(100), max_wait: Duration::from_secs(10) };
        assert_eq!(policy.delay(0, None), Some(Duration::from_millis(100)));
        assert_eq!(policy.delay(3, None), Some(Duration::from_millis(800)));
        assert_eq!(policy.delay(0, Some(Duration::from_secs(3))), Some(Duration::from_secs(3)));
        assert_eq!(policy.delay(0, Some(Duration::from_secs(3600))), None);
    }
}
