//! What an app was doing, hour by hour: its states over a window of time
//! (asleep, waking, awake, unknown) and its wakes, rebuilt from the event
//! history and its live state; and what those hours saved per day. The
//! admin API serves both (`admin/timeline.rs`), and the dashboard draws them.
//!
//! The history is honest about what it does not know: time before the oldest
//! event kept, before an app was discovered, or across a change that left no
//! event (a gateway killed with `kill -9`) is `unknown`, never guessed.
//!
//! Why here, apart from the admin handlers and not in the page: the rules
//! (what each event implies before and after it, what a wake costs, where
//! a day ends) are the gateway's, priced by the one savings model
//! (`savings.rs`); the page only draws. And `build` and `savings_per_day`
//! are pure: the events, the live state, the window and the clock are
//! passed in, so `tests.rs` checks them against a table of known histories
//! without waiting for a day to pass.

mod build;
mod daily;
mod read;
mod steps;
#[cfg(test)]
mod tests;

pub(crate) use build::build;
pub(crate) use daily::{DaySavings, days, savings_per_day};
pub(crate) use read::{History, read};

use crate::policy::model::{AppState, Timestamp};
use crate::telemetry::WakeCause;
use serde::Serialize;

/// What an app was doing over a band of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BandState {
    Asleep,
    /// Booting: from the start of a wake until the app answered (or the
    /// wake failed). Billed like awake.
    Starting,
    Awake,
    /// Not in the history; `why` says which part is missing.
    Unknown,
}

/// `[from, to)`, in milliseconds since the epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Band {
    pub from: Timestamp,
    pub to: Timestamp,
    pub state: BandState,
    /// How this band began ("put to sleep (policy)", "woken by …"), or why
    /// it is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// One wake, successful or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct WakeMark {
    /// When the wake began (`at` less its duration, when that is known).
    pub started: Timestamp,
    /// When the app answered, or the wake gave up.
    pub at: Timestamp,
    pub wake_ms: Option<f64>,
    pub ok: bool,
    pub cause: Option<WakeCause>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The app's last lines of output, when a failed wake kept them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Timeline {
    /// In order, without gaps, covering the window.
    pub bands: Vec<Band>,
    /// Those that ended within the window, in order.
    pub wakes: Vec<WakeMark>,
}

/// `[from, to)`: usually ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub from: Timestamp,
    pub to: Timestamp,
}

/// How far back the history is complete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Coverage {
    /// Every event from then on is in the history; `None` when the history
    /// is empty.
    pub from: Option<Timestamp>,
    /// Whether older events were dropped (`admin.event_retention`), rather
    /// than the history beginning there.
    pub trimmed: bool,
}

/// The app as it is now: where the history's last band ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Live {
    pub state: AppState,
    pub since: Timestamp,
}
