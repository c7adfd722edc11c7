//! An example Paastis policy: apps are open on working days, by the wall
//! clock of a time zone, and asleep nights and weekends.
//!
//! Params (per app, over the policy's defaults):
//! - `timezone`: an IANA zone name, default `"UTC"`;
//! - `days`: the opening days, default `"Mon-Fri"` (`"Mon,Wed,Fri"`,
//!   `"Sat-Sun"`, `"Sun-Thu"`, case-insensitive);
//! - `open`, `close`: wall-clock times, default `"08:00"` and `"19:00"`. A
//!   period starts at `open` on each of `days` and ends at the first `close`
//!   after it, so `close` before `open` means overnight hours and
//!   `close == open` means around the clock;
//! - `idle_timeout`: during opening hours the policy behaves like
//!   `inactivity`: an awake app with nothing in flight sleeps after this
//!   long without a counted request, default `"15m"`. An app already awake at
//!   opening gets this long from the opening;
//! - `off_hours`: `"sleep"` (default) lets requests wake apps outside
//!   opening hours and puts them back to sleep after `off_hours_idle_timeout`
//!   (default `"1m"`) without a request; `"refuse"` answers requests outside
//!   opening hours with a 503 "closed until Mon 08:00 (Europe/Paris)" and a
//!   Retry-After up to the opening, without waking the app, and puts every
//!   awake app with nothing in flight to sleep;
//! - `prewarm`: a duration, default `"0s"` (off). That long before an
//!   opening, wake the apps that were awake at the last close, so the first
//!   person in does not wait for a cold start;
//! - `passive_paths`, `passive_user_agents`: as in `inactivity`, requests
//!   forwarded without counting as activity and without waking an app.
//!
//! DST changes follow the wall clock: an 08:00 opening is 08:00 local on the
//! days the clocks change too. A time that a change skips (02:30 on a
//! spring-forward night in Paris) is taken as the same time after the jump
//! (03:30), and one it repeats as its first occurrence; see
//! [`paastis_sdk::tz::Zone::next_occurrence`].
//!
//! # How prewarming knows which apps were awake at the last close
//!
//! A policy's memory may be reset between any two calls; the only durable
//! memory is the host's `kv` store, which a crash can set back. Rather than write it down
//! at closing time, the policy derives it, which needs no bookkeeping. During
//! opening hours an app sleeps once it has gone `idle_timeout` without a
//! counted request, so an app was awake at the last close exactly when its
//! last activity lies within `idle_timeout` before that close
//! (`[last_close - idle_timeout, last_close]`). An app whose last activity is
//! later than the close was used off-hours; it is prewarmed too if it has
//! gone back to sleep since, as someone is evidently working with it.
//!
//! A prewarmed app that nobody uses keeps its old last activity, sleeps
//! `idle_timeout` after the opening, and is not prewarmed the next day: the
//! set of prewarmed apps follows what people actually used. The derivation
//! assumes the app's `idle_timeout` did not change since the last close, and
//! that the gateway was running then (after an outage, apps asleep at the
//! close with recent activity are woken anyway, which errs on the side of a
//! warm start).

mod request;
mod schedule;
mod settings;
mod tick;

use paastis_sdk::{Decision, Policy, PolicyError, RequestContext, TickContext, TickPlan};

pub use schedule::{DEFAULT_CLOSE, DEFAULT_DAYS, DEFAULT_OPEN, DEFAULT_TIMEZONE};
pub use settings::{DEFAULT_IDLE_TIMEOUT, DEFAULT_OFF_HOURS_IDLE_TIMEOUT};

pub struct OfficeHours;

impl Policy for OfficeHours {
    fn on_request(ctx: &RequestContext) -> Result<Decision, PolicyError> {
        request::decide(ctx)
    }

    fn on_tick(ctx: &TickContext) -> Result<TickPlan, PolicyError> {
        tick::plan(ctx)
    }
}

paastis_sdk::export_policy!(OfficeHours);
