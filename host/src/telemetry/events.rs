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
        /// What began the wake (absent from events recorded before it was kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<WakeCause>,
    },
    WakeFailed {
        reason: String,
        /// The app's last lines of output (at most 20 lines, 4 KiB).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        output: Vec<String>,
        /// How long the failed attempt lasted (absent from older events).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wake_ms: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<WakeCause>,
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
    /// Discovery found an app running that the gateway had asleep: awake now.
    Adopted {},
    /// Discovery found an app stopped that the gateway had awake: asleep now.
    StoppedOutside {},
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

/// What began a wake: shown on the dashboard's timeline, so an operator can
/// tell a visitor from an uptime monitor or the policy's schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum WakeCause {
    /// A request the policy forwarded (the first of those that waited).
    Request {
        method: String,
        /// The path without its query, which may carry secrets; capped.
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_agent: Option<String>,
    },
    /// The policy's tick asked for it.
    Policy { policy: String },
    /// `POST /apps/{name}/wake` on the admin API.
    Admin,
    /// An app that links to this one woke.
    Linked { app: String },
}

/// Longest path or user agent kept in a `WakeCause`: enough to recognise
/// a page or a monitor, bounded so an event stays small.
const CAUSE_TEXT_MAX: usize = 120;

impl WakeCause {
    pub fn request(method: &http::Method, uri: &http::Uri, user_agent: Option<&http::HeaderValue>) -> WakeCause {
        WakeCause::Request {
            method: method.as_str().to_owned(),
            path: capped(uri.path()),
            user_agent: user_agent.and_then(|ua| ua.to_str().ok()).map(capped),
        }
    }
}

/// "request GET /login (UptimeRobot/2.0)", "policy office-hours", …
impl std::fmt::Display for WakeCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WakeCause::Request { method, path, user_agent: Some(ua) } => write!(f, "request {method} {path} ({ua})"),
            WakeCause::Request { method, path, user_agent: None } => write!(f, "request {method} {path}"),
            WakeCause::Policy { policy } => write!(f, "policy {policy}"),
            WakeCause::Admin => f.write_str("admin API"),
            WakeCause::Linked { app } => write!(f, "linked app {app}"),
        }
    }
}

fn capped(text: &str) -> String {
    match text.char_indices().nth(CAUSE_TEXT_MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// A broadcast of events. Emitting never blocks and never fails: with no
/// subscriber, or a lagging one, events are simply not kept.
#[derive(Clone)]
pub(crate) struct EventBus {
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
    pub(crate) fn emit(&self, app: Option<&str>, kind: EventKind) {
        // Counted before it is sent: a recorder never gets ahead of the count.
        self.emitted.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let _ = self.sender.send(Event { at: now_ms(), app: app.map(str::to_owned), kind });
    }

    /// How many events were emitted so far.
    pub(crate) fn emitted(&self) -> u64 {
        self.emitted.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_flat_with_their_kind() {
        let event = Event { at: 5, app: Some("hello".into()), kind: EventKind::Woken { wake_ms: 12.5, cause: None } };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json, serde_json::json!({"at": 5, "app": "hello", "kind": "woken", "wake_ms": 12.5}));
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
    }

    #[test]
    fn a_wake_records_its_cause_and_older_records_still_decode() {
        let uri: http::Uri = "/login?token=secret".parse().unwrap();
        let ua = http::HeaderValue::from_static("UptimeRobot/2.0");
        let cause = WakeCause::request(&http::Method::GET, &uri, Some(&ua));
        let event = Event { at: 5, app: Some("a".into()), kind: EventKind::Woken { wake_ms: 3.0, cause: Some(cause) } };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json["cause"],
            serde_json::json!({"by": "request", "method": "GET", "path": "/login", "user_agent": "UptimeRobot/2.0"}),
            "the query string stays out of the history"
        );
        let old = serde_json::json!({"at": 1, "app": "a", "kind": "wake_failed", "reason": "boom"});
        let kind = serde_json::from_value::<Event>(old).unwrap().kind;
        assert_eq!(
            kind,
            EventKind::WakeFailed { reason: "boom".into(), output: Vec::new(), wake_ms: None, cause: None }
        );
        let long = "x".repeat(500);
        let WakeCause::Request { path, .. } =
            WakeCause::request(&http::Method::GET, &format!("/{long}").parse().unwrap(), None)
        else {
            unreachable!()
        };
        assert_eq!(path.chars().count(), CAUSE_TEXT_MAX + 1, "capped, with an ellipsis");
        let adopted = serde_json::json!({"at": 1, "app": "a", "kind": "adopted"});
        assert_eq!(serde_json::from_value::<Event>(adopted).unwrap().kind, EventKind::Adopted {});
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
