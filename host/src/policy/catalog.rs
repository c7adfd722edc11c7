//! The policies loaded right now, by name: an immutable snapshot that the
//! gate swaps atomically, so a call in flight keeps the version it started
//! with and the next call sees the new one.

use crate::policy::LoadedPolicy;
use rustc_hash::FxBuildHasher;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Where a loaded policy came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    Builtin,
    /// Given by path as the default policy; loaded once.
    File(PathBuf),
    /// A file in the watched policies directory.
    Dir(PathBuf),
}

/// One version of a policy and its health. A new version is a new entry, so
/// it starts with a clean record.
pub(crate) struct Entry {
    pub policy: LoadedPolicy,
    /// `name@sha256`, shared by every app this version serves (the gate
    /// remembers it per app, for thousands of apps).
    pub version: Arc<str>,
    pub origin: Origin,
    /// When this version was installed (ms since the epoch).
    pub loaded_at: crate::policy::model::Timestamp,
    consecutive_failures: AtomicU32,
    reverted: AtomicBool,
}

impl Entry {
    pub(crate) fn new(policy: LoadedPolicy, origin: Origin) -> Arc<Entry> {
        let loaded_at = crate::clock::now_ms();
        let version = format!("{}@{}", policy.name(), policy.sha256()).into();
        Arc::new(Entry {
            policy,
            version,
            origin,
            loaded_at,
            consecutive_failures: AtomicU32::new(0),
            reverted: AtomicBool::new(false),
        })
    }

    pub(crate) fn succeeded(&self) {
        // A load before the store keeps the hot path free of cache-line writes.
        if self.consecutive_failures.load(Ordering::Relaxed) != 0 {
            self.consecutive_failures.store(0, Ordering::Relaxed);
        }
    }

    /// Counts a failure; returns the number in a row.
    pub(crate) fn failed(&self) -> u32 {
        self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Marks the version as reverted; true the first time only.
    pub(crate) fn revert(&self) -> bool {
        !self.reverted.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn is_reverted(&self) -> bool {
        self.reverted.load(Ordering::Acquire)
    }
}

#[derive(Default, Clone)]
pub(super) struct Catalog {
    /// Fx-hashed: looked up on every request, and its names come from the
    /// config and the policy directory, never from a client. SipHash of the
    /// name was about 170 of the gate's instructions per request.
    by_name: HashMap<String, Arc<Entry>, FxBuildHasher>,
}

impl Catalog {
    /// The named policy, unless it was reverted for failing.
    pub(super) fn get(&self, name: &str) -> Option<&Arc<Entry>> {
        self.by_name.get(name).filter(|e| !e.is_reverted())
    }

    pub(super) fn get_any(&self, name: &str) -> Option<&Arc<Entry>> {
        self.by_name.get(name)
    }

    pub(super) fn with(&self, name: &str, entry: Arc<Entry>) -> Catalog {
        let mut next = self.clone();
        next.by_name.insert(name.to_owned(), entry);
        next
    }

    /// Without the named policy; a built-in of the same name, if any, comes
    /// back in its place.
    pub(super) fn without(&self, name: &str, builtin: Option<Arc<Entry>>) -> Catalog {
        let mut next = self.clone();
        match builtin {
            Some(entry) => next.by_name.insert(name.to_owned(), entry),
            None => next.by_name.remove(name),
        };
        next
    }

    /// Every entry, reverted ones included.
    pub(super) fn entries(&self) -> impl Iterator<Item = (&String, &Arc<Entry>)> {
        self.by_name.iter()
    }

    pub(super) fn names_from_dir(&self) -> Vec<String> {
        self.by_name.iter().filter(|(_, e)| matches!(e.origin, Origin::Dir(_))).map(|(n, _)| n.clone()).collect()
    }
}
