//! The event history: every telemetry event, numbered and kept up to a
//! retention limit, newest last. The recorder (`store::recorder`)
//! appends in batches and makes each batch durable before taking the next,
//! so a crash loses at most the batch being written (events emitted in the
//! same few milliseconds). With Redis, the replicas share one history and
//! one numbering.

use super::StoreError;
use super::redis::events::RedisEvents;
use super::sled::events::SledEvents;
use crate::telemetry::Event;
use serde::{Deserialize, Serialize};

/// An event with its place in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub id: u64,
    #[serde(flatten)]
    pub event: Event,
}

/// Which events to read: the newest `limit`, optionally older than `before`
/// (an id, for paging) and for one app only.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub limit: usize,
    pub before: Option<u64>,
    pub app: Option<String>,
}

#[derive(Clone)]
pub struct EventLog {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Sled(SledEvents),
    Redis(RedisEvents),
}

impl EventLog {
    pub(super) fn sled(events: SledEvents) -> EventLog {
        EventLog { inner: Inner::Sled(events) }
    }

    pub(super) fn redis(events: RedisEvents) -> EventLog {
        EventLog { inner: Inner::Redis(events) }
    }

    /// Appends the events in one atomic batch and drops what falls out of
    /// the retention window. Durable after `flush`.
    pub async fn append(&self, events: &[Event]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        match &self.inner {
            Inner::Sled(s) => s.append(events),
            Inner::Redis(r) => r.append(events).await,
        }
    }

    pub async fn flush(&self) -> Result<(), StoreError> {
        match &self.inner {
            Inner::Sled(s) => s.flush().await,
            // Each append is acknowledged by Redis before it returns.
            Inner::Redis(_) => Ok(()),
        }
    }

    /// The newest events matching `query`, newest first. A record that does
    /// not decode (written by a future version, say) is skipped and logged.
    pub async fn recent(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        match &self.inner {
            Inner::Sled(s) => s.recent(query),
            Inner::Redis(r) => r.recent(query).await,
        }
    }
}

/// Whether `event` passes the query's app filter.
pub(super) fn wanted(query: &EventQuery, event: &Event) -> bool {
    query.app.as_deref().is_none_or(|app| event.app.as_deref() == Some(app))
}
