//! `GET /apps`, `POST /apps/{name}/wake`, `POST /apps/{name}/sleep`.

use super::AdminState;
use super::respond::{AdminBody, error, json};
use crate::apps::{Admission, AdmitError, App};
use crate::clock::now_ms;
use crate::policy::model::Timestamp;
use crate::savings::Savings;
use crate::telemetry::WakeCause;
use http::{Response, StatusCode, header};
use serde::Serialize;

#[derive(Serialize)]
struct AppReport {
    name: String,
    state: &'static str,
    state_since: Timestamp,
    last_activity: Option<Timestamp>,
    in_flight: u32,
    wakes: u64,
    policy: String,
    policy_sha256: String,
    /// Set when `policy` is a fallback: the app's own policy cannot serve it.
    degraded: Option<crate::policy::Degraded>,
    hourly_cost: f64,
    containers: u32,
    savings: Savings,
    /// Set while failed wakes keep the app from being woken.
    cooldown: Option<CooldownReport>,
}

#[derive(Serialize)]
struct CooldownReport {
    /// When the next wake may start (ms since the epoch).
    until: Timestamp,
    retry_in_ms: u64,
    /// Failed wakes in a row.
    failures: u32,
    reason: String,
}

#[derive(Serialize)]
struct AppsReport {
    now: Timestamp,
    /// Which replica answers, its role, and whether the shared view is live.
    cluster: crate::cluster::Health,
    currency: String,
    container_watts: f64,
    grid_gco2_per_kwh: f64,
    apps: Vec<AppReport>,
    total: Savings,
}

fn report(state: &AdminState, app: &App) -> AppReport {
    let view = app.view();
    let rates = app.config.rates(&state.config.savings);
    let (asleep, awake) = app.time_asleep_awake();
    let entry = state.gate.resolve(app.name());
    AppReport {
        name: view.name,
        state: view.state.as_str(),
        state_since: view.state_since,
        last_activity: view.last_activity,
        in_flight: view.in_flight,
        wakes: app.wakes(),
        policy: entry.policy.name().to_owned(),
        policy_sha256: entry.policy.sha256().to_owned(),
        degraded: state.gate.degraded(app.name()),
        hourly_cost: rates.hourly_cost,
        containers: rates.containers,
        savings: Savings::of(asleep, awake, &rates),
        cooldown: app.cooling_down().map(|c| {
            let retry_in_ms = u64::try_from(c.left.as_millis()).unwrap_or(u64::MAX);
            CooldownReport {
                until: now_ms().saturating_add(retry_in_ms),
                retry_in_ms,
                failures: c.failures,
                reason: c.reason.to_string(),
            }
        }),
    }
}

pub(super) fn list(state: &AdminState) -> Response<AdminBody> {
    let apps: Vec<AppReport> = state.apps.iter().map(|app| report(state, &app)).collect();
    let total = Savings::total(apps.iter().map(|a| &a.savings));
    let savings = &state.config.savings;
    json(
        StatusCode::OK,
        &AppsReport {
            now: now_ms(),
            cluster: state.cluster.health(),
            currency: savings.currency.clone(),
            container_watts: savings.container_watts,
            grid_gco2_per_kwh: savings.grid_gco2_per_kwh,
            apps,
            total,
        },
    )
}

/// Wakes the app and answers once it is ready (or failed), within its
/// `wake_timeout`. Counts as activity, so the idle clock restarts: an
/// operator who wakes an app wants it to stay up a while.
pub(super) async fn wake(state: &AdminState, name: &str) -> Response<AdminBody> {
    let Some(app) = state.apps.get(name) else { return unknown(name) };
    app.touch(now_ms());
    tracing::info!(app = name, "wake requested on the admin API");
    // The operator asks now: a cool-down after failed wakes does not apply.
    state.apps.lifecycle().forgive_failures(&app);
    match state.apps.lifecycle().admit(&app, Admission::Wake(&|| WakeCause::Admin)).await {
        Ok(in_flight) => {
            drop(in_flight);
            json(StatusCode::OK, &report(state, &app))
        }
        Err(e) => {
            let retry = match e {
                AdmitError::TimedOut { .. } => 5,
                AdmitError::WakeFailed { retry_after, .. } => crate::apps::retry_after_secs(retry_after),
                _ => 10,
            };
            let mut response = error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
            response.headers_mut().insert(header::RETRY_AFTER, retry.into());
            response
        }
    }
}

/// Puts an awake app to sleep now. Asleep already is success; an app that
/// is starting, stopping or serving requests is a 409 with the reason.
pub(super) async fn sleep(state: &AdminState, name: &str) -> Response<AdminBody> {
    let Some(app) = state.apps.get(name) else { return unknown(name) };
    tracing::info!(app = name, "sleep requested on the admin API");
    let before = app.view();
    if before.state == crate::policy::model::AppState::Asleep {
        return json(StatusCode::OK, &report(state, &app));
    }
    if state.apps.lifecycle().sleep(&app, "admin request").await {
        return json(StatusCode::OK, &report(state, &app));
    }
    let now = app.view();
    let why = if now.in_flight > 0 {
        format!("app {name} has {} request(s) in flight; it sleeps when they end and its policy says so", now.in_flight)
    } else {
        format!("app {name} is {}; try again once it settles", now.state.as_str())
    };
    error(StatusCode::CONFLICT, &why)
}

fn unknown(name: &str) -> Response<AdminBody> {
    error(StatusCode::NOT_FOUND, &format!("no app named {name:?}"))
}
