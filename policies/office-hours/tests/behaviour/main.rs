//! The office-hours policy, driven natively through the SDK's test builders.
//! Instants are written as local RFC 3339 text, with the offset in force
//! that day, so that each test reads in the zone it is about.

mod dst;
mod open_hours;
mod params;
mod prewarm;
mod refuse;
mod weekend;
mod zones;

use paastis_policy_office_hours::OfficeHours;
use paastis_sdk::testing::{AppBuilder, RequestBuilder};
use paastis_sdk::{App, Decision, Policy, PolicyError, RequestContext, TickContext, TickPlan, Timestamp};
use std::time::Duration;

/// `"2024-06-14T19:00:00+02:00"` as the host would pass it.
pub fn at(text: &str) -> Timestamp {
    let ts: jiff::Timestamp = text.parse().unwrap_or_else(|e| panic!("bad test instant {text:?}: {e}"));
    Timestamp::from_millis(u64::try_from(ts.as_millisecond()).unwrap())
}

pub fn mins(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

/// An app in Paris on the default hours (Mon-Fri 08:00-19:00).
pub fn paris(name: &str) -> AppBuilder {
    AppBuilder::new(name).param("timezone", "Europe/Paris")
}

pub fn tick(now: Timestamp, apps: Vec<AppBuilder>) -> TickPlan {
    try_tick(now, apps).unwrap_or_else(|e| panic!("tick failed: {e}"))
}

pub fn try_tick(now: Timestamp, apps: Vec<AppBuilder>) -> Result<TickPlan, PolicyError> {
    OfficeHours::on_tick(&TickContext::new(now, apps.into_iter().map(AppBuilder::build).collect::<Vec<App>>()))
}

pub fn decide(now: Timestamp, app: AppBuilder, request: RequestBuilder) -> Result<Decision, PolicyError> {
    OfficeHours::on_request(&RequestContext::new(now, app.build(), request.build()))
}

pub fn get(now: Timestamp, app: AppBuilder) -> Decision {
    decide(now, app, RequestBuilder::get("/")).unwrap_or_else(|e| panic!("request failed: {e}"))
}

pub fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// An app awake for hours whose last request was `idle` before `now`.
pub fn awake_idle(app: AppBuilder, now: Timestamp, idle: Duration) -> AppBuilder {
    app.awake_since(now - Duration::from_secs(6 * 3600)).last_activity(now - idle)
}
