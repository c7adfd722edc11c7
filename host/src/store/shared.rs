//! What replicas coordinate through, on the store's handle: the leader
//! lease, per-app wake locks, wake notifications, shared activity and
//! in-flight counts. With Redis these are shared by every replica; with
//! sled there is one gateway, so the lease is always its own, every lock is
//! granted and nothing is published (`crate::cluster` does not use them
//! then, but the answers stay true).

use super::{Backend, Store, StoreError};
use crate::policy::model::Timestamp;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::broadcast;

/// The leader lease as Redis answered a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Whether the claiming replica holds it now.
    pub held: bool,
    /// Bumped at each new holder (for the logs; not a fencing token).
    pub epoch: u64,
    pub holder: Option<String>,
}

/// App names as their wakes finish on any replica.
pub struct WokeListener {
    inner: Option<broadcast::Receiver<String>>,
}

impl WokeListener {
    /// The next app woken anywhere; never returns with sled (one gateway:
    /// its own wakes are seen directly).
    pub async fn next(&mut self) -> String {
        loop {
            match &mut self.inner {
                Some(rx) => match rx.recv().await {
                    Ok(app) => return app,
                    // Missed some: the waiters' polling covers them.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => self.inner = None,
                },
                None => std::future::pending::<()>().await,
            }
        }
    }
}

impl Store {
    /// Takes the lease if it is free, renews it if `replica` holds it.
    pub async fn claim_lease(&self, replica: &str, ttl: Duration) -> Result<Lease, StoreError> {
        match &self.backend {
            Backend::Sled(_) => Ok(Lease { held: true, epoch: 1, holder: Some(replica.to_owned()) }),
            Backend::Redis(r) => r.claim_lease(replica, ttl).await,
        }
    }

    /// Gives the lease up if `replica` still holds it; true if it did.
    pub async fn release_lease(&self, replica: &str) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Sled(_) => Ok(true),
            Backend::Redis(r) => r.release_lease(replica).await,
        }
    }

    /// Takes `app`'s wake lock for `holder` unless someone else holds it, or
    /// renews it when `holder` does; it expires `ttl` after the last call
    /// whatever happens to the holder.
    pub async fn try_lock_app(&self, app: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Sled(_) => Ok(true),
            Backend::Redis(r) => r.try_lock_app(app, holder, ttl).await,
        }
    }

    /// Frees `app`'s lock if `holder` still holds it.
    pub async fn unlock_app(&self, app: &str, holder: &str) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Sled(_) => Ok(true),
            Backend::Redis(r) => r.unlock_app(app, holder).await,
        }
    }

    /// Tells every replica that `app`'s wake finished.
    pub async fn publish_woke(&self, app: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(_) => Ok(()),
            Backend::Redis(r) => r.publish_woke(app).await,
        }
    }

    pub fn woke_listener(&self) -> WokeListener {
        match &self.backend {
            Backend::Sled(_) => WokeListener { inner: None },
            Backend::Redis(r) => WokeListener { inner: Some(r.woke_listener()) },
        }
    }

    /// The newest activity of every app, as flushed by any replica.
    pub async fn load_activity(&self) -> Result<HashMap<String, Timestamp>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => {
                Ok(s.load_apps()?.into_iter().filter_map(|(app, r)| r.last_activity.map(|t| (app, t))).collect())
            }
            Backend::Redis(r) => r.load_activity().await,
        }
    }

    /// Publishes `replica`'s in-flight counts for `ttl` (a dead replica's
    /// expire with it) and returns the sum of every other live replica's.
    pub async fn exchange_in_flight(
        &self,
        replica: &str,
        counts: &[(String, u32)],
        ttl: Duration,
        now: Timestamp,
    ) -> Result<HashMap<String, u32>, StoreError> {
        match &self.backend {
            Backend::Sled(_) => Ok(HashMap::new()),
            Backend::Redis(r) => r.exchange_in_flight(replica, counts, ttl, now).await,
        }
    }

    /// Withdraws `replica` from the shared counts (clean shutdown).
    pub async fn leave(&self, replica: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(_) => Ok(()),
            Backend::Redis(r) => r.leave(replica).await,
        }
    }

    /// Whether the store answers now.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(_) => Ok(()),
            Backend::Redis(r) => r.ping().await,
        }
    }
}
