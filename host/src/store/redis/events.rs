//! The event history in Redis: the ZSET `p:events`, each member an event's
//! JSON with its id, scored by that id. Ids come from `p:events:seq`, so
//! every replica appends to one numbering; one script per batch numbers,
//! stores and trims atomically.

use super::{RedisStore, scripts};
use crate::store::StoreError;
use crate::store::events::{EventQuery, StoredEvent, wanted};
use crate::telemetry::Event;

/// Events read per round trip while looking for `limit` matches.
const PAGE: usize = 256;

#[derive(Clone)]
pub(crate) struct RedisEvents {
    store: RedisStore,
    retention: u64,
}

impl RedisEvents {
    pub(crate) fn new(store: RedisStore, retention: u64) -> RedisEvents {
        RedisEvents { store, retention: retention.max(1) }
    }

    pub(crate) async fn append(&self, events: &[Event]) -> Result<(), StoreError> {
        let mut args: Vec<Vec<u8>> = vec![self.retention.to_string().into_bytes()];
        for event in events {
            args.push(serde_json::to_vec(event).map_err(|e| StoreError::Io(e.to_string()))?);
        }
        let keys = self.store.keys().clone();
        self.store
            .run(|mut c| async move {
                scripts::APPEND_EVENTS
                    .key(&keys.events)
                    .key(&keys.events_seq)
                    .arg(args)
                    .invoke_async::<u64>(&mut c)
                    .await
            })
            .await?;
        Ok(())
    }

    pub(crate) async fn recent(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let mut out = Vec::new();
        // Exclusive upper bound on ids, lowered page by page.
        let mut upper = query.before.map_or_else(|| "+inf".to_owned(), |b| format!("({b}"));
        while out.len() < query.limit {
            let key = self.store.keys().events.clone();
            let max = upper.clone();
            let page: Vec<(String, f64)> = self
                .store
                .run(|mut c| async move {
                    ::redis::cmd("ZRANGE")
                        .arg(&key)
                        .arg(&max)
                        .arg("-inf")
                        .arg("BYSCORE")
                        .arg("REV")
                        .arg("LIMIT")
                        .arg(0)
                        .arg(PAGE)
                        .arg("WITHSCORES")
                        .query_async(&mut c)
                        .await
                })
                .await?;
            let Some((_, lowest)) = page.last() else { break };
            upper = format!("({}", *lowest as u64);
            let full = page.len() == PAGE;
            for (json, _) in page {
                match serde_json::from_str::<StoredEvent>(&json) {
                    Ok(stored) if wanted(query, &stored.event) => out.push(stored),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "skipping an event record that does not decode"),
                }
                if out.len() >= query.limit {
                    break;
                }
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }
}
