//! Several gateways (replicas) sharing one Redis store behave as one:
//!
//! - `lease.rs`: exactly one leader, through a lease in Redis; only the
//!   leader ticks (runs the policy's `on-tick` and puts apps to sleep), and
//!   it stops acting as soon as it cannot prove it still holds the lease;
//! - `wake.rs`: one platform wake per app across replicas, through a per-app
//!   lock; the others wait for it (pub/sub, or polling with backoff);
//! - `sleep.rs`: the leader's sleeps, re-checked under the same lock;
//! - `locks.rs`: the per-app locks this replica holds, renewed while held;
//! - `sync.rs`: shared activity and in-flight counts, and the replicas'
//!   view of each other's transitions, exchanged every `store.flush_interval`
//!   (never on the request path); a Redis outage marks the store
//!   `degraded` and every replica serves on from its local view.
//!
//! With sled there is one gateway: `Cluster::solo` is always the leader and
//! never degraded, and none of the above runs.
//!
//! These locks are efficiency locks, not correctness locks: a PaaS API does
//! not check fencing tokens. Correctness comes from idempotent platform
//! operations (ARCHITECTURE.md, "Replicas") and re-checks right before acting.

mod lease;
mod locks;
mod sleep;
mod sync;
mod wake;

pub(crate) use sleep::sleep_if_still_idle;
pub(crate) use wake::ClusterBackend;

use crate::apps::Apps;
use crate::backend::Backends;
use crate::store::Store;
use crate::telemetry::Telemetry;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// This replica in its cluster: cheap to clone.
#[derive(Clone)]
pub(crate) struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// Unique per process: host, pid and a random suffix.
    replica: String,
    shared: bool,
    lease: Duration,
    flush_interval: Duration,
    /// Until when this replica may act as the leader: the last successful
    /// claim's start plus the lease, minus a margin. None: a follower.
    leads_until: Mutex<Option<Instant>>,
    degraded: AtomicBool,
    telemetry: Telemetry,
    /// The wake and sleep locks this replica holds, by app.
    held: Mutex<std::collections::HashMap<String, locks::Held>>,
}

/// What `/healthz` says of this replica.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Health {
    pub role: &'static str,
    pub store: &'static str,
    pub replica: String,
}

impl Cluster {
    /// One gateway on its own store: always the leader.
    pub(crate) fn solo(store: Store, telemetry: Telemetry) -> Cluster {
        telemetry.metrics.leader.set(1);
        Cluster::new(store, telemetry, Duration::from_secs(15), Duration::from_secs(1), false)
    }

    /// A replica of the cluster sharing `store` (Redis).
    pub(crate) fn shared(store: Store, telemetry: Telemetry, lease: Duration, flush_interval: Duration) -> Cluster {
        Cluster::new(store, telemetry, lease, flush_interval, true)
    }

    fn new(store: Store, telemetry: Telemetry, lease: Duration, flush_interval: Duration, shared: bool) -> Cluster {
        let replica = replica_id();
        let inner = Inner {
            store,
            replica,
            shared,
            lease,
            flush_interval,
            leads_until: Mutex::new(None),
            degraded: AtomicBool::new(false),
            telemetry,
            held: Mutex::default(),
        };
        Cluster { inner: Arc::new(inner) }
    }

    pub(crate) fn replica(&self) -> &str {
        &self.inner.replica
    }

    /// "sled" or "redis".
    pub(crate) fn store_kind(&self) -> &'static str {
        self.inner.store.kind()
    }

    pub(crate) fn is_shared(&self) -> bool {
        self.inner.shared
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Whether this replica may act as the leader now: it holds the lease
    /// and can prove it (its last renewal is recent enough). Checked before
    /// every tick and every sleep.
    pub(crate) fn is_leader(&self) -> bool {
        if !self.inner.shared {
            return true;
        }
        let leads_until = *self.inner.leads_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        leads_until.is_some_and(|until| Instant::now() < until)
    }

    pub(crate) fn is_degraded(&self) -> bool {
        self.inner.degraded.load(Ordering::Acquire)
    }

    pub(crate) fn health(&self) -> Health {
        Health {
            role: if self.is_leader() { "leader" } else { "follower" },
            store: if self.is_degraded() { "degraded" } else { "ok" },
            replica: self.inner.replica.clone(),
        }
    }

    /// Marks the shared store as answering or not; logs and counts each
    /// change once (not each failed call).
    fn set_degraded(&self, degraded: bool, error: Option<&crate::store::StoreError>) {
        let was = self.inner.degraded.swap(degraded, Ordering::AcqRel);
        if was == degraded {
            return;
        }
        self.inner.telemetry.metrics.store_degraded.set(i64::from(degraded));
        match error {
            Some(error) if degraded => tracing::error!(
                at = %self.store().location(),
                %error,
                "the shared store does not answer: serving from the local view, no app is put to sleep until it is back"
            ),
            _ => tracing::info!(at = %self.store().location(), "the shared store answers again; reconciling"),
        }
    }

    /// Starts the lease and sync loops (nothing with sled).
    pub(crate) fn spawn(&self, apps: Arc<Apps>, backends: Arc<Backends>) -> Vec<JoinHandle<()>> {
        if !self.inner.shared {
            return Vec::new();
        }
        vec![
            tokio::spawn(lease::run(self.clone())),
            tokio::spawn(sync::run(self.clone(), apps.clone(), backends)),
            tokio::spawn(wake::announce_wakes(self.clone(), apps)),
        ]
    }

    /// Leaves the cluster at shutdown: gives the lease up at once (another
    /// replica takes over without waiting for it to expire) and withdraws
    /// this replica's in-flight counts. Stops acting first.
    pub(crate) async fn leave(&self) {
        if !self.inner.shared {
            return;
        }
        *self.inner.leads_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        self.inner.telemetry.metrics.leader.set(0);
        match self.store().release_lease(&self.inner.replica).await {
            Ok(true) => tracing::info!(replica = %self.inner.replica, "leader lease released"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "cannot release the leader lease; it expires by itself"),
        }
        if let Err(e) = self.store().leave(&self.inner.replica).await {
            tracing::warn!(error = %e, "cannot withdraw this replica's in-flight counts; they expire by themselves");
        }
    }
}

/// `<host>-<pid>-<4 hex>`: readable in logs, unique even when a platform
/// gives every container the same host name.
fn replica_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher
        .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    let suffix = hasher.finish() as u16;
    format!("{}-{}-{suffix:04x}", if host.is_empty() { "paastis" } else { host }, std::process::id())
}
