//! Everything durable, behind one handle: app records, PaaS formations,
//! policy `kv` state, the event history, and the processes of running
//! process apps (`processes.rs`, for the sweep after a crash). Two implementations keep the
//! same contract (`contract_tests.rs` runs against both):
//!
//! - `sled/`: embedded, on the local disk, for one gateway (the default);
//! - `redis/`: shared by every replica of a cluster (`[store] backend = "redis"`).
//!
//! The only module that names sled or redis: no type of either crosses this
//! module's public edge.
//!
//! Writes of app records are batched: the registry marks apps dirty and a
//! flusher calls `save_apps` every `store.flush_interval`, and at once on
//! every state change. A crash (even `kill -9`) therefore loses at most one
//! flush interval of activity timestamps and no state change that completed
//! before the flush it triggered. Policy state rides on the same flushes.
//!
//! Two rules make concurrent writers (replicas) safe, and hold for sled too:
//! a record's `last_activity` only grows (the newest activity wins), and a
//! record replaces the stored state only if its `state_since` is not older
//! than the stored one (the latest transition wins).

mod events;
mod formation;
mod kv;
mod processes;
mod record;
mod recorder;
mod redis;
mod shared;
mod sled;

#[cfg(test)]
mod contract_tests;

// Shared with the integration tests (`tests/src/support/redis.rs`), where
// its items are their crate's public test support.
#[cfg(test)]
#[allow(unreachable_pub)]
pub(crate) mod test_redis;

pub(crate) use events::{EventLog, EventQuery};
pub(crate) use formation::Formation;
pub(crate) use kv::PolicyKv;
pub use processes::{ProcessId, ProcessRecord};
pub(crate) use record::AppRecord;
pub(crate) use recorder::{RecordedProgress, Recorder};
pub(crate) use shared::WokeListener;
pub(crate) use sled::recovery::Recovery;

use crate::config::{StoreBackend, StoreConfig};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("the store at {path} is damaged: {damage}")]
    Damaged { path: PathBuf, damage: String },
    #[error("store I/O failed: {0}")]
    Io(String),
    #[error("store record for {key:?} is corrupt: {message}")]
    Corrupt { key: String, message: String },
    #[error("the Redis URL variable {var} is not set (`[store] url_env`); it should hold redis://… or rediss://…")]
    MissingUrl { var: String },
    #[error("the Redis URL in {var} is not valid: {message}")]
    BadUrl { var: String, message: String },
    #[error("cannot reach Redis at {at}: {message}")]
    Unreachable { at: String, message: String },
    #[error("Redis at {at} did not answer within {timeout:?}")]
    TimedOut { at: String, timeout: std::time::Duration },
    #[error("Redis at {at} failed: {message}")]
    Redis { at: String, message: String },
}

/// The store: cheap to clone, shared by every part of the gateway.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// Set when a damaged sled store was moved aside at open.
    recovered: Option<std::sync::Arc<Recovery>>,
}

#[derive(Clone)]
enum Backend {
    Sled(sled::SledStore),
    Redis(redis::RedisStore),
}

impl Store {
    /// Opens (or creates) a sled store at `path`, reading it through: a
    /// damaged store is `StoreError::Damaged`, left as it is.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        match sled::recovery::open_checked(path) {
            Ok(store) => Ok(Store::sled(store, None)),
            Err(sled::recovery::OpenFailure::Refused(e)) => Err(e),
            Err(sled::recovery::OpenFailure::Damaged(damage)) => {
                Err(StoreError::Damaged { path: path.to_owned(), damage })
            }
        }
    }

    /// As `open`, but a damaged store is moved aside and a fresh one
    /// started (`recovered` says so); see `sled/recovery.rs`.
    pub fn open_or_recover(path: &Path) -> Result<Store, StoreError> {
        let (store, recovery) = sled::recovery::open_or_recover(path)?;
        Ok(Store::sled(store, recovery))
    }

    fn sled(store: sled::SledStore, recovery: Option<Recovery>) -> Store {
        Store { backend: Backend::Sled(store), recovered: recovery.map(std::sync::Arc::new) }
    }

    /// What the recovery of a damaged store did, if one happened at open.
    pub fn recovered(&self) -> Option<&Recovery> {
        self.recovered.as_deref()
    }

    /// The store `[store]` describes: sled at `path`, or the Redis named by
    /// the `url_env` variable (waiting a bounded time for it to answer).
    pub async fn connect(config: &StoreConfig) -> Result<Store, StoreError> {
        match config.backend.get_ref() {
            StoreBackend::Sled => Store::open_or_recover(&config.path),
            StoreBackend::Redis => {
                let redis = redis::RedisStore::connect(config.url_env.get_ref(), config.prefix.get_ref()).await?;
                Ok(Store { backend: Backend::Redis(redis), recovered: None })
            }
        }
    }

    /// Connects to Redis at `url` directly (tests and benches).
    pub async fn connect_redis(url: &str, prefix: &str) -> Result<Store, StoreError> {
        let redis = redis::RedisStore::connect_url(url, prefix).await?;
        Ok(Store { backend: Backend::Redis(redis), recovered: None })
    }

    /// "sled" or "redis", for logs and `/healthz`.
    pub fn kind(&self) -> &'static str {
        match &self.backend {
            Backend::Sled(_) => "sled",
            Backend::Redis(_) => "redis",
        }
    }

    /// Whether other gateways may share this store (Redis): then leases,
    /// locks and shared activity mean something.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Redis(_))
    }

    /// Where the store is, without secrets: a path, or Redis's host and port.
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Sled(s) => s.path().display().to_string(),
            Backend::Redis(r) => r.at().to_owned(),
        }
    }

    /// The event history, keeping the newest `retention` events.
    pub async fn events(&self, retention: u64) -> Result<EventLog, StoreError> {
        match &self.backend {
            Backend::Sled(s) => Ok(EventLog::sled(s.events(retention)?)),
            Backend::Redis(r) => Ok(EventLog::redis(r.events(retention))),
        }
    }

    /// The policies' persistent state, for `PolicyRuntime::with_kv`. Served
    /// from memory on both backends, since a policy call is synchronous (see
    /// `kv.rs`).
    pub fn policy_kv(&self) -> PolicyKv {
        match &self.backend {
            Backend::Sled(s) => PolicyKv::sled(s.policy_kv()),
            Backend::Redis(r) => PolicyKv::redis(r.policy_kv()),
        }
    }

    /// Every app record, by app name. A corrupt record is an error rather than
    /// a silent reset, so the operator learns about it.
    pub async fn load_apps(&self) -> Result<HashMap<String, AppRecord>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.load_apps(),
            Backend::Redis(r) => r.load_apps().await,
        }
    }

    /// One app's record (an app discovered after startup).
    pub async fn load_app(&self, name: &str) -> Result<Option<AppRecord>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.load_app(name),
            Backend::Redis(r) => r.load_app(name).await,
        }
    }

    /// Writes the records (newest activity and latest transition win, see
    /// the module doc) and waits until they are durable, with any policy
    /// state written since the last flush. The app flusher calls it every
    /// interval, so policy writes need no flusher of their own.
    pub async fn save_apps(&self, records: &[(String, AppRecord)]) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.save_apps(records).await,
            Backend::Redis(r) => r.save_apps(records).await,
        }
    }

    /// Makes everything written so far durable (sled: on disk; Redis:
    /// acknowledged by the server, policy state included).
    pub async fn flush(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.flush().await,
            Backend::Redis(r) => r.flush().await,
        }
    }
}
