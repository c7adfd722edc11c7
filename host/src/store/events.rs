//! The event history: every telemetry event, numbered and kept in sled up to
//! a retention limit, newest last.
//!
//! Keys are big-endian sequence numbers, so sled's order is the events'
//! order and dropping the oldest is a range delete from the front. The
//! recorder (`telemetry::recorder`) appends in batches and flushes each batch
//! to disk before taking the next, so a crash loses at most the batch being
//! written (events emitted in the same few milliseconds).

use super::StoreError;
use crate::telemetry::Event;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

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
    db: sled::Db,
    tree: sled::Tree,
    retention: u64,
    /// The next id to give; guarded so concurrent appends stay in order.
    next: std::sync::Arc<Mutex<u64>>,
}

impl EventLog {
    pub(super) fn new(db: sled::Db, tree: sled::Tree, retention: u64) -> Result<EventLog, StoreError> {
        let next = match tree.last()? {
            Some((key, _)) => id_of(&key).map_or(0, |id| id + 1),
            None => 0,
        };
        Ok(EventLog { db, tree, retention: retention.max(1), next: std::sync::Arc::new(Mutex::new(next)) })
    }

    /// Appends the events in one atomic batch and drops what falls out of
    /// the retention window. Not on disk until `flush`.
    pub fn append(&self, events: &[Event]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let mut batch = sled::Batch::default();
        let mut id = *next;
        for event in events {
            let bytes = serde_json::to_vec(event).map_err(|e| StoreError::Io(e.to_string()))?;
            batch.insert(&id.to_be_bytes(), bytes);
            id += 1;
        }
        self.tree.apply_batch(batch)?;
        *next = id;
        let keep_from = id.saturating_sub(self.retention);
        if keep_from > 0 {
            let mut drop = sled::Batch::default();
            for key in self.tree.range(..keep_from.to_be_bytes()).keys() {
                drop.remove(key?);
            }
            self.tree.apply_batch(drop)?;
        }
        Ok(())
    }

    pub async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// The newest events matching `query`, newest first. A record that does
    /// not decode (written by a future version, say) is skipped and logged.
    pub fn recent(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let upper = query.before.unwrap_or(u64::MAX);
        let mut out = Vec::new();
        for entry in self.tree.range(..upper.to_be_bytes()).rev() {
            if out.len() >= query.limit {
                break;
            }
            let (key, value) = entry?;
            let Some(id) = id_of(&key) else { continue };
            let event: Event = match serde_json::from_slice(&value) {
                Ok(event) => event,
                Err(e) => {
                    tracing::warn!(id, error = %e, "skipping an event record that does not decode");
                    continue;
                }
            };
            if query.app.as_deref().is_some_and(|app| event.app.as_deref() != Some(app)) {
                continue;
            }
            out.push(StoredEvent { id, event });
        }
        Ok(out)
    }
}

fn id_of(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::telemetry::EventKind;

    fn event(at: u64, app: &str) -> Event {
        Event { at, app: Some(app.into()), kind: EventKind::Woken { wake_ms: 1.0 } }
    }

    #[tokio::test]
    async fn keeps_the_newest_within_retention_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let log = store.events(3).unwrap();
            log.append(&[event(1, "a"), event(2, "b")]).unwrap();
            log.append(&[event(3, "a"), event(4, "b"), event(5, "a")]).unwrap();
            log.flush().await.unwrap();
            let all = log.recent(&EventQuery { limit: 10, ..Default::default() }).unwrap();
            assert_eq!(all.iter().map(|e| e.event.at).collect::<Vec<_>>(), [5, 4, 3]);
        }
        let store = Store::open(dir.path()).unwrap();
        let log = store.events(3).unwrap();
        log.append(&[event(6, "b")]).unwrap();
        let all = log.recent(&EventQuery { limit: 10, ..Default::default() }).unwrap();
        assert_eq!(all.iter().map(|e| (e.id, e.event.at)).collect::<Vec<_>>(), [(5, 6), (4, 5), (3, 4)]);
        let only_a = log.recent(&EventQuery { limit: 10, app: Some("a".into()), ..Default::default() }).unwrap();
        assert_eq!(only_a.iter().map(|e| e.event.at).collect::<Vec<_>>(), [5]);
        let page = log.recent(&EventQuery { limit: 1, before: Some(5), ..Default::default() }).unwrap();
        assert_eq!(page[0].id, 4);
    }
}
