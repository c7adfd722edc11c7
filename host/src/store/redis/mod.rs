//! The shared store: Redis, through the `redis` crate's tokio connection
//! manager (one multiplexed connection, reconnected with backoff after a
//! drop). Every replica of a cluster uses the same keys under `prefix`
//! (`keys.rs` lists them); `KEYS`, `SCAN` and `FLUSH*` are never used.
//!
//! Every call is bounded by `OP_TIMEOUT`, so an unreachable Redis is an
//! error within a second, never a hang; the callers decide what an error
//! means (the cluster marks the store degraded and serves on).

pub(super) mod coord;
pub(super) mod events;
mod keys;
pub(super) mod kv;
mod processes;
mod scripts;

use super::{AppRecord, StoreError};
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use keys::Keys;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `p:apps` and `p:activity` as one pipeline reads them.
type RecordsAndActivity = (HashMap<String, Vec<u8>>, Vec<(String, f64)>);

/// The most one Redis call may take, reconnection included.
const OP_TIMEOUT: Duration = Duration::from_secs(1);
/// How long `connect` waits for a Redis that does not answer yet (a
/// platform may start the gateway before its add-on is reachable).
const CONNECT_PATIENCE: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub(super) struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: ::redis::Client,
    conn: ConnectionManager,
    keys: Keys,
    /// Host and port, never the URL (it may hold a password).
    at: String,
    /// The formations last read or written, so that a wake during an outage
    /// still restores the saved amounts rather than one `web`.
    formations: Mutex<HashMap<String, Vec<u8>>>,
    kv: kv::WriteBehindKv,
    /// Fed by the task subscribed to `p:woke`, started on first use.
    woke: std::sync::OnceLock<tokio::sync::broadcast::Sender<String>>,
}

