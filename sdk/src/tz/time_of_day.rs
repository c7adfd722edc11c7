//! A wall-clock time without a date, as written in schedules ("08:00").

use std::fmt;

/// A time of day, to the second, from 00:00:00 to 23:59:59.
///
/// There is no 24:00: a schedule that runs to midnight closes at `"00:00"`,
/// which is the next day's.
///
/// ```
/// use paastis_sdk::tz::TimeOfDay;
/// let (open, close) = (TimeOfDay::hm(8, 0), TimeOfDay::parse("19:30").unwrap());
/// assert!(open < close && close.to_string() == "19:30");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TimeOfDay {
    secs: u32,
}

impl TimeOfDay {
    /// 00:00.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::tz::TimeOfDay::MIDNIGHT.to_string(), "00:00");
    /// ```
    pub const MIDNIGHT: TimeOfDay = TimeOfDay { secs: 0 };

    /// `None` when a field is out of range.
    ///
    /// ```
    /// use paastis_sdk::tz::TimeOfDay;
    /// assert_eq!(TimeOfDay::new(8, 0, 30).map(|t| t.to_string()), Some("08:00:30".to_owned()));
    /// assert_eq!(TimeOfDay::new(24, 0, 0), None);
    /// ```
    pub const fn new(hour: u8, minute: u8, second: u8) -> Option<TimeOfDay> {
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        Some(TimeOfDay { secs: hour as u32 * 3600 + minute as u32 * 60 + second as u32 })
    }

    /// For constants such as a policy's defaults: `TimeOfDay::hm(8, 0)`.
    ///
    /// # Panics
    ///
    /// If `hour` > 23 or `minute` > 59; in a `const` that is a compile error.
    ///
    /// ```
    /// const OPEN: paastis_sdk::tz::TimeOfDay = paastis_sdk::tz::TimeOfDay::hm(8, 30);
    /// assert_eq!((OPEN.hour(), OPEN.minute()), (8, 30));
    /// ```
    pub const fn hm(hour: u8, minute: u8) -> TimeOfDay {
        match TimeOfDay::new(hour, minute, 0) {
            Some(t) => t,
            None => panic!("TimeOfDay::hm: hour or minute out of range"),
        }
    }

    /// `"8:00"`, `"08:00"` or `"08:00:30"`, surrounding spaces ignored.
    ///
    /// ```
    /// use paastis_sdk::tz::TimeOfDay;
    /// assert_eq!(TimeOfDay::parse(" 8:00 "), Some(TimeOfDay::hm(8, 0)));
    /// assert_eq!(TimeOfDay::parse("24:00"), None);
    /// ```
    pub fn parse(text: &str) -> Option<TimeOfDay> {
        let mut fields = text.trim().split(':');
        let hour = field(fields.next()?, 1)?;
        let minute = field(fields.next()?, 2)?;
        let second = match fields.next() {
            Some(s) => field(s, 2)?,
            None => 0,
        };
        if fields.next().is_some() {
            return None;
        }
        TimeOfDay::new(hour, minute, second)
    }

    /// 0 to 23.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::tz::TimeOfDay::hm(19, 5).hour(), 19);
    /// ```
    pub const fn hour(self) -> u8 {
        (self.secs / 3600) as u8
    }

    /// 0 to 59.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::tz::TimeOfDay::hm(19, 5).minute(), 5);
    /// ```
    pub const fn minute(self) -> u8 {
        (self.secs / 60 % 60) as u8
    }

    /// 0 to 59.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::tz::TimeOfDay::new(0, 0, 9).unwrap().second(), 9);
    /// ```
    pub const fn second(self) -> u8 {
        (self.secs % 60) as u8
    }

    /// Seconds since midnight, on a day without a DST change.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::tz::TimeOfDay::hm(1, 1).seconds_from_midnight(), 3660);
    /// ```
    pub const fn seconds_from_midnight(self) -> u32 {
        self.secs
    }
}

/// Digits only, so that "+8" or " 8" are not accepted as hours; an hour may
/// drop its leading zero, minutes and seconds are always two digits.
fn field(text: &str, min_len: usize) -> Option<u8> {
    if text.len() < min_len || text.len() > 2 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `"08:00"`, or `"08:00:30"` when there are seconds: the way it is written
/// in the config.
impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())?;
        if self.second() != 0 {
            write!(f, ":{:02}", self.second())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_config_times() {
        assert_eq!(TimeOfDay::parse("08:00"), Some(TimeOfDay::hm(8, 0)));
        assert_eq!(TimeOfDay::parse("8:00"), Some(TimeOfDay::hm(8, 0)));
        assert_eq!(TimeOfDay::parse(" 19:30 "), Some(TimeOfDay::hm(19, 30)));
        assert_eq!(TimeOfDay::parse("23:59:59"), TimeOfDay::new(23, 59, 59));
        assert_eq!(TimeOfDay::parse("00:00"), Some(TimeOfDay::MIDNIGHT));
    }

    #[test]
    fn rejects_malformed_times() {
        for bad in
            ["", "8", "24:00", "12:60", "12:00:60", "8h", "08:0", "08:000", "+8:00", "08:00:00:00", "ab:cd", "-1:00"]
        {
            assert_eq!(TimeOfDay::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn displays_like_the_config() {
        assert_eq!(TimeOfDay::hm(8, 5).to_string(), "08:05");
        assert_eq!(TimeOfDay::new(8, 5, 9).map(|t| t.to_string()), Some("08:05:09".to_owned()));
        let t = TimeOfDay::new(13, 4, 5);
        assert_eq!(t.map(|t| (t.hour(), t.minute(), t.second(), t.seconds_from_midnight())), Some((13, 4, 5, 47_045)));
    }
}
