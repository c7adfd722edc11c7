//! The policies' persistent key-value state (`paastis:policy/kv`) in the sled
//! tree `policy-kv`, keyed `<policy name>\0<key>`. A policy name never holds
//! `\0`, so the first `\0` ends the namespace and namespaces cannot overlap.
//!
//! Writes are not flushed one by one: they mark the store dirty, and the
//! store's next flush (the app flusher runs one every `store.flush_interval`,
//! and one at shutdown) writes them to disk. A crash (even `kill -9`)
//! therefore loses at most one flush interval of policy writes; each write is
//! atomic, so a key holds either its old or its new value.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::policy::kv::{KvBackend, KvError, MAX_KEYS};

#[derive(Clone)]
pub(crate) struct SledKv {
    tree: ::sled::Tree,
    /// Shared with the `Store`: set by writes, taken by its flush.
    dirty: Arc<AtomicBool>,
    /// Makes "count the keys, then insert a new one" atomic, so concurrent
    /// calls cannot push a namespace past `MAX_KEYS`.
    writes: Arc<Mutex<()>>,
}

fn to_kv(e: ::sled::Error) -> KvError {
    KvError::Backend(e.to_string())
}

fn prefix(ns: &str) -> Result<Vec<u8>, KvError> {
    if ns.contains('\0') {
        return Err(KvError::Backend(format!("policy name {ns:?} contains NUL")));
    }
    let mut p = Vec::with_capacity(ns.len() + 1);
    p.extend_from_slice(ns.as_bytes());
    p.push(0);
    Ok(p)
}

fn full_key(ns: &str, key: &str) -> Result<Vec<u8>, KvError> {
    let mut k = prefix(ns)?;
    k.extend_from_slice(key.as_bytes());
    Ok(k)
}

impl SledKv {
    pub(in crate::store) fn new(tree: ::sled::Tree, dirty: Arc<AtomicBool>) -> Self {
        SledKv { tree, dirty, writes: Arc::new(Mutex::new(())) }
    }
}

impl KvBackend for SledKv {
    fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.tree.get(full_key(ns, key)?).map_err(to_kv)?.map(|v| v.to_vec()))
    }

    fn set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        let full = full_key(ns, key)?;
        // The guard protects no data, so a poisoned one is as good.
        let _guard = self.writes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !self.tree.contains_key(&full).map_err(to_kv)? && self.count(ns)? >= MAX_KEYS {
            return Err(KvError::TooManyKeys);
        }
        self.tree.insert(full, value).map_err(to_kv)?;
        self.dirty.store(true, Ordering::Release);
        Ok(())
    }

    fn delete(&self, ns: &str, key: &str) -> Result<(), KvError> {
        let _guard = self.writes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.tree.remove(full_key(ns, key)?).map_err(to_kv)?.is_some() {
            self.dirty.store(true, Ordering::Release);
        }
        Ok(())
    }

    fn list_keys(&self, ns: &str, key_prefix: &str) -> Result<Vec<String>, KvError> {
        let ns_len = ns.len() + 1;
        let mut keys = Vec::new();
        for entry in self.tree.scan_prefix(full_key(ns, key_prefix)?) {
            let (full, _) = entry.map_err(to_kv)?;
            // Keys were written from `&str`; a foreign one is shown lossily
            // rather than failing the whole listing.
            keys.push(String::from_utf8_lossy(full.get(ns_len..).unwrap_or_default()).into_owned());
        }
        Ok(keys)
    }

    fn count(&self, ns: &str) -> Result<usize, KvError> {
        let mut n = 0;
        for entry in self.tree.scan_prefix(prefix(ns)?).keys() {
            entry.map_err(to_kv)?;
            n += 1;
        }
        Ok(n)
    }
}
