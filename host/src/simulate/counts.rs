//! What happened to one app during a replay, as the report shows it.

/// What happened to one app during a replay.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Counts {
    /// Requests replayed, whatever the policy decided.
    pub requests: u64,
    /// Requests the policy forwarded as activity.
    pub forwarded: u64,
    /// Requests forwarded passively to an awake app (not counted as activity).
    pub passive: u64,
    /// Passive requests that met a sleeping or starting app: the gateway
    /// answers them 503 without waking it.
    pub passive_unserved: u64,
    /// Requests the policy refused.
    pub refused: u64,
    /// Requests the policy answered itself, without the app: an answer, or a
    /// passive request's answer while the app was not awake.
    pub answered: u64,
    /// Forwarded requests that met the app asleep or starting.
    pub cold_starts: u64,
    /// Times the policy put the app to sleep.
    pub sleeps: u64,
    /// Times the app was woken, by a request or by the policy.
    pub wakes: u64,
    /// Of those, wakes the policy asked for on a tick (prewarming).
    pub policy_wakes: u64,
}
