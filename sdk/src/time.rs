//! Time as the host hands it over: every call carries an explicit `now`, so a
//! policy never reads a clock and can be replayed on a simulated one.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// A point in time, in milliseconds since the Unix epoch (UTC). Arithmetic
/// with [`Duration`] saturates rather than wrapping.
///
/// ```
/// use paastis_sdk::Timestamp;
/// use std::time::Duration;
///
/// let opened = Timestamp::from_secs(1_000);
/// let now = opened + Duration::from_secs(90);
/// assert_eq!(now.saturating_since(opened), Duration::from_secs(90));
/// assert!(now > opened);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// From milliseconds since the epoch, the host's unit.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::Timestamp::from_millis(1_500).as_millis(), 1_500);
    /// ```
    pub const fn from_millis(millis: u64) -> Self {
        Timestamp(millis)
    }

    /// From seconds since the epoch (`date +%s`); saturates far in the future.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::Timestamp::from_secs(2).as_millis(), 2_000);
    /// ```
    pub const fn from_secs(secs: u64) -> Self {
        Timestamp(secs.saturating_mul(1000))
    }

    /// Milliseconds since the epoch.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::Timestamp::from_secs(1).as_millis(), 1_000);
    /// ```
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// How long ago `earlier` was, seen from `self`; zero if it is not earlier
    /// (clocks of different hosts can disagree slightly).
    ///
    /// ```
    /// use paastis_sdk::Timestamp;
    /// use std::time::Duration;
    /// let (a, b) = (Timestamp::from_secs(10), Timestamp::from_secs(4));
    /// assert_eq!((a.saturating_since(b), b.saturating_since(a)), (Duration::from_secs(6), Duration::ZERO));
    /// ```
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl From<u64> for Timestamp {
    fn from(millis: u64) -> Self {
        Timestamp(millis)
    }
}

impl From<Timestamp> for u64 {
    fn from(ts: Timestamp) -> Self {
        ts.0
    }
}

fn millis_of(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Saturates at the end of time rather than wrapping.
impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(millis_of(rhs)))
    }
}

/// Saturates at the epoch rather than wrapping.
impl Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(millis_of(rhs)))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// Parses a duration as written in the gateway config: humantime syntax
/// (`"15m"`, `"90s"`, `"1h30m"`, `"1h 30m"`) or a bare number of seconds
/// (`"900"`). [`Params::duration`](crate::Params::duration) uses it.
///
/// ```
/// use paastis_sdk::parse_duration;
/// use std::time::Duration;
/// assert_eq!(parse_duration("1h 30m"), Some(Duration::from_secs(5400)));
/// assert_eq!(parse_duration("soon"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    humantime::parse_duration(text).ok()
}

/// Formats a duration the way the config writes it (`"15m"`, `"1h 30m"`), for
/// log lines and messages.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(paastis_sdk::format_duration(Duration::from_secs(5400)), "1h 30m");
/// ```
pub fn format_duration(d: Duration) -> String {
    // Sub-millisecond precision means nothing to a policy and clutters logs.
    let d = Duration::from_millis(millis_of(d));
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_config_durations() {
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1h 30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("abc"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("-5"), None);
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_secs(10);
        assert_eq!(t - Duration::from_secs(20), Timestamp::from_millis(0));
        assert_eq!(Timestamp::from_millis(u64::MAX) + Duration::from_secs(1), Timestamp::from_millis(u64::MAX));
        assert_eq!(t.saturating_since(Timestamp::from_secs(4)), Duration::from_secs(6));
        assert_eq!(t.saturating_since(Timestamp::from_secs(11)), Duration::ZERO);
    }

    #[test]
    fn formats_like_the_config() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h 30m");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1ms");
    }
}
