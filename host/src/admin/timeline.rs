//! `GET /apps/{name}/timeline?span=24h`, `GET /timelines?span=7d&apps=a,b`
//! and `GET /savings/daily?days=7&utc_offset_min=120`: the apps' states
//! over time and the savings per day, computed from the event history (see
//! `timeline/`) so the dashboard only draws.

use super::AdminState;
use super::respond::{AdminBody, error, json};
use crate::apps::App;
use crate::clock::now_ms;
use crate::policy::model::Timestamp;
use crate::savings::{Rates, Savings};
use crate::timeline::{self, Coverage, History, Live, Timeline, Window};
use http::{Response, StatusCode};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

const DEFAULT_SPAN: Duration = Duration::from_secs(24 * 3600);
const MAX_SPAN: Duration = Duration::from_secs(31 * 24 * 3600);
const MAX_DAYS: u32 = 92;
/// The furthest time zones from UTC, in minutes.
const MAX_OFFSET_MIN: i32 = 14 * 60;

#[derive(Serialize)]
struct AppTimeline {
    name: String,
    #[serde(flatten)]
    timeline: Timeline,
}

#[derive(Serialize)]
struct Timelines {
    now: Timestamp,
    from: Timestamp,
    to: Timestamp,
    coverage: Coverage,
    apps: Vec<AppTimeline>,
}

#[derive(Serialize)]
struct DailySavings {
    now: Timestamp,
    currency: String,
    coverage: Coverage,
    days: Vec<timeline::DaySavings>,
    total: Savings,
}

/// One app's timeline.
pub(super) async fn one(state: &AdminState, name: &str, query: Option<&str>) -> Response<AdminBody> {
    let Some(app) = state.apps.get(name) else {
        return error(StatusCode::NOT_FOUND, &format!("no app named {name:?}"));
    };
    let span = match span_of(query) {
        Ok(span) => span,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    match timelines(state, &[app], span).await {
        Ok(mut all) => match all.apps.pop() {
            Some(AppTimeline { name, timeline }) => json(
                StatusCode::OK,
                &serde_json::json!({
                    "app": name, "now": all.now, "from": all.from, "to": all.to,
                    "coverage": all.coverage, "bands": timeline.bands, "wakes": timeline.wakes,
                }),
            ),
            None => error(StatusCode::INTERNAL_SERVER_ERROR, "the timeline went missing"),
        },
        Err(response) => response,
    }
}

/// Several apps' timelines from one read of the history: those named in
/// `apps` (comma-separated, as the dashboard's current page), else all.
pub(super) async fn many(state: &AdminState, query: Option<&str>) -> Response<AdminBody> {
    let span = match span_of(query) {
        Ok(span) => span,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let apps: Vec<Arc<App>> = match pairs(query).find(|(k, _)| *k == "apps") {
        Some((_, names)) => {
            let mut apps = Vec::new();
            for name in names.split(',').filter(|n| !n.is_empty()) {
                match state.apps.get(name) {
                    Some(app) => apps.push(app),
                    None => return error(StatusCode::NOT_FOUND, &format!("no app named {name:?}")),
                }
            }
            apps
        }
        None => state.apps.iter().collect(),
    };
    match timelines(state, &apps, span).await {
        Ok(all) => json(StatusCode::OK, &all),
        Err(response) => response,
    }
}

/// Savings per day over every app, priced as `/apps` prices them.
pub(super) async fn daily(state: &AdminState, query: Option<&str>) -> Response<AdminBody> {
    let mut count = 7;
    let mut offset = 0;
    for (key, value) in pairs(query) {
        match key {
            "days" => match value.parse::<u32>() {
                Ok(n) if (1..=MAX_DAYS).contains(&n) => count = n,
                _ => return error(StatusCode::BAD_REQUEST, &format!("days must be 1..={MAX_DAYS}")),
            },
            "utc_offset_min" => match value.parse::<i32>() {
                Ok(n) if (-MAX_OFFSET_MIN..=MAX_OFFSET_MIN).contains(&n) => offset = n,
                _ => {
                    let why =
                        format!("utc_offset_min must be minutes east of UTC, -{MAX_OFFSET_MIN}..={MAX_OFFSET_MIN}");
                    return error(StatusCode::BAD_REQUEST, &why);
                }
            },
            _ => {}
        }
    }
    let apps: Vec<Arc<App>> = state.apps.iter().collect();
    let first = timeline::days(now_ms(), count, offset).first().map_or(0, |d| d.from);
    let history = match history(state, first).await {
        Ok(history) => history,
        Err(response) => return response,
    };
    let now = now_ms();
    let days = timeline::days(now, count, offset);
    let window = Window { from: days.first().map_or(now, |d| d.from), to: now };
    let priced: Vec<(Rates, Timeline)> =
        apps.iter().map(|app| (app.config.rates(&state.config.savings), build(&history, app, window))).collect();
    let per_day = timeline::savings_per_day(&days, priced.iter().map(|(r, t)| (r, t.bands.as_slice())));
    let total = Savings::total(per_day.iter().map(|d| &d.savings));
    json(
        StatusCode::OK,
        &DailySavings {
            now,
            currency: state.config.savings.currency.clone(),
            coverage: history.coverage,
            days: per_day,
            total,
        },
    )
}

async fn timelines(state: &AdminState, apps: &[Arc<App>], span: Duration) -> Result<Timelines, Response<AdminBody>> {
    let span_ms = span.as_millis() as Timestamp;
    let history = history(state, now_ms().saturating_sub(span_ms)).await?;
    // After the read, so the live states are at least as new as the events.
    let now = now_ms();
    let window = Window { from: now.saturating_sub(span_ms), to: now };
    let apps = apps
        .iter()
        .map(|app| AppTimeline { name: app.name().to_owned(), timeline: build(&history, app, window) })
        .collect();
    Ok(Timelines { now, from: window.from, to: window.to, coverage: history.coverage, apps })
}

async fn history(state: &AdminState, since: Timestamp) -> Result<History, Response<AdminBody>> {
    super::events::catch_up(state).await;
    let retention = *state.config.admin.event_retention.get_ref();
    timeline::read(&state.events, since, retention)
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &format!("cannot read the event history: {e}")))
}

fn build(history: &History, app: &App, window: Window) -> Timeline {
    let view = app.view();
    let live = Live { state: view.state, since: view.state_since };
    timeline::build(history.of(app.name()), live, &history.coverage, window)
}

/// `span=24h`, `span=7d` (any humantime duration from a minute to 31 days).
fn span_of(query: Option<&str>) -> Result<Duration, String> {
    let Some((_, text)) = pairs(query).find(|(k, _)| *k == "span") else { return Ok(DEFAULT_SPAN) };
    match humantime::parse_duration(text) {
        Ok(span) if (Duration::from_secs(60)..=MAX_SPAN).contains(&span) => Ok(span),
        _ => Err(format!("span must be a duration from 1m to 31d, such as 24h or 7d (got {text:?})")),
    }
}

fn pairs(query: Option<&str>) -> impl Iterator<Item = (&str, &str)> {
    query.unwrap_or("").split('&').filter_map(|kv| kv.split_once('='))
}
