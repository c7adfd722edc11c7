//! Reading the part of the event history a window needs, once for every
//! app: newest first, until an event older than the window proves that the
//! window is covered, or the history ends.

use super::Coverage;
use crate::policy::model::Timestamp;
use crate::store::{EventLog, EventQuery, StoreError};
use crate::telemetry::Event;
use std::collections::HashMap;

/// Events read per store query.
const PAGE: usize = 1000;

/// The events since some time, by app, oldest first.
#[derive(Debug, Default)]
pub(crate) struct History {
    pub coverage: Coverage,
    by_app: HashMap<String, Vec<Event>>,
}

impl History {
    /// `app`'s events, oldest first.
    pub(crate) fn of(&self, app: &str) -> &[Event] {
        self.by_app.get(app).map_or(&[], Vec::as_slice)
    }

    /// From events in any order (as the store or a test has them).
    pub(crate) fn from_events(events: impl IntoIterator<Item = Event>, coverage: Coverage) -> History {
        let mut by_app: HashMap<String, Vec<Event>> = HashMap::new();
        for event in events {
            if let Some(app) = &event.app {
                by_app.entry(app.clone()).or_default().push(event);
            }
        }
        // Stable: events of the same millisecond keep the order they were numbered in.
        for events in by_app.values_mut() {
            events.sort_by_key(|e| e.at);
        }
        History { coverage, by_app }
    }
}

/// Every event at or after `since`, and how far back the history is
/// complete. `retention` is the store's (`admin.event_retention`): a
/// history that holds that many events has dropped older ones.
pub(crate) async fn read(log: &EventLog, since: Timestamp, retention: u64) -> Result<History, StoreError> {
    let mut kept = Vec::new();
    let mut before = None;
    let mut read = 0u64;
    let mut oldest = None;
    loop {
        let page = log.recent(&EventQuery { limit: PAGE, before, app: None }).await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        let full = page.len() == PAGE;
        read += page.len() as u64;
        for stored in page {
            oldest = Some(stored.event.at);
            if stored.event.at < since {
                // Older than the window: everything after it was read. Kept,
                // so its app's state at the window's start is known from it.
                let coverage = Coverage { from: Some(stored.event.at), trimmed: false };
                kept.push(stored.event);
                return Ok(History::from_events(kept, coverage));
            }
            kept.push(stored.event);
        }
        if !full {
            break;
        }
    }
    let coverage = Coverage { from: oldest, trimmed: read >= retention };
    Ok(History::from_events(kept, coverage))
}
