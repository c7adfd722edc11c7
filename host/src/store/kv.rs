//! The policies' persistent state (`paastis:policy/kv`), namespaced by
//! policy name.
//!
//! The `kv` host import is synchronous inside a wasm call, so no backend
//! may do a network round trip there: sled serves it from its own cache,
//! Redis from an in-memory copy with the writes sent behind (see
//! `redis/kv.rs` for what that means for crashes and replicas). On both, a
//! write is durable after the next `Store::save_apps` or `flush`, so a crash
//! loses at most one `store.flush_interval` of policy writes.

use super::redis::kv::WriteBehindKv;
use super::sled::kv::SledKv;
use crate::policy::kv::{KvBackend, KvError};

#[derive(Clone)]
pub struct PolicyKv {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Sled(SledKv),
    Redis(WriteBehindKv),
}

impl PolicyKv {
    pub(super) fn sled(kv: SledKv) -> PolicyKv {
        PolicyKv { inner: Inner::Sled(kv) }
    }

    pub(super) fn redis(kv: WriteBehindKv) -> PolicyKv {
        PolicyKv { inner: Inner::Redis(kv) }
    }

    fn backend(&self) -> &dyn KvBackend {
        match &self.inner {
            Inner::Sled(kv) => kv,
            Inner::Redis(kv) => kv,
        }
    }
}

impl KvBackend for PolicyKv {
    fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.backend().get(ns, key)
    }

    fn set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.backend().set(ns, key, value)
    }

    fn delete(&self, ns: &str, key: &str) -> Result<(), KvError> {
        self.backend().delete(ns, key)
    }

    fn list_keys(&self, ns: &str, prefix: &str) -> Result<Vec<String>, KvError> {
        self.backend().list_keys(ns, prefix)
    }

    fn count(&self, ns: &str) -> Result<usize, KvError> {
        self.backend().count(ns)
    }
}
