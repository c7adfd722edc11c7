//! A known event history, written with the gateway's own store code into a
//! data dir before the gateway starts there: hours and days of past that a
//! test could not wait for.

use paastis::testing::{Event, EventKind, WakeCause};
use std::path::Path;

pub const HOUR_MS: u64 = 3600 * 1000;

#[derive(Default)]
pub struct History {
    events: Vec<Event>,
}

impl History {
    pub fn new() -> History {
        History::default()
    }

    pub fn event(mut self, at: u64, app: Option<&str>, kind: EventKind) -> Self {
        self.events.push(Event { at, app: app.map(str::to_owned), kind });
        self
    }

    pub fn woken(self, at: u64, app: &str, wake_ms: f64, cause: WakeCause) -> Self {
        self.event(at, Some(app), EventKind::Woken { wake_ms, cause: Some(cause) })
    }

    pub fn slept(self, at: u64, app: &str) -> Self {
        self.event(at, Some(app), EventKind::Slept { reason: "policy".into() })
    }

    pub fn wake_failed(
        self,
        at: u64,
        app: &str,
        wake_ms: f64,
        cause: WakeCause,
        reason: &str,
        output: &[&str],
    ) -> Self {
        let output = output.iter().map(|line| line.to_string()).collect();
        self.event(
            at,
            Some(app),
            EventKind::WakeFailed { reason: reason.into(), output, wake_ms: Some(wake_ms), cause: Some(cause) },
        )
    }

    /// Writes the events, oldest first, into the store of the gateway data
    /// dir `dir` (see `GatewayBuilder::data_dir`), keeping `retention`.
    pub async fn write(mut self, dir: &Path, retention: u64) {
        self.events.sort_by_key(|e| e.at);
        let store = paastis::testing::Store::open(&dir.join("store")).expect("open the store to seed");
        let log = store.events(retention).await.expect("open the event history");
        log.append(&self.events).await.expect("append the seeded events");
        log.flush().await.expect("flush the seeded events");
        // Both dropped here, before the gateway opens the store: sled lets
        // one process at a time have it.
    }
}

pub fn request(path: &str, user_agent: &str) -> WakeCause {
    WakeCause::Request { method: "GET".into(), path: path.into(), user_agent: Some(user_agent.into()) }
}

pub fn policy(name: &str) -> WakeCause {
    WakeCause::Policy { policy: name.into() }
}
