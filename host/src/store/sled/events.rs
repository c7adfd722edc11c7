//! The event history in the sled tree `events`: keys are big-endian
//! sequence numbers, so sled's order is the events' order and dropping the
//! oldest is a range delete from the front.

use crate::store::StoreError;
use crate::store::events::{EventQuery, StoredEvent};
use crate::telemetry::Event;
use std::sync::Mutex;

#[derive(Clone)]
pub(crate) struct SledEvents {
    db: ::sled::Db,
    tree: ::sled::Tree,
    retention: u64,
    /// The next id to give; guarded so concurrent appends stay in order.
    next: std::sync::Arc<Mutex<u64>>,
}

impl SledEvents {
    pub(in crate::store) fn new(db: ::sled::Db, tree: ::sled::Tree, retention: u64) -> Result<SledEvents, StoreError> {
        let next = match tree.last()? {
            Some((key, _)) => id_of(&key).map_or(0, |id| id + 1),
            None => 0,
        };
        Ok(SledEvents { db, tree, retention: retention.max(1), next: std::sync::Arc::new(Mutex::new(next)) })
    }

    /// Appends the events in one atomic batch and drops what falls out of
    /// the retention window. Not on disk until `flush`.
    pub(crate) fn append(&self, events: &[Event]) -> Result<(), StoreError> {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let mut batch = ::sled::Batch::default();
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
            let mut drop = ::sled::Batch::default();
            for key in self.tree.range(..keep_from.to_be_bytes()).keys() {
                drop.remove(key?);
            }
            self.tree.apply_batch(drop)?;
        }
        Ok(())
    }

    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// The newest events matching `query`, newest first. A record that does
    /// not decode (written by a future version, say) is skipped and logged.
    pub(crate) fn recent(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
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
            if !crate::store::events::wanted(query, &event) {
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
