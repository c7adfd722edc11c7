//! IANA time zones: from a UTC timestamp to the wall clock, and from a wall
//! clock time back to the instants at which it occurs.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

use crate::time::Timestamp;
use crate::tz::local::LocalTime;
use crate::tz::time_of_day::TimeOfDay;
use crate::tz::weekday::{Weekday, Weekdays};

/// A time zone from the IANA database, such as `"Europe/Paris"`.
///
/// ```
/// use paastis_sdk::tz::{TimeOfDay, Weekdays, Zone};
/// use paastis_sdk::testing::utc;
/// let paris = Zone::named("europe/paris").unwrap();
/// let friday_night = utc("2024-06-14T20:00:00Z");
/// let opens = paris.next_occurrence(friday_night, TimeOfDay::hm(8, 0), Weekdays::MON_FRI).unwrap();
/// assert_eq!(opens, utc("2024-06-17T06:00:00Z"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    tz: TimeZone,
    name: String,
}

impl Zone {
    /// Looks the zone up by its IANA name, ignoring ASCII case; `None` if the
    /// bundled database does not know it.
    ///
    /// ```
    /// use paastis_sdk::tz::Zone;
    /// assert_eq!(Zone::named("america/new_york").map(|z| z.name().to_owned()), Some("America/New_York".to_owned()));
    /// assert!(Zone::named("Asia/Tokio").is_none());
    /// ```
    pub fn named(name: &str) -> Option<Zone> {
        // jiff answers this name with a placeholder zone rather than an
        // error, and nobody means it in a schedule.
        if name.trim().eq_ignore_ascii_case("Etc/Unknown") {
            return None;
        }
        let tz = TimeZone::get(name.trim()).ok()?;
        let name = tz.iana_name().unwrap_or(name).to_owned();
        Some(Zone { tz, name })
    }

    /// Coordinated Universal Time.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::tz::Zone::utc().name(), "UTC");
    /// ```
    pub fn utc() -> Zone {
        Zone { tz: TimeZone::UTC, name: "UTC".to_owned() }
    }

    /// The canonical spelling, e.g. `"America/New_York"` for
    /// `"america/new_york"`.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::tz::Zone::named("EUROPE/PARIS").unwrap().name(), "Europe/Paris");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The wall clock in this zone at `at`.
    ///
    /// ```
    /// # use paastis_sdk::{testing::utc, tz::{TimeOfDay, Zone}};
    /// let tokyo = Zone::named("Asia/Tokyo").unwrap();
    /// assert_eq!(tokyo.local(utc("2024-06-14T07:30:00Z")).time_of_day(), TimeOfDay::hm(16, 30));
    /// ```
    pub fn local(&self, at: Timestamp) -> LocalTime {
        LocalTime::new(to_jiff(at).to_zoned_datetime(self.tz.clone()))
    }

