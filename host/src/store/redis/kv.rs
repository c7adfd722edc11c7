//! Policy state with Redis: served from memory, written behind.
//!
//! A policy's `kv` calls happen inside a synchronous wasm call, where a
//! network round trip would stall the request (or the tick) and tie the
//! policy's CPU budget to Redis's latency. So every replica keeps the whole
//! `p:policy-kv` hash in memory: reads never leave the process, and writes
//! change the memory at once and are sent at the next `flush` (the app
//! flusher's, every `store.flush_interval`).
//!
//! What that means:
//! - a crash (even `kill -9`) loses at most one flush interval of writes,
//!   as with sled;
//! - replicas see each other's writes within about one flush interval: a
//!   flush that finds `p:policy-kv:version` moved by someone else reloads
//!   the hash (this replica's unsent writes stay on top);
//! - two replicas writing the same key in the same interval: the last flush
//!   wins; `MAX_KEYS` is checked against this replica's view, so a namespace
//!   can briefly exceed it by what other replicas add in the same interval;
//! - while Redis is unreachable, policies keep reading and writing memory,
//!   and the writes are sent once it answers again.

use super::keys::Keys;
use crate::policy::kv::{KvBackend, KvError, MAX_KEYS};
use crate::store::StoreError;
use ::redis::aio::ConnectionManager;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub(crate) struct WriteBehindKv {
    state: Arc<Mutex<State>>,
    /// One flush at a time, so two cannot interleave their version checks.
    flushing: Arc<tokio::sync::Mutex<()>>,
    conn: ConnectionManager,
    keys: Arc<Keys>,
    at: Arc<str>,
}

#[derive(Default)]
struct State {
    /// By namespace, then key.
    data: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// Writes not yet sent: (namespace, key) → new value, or None for a delete.
    unsent: BTreeMap<(String, String), Option<Vec<u8>>>,
    /// The version of the hash the memory reflects.
    version: i64,
}

fn field(ns: &str, key: &str) -> Result<String, KvError> {
    if ns.contains('\0') {
        return Err(KvError::Backend(format!("policy name {ns:?} contains NUL")));
    }
    Ok(format!("{ns}\0{key}"))
}

impl WriteBehindKv {
    pub(crate) fn new(conn: ConnectionManager, keys: Keys, at: String) -> WriteBehindKv {
        WriteBehindKv { state: Arc::default(), flushing: Arc::default(), conn, keys: Arc::new(keys), at: at.into() }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        // Every critical section is a few map operations that leave the
        // state consistent, so a poisoned lock still holds valid data.
        f(&mut self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Replaces the memory with the hash in Redis, keeping unsent writes.
    pub(crate) async fn reload(&self) -> Result<(), StoreError> {
        let (hash, version_key) = (self.keys.policy_kv.clone(), self.keys.policy_kv_version.clone());
        let (all, version): (BTreeMap<Vec<u8>, Vec<u8>>, Option<i64>) =
            super::run(&self.conn, &self.at, |mut c| async move {
                ::redis::pipe().cmd("HGETALL").arg(&hash).cmd("GET").arg(&version_key).query_async(&mut c).await
            })
            .await?;
        let mut data: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
        for (field, value) in all {
            let field = String::from_utf8_lossy(&field).into_owned();
            let Some((ns, key)) = field.split_once('\0') else { continue };
            data.entry(ns.to_owned()).or_default().insert(key.to_owned(), value);
        }
        self.with(|state| {
            for ((ns, key), value) in &state.unsent {
                match value {
                    Some(value) => {
                        data.entry(ns.clone()).or_default().insert(key.clone(), value.clone());
                    }
                    None => {
                        if let Some(keys) = data.get_mut(ns) {
                            keys.remove(key);
                        }
                    }
                }
            }
            state.data = data;
            state.version = version.unwrap_or(0);
        });
        Ok(())
    }

    /// Sends the unsent writes and bumps the version in one transaction;
    /// reloads when another replica moved the version meanwhile. On failure
    /// the writes stay unsent (unless rewritten since) for the next flush.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        let _one = self.flushing.lock().await;
        let (unsent, known) = self.with(|s| (std::mem::take(&mut s.unsent), s.version));
        let (hash, version_key) = (self.keys.policy_kv.clone(), self.keys.policy_kv_version.clone());
        let result: Result<i64, StoreError> = if unsent.is_empty() {
            super::run(&self.conn, &self.at, |mut c| async move {
                ::redis::cmd("GET").arg(&version_key).query_async::<Option<i64>>(&mut c).await.map(|v| v.unwrap_or(0))
            })
            .await
        } else {
            let mut pipe = ::redis::pipe();
            pipe.atomic();
            for ((ns, key), value) in &unsent {
                let field = format!("{ns}\0{key}");
                match value {
                    Some(value) => pipe.cmd("HSET").arg(&hash).arg(field).arg(value).ignore(),
                    None => pipe.cmd("HDEL").arg(&hash).arg(field).ignore(),
                };
            }
            pipe.cmd("INCR").arg(&version_key);
            super::run(
                &self.conn,
                &self.at,
                |mut c| async move { pipe.query_async::<(i64,)>(&mut c).await.map(|(v,)| v) },
            )
            .await
        };
        let version = match result {
            Ok(version) => version,
            Err(e) => {
                self.with(|s| {
                    for (k, v) in unsent {
                        s.unsent.entry(k).or_insert(v);
                    }
                });
                return Err(e);
            }
        };
        let ours = if unsent.is_empty() { known } else { known + 1 };
        if version == ours {
            self.with(|s| s.version = version);
            Ok(())
        } else {
            self.reload().await
        }
    }
}

impl KvBackend for WriteBehindKv {
    fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        field(ns, key)?;
        Ok(self.with(|s| s.data.get(ns).and_then(|keys| keys.get(key)).cloned()))
    }

    fn set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        field(ns, key)?;
        self.with(|s| {
            let keys = s.data.entry(ns.to_owned()).or_default();
            if !keys.contains_key(key) && keys.len() >= MAX_KEYS {
                return Err(KvError::TooManyKeys);
            }
            keys.insert(key.to_owned(), value.to_vec());
            s.unsent.insert((ns.to_owned(), key.to_owned()), Some(value.to_vec()));
            Ok(())
        })
    }

    fn delete(&self, ns: &str, key: &str) -> Result<(), KvError> {
        field(ns, key)?;
        self.with(|s| {
            if s.data.get_mut(ns).and_then(|keys| keys.remove(key)).is_some() {
                s.unsent.insert((ns.to_owned(), key.to_owned()), None);
            }
        });
        Ok(())
    }

    fn list_keys(&self, ns: &str, prefix: &str) -> Result<Vec<String>, KvError> {
        field(ns, prefix)?;
        Ok(self.with(|s| {
            s.data
                .get(ns)
                .map_or_else(Vec::new, |keys| keys.keys().filter(|k| k.starts_with(prefix)).cloned().collect())
        }))
    }

    fn count(&self, ns: &str) -> Result<usize, KvError> {
        field(ns, "")?;
        Ok(self.with(|s| s.data.get(ns).map_or(0, BTreeMap::len)))
    }
}
