//! Small persistent state, kept by the host between calls: the one way for a
//! policy to remember something for sure (memory may persist between calls,
//! but may also be reset at any time).
//!
//! ```
//! use paastis_sdk::kv;
//!
//! # fn main() -> Result<(), paastis_sdk::PolicyError> {
//! kv::set_string("awake-at-close", "blog,shop")?;
//! assert_eq!(kv::get_string("awake-at-close")?.as_deref(), Some("blog,shop"));
//! kv::delete("awake-at-close");
//! assert_eq!(kv::get("awake-at-close"), None);
//! # Ok(()) }
//! ```
//!
//! The state belongs to the policy's name, so a new version of the policy
//! sees what the previous one wrote. The host persists it on its normal flush
//! schedule: after a crash the last second or so of writes may be missing,
//! so treat it as a cache of useful knowledge, and handle a missing key.
//!
//! Limits: a key is at most [`MAX_KEY_BYTES`], a value at most
//! [`MAX_VALUE_BYTES`], and a policy holds at most [`MAX_KEYS`] keys; `set`
//! returns an error when over one.
//!
//! Outside WebAssembly (unit tests with `cargo test`) the state is an
//! in-memory map per thread, with the same limits; each test runs on its own
//! thread, and [`testing::reset_kv`](crate::testing::reset_kv) empties it.

use crate::PolicyError;

/// The longest key, in bytes.
///
/// ```
/// assert!(paastis_sdk::kv::set(&"k".repeat(paastis_sdk::kv::MAX_KEY_BYTES + 1), b"v").is_err());
/// ```
pub const MAX_KEY_BYTES: usize = 256;
/// The largest value, in bytes (64 KiB).
///
/// ```
/// assert!(paastis_sdk::kv::set("big", &vec![0; paastis_sdk::kv::MAX_VALUE_BYTES + 1]).is_err());
/// ```
pub const MAX_VALUE_BYTES: usize = 64 << 10;
/// The most keys a policy holds.
///
/// ```
/// assert_eq!(paastis_sdk::kv::MAX_KEYS, 1_000);
/// ```
pub const MAX_KEYS: usize = 1_000;

/// The value stored under `key`, if any.
///
/// ```
/// paastis_sdk::kv::set("seen", b"yes")?;
/// assert_eq!(paastis_sdk::kv::get("seen"), Some(b"yes".to_vec()));
/// assert_eq!(paastis_sdk::kv::get("never"), None);
/// # Ok::<(), paastis_sdk::PolicyError>(())
/// ```
pub fn get(key: &str) -> Option<Vec<u8>> {
    imp::get(key)
}

/// Stores `value` under `key`, replacing any previous value. An error (and
/// nothing stored) past a limit, or when the host cannot write.
///
/// ```
/// paastis_sdk::kv::set("last-close", &1_718_470_800_000u64.to_le_bytes())?;
/// # Ok::<(), paastis_sdk::PolicyError>(())
/// ```
pub fn set(key: &str, value: &[u8]) -> Result<(), PolicyError> {
    imp::set(key, value).map_err(|e| PolicyError::new(format!("cannot store {key:?}: {e}")))
}

/// Removes `key`; removing a missing key does nothing.
///
/// ```
/// paastis_sdk::kv::set_string("tmp", "x")?;
/// paastis_sdk::kv::delete("tmp");
/// paastis_sdk::kv::delete("tmp");
/// assert_eq!(paastis_sdk::kv::get("tmp"), None);
/// # Ok::<(), paastis_sdk::PolicyError>(())
/// ```
pub fn delete(key: &str) {
    imp::delete(key);
}

/// The keys that start with `prefix` (all of them for `""`), sorted.
///
/// ```
/// use paastis_sdk::kv;
/// kv::set_string("app/shop", "1")?;
/// kv::set_string("app/blog", "1")?;
/// assert_eq!(kv::list_keys("app/"), vec!["app/blog".to_owned(), "app/shop".to_owned()]);
/// # Ok::<(), paastis_sdk::PolicyError>(())
/// ```
pub fn list_keys(prefix: &str) -> Vec<String> {
    imp::list_keys(prefix)
}

/// The value under `key` as text; an error if it is not UTF-8.
///
/// ```
/// paastis_sdk::kv::set_string("zone", "Europe/Paris")?;
/// assert_eq!(paastis_sdk::kv::get_string("zone")?.as_deref(), Some("Europe/Paris"));
/// # Ok::<(), paastis_sdk::PolicyError>(())
/// ```
pub fn get_string(key: &str) -> Result<Option<String>, PolicyError> {
    get(key)
        .map(|bytes| String::from_utf8(bytes).map_err(|_| PolicyError::new(format!("kv {key:?} is not UTF-8 text"))))
        .transpose()
}

