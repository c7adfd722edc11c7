//! Events: the notable things that happen to apps and policies, as typed
//! values rather than log lines, so the admin API can persist and serve them.

use crate::clock::now_ms;
use crate::policy::model::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// Events a slow subscriber may fall behind by before it misses some.
const BACKLOG: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Milliseconds since the Unix epoch.
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A backend reported an app the gateway did not know.
    Discovered {
        backend: String,
    },
    Woken {
        wake_ms: f64,
    },
    WakeFailed {
        reason: String,
        /// The app's last lines of output (at most 20 lines, 4 KiB).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        output: Vec<String>,
    },
    Slept {
        reason: String,
    },
    SleepFailed {
        reason: String,
    },
    /// An awake app's process ended by itself.
    Exited {
        description: String,
    },
    PolicyLoaded {
        policy: String,
        sha256: String,
        origin: String,
    },
    PolicyRefused {
        policy: String,
        reason: String,
    },
    PolicyRemoved {
        policy: String,
    },
    PolicyReverted {
        policy: String,
        sha256: String,
        failures: u32,
    },
    /// The app's policy cannot serve it (deleted, refused, reverted): the
    /// next policy in the chain, `serving`, does. The app is degraded.
    PolicyFallback {
        policy: String,
        serving: String,
        reason: String,
    },
    /// The app's own policy serves it again.
    PolicyRestored {
        policy: String,
    },
    /// The store was damaged: moved aside, and a fresh one started.
    StoreRecovered {
        moved_to: String,
        damage: String,
    },
    /// A policy's ticks started failing (`*`: the tick itself): its apps are
    /// neither put to sleep nor woken until `TickRecovered`.
    TickFailed {
        policy: String,
        error: String,
    },
    TickRecovered {
        policy: String,
        failed_ticks: u64,
    },
}

/// A broadcast of events. Emitting never blocks and never fails: with no
/// subscriber, or a lagging one, events are simply not kept.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
    /// Events emitted so far, so a reader can wait until the recorder has
    /// written everything emitted before its request.
    emitted: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus { sender: broadcast::channel(BACKLOG).0, emitted: Default::default() }
    }
}

impl EventBus {
    pub fn emit(&self, app: Option<&str>, kind: EventKind) {
        // Counted before it is sent: a recorder never gets ahead of the count.
        self.emitted.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let _ = self.sender.send(Event { at: now_ms(), app: app.map(str::to_owned), kind });
    }

    /// How many events were emitted so far.
    pub fn emitted(&self) -> u64 {
        self.emitted.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_flat_with_their_kind() {
        let event = Event { at: 5, app: Some("hello".into()), kind: EventKind::Woken { wake_ms: 12.5 } };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json, serde_json::json!({"at": 5, "app": "hello", "kind": "woken", "wake_ms": 12.5}));
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
    }

    #[tokio::test]
    async fn subscribers_receive_what_is_emitted() {
        let bus = EventBus::default();
        let mut rx = bus.subscribe();
        bus.emit(None, EventKind::PolicyRemoved { policy: "p".into() });
        let event = rx.recv().await.unwrap();
        assert_eq!(event.kind, EventKind::PolicyRemoved { policy: "p".into() });
        assert_eq!(event.app, None);
    }
}
