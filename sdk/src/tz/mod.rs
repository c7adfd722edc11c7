//! Local civil time in IANA time zones, for policies that follow a schedule
//! ("sleep nights and weekends"). Enabled by the SDK's `tz` feature.
//!
//! The host hands a policy UTC [`Timestamp`](crate::Timestamp)s; a schedule
//! is written in wall-clock time in some zone. [`Zone`] converts between the
//! two, DST included:
//!
//! ```
//! use paastis_sdk::Timestamp;
//! use paastis_sdk::tz::{TimeOfDay, Weekday, Weekdays, Zone};
//!
//! let paris = Zone::named("Europe/Paris").unwrap();
//! // Friday 2024-03-29 20:00 in Paris (19:00 UTC).
//! let friday_evening = Timestamp::from_secs(1_711_738_800);
//! let local = paris.local(friday_evening);
//! assert_eq!((local.weekday(), local.time_of_day().to_string()), (Weekday::Friday, "20:00".to_owned()));
//!
//! // The next 08:00 on a working day is Monday, after the switch to summer
//! // time that Sunday: still 08:00 on the wall, now 06:00 UTC.
//! let opening = paris.next_occurrence(friday_evening, TimeOfDay::hm(8, 0), Weekdays::MON_FRI).unwrap();
//! assert_eq!(paris.local(opening).to_string(), "2024-04-01T08:00:00+02:00[Europe/Paris]");
//! ```
//!
//! Params are read with the [`TzParams`] methods on [`Params`](crate::Params)
//! (`timezone`, `"08:00"`, `"Mon-Fri"`).
//!
//! # Where the zone data comes from
//!
//! A WebAssembly sandbox has no `/usr/share/zoneinfo`, so the IANA time zone
//! database is compiled into the policy (through `jiff`'s bundled copy). Its
//! rules are those of the SDK build: a government changing its DST rules
//! needs a policy rebuilt with an updated SDK. Native tests use the same
//! bundled copy, so they see exactly what the guest sees.

mod local;
mod params;
mod time_of_day;
mod weekday;
mod zone;

pub use local::LocalTime;
pub use params::TzParams;
pub use time_of_day::TimeOfDay;
pub use weekday::{Weekday, Weekdays};
pub use zone::Zone;
