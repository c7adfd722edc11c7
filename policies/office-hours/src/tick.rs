//! The tick phase, one app at a time.

use paastis_sdk::{App, PolicyError, TickContext, TickPlan, Timestamp};

use crate::schedule::Status;
use crate::settings::{OffHours, Settings};

pub fn plan(ctx: &TickContext) -> Result<TickPlan, PolicyError> {
    let mut plan = TickPlan::new();
    for app in ctx.apps() {
        // Read for every app, awake or not, so a malformed param shows up
        // when the gateway checks the config at startup rather than when
        // the app first wakes.
        let settings =
            Settings::from_params(app.params()).map_err(|e| PolicyError::new(format!("app {:?}: {e}", app.name())))?;
        match action(app, &settings, ctx.now()) {
            Some(Action::Sleep) => {
                plan.put_to_sleep(app.name());
            }
            Some(Action::Wake) => {
                plan.wake_up(app.name());
            }
            None => {}
        }
    }
    Ok(plan)
}

enum Action {
    Sleep,
    Wake,
}

fn action(app: &App, settings: &Settings, now: Timestamp) -> Option<Action> {
    let sleepable = app.is_awake() && app.in_flight() == 0;
    match settings.schedule.status(now) {
        Status::Open { since } => {
            // An app awake at opening (prewarmed, or used at night) gets a
            // full idle timeout from the opening, not from its last use.
            let idle = now.saturating_since(idle_since(app).max(since));
            (sleepable && idle >= settings.idle_timeout).then_some(Action::Sleep)
        }
        Status::Closed { since, until } => {
            if prewarming(app, settings, now, since, until) {
                return app.is_asleep().then_some(Action::Wake);
            }
            let idle_enough = match settings.off_hours {
                OffHours::Refuse => true,
                OffHours::Sleep => now.saturating_since(idle_since(app)) >= settings.off_hours_idle_timeout,
            };
            (sleepable && idle_enough).then_some(Action::Sleep)
        }
    }
}

/// Counted from the later of the last request and the last state change, so
/// that an app woken without a request (by prewarming) is not already idle
/// for the whole night.
fn idle_since(app: &App) -> Timestamp {
    app.last_activity().map_or(app.state_since(), |at| at.max(app.state_since()))
}

/// Within `prewarm` of the opening, for an app that was awake at the last
/// close: see the crate docs for why its last activity tells.
fn prewarming(
    app: &App,
    settings: &Settings,
    now: Timestamp,
    last_close: Option<Timestamp>,
    next_open: Option<Timestamp>,
) -> bool {
    let (Some(last_close), Some(next_open)) = (last_close, next_open) else {
        return false;
    };
    let in_window = !settings.prewarm.is_zero() && now >= next_open - settings.prewarm;
    in_window && app.last_activity().is_some_and(|at| at >= last_close - settings.idle_timeout)
}
