//! One app's timeline: the history's steps replayed from where it is
//! complete, ending in the app's live state, then cut to the window.

use super::steps::{Known, Step, step};
use super::{Band, BandState, Coverage, Live, Timeline, Window};
use crate::policy::model::{AppState, Timestamp};
use crate::telemetry::Event;

const BEFORE_HISTORY: &str = "before the event history begins";
const TRIMMED: &str = "older events were dropped (admin.event_retention)";
const NO_HISTORY: &str = "no event history yet";
const UNTRACKED: &str = "not yet discovered";
const UNRECORDED: &str = "a change left no event (was the gateway stopped abruptly?)";
const NOT_SEEN: &str = "no event about this app before this";

/// The timeline of one app over `window`, from its events (oldest first)
/// and its live state. `window.to` is normally now.
pub(crate) fn build(events: &[Event], live: Live, coverage: &Coverage, window: Window) -> Timeline {
    let mut bands = Bands::default();
    let mut wakes = Vec::new();
    let known_from = match coverage.from {
        Some(from) => from,
        None => live.since,
    }
    .min(window.to);
    let missing = match (coverage.from, coverage.trimmed) {
        (None, _) => NO_HISTORY,
        (Some(_), true) => TRIMMED,
        (Some(_), false) => BEFORE_HISTORY,
    };
    bands.push(window.from.min(known_from), known_from, BandState::Unknown, Some(missing.into()));

    // The state from `t` on, as far as the events tell; None before the
    // first one (it is then the first step's prior).
    let mut t = known_from;
    let mut state: Option<(Known, Option<String>)> = None;
    for Step { prior, begins, ends, after, why, wake } in events.iter().filter_map(step) {
        let begins = begins.clamp(t, ends.max(t));
        let before = match state.take() {
            None => (prior, None),
            Some((known, why)) if agrees(known, prior) => (known, why),
            // Two events that cannot follow each other: something changed
            // in between without a trace, and when is anyone's guess.
            Some(_) => (Known::Untracked, Some(UNRECORDED.to_owned())),
        };
        bands.push_known(t, begins, before);
        if let Some(wake) = wake {
            bands.push(begins, ends, BandState::Starting, wake.cause.as_ref().map(|c| format!("waking for {c}")));
            wakes.push(wake);
        }
        t = ends.max(t);
        state = Some((after, Some(why)));
    }

    // Up to now: the live state, which began at `since`. When the events
    // left the app in another state, the change happened then.
    let (live_state, live_known) = match live.state {
        AppState::Asleep => (BandState::Asleep, Known::Asleep),
        AppState::Starting => (BandState::Starting, Known::Asleep),
        AppState::Awake | AppState::Stopping => (BandState::Awake, Known::Awake),
    };
    let split = live.since.clamp(t, window.to.max(t));
    match state {
        Some((known, why)) if agrees(known, live_known) && live.state != AppState::Starting => {
            bands.push_known(t, window.to, (known, why));
        }
        Some(before) => {
            bands.push_known(t, split, before);
            bands.push(split, window.to, live_state, None);
        }
        None => {
            bands.push(t, split, BandState::Unknown, Some(NOT_SEEN.into()));
            bands.push(split, window.to, live_state, None);
        }
    }

    wakes.retain(|w| w.at >= window.from && w.started < window.to);
    Timeline { bands: bands.cut(window), wakes }
}

/// Whether the history's state can be followed by a step expecting `prior`.
fn agrees(known: Known, prior: Known) -> bool {
    known == prior || known == Known::Untracked || prior == Known::Untracked
}

#[derive(Default)]
struct Bands(Vec<Band>);

impl Bands {
    fn push_known(&mut self, from: Timestamp, to: Timestamp, (known, why): (Known, Option<String>)) {
        match known {
            Known::Asleep => self.push(from, to, BandState::Asleep, why),
            Known::Awake => self.push(from, to, BandState::Awake, why),
            Known::Untracked => self.push(from, to, BandState::Unknown, why.or_else(|| Some(UNTRACKED.into()))),
        }
    }

    /// Appends `[from, to)`, unless empty; extends the last band instead
    /// when it is the same state for the same reason.
    fn push(&mut self, from: Timestamp, to: Timestamp, state: BandState, why: Option<String>) {
        if to <= from {
            return;
        }
        if let Some(last) = self.0.last_mut()
            && last.state == state
            && last.why == why
            && last.to == from
        {
            last.to = to;
            return;
        }
        self.0.push(Band { from, to, state, why });
    }

    /// The bands within the window, cut at its edges.
    fn cut(self, window: Window) -> Vec<Band> {
        self.0
            .into_iter()
            .filter_map(|mut band| {
                band.from = band.from.max(window.from);
                band.to = band.to.min(window.to);
                (band.to > band.from).then_some(band)
            })
            .collect()
    }
}
