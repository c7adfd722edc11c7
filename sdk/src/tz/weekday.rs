//! Days of the week and sets of them, as written in schedules ("Mon-Fri").

use std::fmt;

/// A day of the week, Monday first (ISO 8601).
///
/// ```
/// use paastis_sdk::tz::Weekday;
/// assert_eq!(Weekday::parse("sat"), Some(Weekday::Saturday));
/// assert!(Weekday::Monday < Weekday::Sunday);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

const ALL: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

impl Weekday {
    /// `"Mon"`, `"Tue"`, ...: what messages to people show.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::tz::Weekday::Friday.short_name(), "Fri");
    /// ```
    pub const fn short_name(self) -> &'static str {
        match self {
            Weekday::Monday => "Mon",
            Weekday::Tuesday => "Tue",
            Weekday::Wednesday => "Wed",
            Weekday::Thursday => "Thu",
            Weekday::Friday => "Fri",
            Weekday::Saturday => "Sat",
            Weekday::Sunday => "Sun",
        }
    }

    /// `"Monday"`, `"Tuesday"`, ...
    ///
    /// ```
    /// assert_eq!(paastis_sdk::tz::Weekday::Friday.name(), "Friday");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Weekday::Monday => "Monday",
            Weekday::Tuesday => "Tuesday",
            Weekday::Wednesday => "Wednesday",
            Weekday::Thursday => "Thursday",
            Weekday::Friday => "Friday",
            Weekday::Saturday => "Saturday",
            Weekday::Sunday => "Sunday",
        }
    }

    /// 0 for Monday to 6 for Sunday (ISO 8601 order).
    ///
    /// ```
    /// assert_eq!(paastis_sdk::tz::Weekday::Sunday.index_from_monday(), 6);
    /// ```
    pub const fn index_from_monday(self) -> u8 {
        self as u8
    }

    /// The short or the full English name, case-insensitive: `"mon"`,
    /// `"Monday"`.
    ///
    /// ```
    /// use paastis_sdk::tz::Weekday;
    /// assert_eq!(Weekday::parse("TUESDAY"), Some(Weekday::Tuesday));
    /// assert_eq!(Weekday::parse("Tues"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Weekday> {
        let text = text.trim();
        ALL.into_iter().find(|d| text.eq_ignore_ascii_case(d.short_name()) || text.eq_ignore_ascii_case(d.name()))
    }

    pub(crate) fn from_jiff(day: jiff::civil::Weekday) -> Weekday {
        // jiff guarantees 0..=6 here; Sunday only guards against a future
        // jiff widening the type.
        ALL.get(usize::from(day.to_monday_zero_offset().unsigned_abs())).copied().unwrap_or(Weekday::Sunday)
    }

    fn bit(self) -> u8 {
        1 << self.index_from_monday()
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
}

/// A set of weekdays, such as the days an app is open.
///
/// ```
/// use paastis_sdk::tz::{Weekday, Weekdays};
/// let days = Weekdays::parse("Mon-Wed, Fri").unwrap();
/// assert!(days.contains(Weekday::Friday) && !days.contains(Weekday::Thursday));
/// assert_eq!(days.to_string(), "Mon-Wed,Fri");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Weekdays(u8);

impl Weekdays {
    /// No day.
    ///
    /// ```
    /// assert!(paastis_sdk::tz::Weekdays::NONE.is_empty());
    /// ```
    pub const NONE: Weekdays = Weekdays(0);
    /// Monday to Friday.
    ///
    /// ```
    /// use paastis_sdk::tz::{Weekday, Weekdays};
    /// assert!(Weekdays::MON_FRI.contains(Weekday::Monday) && !Weekdays::MON_FRI.contains(Weekday::Sunday));
    /// ```
    pub const MON_FRI: Weekdays = Weekdays(0b001_1111);
    /// Saturday and Sunday.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::tz::Weekdays::SAT_SUN.iter().count(), 2);
    /// ```
    pub const SAT_SUN: Weekdays = Weekdays(0b110_0000);
    /// All seven days.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::tz::Weekdays::EVERY_DAY.to_string(), "Mon-Sun");
    /// ```
    pub const EVERY_DAY: Weekdays = Weekdays(0b111_1111);

    /// Whether `day` is in the set.
    ///
    /// ```
    /// use paastis_sdk::tz::{Weekday, Weekdays};
    /// assert!(Weekdays::SAT_SUN.contains(Weekday::Saturday));
    /// ```
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & day.bit() != 0
    }

    /// The set with `day` added.
    ///
    /// ```
    /// use paastis_sdk::tz::{Weekday, Weekdays};
    /// assert_eq!(Weekdays::MON_FRI.with(Weekday::Saturday).to_string(), "Mon-Sat");
    /// ```
    pub fn with(self, day: Weekday) -> Weekdays {
        Weekdays(self.0 | day.bit())
    }

    /// Whether the set has no day.
    ///
    /// ```
    /// assert!(!paastis_sdk::tz::Weekdays::MON_FRI.is_empty());
    /// ```
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The days, Monday first.
    ///
    /// ```
    /// use paastis_sdk::tz::{Weekday, Weekdays};
    /// assert_eq!(Weekdays::SAT_SUN.iter().collect::<Vec<_>>(), [Weekday::Saturday, Weekday::Sunday]);
    /// ```
    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        ALL.into_iter().filter(move |d| self.contains(*d))
    }

    /// Comma-separated days and ranges, case-insensitive: `"Mon-Fri"`,
    /// `"Mon,Wed,Fri"`, `"sat-sun"`, `"Mon-Thu, Sat"`. A range may wrap
    /// around the weekend (`"Fri-Mon"`, `"Sun-Thu"`). `None` for an empty or
    /// malformed list: a schedule with no day at all is never meant.
    ///
    /// ```
    /// use paastis_sdk::tz::Weekdays;
    /// assert_eq!(Weekdays::parse("fri-mon").map(|d| d.to_string()), Some("Mon,Fri-Sun".to_owned()));
    /// assert_eq!(Weekdays::parse("Mon-Fry"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Weekdays> {
        let mut set = Weekdays::NONE;
        for item in text.split(',') {
            set = set.union(parse_item(item)?);
        }
        (!set.is_empty()).then_some(set)
    }

    /// The days in either set.
    ///
    /// ```
    /// use paastis_sdk::tz::Weekdays;
    /// assert_eq!(Weekdays::MON_FRI.union(Weekdays::SAT_SUN), Weekdays::EVERY_DAY);
    /// ```
    pub fn union(self, other: Weekdays) -> Weekdays {
        Weekdays(self.0 | other.0)
    }
}

