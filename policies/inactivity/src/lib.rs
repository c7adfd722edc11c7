//! The default Paastis policy: put an app to sleep once it has gone
//! `idle_timeout` without a counted request, and let health checks and bots
//! through without counting them.
//!
//! Params (per app, over the policy's defaults):
//! - `idle_timeout`: a duration, default `"15m"`;
//! - `passive_paths`: paths whose requests are forwarded passively; an entry
//!   ending in `*` matches every path starting with the rest of it;
//! - `passive_user_agents`: case-insensitive substrings of the User-Agent that
//!   make a request passive;
//! - `passive_asleep_status`: the status a passive request gets while the app
//!   is not awake (say 200, with `{"status":"asleep","app":NAME}`), rather
//!   than the gateway's 503.
//!
//! Passive requests are proxied without counting as activity and never wake a
//! sleeping app, so a monitor polling `/health` does not keep an app awake,
//! and with `passive_asleep_status = 200` it does not page anyone either.

use std::time::Duration;

use paastis_sdk::{Decision, Policy, PolicyError, RequestContext, TickContext, TickPlan};

pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

pub struct Inactivity;

impl Policy for Inactivity {
    fn on_request(ctx: &RequestContext) -> Result<Decision, PolicyError> {
        Ok(paastis_sdk::passive::decision(ctx)?.unwrap_or(Decision::Forward))
    }

    fn on_tick(ctx: &TickContext) -> Result<TickPlan, PolicyError> {
        let mut plan = TickPlan::new();
        for app in ctx.apps() {
            // Read for every app, awake or not, so a malformed param is
            // refused when the gateway checks the config at startup rather
            // than when the app first wakes.
            let timeout = app
                .params()
                .duration_or("idle_timeout", DEFAULT_IDLE_TIMEOUT)
                .map_err(|e| PolicyError::new(format!("app {:?}: {e}", app.name())))?;
            if app.is_awake() && app.in_flight() == 0 && app.idle_for(ctx.now()) >= timeout {
                plan.put_to_sleep(app.name());
            }
        }
        Ok(plan)
    }
}

paastis_sdk::export_policy!(Inactivity);

#[cfg(test)]
mod tests {
    use super::*;
    use paastis_sdk::testing::{AppBuilder, RequestBuilder};
    use paastis_sdk::{App, AppState, Timestamp};

    const NOW: Timestamp = Timestamp::from_secs(100_000);

    fn mins(m: u64) -> Duration {
        Duration::from_secs(m * 60)
    }

    fn tick(apps: Vec<App>) -> TickPlan {
        Inactivity::on_tick(&TickContext::new(NOW, apps)).unwrap()
    }

    fn decide(app: AppBuilder, request: RequestBuilder) -> Result<Decision, PolicyError> {
        Inactivity::on_request(&RequestContext::new(NOW, app.build(), request.build()))
    }

    fn configured() -> AppBuilder {
        AppBuilder::new("web")
            .awake_since(NOW - mins(60))
            .param("passive_paths", ["/health", "/status/*"])
            .param("passive_user_agents", ["UptimeRobot", "bot"])
    }

    #[test]
    fn sleeps_an_idle_awake_app_after_the_default_timeout() {
        let idle = AppBuilder::new("idle").awake_since(NOW - mins(60)).last_activity(NOW - mins(15)).build();
        let busy = AppBuilder::new("recent").awake_since(NOW - mins(60)).last_activity(NOW - mins(14)).build();
        assert_eq!(tick(vec![idle, busy]).sleep, vec!["idle".to_owned()]);
    }

    #[test]
    fn never_active_apps_are_idle_since_they_woke() {
        let old = AppBuilder::new("old").awake_since(NOW - mins(16)).build();
        let fresh = AppBuilder::new("fresh").awake_since(NOW - mins(1)).build();
        assert_eq!(tick(vec![old, fresh]).sleep, vec!["old".to_owned()]);
    }

    #[test]
    fn respects_the_idle_timeout_param() {
        let app = AppBuilder::new("short")
            .awake_since(NOW - mins(60))
            .last_activity(NOW - mins(3))
            .param("idle_timeout", "2m");
        assert_eq!(tick(vec![app.clone().build()]).sleep, vec!["short"]);
        let patient = app.param("idle_timeout", "1h30m").build();
        assert!(tick(vec![patient]).is_empty());
    }

