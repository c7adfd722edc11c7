//! The processes each running app has on this machine, recorded when it
//! starts and forgotten when it stops, so that a gateway restarted after a
//! crash can end what the crash left behind (`backend/sweep.rs`).
//!
//! A record is meaningful on one machine during one boot only: it carries
//! the boot id, and every pid with its start time (clock ticks after boot),
//! which together name one process for the life of the boot. With Redis,
//! whose data outlives machines and is shared, the records live under a key
//! of this host's name (`p:processes:<hostname>`): another replica's (or a
//! previous machine's) processes are never read, let alone signalled. The
//! boot id inside settles what the name cannot (two machines of one name, a
//! reboot).

use super::{Backend, Store, StoreError};

/// One process, for the life of the boot: its pid and its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    /// Field 22 of `/proc/<pid>/stat`: clock ticks after boot.
    pub start_time: u64,
}

/// What one app had running: its supervisor, and its command's first
/// process, whose pid is also the app's process group id; and the gateway
/// that started them (while it runs, they are its own to stop, not a
/// crash's leftovers).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcessRecord {
    pub app: String,
    /// `/proc/sys/kernel/random/boot_id` when the app started.
    pub boot_id: String,
    pub gateway: ProcessId,
    pub supervisor: ProcessId,
    pub group: ProcessId,
}

impl Store {
    /// Records processes under `key` (one per app and gateway), replacing
    /// what it held. Durable once `flush` returns (Redis: already when this
    /// returns), so that a burst of starts costs one disk sync.
    pub async fn save_process(&self, key: &str, record: &ProcessRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(record).map_err(|e| StoreError::Io(e.to_string()))?;
        match &self.backend {
            Backend::Sled(s) => s.save_process(key, bytes),
            Backend::Redis(r) => r.save_process(key, bytes).await,
        }
    }

    /// Forgets the record under `key` (its processes are all gone); durable
    /// with the next `flush`.
    pub async fn forget_process(&self, key: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.forget_process(key),
            Backend::Redis(r) => r.forget_process(key).await,
        }
    }

    /// Every record of this machine, by key. A record that no longer
    /// decodes is an error naming its key; `forget_process` clears it.
    pub async fn load_processes(&self) -> Result<Vec<(String, Result<ProcessRecord, StoreError>)>, StoreError> {
        let all = match &self.backend {
            Backend::Sled(s) => s.load_processes()?,
            Backend::Redis(r) => r.load_processes().await?,
        };
        Ok(all
            .into_iter()
            .map(|(key, bytes)| {
                let record = serde_json::from_slice(&bytes)
                    .map_err(|e| StoreError::Corrupt { key: key.clone(), message: e.to_string() });
                (key, record)
            })
            .collect())
    }
}
