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
///
/// ```
/// use paastis_sdk::testing::AppBuilder;
/// use paastis_sdk::{AppState, Timestamp};
///
/// let app = AppBuilder::new("blog").state(AppState::Starting, Timestamp::from_secs(3)).build();
/// assert_eq!((app.state(), app.state_since()), (AppState::Starting, Timestamp::from_secs(3)));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct AppBuilder(App);

impl AppBuilder {
    /// An asleep app named `name`.
    ///
    /// ```
    /// assert!(paastis_sdk::testing::AppBuilder::new("blog").build().is_asleep());
    /// ```
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

    /// In `state` since `since`.
    ///
    /// ```
    /// use paastis_sdk::{testing::AppBuilder, AppState, Timestamp};
    /// let app = AppBuilder::new("a").state(AppState::Stopping, Timestamp::from_secs(1)).build();
    /// assert_eq!(app.state(), AppState::Stopping);
    /// ```
    pub fn state(mut self, state: AppState, since: Timestamp) -> Self {
        self.0.state = state;
        self.0.state_since = since;
        self
    }

    /// Awake since `since`.
    ///
    /// ```
    /// use paastis_sdk::{testing::AppBuilder, AppState, Timestamp};
    /// assert_eq!(AppBuilder::new("a").awake_since(Timestamp::from_secs(1)).build().state(), AppState::Awake);
    /// ```
    pub fn awake_since(self, since: Timestamp) -> Self {
        self.state(AppState::Awake, since)
    }

    /// Asleep since `since`.
    ///
    /// ```
    /// use paastis_sdk::{testing::AppBuilder, AppState, Timestamp};
    /// assert_eq!(AppBuilder::new("a").asleep_since(Timestamp::from_secs(1)).build().state(), AppState::Asleep);
    /// ```
    pub fn asleep_since(self, since: Timestamp) -> Self {
        self.state(AppState::Asleep, since)
    }

    /// Starting since `since`.
    ///
    /// ```
    /// use paastis_sdk::{testing::AppBuilder, AppState, Timestamp};
    /// assert_eq!(AppBuilder::new("a").starting_since(Timestamp::from_secs(1)).build().state(), AppState::Starting);
    /// ```
    pub fn starting_since(self, since: Timestamp) -> Self {
        self.state(AppState::Starting, since)
    }

    /// Stopping since `since`.
    ///
    /// ```
    /// use paastis_sdk::{testing::AppBuilder, AppState, Timestamp};
    /// assert_eq!(AppBuilder::new("a").stopping_since(Timestamp::from_secs(1)).build().state(), AppState::Stopping);
    /// ```
    pub fn stopping_since(self, since: Timestamp) -> Self {
        self.state(AppState::Stopping, since)
    }

    /// Its last counted request was at `at`.
    ///
    /// ```
    /// use paastis_sdk::{testing::AppBuilder, Timestamp};
    /// let app = AppBuilder::new("a").last_activity(Timestamp::from_secs(7)).build();
    /// assert_eq!(app.last_activity(), Some(Timestamp::from_secs(7)));
    /// ```
    pub fn last_activity(mut self, at: Timestamp) -> Self {
        self.0.last_activity = Some(at);
        self
    }

    /// With `requests` in flight.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::testing::AppBuilder::new("a").in_flight(3).build().in_flight(), 3);
    /// ```
    pub fn in_flight(mut self, requests: u32) -> Self {
        self.0.in_flight = requests;
        self
    }

    /// With a param, as the config would give it: `"15m"`, `3`, `true`,
    /// `["/health"]`.
    ///
    /// ```
    /// let app = paastis_sdk::testing::AppBuilder::new("a").param("passive_paths", ["/health"]).build();
    /// assert_eq!(app.params().string_list("passive_paths").unwrap(), ["/health"]);
    /// ```
    pub fn param(mut self, name: impl Into<String>, value: impl Into<ParamValue>) -> Self {
        self.0.params.insert(name, value);
        self
    }

    /// The app.
    ///
    /// ```
    /// let app: paastis_sdk::App = paastis_sdk::testing::AppBuilder::new("a").build();
    /// assert_eq!(app.name(), "a");
    /// ```
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
///
/// ```
/// paastis_sdk::kv::set_string("k", "v")?;
/// paastis_sdk::testing::reset_kv();
/// assert_eq!(paastis_sdk::kv::get("k"), None);
/// # Ok::<(), paastis_sdk::PolicyError>(())
/// ```
#[cfg(not(target_arch = "wasm32"))]
pub fn reset_kv() {
    crate::kv::imp::reset();
}

/// A request from 127.0.0.1 with no headers unless told otherwise.
///
/// ```
/// use paastis_sdk::testing::RequestBuilder;
/// let request = RequestBuilder::new("DELETE", "/items/3").header("x-team", "ops").build();
/// assert_eq!((request.method(), request.header("x-team")), ("DELETE", Some("ops")));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RequestBuilder {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    client_addr: String,
}

