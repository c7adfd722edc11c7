//! The policy contract as plain Rust types, free of wasmtime, so the proxy,
//! the ticker and the store can speak about policies without knowing how they
//! run. `runtime` converts between these and the bindings generated from
//! `wit/policy.wit`.

use std::collections::BTreeMap;
use std::sync::Arc;

pub use crate::request_text::{RequestSource, write_request_text};

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

/// An `AppView` borrowed from wherever the caller keeps the app: what the
/// gateway hands a call on every request, so that it copies no name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AppRef<'a> {
    pub name: &'a str,
    pub state: AppState,
    pub state_since: Timestamp,
    pub last_activity: Option<Timestamp>,
    pub in_flight: u32,
    pub params: &'a Arc<Params>,
}

impl AppRef<'_> {
    /// An owned copy, for the interfaces that take one (policies built
    /// before `requesting-text`); the params stay shared.
    pub fn to_view(&self) -> AppView {
        AppView {
            name: self.name.to_owned(),
            state: self.state,
            state_since: self.state_since,
            last_activity: self.last_activity,
            in_flight: self.in_flight,
            params: Arc::clone(self.params),
        }
    }
}

impl AppView {
    pub fn as_ref(&self) -> AppRef<'_> {
        AppRef {
            name: &self.name,
            state: self.state,
            state_since: self.state_since,
            last_activity: self.last_activity,
            in_flight: self.in_flight,
            params: &self.params,
        }
    }
}

/// What a policy sees of a request (`RequestSource` is the same, borrowed).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestView {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderLines,
    pub client_addr: String,
}

/// A request's headers as `paastis:policy/requesting` and
/// `requesting-text` hand them to a policy: one `name: value` line each, in
/// order, each ending with `\n`. On the gateway's request path the lines are
/// written straight after the request text's other fields, in the
/// instance's buffer (`RequestSource::write_headers`); a `RequestView` holds
/// its own, copied whole into the request text (`requesting-text`) or moved
/// into the call as is (`requesting`); the `(name, value)` pairs that
/// policies built before `requesting` take are made from the lines only for
/// them. A `:` in a name or a line break anywhere is written as a space, so
/// that the lines cannot be misread (hyper lets neither through; a replayed
/// log could).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderLines(String);

impl HeaderLines {
    /// Empty, with room for `bytes` of lines.
    pub fn with_capacity(bytes: usize) -> HeaderLines {
        HeaderLines(String::with_capacity(bytes))
    }

    pub fn push(&mut self, name: &str, value: &str) {
        push_clean(&mut self.0, name, true);
        self.0.push_str(": ");
        push_clean(&mut self.0, value, false);
        self.0.push('\n');
    }

    /// Lines written after `text`, which is taken as it is: for the request
    /// text, whose header lines end it.
    pub(crate) fn appending_to(text: String) -> HeaderLines {
        HeaderLines(text)
    }

    /// `push` of a value that may not be UTF-8, with what is not as
    /// `String::from_utf8_lossy` writes it (U+FFFD), without copying it first.
    pub fn push_bytes(&mut self, name: &str, value: &[u8]) {
        push_clean(&mut self.0, name, true);
        self.0.push_str(": ");
        for chunk in value.utf8_chunks() {
            push_clean(&mut self.0, chunk.valid(), false);
            if !chunk.invalid().is_empty() {
                self.0.push(char::REPLACEMENT_CHARACTER);
            }
        }
        self.0.push('\n');
    }

    /// Every line of `other`, after these: its lines were cleaned as it was
    /// built.
    pub fn append(&mut self, other: &HeaderLines) {
        self.0.push_str(&other.0);
    }

    /// The lines, as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// Each `(name, value)`, in order: the first `:` of a line ends its name.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.split_terminator('\n').map(|line| match line.split_once(": ") {
            Some((name, value)) => (name, value),
            None => (line.strip_suffix(':').unwrap_or(line), ""),
        })
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for HeaderLines {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(headers: I) -> HeaderLines {
        let mut lines = HeaderLines::default();
        for (name, value) in headers {
            lines.push(name.as_ref(), value.as_ref());
        }
        lines
    }
}

/// `text`, with a line break (and in a name, a `:`) as a space: a byte scan,
/// as this runs for every header of every request.
pub(crate) fn push_clean(out: &mut String, text: &str, is_name: bool) {
    let unwanted = |b: u8| b == b'\n' || b == b'\r' || (is_name && b == b':');
    if text.bytes().any(unwanted) {
        // Every unwanted byte is ASCII, so a char of it is that byte.
        out.extend(text.chars().map(|c| if u8::try_from(c).is_ok_and(unwanted) { ' ' } else { c }));
    } else {
        out.push_str(text);
    }
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
