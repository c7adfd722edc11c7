//! The leader lease: `SET p:leader <replica> NX PX <lease>` to take it, a
//! compare-and-`PEXPIRE` every third of the lease to keep it, a
//! compare-and-`DEL` at shutdown to give it up (`store/redis/scripts.rs`).
//!
//! The leader acts only while it can prove the lease: until the start of
//! its last successful claim plus the lease, minus a margin for the time
//! between a check and the action it guards (a key set by Redis on receipt
//! of the claim expires no earlier than that). A renewal that fails (Redis
//! unreachable, or another holder) is not retried into an illusion of
//! leadership: the deadline simply passes and the replica stops acting.
//! Followers try every tenth of the lease, so a dead leader is replaced
//! within the lease plus a tenth of it.

use super::Cluster;
use std::time::Duration;
use tokio::time::Instant;

pub(super) async fn run(cluster: Cluster) {
    let lease = cluster.inner.lease;
    let renew_every = lease / 3;
    let follower_poll = (lease / 10).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let margin = lease / 5;
    let replica = cluster.inner.replica.clone();
    let mut led = false;
    let mut failing = false;
    loop {
        let asked = Instant::now();
        match cluster.store().claim_lease(&replica, lease).await {
            Ok(claim) if claim.held => {
                cluster.set_leads_until(Some(asked + lease - margin));
                if !led {
                    tracing::info!(replica = %replica, epoch = claim.epoch, "leading the cluster");
                }
                failing = false;
            }
            Ok(claim) => {
                cluster.set_leads_until(None);
                if led {
                    tracing::warn!(replica = %replica, holder = ?claim.holder, epoch = claim.epoch, "no longer the leader");
                }
                failing = false;
            }
            Err(error) => {
                if !failing && led {
                    tracing::warn!(%error, "cannot renew the leader lease; this replica stops acting when it runs out");
                }
                failing = true;
            }
        }
        led = cluster.is_leader();
        cluster.inner.telemetry.metrics.leader.set(i64::from(led));
        tokio::time::sleep(if led { renew_every } else { follower_poll }).await;
    }
}

impl Cluster {
    fn set_leads_until(&self, until: Option<Instant>) {
        *self.inner.leads_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = until;
    }
}
