//! Persistence of app activity and state in sled. The only module that names
//! sled.
//!
//! Writes are batched: the registry marks apps dirty and a flusher writes them
//! every `store.flush_interval`, and at once on every state change. A crash
//! (even `kill -9`) therefore loses at most one flush interval of activity
//! timestamps and no state change that completed before the flush it triggered.
//! Policy state (`kv.rs`) rides on the same flushes.

pub mod events;
mod formation;
mod kv;
mod record;

pub use events::{EventLog, EventQuery, StoredEvent};
pub use formation::Formation;
pub use kv::PolicyKv;
pub use record::AppRecord;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("store I/O failed: {0}")]
    Io(String),
    #[error("store record for {key:?} is corrupt: {message}")]
    Corrupt { key: String, message: String },
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    apps: sled::Tree,
    policy_kv: PolicyKv,
    /// Policy state written since the last flush.
    kv_dirty: Arc<AtomicBool>,
    /// PaaS formations saved before a scale to zero (formation.rs).
    formations: sled::Tree,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_err = |message: String| StoreError::Open { path: path.to_owned(), message };
        let db = sled::Config::new()
            .path(path)
            // The gateway flushes explicitly on its own schedule.
            .flush_every_ms(None)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                    open_err("it is locked by another running paastis".into())
                }
                other => open_err(other.to_string()),
            })?;
        let apps = db.open_tree("apps").map_err(|e| open_err(e.to_string()))?;
        let kv_tree = db.open_tree("policy-kv").map_err(|e| open_err(e.to_string()))?;
        let formations = db.open_tree("formations").map_err(|e| open_err(e.to_string()))?;
        let kv_dirty = Arc::new(AtomicBool::new(false));
        let policy_kv = PolicyKv::new(kv_tree, Arc::clone(&kv_dirty));
        Ok(Store { db, apps, policy_kv, kv_dirty, formations })
    }

    /// The event history, keeping the newest `retention` events.
    pub fn events(&self, retention: u64) -> Result<EventLog, StoreError> {
        let tree = self.db.open_tree("events")?;
        EventLog::new(self.db.clone(), tree, retention)
    }

    /// The policies' persistent state, for `PolicyRuntime::with_kv`.
    pub fn policy_kv(&self) -> PolicyKv {
        self.policy_kv.clone()
    }

    /// Every app record, by app name. A corrupt record is an error rather than
    /// a silent reset, so the operator learns about it.
    pub fn load_apps(&self) -> Result<HashMap<String, AppRecord>, StoreError> {
        let mut out = HashMap::new();
        for entry in self.apps.iter() {
            let (key, value) = entry?;
            let name = String::from_utf8_lossy(&key).into_owned();
            let record = serde_json::from_slice(&value)
                .map_err(|e| StoreError::Corrupt { key: name.clone(), message: e.to_string() })?;
            out.insert(name, record);
        }
        Ok(out)
    }

    /// One app's record (an app discovered after startup).
    pub fn load_app(&self, name: &str) -> Result<Option<AppRecord>, StoreError> {
        match self.apps.get(name.as_bytes())? {
            None => Ok(None),
            Some(value) => serde_json::from_slice(&value)
                .map(Some)
                .map_err(|e| StoreError::Corrupt { key: name.to_owned(), message: e.to_string() }),
        }
    }

    /// Writes the records in one atomic batch and waits until they are on
    /// disk, with any policy state written since the last flush. The app
    /// flusher calls it every interval, so policy writes need no flusher of
    /// their own.
    pub async fn save_apps(&self, records: &[(String, AppRecord)]) -> Result<(), StoreError> {
        if records.is_empty() {
            if self.kv_dirty.load(Ordering::Acquire) {
                self.flush().await?;
            }
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for (name, record) in records {
            let bytes = serde_json::to_vec(record).map_err(|e| StoreError::Io(e.to_string()))?;
            batch.insert(name.as_bytes(), bytes);
        }
        self.apps.apply_batch(batch)?;
        self.flush().await
    }

    pub async fn flush(&self) -> Result<(), StoreError> {
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