fn parse_item(item: &str) -> Option<Weekdays> {
    let Some((first, last)) = item.split_once('-') else {
        return Some(Weekdays::NONE.with(Weekday::parse(item)?));
    };
    let (first, last) = (Weekday::parse(first)?, Weekday::parse(last)?);
    let len = (7 + last.index_from_monday() - first.index_from_monday()) % 7 + 1;
    let start = usize::from(first.index_from_monday());
    Some(ALL.iter().cycle().skip(start).take(usize::from(len)).fold(Weekdays::NONE, |set, d| set.with(*d)))
}

impl FromIterator<Weekday> for Weekdays {
    fn from_iter<I: IntoIterator<Item = Weekday>>(iter: I) -> Self {
        iter.into_iter().fold(Weekdays::NONE, Weekdays::with)
    }
}

/// The shortest form [`Weekdays::parse`] reads back: runs of three days or
/// more as ranges (`"Mon-Fri"`, `"Mon,Wed,Fri"`, `"Sat,Sun"`), `"none"` when
/// empty.
impl fmt::Display for Weekdays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let days: Vec<Weekday> = self.iter().collect();
        let mut parts = Vec::new();
        let mut i = 0;
        while i < days.len() {
            let mut j = i;
            while j + 1 < days.len() && days[j + 1].index_from_monday() == days[j].index_from_monday() + 1 {
                j += 1;
            }
            if j - i >= 2 {
                parts.push(format!("{}-{}", days[i], days[j]));
            } else {
                parts.extend(days[i..=j].iter().map(ToString::to_string));
            }
            i = j + 1;
        }
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Weekday::*;

    fn days(text: &str) -> Option<Vec<Weekday>> {
        Weekdays::parse(text).map(|set| set.iter().collect())
    }

    #[test]
    fn parses_ranges_and_lists_case_insensitively() {
        assert_eq!(Weekdays::parse("Mon-Fri"), Some(Weekdays::MON_FRI));
        assert_eq!(Weekdays::parse("mon-fri"), Some(Weekdays::MON_FRI));
        assert_eq!(Weekdays::parse("Sat-Sun"), Some(Weekdays::SAT_SUN));
        assert_eq!(Weekdays::parse("MONDAY-sunday"), Some(Weekdays::EVERY_DAY));
        assert_eq!(days("Mon,Wed,Fri"), Some(vec![Monday, Wednesday, Friday]));
        assert_eq!(days(" Mon - Tue , thu "), Some(vec![Monday, Tuesday, Thursday]));
        assert_eq!(days("Wed"), Some(vec![Wednesday]));
        assert_eq!(days("Wed-Wed"), Some(vec![Wednesday]));
    }

    #[test]
    fn ranges_wrap_around_the_weekend() {
        assert_eq!(days("Fri-Mon"), Some(vec![Monday, Friday, Saturday, Sunday]));
        assert_eq!(days("Sun-Thu"), Some(vec![Monday, Tuesday, Wednesday, Thursday, Sunday]));
    }

    #[test]
    fn rejects_malformed_lists() {
        for bad in ["", " ", "Mon-Fry", "Mon,", ",Mon", "Mon--Fri", "Mon-", "Mo", "Mon-Tue-Wed", "weekdays", "1-5"] {
            assert_eq!(Weekdays::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn displays_in_the_shortest_readable_form() {
        for (text, shown) in [
            ("Mon-Fri", "Mon-Fri"),
            ("Mon,Wed,Fri", "Mon,Wed,Fri"),
            ("Sat-Sun", "Sat,Sun"),
            ("Fri-Tue", "Mon,Tue,Fri-Sun"),
            ("Mon-Sun", "Mon-Sun"),
        ] {
            assert_eq!(Weekdays::parse(text).map(|d| d.to_string()), Some(shown.to_owned()), "{text}");
        }
        assert_eq!(Weekdays::NONE.to_string(), "none");
    }

    #[test]
    fn membership_and_jiff_conversion() {
        assert!(Weekdays::MON_FRI.contains(Friday) && !Weekdays::MON_FRI.contains(Saturday));
        assert_eq!([Monday, Sunday].into_iter().collect::<Weekdays>(), Weekdays::NONE.with(Sunday).with(Monday));
        assert_eq!(Weekday::from_jiff(jiff::civil::Weekday::Sunday), Sunday);
        assert_eq!(Weekday::from_jiff(jiff::civil::Weekday::Monday), Monday);
        assert_eq!(Weekday::parse("thursday"), Some(Thursday));
    }
}
