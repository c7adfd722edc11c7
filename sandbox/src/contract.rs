//! The policy contract as plain Rust types, free of wasmtime, so the proxy,
//! the ticker and the store can speak about policies without knowing how they
//! run. `runtime` converts between these and the bindings generated from
//! `wit/policy.wit`.

use std::collections::BTreeMap;
use std::sync::Arc;

/// Milliseconds since the Unix epoch, UTC.
pub type Timestamp = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppState {
    Asleep,
    Starting,
    Awake,
    Stopping,
}

impl AppState {
    pub fn as_str(self) -> &'static str {
        match self {
            AppState::Asleep => "asleep",
            AppState::Starting => "starting",
            AppState::Awake => "awake",
            AppState::Stopping => "stopping",
        }
    }
}

/// A param value from the config, as handed to the policy.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Text(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    TextList(Vec<String>),
}

/// Params by name; sorted so that every call sees them in the same order.
pub type Params = BTreeMap<String, ParamValue>;

/// What a policy sees of one app.
#[derive(Debug, Clone, PartialEq)]
pub struct AppView {
    pub name: String,
    pub state: AppState,
    pub state_since: Timestamp,
    pub last_activity: Option<Timestamp>,
    pub in_flight: u32,
    /// Shared, not copied: apps with equal params hold one map (most apps
    /// keep their policy's), and a tick over thousands of apps would
    /// otherwise copy every map on every tick.
    pub params: Arc<Params>,
}

/// What a policy sees of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestView {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub client_addr: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
    pub retry_after_secs: Option<u32>,
}

/// A response a policy sends in the app's place (`paastis:policy/answering`):
/// status 200..=599, at most 32 checked headers, a body of at most 64 KiB.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RequestDecision {
    /// Proxy, waking the app if needed, and count as activity.
    Forward,
    /// Proxy without counting, and never wake a sleeping app for it.
    ForwardPassive,
    /// As `ForwardPassive` while the app is awake; otherwise send this
    /// answer instead of a 503. Only from policies that export `answering`.
    ForwardPassiveOr(Answer),
    Refuse(Refusal),
    /// Send this answer without waking or contacting the app. Only from
    /// policies that export `answering`.
    Answer(Answer),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickPlan {
    pub sleep: Vec<String>,
    pub wake: Vec<String>,
}
