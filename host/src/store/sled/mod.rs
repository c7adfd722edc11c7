//! The embedded store: sled on the local disk, for one gateway. Trees:
//! `apps` (one JSON record per app), `formations` (`<backend>/<app>`),
//! `policy-kv` (`kv.rs`), `events` (`events.rs`) and `processes` (app →
//! its running processes, `../processes.rs`). The gateway flushes on
//! its own schedule (`flush_every_ms(None)`).

pub(super) mod events;
pub(super) mod kv;
pub(super) mod recovery;

use super::{AppRecord, StoreError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

impl From<::sled::Error> for StoreError {
    fn from(e: ::sled::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

/// Why a store cannot be opened while a gateway runs on it.
pub(super) const LOCKED: &str = "it is locked by another running paastis";

#[derive(Clone)]
pub(super) struct SledStore {
    path: PathBuf,
    db: ::sled::Db,
    apps: ::sled::Tree,
    policy_kv: kv::SledKv,
    /// Policy state written since the last flush.
    kv_dirty: Arc<AtomicBool>,
    /// PaaS formations saved before a scale to zero.
    formations: ::sled::Tree,
    /// App → the processes it runs (`ProcessRecord` as JSON).
    processes: ::sled::Tree,
}

impl SledStore {
    /// Opens without reading anything through: damage may show later
    /// (`recovery::open_checked` is the careful way in).
    pub(super) fn open_unchecked(path: &Path) -> Result<SledStore, StoreError> {
        let open_err = |message: String| StoreError::Open { path: path.to_owned(), message };
        let db = ::sled::Config::new()
            .path(path)
            // The gateway flushes explicitly on its own schedule.
            .flush_every_ms(None)
            .open()
            .map_err(|e| match e {
                // sled reports its failed file lock as "could not acquire
                // lock" (kind Other); older versions as WouldBlock.
                ::sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("could not acquire lock") =>
                {
                    open_err(LOCKED.into())
                }
                other => open_err(other.to_string()),
            })?;
        let apps = db.open_tree("apps").map_err(|e| open_err(e.to_string()))?;
        let kv_tree = db.open_tree("policy-kv").map_err(|e| open_err(e.to_string()))?;
        let formations = db.open_tree("formations").map_err(|e| open_err(e.to_string()))?;
        let processes = db.open_tree("processes").map_err(|e| open_err(e.to_string()))?;
        let kv_dirty = Arc::new(AtomicBool::new(false));
        let policy_kv = kv::SledKv::new(kv_tree, Arc::clone(&kv_dirty));
        Ok(SledStore { path: path.to_owned(), db, apps, policy_kv, kv_dirty, formations, processes })
    }

    /// Reads every entry of every tree, so that damage anywhere shows now.
    fn read_through(&self) -> Result<(), StoreError> {
        for name in self.db.tree_names() {
            let tree = self.db.open_tree(&name)?;
            for entry in tree.iter() {
                entry?;
            }
        }
        Ok(())
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn events(&self, retention: u64) -> Result<events::SledEvents, StoreError> {
        let tree = self.db.open_tree("events")?;
        events::SledEvents::new(self.db.clone(), tree, retention)
    }

    pub(super) fn policy_kv(&self) -> kv::SledKv {
        self.policy_kv.clone()
    }

    pub(super) fn load_apps(&self) -> Result<HashMap<String, AppRecord>, StoreError> {
        let mut out = HashMap::new();
        for entry in self.apps.iter() {
            let (key, value) = entry?;
            let name = String::from_utf8_lossy(&key).into_owned();
            out.insert(name.clone(), decode(&name, &value)?);
        }
        Ok(out)
    }

    pub(super) fn load_app(&self, name: &str) -> Result<Option<AppRecord>, StoreError> {
        match self.apps.get(name.as_bytes())? {
            None => Ok(None),
            Some(value) => decode(name, &value).map(Some),
        }
    }

    /// One writer (the flusher) at a time, so reading the stored record to
    /// merge with it needs no transaction.
    pub(super) async fn save_apps(&self, records: &[(String, AppRecord)]) -> Result<(), StoreError> {
        if records.is_empty() {
            if self.kv_dirty.load(Ordering::Acquire) {
                self.flush().await?;
            }
            return Ok(());
        }
        let mut batch = ::sled::Batch::default();
        for (name, record) in records {
            // A record that no longer decodes is replaced, not kept.
            let stored = self.load_app(name).unwrap_or(None);
            let merged = super::record::merge(stored.as_ref(), record);
            let bytes = serde_json::to_vec(&merged).map_err(|e| StoreError::Io(e.to_string()))?;
            batch.insert(name.as_bytes(), bytes);
        }
        self.apps.apply_batch(batch)?;
        self.flush().await
    }

    pub(super) fn load_formation(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.formations.get(key.as_bytes())?.map(|v| v.to_vec()))
    }

    pub(super) fn load_formations(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.formations.iter() {
            let (key, value) = entry?;
            out.push((String::from_utf8_lossy(&key).into_owned(), value.to_vec()));
        }
        Ok(out)
    }

    pub(super) async fn save_formation(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.formations.insert(key.as_bytes(), bytes)?;
        self.flush().await
    }

    pub(super) fn save_process(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.processes.insert(key.as_bytes(), bytes)?;
        Ok(())
    }

    pub(super) fn forget_process(&self, key: &str) -> Result<(), StoreError> {
        self.processes.remove(key.as_bytes())?;
        Ok(())
    }

    pub(super) fn load_processes(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.processes.iter() {
            let (key, value) = entry?;
            out.push((String::from_utf8_lossy(&key).into_owned(), value.to_vec()));
        }
        Ok(out)
    }

    pub(super) async fn flush(&self) -> Result<(), StoreError> {
        // Cleared before flushing: a write that lands during the flush sets
        // it again and is caught by the next one.
        let was_dirty = self.kv_dirty.swap(false, Ordering::AcqRel);
        if let Err(e) = self.db.flush_async().await {
            if was_dirty {
                self.kv_dirty.store(true, Ordering::Release);
            }
            return Err(e.into());
        }
        Ok(())
    }
}

fn decode(name: &str, bytes: &[u8]) -> Result<AppRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt { key: name.to_owned(), message: e.to_string() })
}

/// Waits until nothing holds the lock of the sled store in `dir`: sled's
/// background threads may hold a dropped store's for a moment, and a test
/// that opens it again, or damages its files, must wait for them. Within
/// 10 s; at once when there is no store yet.
#[cfg(test)]
pub(crate) fn wait_until_released(dir: &Path) {
    use std::os::fd::AsRawFd;
    let Ok(db) = std::fs::File::open(dir.join("db")) else { return };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // sled locks the file with flock (fs2); another open file description
    // gets the lock only once every holder closed its own. Ours goes with
    // `db` at the end.
    while unsafe { libc::flock(db.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        assert!(std::time::Instant::now() < deadline, "the store's lock was never released");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
