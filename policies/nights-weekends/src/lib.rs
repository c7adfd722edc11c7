//! The example policy of `docs/policies.md` ("Writing policies"), kept
//! here so that it builds and its tests run: apps sleep nights and weekends,
//! and uptime monitors get a 200 while an app sleeps. `tests/guide.rs`
//! checks that the guide shows exactly this code.
//!
//! Params: `timezone`, `days`, `open`, `close`, `idle_timeout`,
//! `night_idle_timeout`, and the passive convention (`passive_paths`,
//! `passive_user_agents`, `passive_asleep_status`).

use paastis_sdk::tz::{TimeOfDay, TzParams, Weekdays};
use paastis_sdk::{Decision, Policy, PolicyError, RequestContext, TickContext, TickPlan};
use std::time::Duration;

pub struct NightsWeekends;

impl Policy for NightsWeekends {
    /// Monitors (passive_paths, passive_user_agents) never wake an app, and
    /// get a 200 while it sleeps (passive_asleep_status).
    fn on_request(ctx: &RequestContext) -> Result<Decision, PolicyError> {
        Ok(paastis_sdk::passive::decision(ctx)?.unwrap_or(Decision::Forward))
    }

    /// During opening hours an app sleeps after `idle_timeout` without a
    /// request; outside them, after `night_idle_timeout`.
    fn on_tick(ctx: &TickContext) -> Result<TickPlan, PolicyError> {
        let mut plan = TickPlan::new();
        for app in ctx.apps() {
            let params = app.params();
            let zone = params.timezone_or("timezone", "UTC")?;
            let days = params.weekdays_or("days", Weekdays::MON_FRI)?;
            let open = params.time_of_day_or("open", TimeOfDay::hm(8, 0))?;
            let close = params.time_of_day_or("close", TimeOfDay::hm(19, 0))?;
            let day_idle = params.duration_or("idle_timeout", Duration::from_secs(15 * 60))?;
            let night_idle = params.duration_or("night_idle_timeout", Duration::from_secs(60))?;
            let local = zone.local(ctx.now());
            let time = local.time_of_day();
            let open_now = days.contains(local.weekday()) && open <= time && time < close;
            let idle = if open_now { day_idle } else { night_idle };
            if app.is_awake() && app.in_flight() == 0 && app.idle_for(ctx.now()) >= idle {
                plan.put_to_sleep(app.name());
            }
        }
        Ok(plan)
    }
}

paastis_sdk::export_policy!(NightsWeekends);

/// Every Rust example of the guide, compiled and run as this crate's
/// doctests (it has the `tz` feature they need): `cargo test -p
/// paastis-policy-nights-weekends --doc`.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/policies.md")]
pub struct Guide;

#[cfg(test)]
mod tests {
    use super::*;
    use paastis_sdk::testing::{AppBuilder, RequestBuilder, utc};

    fn in_paris(app: AppBuilder) -> paastis_sdk::App {
        app.param("timezone", "Europe/Paris").param("passive_user_agents", ["UptimeRobot"]).build()
    }

    #[test]
    fn at_night_an_idle_app_sleeps_after_a_minute() {
        let now = utc("2024-06-15T00:06:00Z"); // Saturday, 02:06 in Paris
        let app = in_paris(AppBuilder::new("intranet").awake_since(utc("2024-06-15T00:04:00Z")));
        let plan = NightsWeekends::on_tick(&TickContext::new(now, vec![app])).unwrap();
        assert_eq!(plan.sleep, vec!["intranet"]);
    }

    #[test]
    fn on_a_working_morning_it_stays_up_a_while() {
        let now = utc("2024-06-17T08:10:00Z"); // Monday, 10:10 in Paris
        let app = in_paris(AppBuilder::new("intranet").awake_since(utc("2024-06-17T08:04:00Z")));
        assert!(NightsWeekends::on_tick(&TickContext::new(now, vec![app])).unwrap().is_empty());
    }

    #[test]
    fn monitors_get_a_200_while_the_app_sleeps() {
        let app = in_paris(AppBuilder::new("intranet").param("passive_asleep_status", 200));
        let monitor = RequestBuilder::get("/").user_agent("Mozilla/5.0 (compatible; UptimeRobot/2.0)").build();
        let ctx = RequestContext::new(utc("2024-06-15T00:06:00Z"), app, monitor);
        let Ok(Decision::ForwardPassiveOr(answer)) = NightsWeekends::on_request(&ctx) else { panic!("not answered") };
        assert_eq!((answer.status, answer.body.as_str()), (200, r#"{"status":"asleep","app":"intranet"}"#));
    }

    #[test]
    fn a_misspelled_zone_is_refused() {
        let app = AppBuilder::new("intranet").param("timezone", "Asia/Tokio").build();
        let error = NightsWeekends::on_tick(&TickContext::new(utc("2024-06-15T00:06:00Z"), vec![app])).unwrap_err();
        assert_eq!(error.to_string(), r#"param "timezone": unknown time zone "Asia/Tokio""#);
    }
}
