//! The policies' key-value store (`paastis:policy/kv`) as plain Rust: the
//! limits, the backend trait and an in-memory backend. The runtime only sees
//! `dyn KvBackend`; the sled-backed one lives in `store/`, so that this module
//! never names sled and `paastis check` / `policy check` need no store.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 << 10;
/// Keys one policy may hold. With the value limit this bounds a policy's
/// state at about 64 MiB in the worst case; real policies keep a few keys.
pub const MAX_KEYS: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    #[error("the key is {len} bytes, over the limit of {MAX_KEY_BYTES}")]
    KeyTooLong { len: usize },
    #[error("the value is {len} bytes, over the limit of {MAX_VALUE_BYTES}")]
    ValueTooLarge { len: usize },
    #[error("the policy already holds {MAX_KEYS} keys, the limit")]
    TooManyKeys,
    #[error("the policy state store failed: {0}")]
    Backend(String),
}

/// Where policy state lives. `ns` is the policy's name. Implementations
/// enforce `MAX_KEYS` atomically with the write (`set` of a new key when the
/// namespace is full is `TooManyKeys`); key and value sizes are checked by
/// `check_sizes` before a backend sees them.
pub trait KvBackend: Send + Sync {
    fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    fn set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), KvError>;
    fn delete(&self, ns: &str, key: &str) -> Result<(), KvError>;
    /// Keys of `ns` starting with `prefix`, sorted.
    fn list_keys(&self, ns: &str, prefix: &str) -> Result<Vec<String>, KvError>;
    fn count(&self, ns: &str) -> Result<usize, KvError>;
}

/// The size limits of a `set`, checked before any backend is touched.
pub fn check_sizes(key: &str, value: &[u8]) -> Result<(), KvError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(KvError::KeyTooLong { len: key.len() });
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(KvError::ValueTooLarge { len: value.len() });
    }
    Ok(())
}

/// State kept in memory only: for `paastis check`, `paastis policy check`,
/// the smoke calls that prove a policy runs, and tests.
#[derive(Debug, Default)]
pub struct MemoryKv {
    /// By namespace, then key. A poisoned lock still holds consistent data
    /// (every write is one map operation), so it is used as is.
    data: Mutex<BTreeMap<String, BTreeMap<String, Vec<u8>>>>,
}

impl MemoryKv {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<String, BTreeMap<String, Vec<u8>>>) -> R) -> R {
        let mut data = self.data.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut data)
    }
}

impl KvBackend for MemoryKv {
    fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.with(|d| d.get(ns).and_then(|keys| keys.get(key)).cloned()))
    }

    fn set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.with(|d| {
            let keys = d.entry(ns.to_owned()).or_default();
            if !keys.contains_key(key) && keys.len() >= MAX_KEYS {
                return Err(KvError::TooManyKeys);
            }
            keys.insert(key.to_owned(), value.to_vec());
            Ok(())
        })
    }

    fn delete(&self, ns: &str, key: &str) -> Result<(), KvError> {
        self.with(|d| {
            if let Some(keys) = d.get_mut(ns) {
                keys.remove(key);
            }
        });
        Ok(())
    }

    fn list_keys(&self, ns: &str, prefix: &str) -> Result<Vec<String>, KvError> {
        Ok(self.with(|d| {
            d.get(ns).map_or_else(Vec::new, |keys| keys.keys().filter(|k| k.starts_with(prefix)).cloned().collect())
        }))
    }

    fn count(&self, ns: &str) -> Result<usize, KvError> {
        Ok(self.with(|d| d.get(ns).map_or(0, BTreeMap::len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_kv_isolates_namespaces_and_caps_keys() {
        let kv = MemoryKv::default();
        kv.set("a", "k", b"1").unwrap();
        assert_eq!(kv.get("a", "k").unwrap(), Some(b"1".to_vec()));
        assert_eq!(kv.get("b", "k").unwrap(), None);
        for i in 1..MAX_KEYS {
            kv.set("a", &format!("k{i}"), b"").unwrap();
        }
        assert_eq!(kv.set("a", "one-too-many", b""), Err(KvError::TooManyKeys));
        // Replacing an existing key is not a new key.
        kv.set("a", "k", b"2").unwrap();
        kv.set("b", "k", b"").unwrap();
        kv.delete("a", "k").unwrap();
        assert_eq!(kv.count("a").unwrap(), MAX_KEYS - 1);
        assert_eq!(kv.list_keys("a", "k99").unwrap().len(), 11);
    }

    #[test]
    fn sizes_are_checked() {
        assert!(check_sizes(&"k".repeat(MAX_KEY_BYTES), &vec![0; MAX_VALUE_BYTES]).is_ok());
        assert_eq!(check_sizes(&"k".repeat(MAX_KEY_BYTES + 1), b""), Err(KvError::KeyTooLong { len: 257 }));
        assert!(matches!(check_sizes("k", &vec![0; MAX_VALUE_BYTES + 1]), Err(KvError::ValueTooLarge { .. })));
    }
}