    /// The first instant strictly after `after` at which the wall clock in
    /// this zone shows `time` on one of `days`; `None` if `days` is empty.
    ///
    /// Wall-clock times that a DST change makes ambiguous are resolved the
    /// way people and calendars do (RFC 5545, Temporal's "compatible"):
    /// - in a gap (skipped by a spring-forward), the time is shifted forward
    ///   by the length of the gap: 02:30 on the night Paris goes from 02:00
    ///   to 03:00 occurs at 03:30 summer time;
    /// - in a fold (repeated by a fall-back), the first occurrence counts:
    ///   02:30 on the night Paris goes from 03:00 back to 02:00 is 02:30
    ///   summer time.
    ///
    /// A time outside any transition, such as an 08:00 opening, is always
    /// that wall-clock time, whatever the offset to UTC that day.
    ///
    /// ```
    /// # use paastis_sdk::{testing::utc, tz::{TimeOfDay, Weekdays, Zone}};
    /// let paris = Zone::named("Europe/Paris").unwrap();
    /// // Across the switch to summer time on Sunday 2024-03-31: still 08:00 on the wall.
    /// let opens = paris.next_occurrence(utc("2024-03-29T19:00:00Z"), TimeOfDay::hm(8, 0), Weekdays::MON_FRI);
    /// assert_eq!(opens, Some(utc("2024-04-01T06:00:00Z")));
    /// ```
    pub fn next_occurrence(&self, after: Timestamp, time: TimeOfDay, days: Weekdays) -> Option<Timestamp> {
        let after_j = to_jiff(after);
        // From the day before: a time shifted forward out of a gap at the
        // end of the previous day can land after midnight.
        let mut date = self.tz.to_datetime(after_j).date().yesterday().ok()?;
        // Nine days cover a full week from yesterday, whatever the set.
        for _ in 0..9 {
            if let Some(at) = self.occurrence_on(date, time, days)
                && at > after_j
            {
                return from_jiff(at);
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// The last instant at or before `at_or_before` at which the wall clock
    /// shows `time` on one of `days`; `None` if `days` is empty or that
    /// instant is before the Unix epoch. Ambiguous times are resolved as in
    /// [`Zone::next_occurrence`].
    ///
    /// With both, for any `t`: `previous_occurrence(t) <= t < next_occurrence(t)`.
    ///
    /// ```
    /// # use paastis_sdk::{testing::utc, tz::{TimeOfDay, Weekdays, Zone}};
    /// let closed = Zone::utc().previous_occurrence(utc("2024-06-15T10:00:00Z"), TimeOfDay::hm(19, 0), Weekdays::MON_FRI);
    /// assert_eq!(closed, Some(utc("2024-06-14T19:00:00Z")));
    /// ```
    pub fn previous_occurrence(&self, at_or_before: Timestamp, time: TimeOfDay, days: Weekdays) -> Option<Timestamp> {
        let limit = to_jiff(at_or_before);
        let mut date = self.tz.to_datetime(limit).date().tomorrow().ok()?;
        for _ in 0..9 {
            if let Some(at) = self.occurrence_on(date, time, days)
                && at <= limit
            {
                return from_jiff(at);
            }
            date = date.yesterday().ok()?;
        }
        None
    }

    fn occurrence_on(&self, date: Date, time: TimeOfDay, days: Weekdays) -> Option<jiff::Timestamp> {
        if !days.contains(Weekday::from_jiff(date.weekday())) {
            return None;
        }
        let civil = DateTime::from_parts(date, to_jiff_time(time));
        self.tz.to_timestamp(civil).ok()
    }
}

fn to_jiff_time(time: TimeOfDay) -> jiff::civil::Time {
    // TimeOfDay's fields are in range by construction.
    jiff::civil::Time::new(time.hour() as i8, time.minute() as i8, time.second() as i8, 0)
        .unwrap_or(jiff::civil::Time::MIN)
}

/// Timestamps beyond jiff's range (year 9999) are clamped to its end: no
/// real host clock gets there, and a total conversion keeps callers simple.
fn to_jiff(at: Timestamp) -> jiff::Timestamp {
    i64::try_from(at.as_millis())
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .unwrap_or(jiff::Timestamp::MAX)
}

fn from_jiff(at: jiff::Timestamp) -> Option<Timestamp> {
    u64::try_from(at.as_millisecond()).ok().map(Timestamp::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MON_FRI: Weekdays = Weekdays::MON_FRI;
    const EIGHT: TimeOfDay = TimeOfDay::hm(8, 0);

    fn paris() -> Zone {
        Zone::named("Europe/Paris").unwrap()
    }

    /// A UTC instant from an RFC 3339 string, to keep expectations readable.
    fn utc(text: &str) -> Timestamp {
        let ts: jiff::Timestamp = text.parse().unwrap();
        Timestamp::from_millis(u64::try_from(ts.as_millisecond()).unwrap())
    }

    fn shown(zone: &Zone, at: Option<Timestamp>) -> String {
        at.map(|at| zone.local(at).to_string()).unwrap_or_default()
    }

    #[test]
    fn names_are_case_insensitive_and_canonicalised() {
        assert_eq!(Zone::named("america/new_york").map(|z| z.name().to_owned()), Some("America/New_York".to_owned()));
        assert_eq!(Zone::named(" UTC ").map(|z| z.name().to_owned()), Some("UTC".to_owned()));
        assert_eq!(Zone::utc().name(), "UTC");
        for unknown in ["Europe/Pariss", "", "Etc/Unknown", "../etc/passwd", "Mars/Olympus"] {
            assert_eq!(Zone::named(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn the_same_instant_in_different_zones() {
        let at = utc("2024-06-14T07:30:00Z");
        assert_eq!(Zone::utc().local(at).to_string(), "2024-06-14T07:30:00+00:00[UTC]");
        assert_eq!(paris().local(at).to_string(), "2024-06-14T09:30:00+02:00[Europe/Paris]");
        let tokyo = Zone::named("Asia/Tokyo").unwrap();
        assert_eq!(tokyo.local(at).to_string(), "2024-06-14T16:30:00+09:00[Asia/Tokyo]");
        let la = Zone::named("America/Los_Angeles").unwrap();
        let there = la.local(at);
        assert_eq!((there.weekday(), there.time_of_day()), (Weekday::Friday, TimeOfDay::hm(0, 30)));
        assert_eq!(there.timestamp(), at);
    }

    #[test]
    fn next_opening_skips_the_weekend() {
        let friday_evening = utc("2024-06-14T17:00:00Z");
        assert_eq!(
            shown(&paris(), paris().next_occurrence(friday_evening, EIGHT, MON_FRI)),
            "2024-06-17T08:00:00+02:00[Europe/Paris]"
        );
    }

    #[test]
    fn next_is_strictly_after_and_previous_is_at_or_before() {
        let opening = utc("2024-06-17T06:00:00Z");
        assert_eq!(paris().previous_occurrence(opening, EIGHT, MON_FRI), Some(opening));
        assert_eq!(
            shown(&paris(), paris().next_occurrence(opening, EIGHT, MON_FRI)),
            "2024-06-18T08:00:00+02:00[Europe/Paris]"
        );
        let just_before = Timestamp::from_millis(opening.as_millis() - 1);
        assert_eq!(paris().next_occurrence(just_before, EIGHT, MON_FRI), Some(opening));
        assert_eq!(
            shown(&paris(), paris().previous_occurrence(just_before, EIGHT, MON_FRI)),
            "2024-06-14T08:00:00+02:00[Europe/Paris]"
        );
    }

    #[test]
    fn wall_clock_times_hold_across_dst_changes() {
        // Paris springs forward on Sunday 2024-03-31 and falls back on
        // Sunday 2024-10-27; both Sundays are opening days here.
        let every_day = Weekdays::EVERY_DAY;
        let sat = utc("2024-03-30T12:00:00Z");
        assert_eq!(
            shown(&paris(), paris().next_occurrence(sat, EIGHT, every_day)),
            "2024-03-31T08:00:00+02:00[Europe/Paris]"
        );
        let sat = utc("2024-10-26T12:00:00Z");
        assert_eq!(
            shown(&paris(), paris().next_occurrence(sat, EIGHT, every_day)),
            "2024-10-27T08:00:00+01:00[Europe/Paris]"
        );
        let mon = utc("2024-10-28T12:00:00Z");
        assert_eq!(
            shown(&paris(), paris().previous_occurrence(mon, EIGHT, Weekdays::SAT_SUN)),
            "2024-10-27T08:00:00+01:00[Europe/Paris]"
        );
    }

    #[test]
    fn gap_times_shift_forward_and_fold_times_take_the_first() {
        let half_past_two = TimeOfDay::hm(2, 30);
        let every_day = Weekdays::EVERY_DAY;
        let spring = paris().next_occurrence(utc("2024-03-30T12:00:00Z"), half_past_two, every_day);
        assert_eq!(shown(&paris(), spring), "2024-03-31T03:30:00+02:00[Europe/Paris]");
        let fall = paris().next_occurrence(utc("2024-10-26T12:00:00Z"), half_past_two, every_day);
        assert_eq!(shown(&paris(), fall), "2024-10-27T02:30:00+02:00[Europe/Paris]");
        // During the repeated hour, the occurrence already passed is the
        // first one, and the next is the following day's.
        let second_pass = utc("2024-10-27T01:45:00Z");
        assert_eq!(paris().local(second_pass).to_string(), "2024-10-27T02:45:00+01:00[Europe/Paris]");
        assert_eq!(paris().previous_occurrence(second_pass, half_past_two, every_day), fall);
        assert_eq!(
            shown(&paris(), paris().next_occurrence(second_pass, half_past_two, every_day)),
            "2024-10-28T02:30:00+01:00[Europe/Paris]"
        );
    }

    #[test]
    fn no_days_means_no_occurrence() {
        let now = utc("2024-06-14T17:00:00Z");
        assert_eq!(paris().next_occurrence(now, EIGHT, Weekdays::NONE), None);
        assert_eq!(paris().previous_occurrence(now, EIGHT, Weekdays::NONE), None);
    }

    #[test]
    fn edges_of_time() {
        assert_eq!(Zone::utc().previous_occurrence(Timestamp::from_millis(0), EIGHT, MON_FRI), None);
        let far = Timestamp::from_millis(u64::MAX);
        // Clamped to jiff's last instant, which leaves room for any offset.
        assert_eq!(Zone::utc().local(far).year(), 9999);
        assert_eq!(Zone::utc().next_occurrence(far, EIGHT, MON_FRI), None);
    }
}
