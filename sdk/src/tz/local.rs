//! The wall clock in a zone at one instant.

use std::fmt;

use jiff::ZonedDateTime;

use crate::time::Timestamp;
use crate::tz::time_of_day::TimeOfDay;
use crate::tz::weekday::Weekday;

/// Local civil time: what a clock on the wall in the zone shows at an
/// instant. Get one from [`Zone::local`](crate::tz::Zone::local).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTime(ZonedDateTime);

impl LocalTime {
    pub(crate) fn new(zoned: ZonedDateTime) -> LocalTime {
        LocalTime(zoned)
    }

    pub fn weekday(&self) -> Weekday {
        Weekday::from_jiff(self.0.weekday())
    }

    /// To the second; fractions are dropped.
    pub fn time_of_day(&self) -> TimeOfDay {
        let t = self.0.time();
        let field = |v: i8| u8::try_from(v).unwrap_or(0);
        TimeOfDay::new(field(t.hour()), field(t.minute()), field(t.second())).unwrap_or_default()
    }

    pub fn year(&self) -> i16 {
        self.0.year()
    }

    /// 1 to 12.
    pub fn month(&self) -> u8 {
        self.0.month().unsigned_abs()
    }

    /// 1 to 31.
    pub fn day(&self) -> u8 {
        self.0.day().unsigned_abs()
    }

    /// Seconds east of UTC in force at this instant (3600 for Paris in
    /// winter, 7200 in summer).
    pub fn utc_offset_secs(&self) -> i32 {
        self.0.offset().seconds()
    }

    /// The instant, back in the host's terms (clamped to the epoch).
    pub fn timestamp(&self) -> Timestamp {
        Timestamp::from_millis(u64::try_from(self.0.timestamp().as_millisecond()).unwrap_or(0))
    }

    /// The underlying `jiff` value, for what this type does not offer. Its
    /// `jiff` version follows the SDK's.
    pub fn as_jiff(&self) -> &ZonedDateTime {
        &self.0
    }
}

/// RFC 9557, unambiguous for logs: `2024-03-31T08:00:00+02:00[Europe/Paris]`.
impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use crate::Timestamp;
    use crate::tz::{TimeOfDay, Weekday, Zone};

    #[test]
    fn fields_of_the_wall_clock() {
        // 2024-03-31T00:59:59.500Z: Sunday 01:59:59 in Paris, a second before
        // the clocks jump to 03:00.
        let at = Timestamp::from_millis(1_711_846_799_500);
        let local = Zone::named("Europe/Paris").unwrap().local(at);
        assert_eq!((local.year(), local.month(), local.day()), (2024, 3, 31));
        assert_eq!(local.weekday(), Weekday::Sunday);
        assert_eq!(local.time_of_day(), TimeOfDay::new(1, 59, 59).unwrap());
        assert_eq!(local.utc_offset_secs(), 3600);
        assert_eq!(local.timestamp(), at);
        let after = Zone::named("Europe/Paris").unwrap().local(Timestamp::from_millis(1_711_846_800_000));
        assert_eq!((after.time_of_day(), after.utc_offset_secs()), (TimeOfDay::hm(3, 0), 7200));
    }
}
