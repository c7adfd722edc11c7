//! `GET /events?limit=N&app=NAME&before=ID`: the event history, newest first.

use super::AdminState;
use super::respond::{AdminBody, error, json};
use crate::store::EventQuery;
use http::{Response, StatusCode};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

pub fn list(state: &AdminState, query: Option<&str>) -> Response<AdminBody> {
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
    match state.events.recent(&wanted) {
        Ok(events) => json(StatusCode::OK, &serde_json::json!({ "events": events })),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
