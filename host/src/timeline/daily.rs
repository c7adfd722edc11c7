//! Savings per calendar day: each app's bands cut at midnights (in the
//! viewer's UTC offset) and priced with `savings.rs`, summed over the apps.

use super::{Band, BandState};
use crate::policy::model::Timestamp;
use crate::savings::{Rates, Savings};
use serde::Serialize;
use std::time::Duration;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// One calendar day, `[from, to)`; today's ends now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Day {
    /// `YYYY-MM-DD` in the offset the days were cut in.
    pub date: String,
    pub from: Timestamp,
    pub to: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct DaySavings {
    #[serde(flatten)]
    pub day: Day,
    #[serde(flatten)]
    pub savings: Savings,
    /// App-hours the history does not cover, counted neither way.
    pub hours_unknown: f64,
}

/// The last `count` days up to `now`, oldest first, cut at midnight
/// `utc_offset_min` minutes east of UTC.
pub(crate) fn days(now: Timestamp, count: u32, utc_offset_min: i32) -> Vec<Day> {
    let offset_ms = i64::from(utc_offset_min) * 60_000;
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let local = now.saturating_add(offset_ms);
    let today = local - local.rem_euclid(DAY_MS) - offset_ms;
    (0..i64::from(count))
        .rev()
        .filter_map(|back| {
            let from = today - back * DAY_MS;
            let to = (from + DAY_MS).min(now);
            let (from, to) = (u64::try_from(from).ok()?, u64::try_from(to).ok()?);
            Some(Day { date: date_of(from, offset_ms), from, to })
        })
        .collect()
}

fn date_of(at: Timestamp, offset_ms: i64) -> String {
    let local = i64::try_from(at).unwrap_or(i64::MAX).saturating_add(offset_ms);
    match jiff::Timestamp::from_millisecond(local) {
        // The offset is already applied, so UTC's calendar is the viewer's.
        Ok(t) => t.strftime("%Y-%m-%d").to_string(),
        Err(_) => String::from("?"),
    }
}

/// Each day's savings over all `apps` (their rates and bands).
pub(crate) fn savings_per_day<'a>(
    days: &[Day],
    apps: impl IntoIterator<Item = (&'a Rates, &'a [Band])> + Clone,
) -> Vec<DaySavings> {
    days.iter()
        .map(|day| {
            let mut hours_unknown = 0.0;
            let per_app: Vec<Savings> = apps
                .clone()
                .into_iter()
                .map(|(rates, bands)| {
                    let time = TimeIn::day(day, bands);
                    hours_unknown += time.unknown.as_secs_f64() / 3600.0;
                    Savings::of(time.asleep, time.awake, rates)
                })
                .collect();
            DaySavings { day: day.clone(), savings: Savings::total(&per_app), hours_unknown }
        })
        .collect()
}

/// One app's time within a day, by state. Waking is billed as awake.
#[derive(Default)]
struct TimeIn {
    asleep: Duration,
    awake: Duration,
    unknown: Duration,
}

impl TimeIn {
    fn day(day: &Day, bands: &[Band]) -> TimeIn {
        let mut time = TimeIn::default();
        for band in bands {
            let overlap = band.to.min(day.to).saturating_sub(band.from.max(day.from));
            let overlap = Duration::from_millis(overlap);
            match band.state {
                BandState::Asleep => time.asleep += overlap,
                BandState::Starting | BandState::Awake => time.awake += overlap,
                BandState::Unknown => time.unknown += overlap,
            }
        }
        time
    }
}