/// Stores text under `key`.
///
/// ```
/// paastis_sdk::kv::set_string("note", "prewarmed at 07:50")?;
/// # Ok::<(), paastis_sdk::PolicyError>(())
/// ```
pub fn set_string(key: &str, value: &str) -> Result<(), PolicyError> {
    set(key, value.as_bytes())
}

/// The value under `key` as a number stored by [`set_u64`] (8 bytes, little
/// endian); an error if it is something else.
///
/// ```
/// paastis_sdk::kv::set_u64("wakes", 3)?;
/// assert_eq!(paastis_sdk::kv::get_u64("wakes")?, Some(3));
/// # Ok::<(), paastis_sdk::PolicyError>(())
/// ```
pub fn get_u64(key: &str) -> Result<Option<u64>, PolicyError> {
    get(key)
        .map(|bytes| {
            <[u8; 8]>::try_from(bytes.as_slice())
                .map(u64::from_le_bytes)
                .map_err(|_| PolicyError::new(format!("kv {key:?} is not a u64 ({} bytes)", bytes.len())))
        })
        .transpose()
}

/// Stores a number under `key`, for [`get_u64`].
///
/// ```
/// paastis_sdk::kv::set_u64("wakes", 4)?;
/// # Ok::<(), paastis_sdk::PolicyError>(())
/// ```
pub fn set_u64(key: &str, value: u64) -> Result<(), PolicyError> {
    set(key, &value.to_le_bytes())
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use crate::bindings::paastis::policy::kv;

    pub fn get(key: &str) -> Option<Vec<u8>> {
        kv::get(key)
    }

    pub fn set(key: &str, value: &[u8]) -> Result<(), String> {
        kv::set(key, value)
    }

    pub fn delete(key: &str) {
        kv::delete(key);
    }

    pub fn list_keys(prefix: &str) -> Vec<String> {
        kv::list_keys(prefix)
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod imp {
    use super::{MAX_KEY_BYTES, MAX_KEYS, MAX_VALUE_BYTES};
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    thread_local! {
        static STATE: RefCell<BTreeMap<String, Vec<u8>>> = const { RefCell::new(BTreeMap::new()) };
    }

    pub fn get(key: &str) -> Option<Vec<u8>> {
        STATE.with_borrow(|s| s.get(key).cloned())
    }

    /// The same checks, and the same messages, as the host's.
    pub fn set(key: &str, value: &[u8]) -> Result<(), String> {
        if key.len() > MAX_KEY_BYTES {
            return Err(format!("the key is {} bytes, over the limit of {MAX_KEY_BYTES}", key.len()));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!("the value is {} bytes, over the limit of {MAX_VALUE_BYTES}", value.len()));
        }
        STATE.with_borrow_mut(|s| {
            if !s.contains_key(key) && s.len() >= MAX_KEYS {
                return Err(format!("the policy already holds {MAX_KEYS} keys, the limit"));
            }
            s.insert(key.to_owned(), value.to_vec());
            Ok(())
        })
    }

    pub fn delete(key: &str) {
        STATE.with_borrow_mut(|s| s.remove(key));
    }

    pub fn list_keys(prefix: &str) -> Vec<String> {
        STATE.with_borrow(|s| s.keys().filter(|k| k.starts_with(prefix)).cloned().collect())
    }

    pub fn reset() {
        STATE.with_borrow_mut(BTreeMap::clear);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_limits_hold() {
        crate::testing::reset_kv();
        assert_eq!(get("n"), None);
        set_u64("n", 41).unwrap();
        assert_eq!(get_u64("n").unwrap(), Some(41));
        set_string("s", "héllo").unwrap();
        assert_eq!(get_string("s").unwrap().as_deref(), Some("héllo"));
        assert!(get_u64("s").is_err());
        set("bad", &[0xff]).unwrap();
        assert!(get_string("bad").is_err());
        assert_eq!(list_keys(""), vec!["bad", "n", "s"]);
        assert!(set(&"k".repeat(MAX_KEY_BYTES + 1), b"").is_err());
        assert!(set("big", &vec![0; MAX_VALUE_BYTES + 1]).is_err());
        for i in 3..MAX_KEYS {
            set(&i.to_string(), b"").unwrap();
        }
        assert!(set("one-too-many", b"").unwrap_err().message().contains("1000 keys"));
        delete("n");
        set("one-more", b"").unwrap();
        crate::testing::reset_kv();
        assert!(list_keys("").is_empty());
    }
}