    #[test]
    fn keeps_apps_with_requests_in_flight_or_not_awake() {
        let apps = vec![
            AppBuilder::new("streaming").awake_since(NOW - mins(60)).in_flight(1).build(),
            AppBuilder::new("asleep").asleep_since(NOW - mins(60)).build(),
            AppBuilder::new("starting").state(AppState::Starting, NOW - mins(60)).build(),
            AppBuilder::new("stopping").stopping_since(NOW - mins(60)).build(),
        ];
        let plan = tick(apps);
        assert!(plan.is_empty(), "{plan:?}");
    }

    #[test]
    fn a_malformed_timeout_is_an_error_naming_the_app() {
        let bad = AppBuilder::new("bad").param("idle_timeout", "soon").build();
        let good = AppBuilder::new("good").awake_since(NOW - mins(60)).build();
        let ctx = TickContext::new(NOW, vec![good, bad]);
        let err = Inactivity::on_tick(&ctx).unwrap_err();
        assert!(err.message().contains("app \"bad\"") && err.message().contains("idle_timeout"), "{err}");
    }

    #[test]
    fn never_wakes_anything() {
        let apps = vec![AppBuilder::new("asleep").build()];
        assert!(tick(apps).wake.is_empty());
    }

    #[test]
    fn ordinary_requests_are_forwarded() {
        assert_eq!(decide(configured(), RequestBuilder::get("/")), Ok(Decision::Forward));
        assert_eq!(decide(configured(), RequestBuilder::get("/healthz")), Ok(Decision::Forward));
        assert_eq!(decide(AppBuilder::new("plain"), RequestBuilder::get("/health")), Ok(Decision::Forward));
    }

    #[test]
    fn passive_paths_match_exactly_or_by_prefix() {
        for path in ["/health", "/status/", "/status/db", "/health?full=1"] {
            assert_eq!(decide(configured(), RequestBuilder::get(path)), Ok(Decision::ForwardPassive), "{path}");
        }
        assert_eq!(decide(configured(), RequestBuilder::get("/status")), Ok(Decision::Forward));
    }

    #[test]
    fn passive_user_agents_match_case_insensitive_substrings() {
        let monitor = RequestBuilder::get("/").user_agent("Mozilla/5.0 (compatible; uptimerobot/2.0)");
        assert_eq!(decide(configured(), monitor), Ok(Decision::ForwardPassive));
        let crawler = RequestBuilder::get("/").header("User-Agent", "GoogleBot/2.1");
        assert_eq!(decide(configured(), crawler), Ok(Decision::ForwardPassive));
        let human = RequestBuilder::get("/").user_agent("Mozilla/5.0 Firefox");
        assert_eq!(decide(configured(), human), Ok(Decision::Forward));
    }

    #[test]
    fn an_empty_user_agent_entry_matches_nothing() {
        let app = AppBuilder::new("web").param("passive_user_agents", [""]);
        let req = RequestBuilder::get("/").user_agent("anything");
        assert_eq!(decide(app, req), Ok(Decision::Forward));
    }

    #[test]
    fn passive_asleep_status_answers_monitors_while_the_app_sleeps() {
        let app = configured().param("passive_asleep_status", 200);
        let monitor = RequestBuilder::get("/").user_agent("UptimeRobot/2.0");
        let Ok(Decision::ForwardPassiveOr(answer)) = decide(app.clone(), monitor) else { panic!("not answered") };
        assert_eq!((answer.status, answer.body.as_str()), (200, r#"{"status":"asleep","app":"web"}"#));
        assert_eq!(decide(app.clone(), RequestBuilder::get("/")), Ok(Decision::Forward), "people still wake it");
        let err = decide(app.param("passive_asleep_status", "ok"), RequestBuilder::get("/")).unwrap_err();
        assert!(err.message().contains("passive_asleep_status") && err.message().contains("200 to 599"), "{err}");
    }

    #[test]
    fn malformed_passive_params_are_reported() {
        let app = AppBuilder::new("web").param("passive_paths", 3);
        let err = decide(app, RequestBuilder::get("/")).unwrap_err();
        assert_eq!(err.message(), "param \"passive_paths\": expected a list of strings, got 3");
    }
}
