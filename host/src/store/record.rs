use crate::policy::model::{AppState, Timestamp};

/// What survives a restart for one app.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AppRecord {
    /// Only `asleep` and `awake` are stored. A wake in progress is stored
    /// as asleep (it may fail); a stop in progress as asleep too, put to
    /// sleep by the gateway: once the platform was asked to stop the app,
    /// "awake" may be false, and a gateway killed in the middle must not
    /// leave a record that sends traffic to a stopped app (the next request
    /// wakes it, which is harmless if the stop never happened).
    pub state: AppState,
    pub state_since: Timestamp,
    pub last_activity: Option<Timestamp>,
    /// True when the gateway (its policy or an operator) put the app to sleep.
    #[serde(default)]
    pub slept_by_gateway: bool,
    #[serde(default)]
    pub wakes: u64,
    /// Time spent asleep and awake before `state_since` (the time in the
    /// current state is counted from `state_since`).
    #[serde(default)]
    pub asleep_ms: u64,
    #[serde(default)]
    pub awake_ms: u64,
}

/// What a store keeps when `incoming` is saved over `stored`: the latest
/// transition's state (by `state_since`; an older one is a replica's stale
/// view) and the newest activity, whoever saw it.
pub(super) fn merge(stored: Option<&AppRecord>, incoming: &AppRecord) -> AppRecord {
    let Some(stored) = stored else { return incoming.clone() };
    let mut merged = if incoming.state_since >= stored.state_since { incoming.clone() } else { stored.clone() };
    merged.last_activity = incoming.last_activity.max(stored.last_activity);
    merged
}