impl RequestBuilder {
    /// `target` may carry a query string (`"/search?q=x"`), which is split
    /// off the way the gateway does.
    ///
    /// ```
    /// let request = paastis_sdk::testing::RequestBuilder::new("GET", "/search?q=x").build();
    /// assert_eq!((request.path(), request.query()), ("/search", Some("q=x")));
    /// ```
    pub fn new(method: impl Into<String>, target: &str) -> Self {
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (target.to_owned(), None),
        };
        RequestBuilder { method: method.into(), path, query, headers: Vec::new(), client_addr: "127.0.0.1".to_owned() }
    }

    /// A GET of `target`.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::testing::RequestBuilder::get("/").build().method(), "GET");
    /// ```
    pub fn get(target: &str) -> Self {
        RequestBuilder::new("GET", target)
    }

    /// A POST to `target`.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::testing::RequestBuilder::post("/").build().method(), "POST");
    /// ```
    pub fn post(target: &str) -> Self {
        RequestBuilder::new("POST", target)
    }

    /// Sets the query string.
    ///
    /// ```
    /// let request = paastis_sdk::testing::RequestBuilder::get("/").query("page=2").build();
    /// assert_eq!(request.query(), Some("page=2"));
    /// ```
    pub fn query(mut self, query: impl Into<String>) -> Self {
        self.query = Some(query.into());
        self
    }

    /// Adds a header (names may repeat, as in HTTP).
    ///
    /// ```
    /// let request = paastis_sdk::testing::RequestBuilder::get("/").header("Accept", "text/html").build();
    /// assert_eq!(request.header("accept"), Some("text/html"));
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a `user-agent` header.
    ///
    /// ```
    /// let request = paastis_sdk::testing::RequestBuilder::get("/").user_agent("UptimeRobot/2.0").build();
    /// assert_eq!(request.user_agent(), Some("UptimeRobot/2.0"));
    /// ```
    pub fn user_agent(self, value: impl Into<String>) -> Self {
        self.header("user-agent", value)
    }

    /// The client's IP address, as text.
    ///
    /// ```
    /// let request = paastis_sdk::testing::RequestBuilder::get("/").client_addr("10.0.0.9").build();
    /// assert_eq!(request.client_addr(), "10.0.0.9");
    /// ```
    pub fn client_addr(mut self, addr: impl Into<String>) -> Self {
        self.client_addr = addr.into();
        self
    }

    /// The request.
    ///
    /// ```
    /// let request: paastis_sdk::Request = paastis_sdk::testing::RequestBuilder::get("/").build();
    /// assert_eq!(request.path(), "/");
    /// ```
    pub fn build(self) -> Request {
        Request::from_pairs(self.headers, &self.method, &self.path, self.query.as_deref(), &self.client_addr)
    }
}

impl From<RequestBuilder> for Request {
    fn from(b: RequestBuilder) -> Request {
        b.build()
    }
}

/// The instant an RFC 3339 UTC time names (`"2024-06-15T00:06:00Z"`, with
/// optional fractional seconds), to write test instants readably.
///
/// # Panics
///
/// On anything else, naming it: this is for tests, where a typo should stop
/// the test.
///
/// ```
/// use paastis_sdk::testing::utc;
/// use paastis_sdk::Timestamp;
/// assert_eq!(utc("1970-01-01T00:01:00Z"), Timestamp::from_secs(60));
/// assert_eq!(utc("2024-06-15T00:06:00.5Z"), Timestamp::from_millis(1_718_409_960_500));
/// ```
pub fn utc(text: &str) -> Timestamp {
    parse_utc(text).unwrap_or_else(|| panic!("{text:?} is not an RFC 3339 UTC time such as \"2024-06-15T00:06:00Z\""))
}

fn parse_utc(text: &str) -> Option<Timestamp> {
    let rest = text.strip_suffix('Z')?;
    let (date, time) = rest.split_once('T')?;
    let mut date = date.splitn(3, '-').map(str::parse::<u32>);
    let (year, month, day) = (date.next()?.ok()?, date.next()?.ok()?, date.next()?.ok()?);
    let (time, millis) = match time.split_once('.') {
        Some((time, fraction)) if !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit()) => {
            let padded = format!("{fraction:0<3}");
            (time, padded.get(..3)?.parse::<u64>().ok()?)
        }
        Some(_) => return None,
        None => (time, 0),
    };
    let mut time = time.splitn(3, ':').map(str::parse::<u32>);
    let (hour, minute, second) = (time.next()?.ok()?, time.next()?.ok()?, time.next()?.ok()?);
    let valid = (1970..=9999).contains(&year)
        && (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + u64::from(hour * 3600 + minute * 60 + second);
    Some(Timestamp::from_millis(secs * 1000 + millis))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date from 1970 on (Howard Hinnant's algorithm).
fn days_from_civil(year: u32, month: u32, day: u32) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    u64::from(era) * 146_097 + u64::from(day_of_era) - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn utc_reads_rfc3339_and_refuses_the_rest() {
        assert_eq!(utc("1970-01-01T00:00:00Z"), Timestamp::from_millis(0));
        assert_eq!(utc("2000-03-01T00:00:00Z"), Timestamp::from_secs(951_868_800));
        assert_eq!(utc("2024-02-29T23:59:59.25Z"), Timestamp::from_millis(1_709_251_199_250));
        for bad in [
            "2024-06-15 00:06:00Z",
            "2024-06-15T00:06:00",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "2024-06-15T24:00:00Z",
            "2024-06-15T00:06:00.Z",
            "",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

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
