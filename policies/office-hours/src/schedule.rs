//! When an app is open: from `open` on each of `days`, to the first `close`
//! after that, in the wall-clock time of `timezone`.

use paastis_sdk::tz::{TimeOfDay, TzParams, Weekdays, Zone};
use paastis_sdk::{Params, PolicyError, Timestamp};

pub const DEFAULT_TIMEZONE: &str = "UTC";
pub const DEFAULT_DAYS: Weekdays = Weekdays::MON_FRI;
pub const DEFAULT_OPEN: TimeOfDay = TimeOfDay::hm(8, 0);
pub const DEFAULT_CLOSE: TimeOfDay = TimeOfDay::hm(19, 0);

/// Defining a period by its opening and the first closing time after it
/// makes overnight hours (`open = "22:00"`, `close = "06:00"`) work without a
/// special case, and makes `open == close` mean open around the clock on
/// `days`.
#[derive(Debug, Clone)]
pub struct Schedule {
    zone: Zone,
    days: Weekdays,
    open: TimeOfDay,
    close: TimeOfDay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Open {
        /// The start of the current opening period.
        since: Timestamp,
    },
    Closed {
        /// The end of the last opening period, if there was one in the past
        /// week (there always is, unless `now` is near the epoch).
        since: Option<Timestamp>,
        /// The start of the next one.
        until: Option<Timestamp>,
    },
}

impl Schedule {
    pub fn from_params(params: &Params) -> Result<Schedule, PolicyError> {
        Ok(Schedule {
            zone: params.timezone_or("timezone", DEFAULT_TIMEZONE)?,
            days: params.weekdays_or("days", DEFAULT_DAYS)?,
            open: params.time_of_day_or("open", DEFAULT_OPEN)?,
            close: params.time_of_day_or("close", DEFAULT_CLOSE)?,
        })
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    pub fn status(&self, now: Timestamp) -> Status {
        let mut last_close = None;
        if let Some(opened) = self.zone.previous_occurrence(now, self.open, self.days) {
            match self.zone.next_occurrence(opened, self.close, Weekdays::EVERY_DAY) {
                Some(closes) if closes <= now => last_close = Some(closes),
                // No close at all only past the year 9999: stay open.
                _ => return Status::Open { since: opened },
            }
        }
        Status::Closed { since: last_close, until: self.zone.next_occurrence(now, self.open, self.days) }
    }
}
