//! Each event that changes an app's state, read as a step: the state it
//! implies before, the state after, and when the change began.

use super::WakeMark;
use crate::policy::model::Timestamp;
use crate::telemetry::{Event, EventKind};

/// An app's state as the history knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Known {
    Asleep,
    Awake,
    /// Not yet in the gateway (before its `discovered` event).
    Untracked,
}

pub(super) struct Step {
    /// What the app must have been before.
    pub prior: Known,
    /// When the change began: a wake's start, else the event's time.
    pub begins: Timestamp,
    /// When it ended (the event's time); `[begins, ends)` is a wake.
    pub ends: Timestamp,
    pub after: Known,
    /// How the state after began, for the band's `why`.
    pub why: String,
    pub wake: Option<WakeMark>,
}

/// The step an event records, if it changes the app's state.
pub(super) fn step(event: &Event) -> Option<Step> {
    let at = event.at;
    let plain = |prior, after, why: String| Step { prior, begins: at, ends: at, after, why, wake: None };
    Some(match &event.kind {
        EventKind::Woken { wake_ms, cause } => {
            let started = at.saturating_sub(wake_ms.max(0.0) as Timestamp);
            let by = cause.as_ref().map_or_else(String::new, |c| format!(" by {c}"));
            Step {
                prior: Known::Asleep,
                begins: started,
                ends: at,
                after: Known::Awake,
                why: format!("woken{by} in {}", seconds(*wake_ms)),
                wake: Some(WakeMark {
                    started,
                    at,
                    wake_ms: Some(*wake_ms),
                    ok: true,
                    cause: cause.clone(),
                    reason: None,
                    output: Vec::new(),
                }),
            }
        }
        EventKind::WakeFailed { reason, output, wake_ms, cause } => {
            let started = wake_ms.map_or(at, |ms| at.saturating_sub(ms.max(0.0) as Timestamp));
            let wake = WakeMark {
                started,
                at,
                wake_ms: *wake_ms,
                ok: false,
                cause: cause.clone(),
                reason: Some(reason.clone()),
                output: output.clone(),
            };
            Step {
                prior: Known::Asleep,
                begins: started,
                ends: at,
                after: Known::Asleep,
                why: format!("wake failed: {reason}"),
                wake: Some(wake),
            }
        }
        EventKind::Slept { reason } => plain(Known::Awake, Known::Asleep, format!("put to sleep ({reason})")),
        EventKind::SleepFailed { reason } => {
            plain(Known::Awake, Known::Asleep, format!("stopping failed ({reason}); counted asleep"))
        }
        EventKind::Exited { description } => {
            plain(Known::Awake, Known::Asleep, format!("exited by itself: {description}"))
        }
        EventKind::StoppedOutside {} => plain(Known::Awake, Known::Asleep, "stopped outside the gateway".into()),
        EventKind::Adopted {} => plain(Known::Asleep, Known::Awake, "found running by discovery".into()),
        EventKind::Discovered { backend } => plain(Known::Untracked, Known::Asleep, format!("discovered on {backend}")),
        EventKind::PolicyLoaded { .. }
        | EventKind::PolicyRefused { .. }
        | EventKind::PolicyRemoved { .. }
        | EventKind::PolicyReverted { .. }
        | EventKind::PolicyFallback { .. }
        | EventKind::PolicyRestored { .. }
        | EventKind::StoreRecovered { .. }
        | EventKind::TickFailed { .. }
        | EventKind::TickRecovered { .. } => return None,
    })
}

/// "850 ms", "2.4 s".
fn seconds(ms: f64) -> String {
    if ms < 1000.0 { format!("{ms:.0} ms") } else { format!("{:.1} s", ms / 1000.0) }
}
