//! What a policy knows about one app.

use std::time::Duration;

use crate::params::Params;
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppState {
    /// Not running: the gateway wakes it before proxying.
    Asleep,
    /// Being started; requests wait for it.
    Starting,
    /// Running and serving.
    Awake,
    /// Being put to sleep; requests wait, then wake it again.
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

/// One app as the gateway sees it at the time of the call. Build one for a
/// test with [`crate::testing::AppBuilder`].
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub(crate) name: String,
    pub(crate) state: AppState,
    pub(crate) state_since: Timestamp,
    pub(crate) last_activity: Option<Timestamp>,
    pub(crate) in_flight: u32,
    pub(crate) params: Params,
}

impl App {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn state(&self) -> AppState {
        self.state
    }

    pub fn is_awake(&self) -> bool {
        self.state == AppState::Awake
    }

    pub fn is_asleep(&self) -> bool {
        self.state == AppState::Asleep
    }

    /// When the app entered its current state.
    pub fn state_since(&self) -> Timestamp {
        self.state_since
    }

    /// The last request counted as activity, if one was ever seen.
    pub fn last_activity(&self) -> Option<Timestamp> {
        self.last_activity
    }

    /// Requests (and open streams) being proxied to the app right now.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// The app's params, over the policy's defaults.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// How long the app has gone without counted activity: since its last
    /// counted request, or, if it never had one, since it entered its state
    /// (an app woken and never used is idle from the moment it woke).
    pub fn idle_for(&self, now: Timestamp) -> Duration {
        now.saturating_since(self.last_activity.unwrap_or(self.state_since))
    }
}
