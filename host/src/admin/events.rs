//! `GET /events?limit=N&app=NAME&before=ID`: the event history, newest first.

use super::AdminState;
use super::respond::{AdminBody, error, json};
use crate::store::EventQuery;
use http::{Response, StatusCode};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// How long a read waits for the recorder to write what came before it.
const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(2);

pub(super) async fn list(state: &AdminState, query: Option<&str>) -> Response<AdminBody> {
    let mut wanted = EventQuery { limit: DEFAULT_LIMIT, ..EventQuery::default() };
    for (key, value) in query.unwrap_or("").split('&').filter_map(|kv| kv.split_once('=')) {
        match key {
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => wanted.limit = n,
                _ => return error(StatusCode::BAD_REQUEST, &format!("limit must be 1..={MAX_LIMIT}")),
            },
            "before" => match value.parse::<u64>() {
                Ok(id) => wanted.before = Some(id),
                Err(_) => return error(StatusCode::BAD_REQUEST, "before must be an event id"),
            },
            "app" => wanted.app = Some(value.to_owned()),
            _ => {}
        }
    }
    catch_up(state).await;
    match state.events.recent(&wanted).await {
        Ok(events) => json(StatusCode::OK, &serde_json::json!({ "events": events })),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// Read-your-writes: what was emitted before this request (the sleep a
/// client just asked for) is in the history read next, unless the disk is
/// stalling.
pub(super) async fn catch_up(state: &AdminState) {
    let emitted = state.telemetry.events.emitted();
    if !state.recorded.caught_up(emitted, CATCH_UP).await {
        tracing::warn!("the event recorder is behind; the history read may miss the newest events");
    }
}
