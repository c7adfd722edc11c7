//! Builders for unit-testing a policy natively, with plain `cargo test`:
//!
//! ```
//! use paastis_sdk::testing::AppBuilder;
//! use paastis_sdk::{Policy, TickContext, Timestamp};
//! use std::time::Duration;
//!
//! struct Noop;
//! impl Policy for Noop {}
//!
//! let now = Timestamp::from_secs(1_000);
//! let app = AppBuilder::new("hello")
//!     .awake_since(now - Duration::from_secs(600))
//!     .param("idle_timeout", "2m")
//!     .build();
//! let plan = Noop::on_tick(&TickContext::new(now, vec![app])).unwrap();
//! assert!(plan.is_empty());
//! ```

use crate::app::{App, AppState};
use crate::params::{ParamValue, Params};
use crate::request::Request;
use crate::time::Timestamp;

/// An app, asleep since the epoch with no activity and no params unless told
/// otherwise.
#[derive(Debug, Clone)]
#[must_use]
pub struct AppBuilder(App);

impl AppBuilder {
    pub fn new(name: impl Into<String>) -> Self {
        AppBuilder(App {
            name: name.into(),
            state: AppState::Asleep,
            state_since: Timestamp::default(),
            last_activity: None,
            in_flight: 0,
            params: Params::new(),
        })
    }

    pub fn state(mut self, state: AppState, since: Timestamp) -> Self {
        self.0.state = state;
        self.0.state_since = since;
        self
    }

    pub fn awake_since(self, since: Timestamp) -> Self {
        self.state(AppState::Awake, since)
    }

    pub fn asleep_since(self, since: Timestamp) -> Self {
        self.state(AppState::Asleep, since)
    }

    pub fn starting_since(self, since: Timestamp) -> Self {
        self.state(AppState::Starting, since)
    }

    pub fn stopping_since(self, since: Timestamp) -> Self {
        self.state(AppState::Stopping, since)
    }

    pub fn last_activity(mut self, at: Timestamp) -> Self {
        self.0.last_activity = Some(at);
        self
    }

    pub fn in_flight(mut self, requests: u32) -> Self {
        self.0.in_flight = requests;
        self
    }

    pub fn param(mut self, name: impl Into<String>, value: impl Into<ParamValue>) -> Self {
        self.0.params.insert(name, value);
        self
    }

    pub fn build(self) -> App {
        self.0
    }
}

impl From<AppBuilder> for App {
    fn from(b: AppBuilder) -> App {
        b.build()
    }
}

/// Empties this thread's in-memory [`kv`](crate::kv) store, for tests that
/// share a thread or want a clean slate mid-test.
#[cfg(not(target_arch = "wasm32"))]
pub fn reset_kv() {
    crate::kv::imp::reset();
}

/// A request from 127.0.0.1 with no headers unless told otherwise.
#[derive(Debug, Clone)]
#[must_use]
pub struct RequestBuilder(Request);

impl RequestBuilder {
    /// `target` may carry a query string (`"/search?q=x"`), which is split
    /// off the way the gateway does.
    pub fn new(method: impl Into<String>, target: &str) -> Self {
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (target.to_owned(), None),
        };
        RequestBuilder(Request {
            method: method.into(),
            path,
            query,
            headers: Vec::new(),
            client_addr: "127.0.0.1".to_owned(),
        })
    }

    pub fn get(target: &str) -> Self {
        RequestBuilder::new("GET", target)
    }

    pub fn post(target: &str) -> Self {
        RequestBuilder::new("POST", target)
    }

    pub fn query(mut self, query: impl Into<String>) -> Self {
        self.0.query = Some(query.into());
        self
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.headers.push((name.into(), value.into()));
        self
    }

    pub fn user_agent(self, value: impl Into<String>) -> Self {
        self.header("user-agent", value)
    }

    pub fn client_addr(mut self, addr: impl Into<String>) -> Self {
        self.0.client_addr = addr.into();
        self
    }

    pub fn build(self) -> Request {
        self.0
    }
}

impl From<RequestBuilder> for Request {
    fn from(b: RequestBuilder) -> Request {
        b.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn idle_time_falls_back_to_state_since() {
        let now = Timestamp::from_secs(1_000);
        let never_used = AppBuilder::new("a").awake_since(Timestamp::from_secs(400)).build();
        assert_eq!(never_used.idle_for(now), Duration::from_secs(600));
        let used = AppBuilder::new("b")
            .awake_since(Timestamp::from_secs(400))
            .last_activity(Timestamp::from_secs(900))
            .build();
        assert_eq!(used.idle_for(now), Duration::from_secs(100));
    }

    #[test]
    fn request_builder_splits_query_and_finds_headers() {
        let r = RequestBuilder::get("/search?q=x").header("User-Agent", "curl/8").build();
        assert_eq!(r.path(), "/search");
        assert_eq!(r.query(), Some("q=x"));
        assert_eq!(r.user_agent(), Some("curl/8"));
        assert_eq!(r.header("USER-AGENT"), Some("curl/8"));
        assert_eq!(r.header("accept"), None);
    }
}
