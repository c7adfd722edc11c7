//! The per-app locks this replica holds (a wake, or the leader's sleep),
//! kept alive while held.
//!
//! A lock is taken with a short expiry and renewed every third of it while
//! the wake or sleep runs, rather than taken once for the longest either may
//! take: a replica killed in the middle then blocks the app's wakes on the
//! other replicas for a few seconds, not for a whole wake timeout.

use super::Cluster;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::task::AbortHandle;

/// How long a lock outlives its holder's last renewal.
pub(super) const APP_LOCK_TTL: Duration = Duration::from_secs(6);

static NONCE: AtomicU64 = AtomicU64::new(0);

/// A lock this replica holds, and the task that renews it.
pub(super) struct Held {
    holder: String,
    keeper: AbortHandle,
}

impl Cluster {
    /// A lock holder name unique to this replica and attempt.
    pub(super) fn holder(&self, what: &str) -> String {
        format!("{}:{what}:{}", self.replica(), NONCE.fetch_add(1, Ordering::Relaxed))
    }

    /// Records that this replica took `app`'s lock as `holder`, and renews it
    /// until `release_lock`.
    pub(super) fn remember_lock(&self, app: &str, holder: String) {
        let keeper = tokio::spawn(keep(self.clone(), app.to_owned(), holder.clone())).abort_handle();
        let previous = self.held().insert(app.to_owned(), Held { holder, keeper });
        if let Some(previous) = previous {
            previous.keeper.abort();
        }
    }

    /// Releases `app`'s lock if this replica holds it.
    pub(super) async fn release_lock(&self, app: &str) {
        let held = self.held().remove(app);
        if let Some(held) = held {
            held.keeper.abort();
            if let Err(e) = self.store().unlock_app(app, &held.holder).await {
                tracing::warn!(app, error = %e, "cannot release the app's lock; it expires by itself");
            }
        }
    }

    pub(super) fn holds_lock(&self, app: &str) -> bool {
        self.held().contains_key(app)
    }

    fn held(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Held>> {
        self.inner.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Renews `app`'s lock for `holder` every third of its expiry. A renewal
/// that fails is retried at the next turn; a lock found taken by someone
/// else (it expired meanwhile) is not fought over: the platform operations
/// are idempotent, and the lock only saves duplicates.
async fn keep(cluster: Cluster, app: String, holder: String) {
    loop {
        tokio::time::sleep(APP_LOCK_TTL / 3).await;
        match cluster.store().try_lock_app(&app, &holder, APP_LOCK_TTL).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(app, "the app's lock expired and another replica took it");
                return;
            }
            Err(e) => tracing::debug!(app, error = %e, "cannot renew the app's lock; trying again"),
        }
    }
}