impl RedisStore {
    /// Reads the URL from the environment variable `url_env`.
    pub(super) async fn connect(url_env: &str, prefix: &str) -> Result<RedisStore, StoreError> {
        let url = std::env::var(url_env)
            .ok()
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| StoreError::MissingUrl { var: url_env.to_owned() })?;
        Self::open(&url, prefix, url_env).await
    }

    pub(super) async fn connect_url(url: &str, prefix: &str) -> Result<RedisStore, StoreError> {
        Self::open(url, prefix, "the given URL").await
    }

    async fn open(url: &str, prefix: &str, var: &str) -> Result<RedisStore, StoreError> {
        let bad_url = |message: String| StoreError::BadUrl { var: var.to_owned(), message };
        if url.starts_with("rediss://") {
            install_ring_provider();
        }
        let client = ::redis::Client::open(url).map_err(|e| bad_url(e.to_string()))?;
        let at = client.get_connection_info().addr().to_string();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| StoreError::Unreachable { at: at.clone(), message: e.to_string() })?;
        let keys = Keys::new(prefix);
        let kv = kv::WriteBehindKv::new(conn.clone(), keys.clone(), at.clone());
        let store = RedisStore {
            inner: Arc::new(Inner {
                client,
                conn,
                keys,
                at,
                formations: Mutex::default(),
                kv,
                woke: Default::default(),
            }),
        };
        store.wait_until_reachable().await?;
        store.inner.kv.reload().await?;
        store.load_all_formations().await?;
        Ok(store)
    }

    async fn wait_until_reachable(&self) -> Result<(), StoreError> {
        let give_up = tokio::time::Instant::now() + CONNECT_PATIENCE;
        loop {
            match self.ping().await {
                Ok(()) => return Ok(()),
                Err(e) if tokio::time::Instant::now() >= give_up => return Err(e),
                Err(e) => {
                    tracing::warn!(at = %self.inner.at, error = %e, "Redis does not answer yet; trying again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    pub(super) fn at(&self) -> &str {
        &self.inner.at
    }

    pub(super) fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    pub(super) fn inner_woke(&self) -> &std::sync::OnceLock<tokio::sync::broadcast::Sender<String>> {
        &self.inner.woke
    }

    pub(super) fn client(&self) -> &::redis::Client {
        &self.inner.client
    }

    /// Runs one Redis call on the shared connection, bounded by `OP_TIMEOUT`.
    pub(super) async fn run<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = ::redis::RedisResult<T>>,
    {
        run(&self.inner.conn, &self.inner.at, call).await
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        self.run(|mut c| async move { ::redis::cmd("PING").query_async::<()>(&mut c).await }).await
    }

    pub(super) fn events(&self, retention: u64) -> events::RedisEvents {
        events::RedisEvents::new(self.clone(), retention)
    }

    pub(super) fn policy_kv(&self) -> kv::WriteBehindKv {
        self.inner.kv.clone()
    }

    pub(super) async fn load_apps(&self) -> Result<HashMap<String, AppRecord>, StoreError> {
        let keys = self.keys().clone();
        let (records, activity): RecordsAndActivity = self
            .run(|mut c| async move {
                ::redis::pipe()
                    .cmd("HGETALL")
                    .arg(&keys.apps)
                    .cmd("ZRANGE")
                    .arg(&keys.activity)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let activity: HashMap<String, f64> = activity.into_iter().collect();
        let mut out = HashMap::new();
        for (name, bytes) in records {
            let record = with_activity(decode(&name, &bytes)?, activity.get(&name).copied());
            out.insert(name, record);
        }
        Ok(out)
    }

    pub(super) async fn load_app(&self, name: &str) -> Result<Option<AppRecord>, StoreError> {
        let keys = self.keys().clone();
        let owned = name.to_owned();
        let (bytes, activity): (Option<Vec<u8>>, Option<f64>) = self
            .run(|mut c| async move {
                ::redis::pipe()
                    .cmd("HGET")
                    .arg(&keys.apps)
                    .arg(&owned)
                    .cmd("ZSCORE")
                    .arg(&keys.activity)
                    .arg(&owned)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        match bytes {
            None => Ok(None),
            Some(bytes) => Ok(Some(with_activity(decode(name, &bytes)?, activity))),
        }
    }

    /// One script for the whole batch, so the "latest transition wins" rule
    /// (`record::merge`) holds against concurrent replicas.
    pub(super) async fn save_apps(&self, records: &[(String, AppRecord)]) -> Result<(), StoreError> {
        if !records.is_empty() {
            let mut args: Vec<Vec<u8>> = Vec::with_capacity(records.len() * 4);
            for (name, record) in records {
                args.push(name.as_bytes().to_vec());
                args.push(record.state_since.to_string().into_bytes());
                args.push(serde_json::to_vec(record).map_err(|e| StoreError::Io(e.to_string()))?);
                args.push(record.last_activity.map(|t| t.to_string()).unwrap_or_default().into_bytes());
            }
            let keys = self.keys().clone();
            self.run(|mut c| async move {
                scripts::SAVE_APPS
                    .key(&keys.apps)
                    .key(&keys.apps_since)
                    .key(&keys.activity)
                    .arg(args)
                    .invoke_async::<()>(&mut c)
                    .await
            })
            .await?;
        }
        self.flush().await
    }

    pub(super) async fn flush(&self) -> Result<(), StoreError> {
        self.inner.kv.flush().await
    }

    async fn load_all_formations(&self) -> Result<(), StoreError> {
        let all = self.load_formations().await?;
        *self.formations() = all.into_iter().collect();
        Ok(())
    }

    pub(super) async fn load_formations(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let key = self.keys().formations.clone();
        let all: HashMap<String, Vec<u8>> =
            self.run(|mut c| async move { ::redis::cmd("HGETALL").arg(&key).query_async(&mut c).await }).await?;
        Ok(all.into_iter().collect())
    }

    fn formations(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        // Each access is one map operation: a poisoned lock holds valid data.
        self.inner.formations.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// From Redis (another replica may have saved it); from the copy in
    /// memory when Redis does not answer, so a wake during an outage still
    /// restores the saved amounts.
    pub(super) async fn load_formation(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let hash = self.keys().formations.clone();
        let field = key.to_owned();
        let read = self.run(|mut c| async move {
            ::redis::cmd("HGET").arg(&hash).arg(&field).query_async::<Option<Vec<u8>>>(&mut c).await
        });
        match read.await {
            Ok(Some(bytes)) => {
                self.formations().insert(key.to_owned(), bytes.clone());
                Ok(Some(bytes))
            }
            Ok(None) => {
                self.formations().remove(key);
                Ok(None)
            }
            Err(e) => match self.formations().get(key).cloned() {
                Some(bytes) => {
                    tracing::warn!(key, error = %e, "Redis does not answer; using the formation last seen");
                    Ok(Some(bytes))
                }
                None => Err(e),
            },
        }
    }

    pub(super) async fn save_formation(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let hash = self.keys().formations.clone();
        let (field, value) = (key.to_owned(), bytes.clone());
        self.run(|mut c| async move {
            ::redis::cmd("HSET").arg(&hash).arg(&field).arg(&value).query_async::<()>(&mut c).await
        })
        .await?;
        self.formations().insert(key.to_owned(), bytes);
        Ok(())
    }
}

/// Runs one Redis call on `conn`, bounded by `OP_TIMEOUT`.
pub(super) async fn run<T, F, Fut>(conn: &ConnectionManager, at: &str, call: F) -> Result<T, StoreError>
where
    F: FnOnce(ConnectionManager) -> Fut,
    Fut: std::future::Future<Output = ::redis::RedisResult<T>>,
{
    match tokio::time::timeout(OP_TIMEOUT, call(conn.clone())).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(StoreError::Redis { at: at.to_owned(), message: e.to_string() }),
        Err(_) => Err(StoreError::TimedOut { at: at.to_owned(), timeout: OP_TIMEOUT }),
    }
}

fn decode(name: &str, bytes: &[u8]) -> Result<AppRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt { key: name.to_owned(), message: e.to_string() })
}

/// The record with the newest activity any replica flushed.
fn with_activity(mut record: AppRecord, shared: Option<f64>) -> AppRecord {
    let shared = shared.filter(|t| t.is_finite() && *t >= 0.0).map(|t| t as u64);
    record.last_activity = record.last_activity.max(shared);
    record
}

/// redis-rs builds its rustls config from the process-wide default crypto
/// provider and offers no way to hand it one. So the provider is named here,
/// explicitly: ring, as everywhere else in the gateway. If something already
/// installed a default, that one stays (and the log says which).
fn install_ring_provider() {
    if rustls::crypto::ring::default_provider().install_default().is_err() {
        tracing::debug!("a rustls default provider was already installed; Redis TLS uses it");
    }
}
