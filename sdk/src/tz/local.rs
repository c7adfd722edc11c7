//! The wall clock in a zone at one instant.

use std::fmt;

use jiff::ZonedDateTime;

use crate::time::Timestamp;
use crate::tz::time_of_day::TimeOfDay;
use crate::tz::weekday::Weekday;

/// Local civil time: what a clock on the wall in the zone shows at an
/// instant. Get one from [`Zone::local`](crate::tz::Zone::local).
///
/// ```
/// use paastis_sdk::testing::utc;
/// use paastis_sdk::tz::{TimeOfDay, Weekday, Zone};
/// let local = Zone::named("Europe/Paris").unwrap().local(utc("2024-06-15T00:06:00Z"));
/// assert_eq!((local.weekday(), local.time_of_day()), (Weekday::Saturday, TimeOfDay::hm(2, 6)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTime(ZonedDateTime);

impl LocalTime {
    pub(crate) fn new(zoned: ZonedDateTime) -> LocalTime {
        LocalTime(zoned)
    }

    /// The day of the week on the wall.
    ///
    /// ```
    /// # use paastis_sdk::{testing::utc, tz::{Weekday, Zone}};
    /// assert_eq!(Zone::utc().local(utc("2024-06-17T12:00:00Z")).weekday(), Weekday::Monday);
    /// ```
    pub fn weekday(&self) -> Weekday {
        Weekday::from_jiff(self.0.weekday())
    }

    /// To the second; fractions are dropped.
    ///
    /// ```
    /// # use paastis_sdk::{testing::utc, tz::{TimeOfDay, Zone}};
    /// assert_eq!(Zone::utc().local(utc("2024-06-17T12:34:00.9Z")).time_of_day(), TimeOfDay::hm(12, 34));
    /// ```
    pub fn time_of_day(&self) -> TimeOfDay {
        let t = self.0.time();
        let field = |v: i8| u8::try_from(v).unwrap_or(0);
        TimeOfDay::new(field(t.hour()), field(t.minute()), field(t.second())).unwrap_or_default()
    }

    /// The year on the wall.
    ///
    /// ```
    /// # use paastis_sdk::{testing::utc, tz::Zone};
    /// assert_eq!(Zone::named("Asia/Tokyo").unwrap().local(utc("2024-12-31T20:00:00Z")).year(), 2025);
    /// ```
    pub fn year(&self) -> i16 {
        self.0.year()
    }

    /// 1 to 12.
    ///
    /// ```
    /// # use paastis_sdk::{testing::utc, tz::Zone};
    /// assert_eq!(Zone::utc().local(utc("2024-06-17T12:00:00Z")).month(), 6);
    /// ```
    pub fn month(&self) -> u8 {
        self.0.month().unsigned_abs()
    }

    /// 1 to 31.
    ///
    /// ```
    /// # use paastis_sdk::{testing::utc, tz::Zone};
    /// assert_eq!(Zone::utc().local(utc("2024-06-17T12:00:00Z")).day(), 17);
    /// ```
    pub fn day(&self) -> u8 {
        self.0.day().unsigned_abs()
    }

    /// Seconds east of UTC in force at this instant (3600 for Paris in
    /// winter, 7200 in summer).
    ///
    /// ```
    /// # use paastis_sdk::{testing::utc, tz::Zone};
    /// let paris = Zone::named("Europe/Paris").unwrap();
    /// assert_eq!(paris.local(utc("2024-01-15T12:00:00Z")).utc_offset_secs(), 3600);
    /// ```
    pub fn utc_offset_secs(&self) -> i32 {
        self.0.offset().seconds()
    }

    /// The instant, back in the host's terms (clamped to the epoch).
    ///
    /// ```
    /// # use paastis_sdk::{testing::utc, tz::Zone};
    /// let at = utc("2024-06-17T12:00:00Z");
    /// assert_eq!(Zone::utc().local(at).timestamp(), at);
    /// ```
    pub fn timestamp(&self) -> Timestamp {
        Timestamp::from_millis(u64::try_from(self.0.timestamp().as_millisecond()).unwrap_or(0))
    }

    /// The underlying `jiff` value, for what this type does not offer. Its
    /// `jiff` version follows the SDK's.
    ///
    /// ```
    /// # use paastis_sdk::{testing::utc, tz::Zone};
    /// assert_eq!(Zone::utc().local(utc("2024-06-17T12:00:00Z")).as_jiff().hour(), 12);
    /// ```
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
