//! The leader's sleeps. The policy decided on a snapshot; before the
//! platform is asked to stop anything, the leader takes the app's lock (the
//! one wakes take), reads the app's shared record, and stops only if
//!
//! - it still leads (it can prove its lease),
//! - no replica has a request in flight for the app,
//! - no replica saw activity since the snapshot,
//! - and no other replica put the app to sleep meanwhile (a stale leader).
//!
//! The asleep record is flushed before the platform is asked to stop the
//! app, and again before the lock is released, so a wake that was waiting
//! for the lock, or a replica started after this one was killed mid-stop,
//! finds the app asleep and wakes it for real.

use super::Cluster;
use super::locks::APP_LOCK_TTL;
use super::sync::take_shared_state;
use crate::apps::{App, Apps};
use crate::backend::Backends;
use crate::policy::model::{AppState, Timestamp};
use std::sync::Arc;

/// Puts `app` to sleep as the policy asked, if it is still idle. `seen` is
/// the last activity the policy saw.
pub(crate) async fn sleep_if_still_idle(
    cluster: &Cluster,
    apps: &Arc<Apps>,
    backends: &Backends,
    app: &Arc<App>,
    seen: Option<Timestamp>,
    why: &str,
) {
    if !cluster.is_shared() {
        apps.lifecycle().sleep(app, why).await;
        return;
    }
    let name = app.name();
    if !cluster.is_leader() || cluster.is_degraded() || app.remote_in_flight() > 0 {
        return;
    }
    let store = cluster.store();
    let holder = cluster.holder("sleep");
    match store.try_lock_app(name, &holder, APP_LOCK_TTL).await {
        Ok(true) => cluster.remember_lock(name, holder),
        Ok(false) => {
            tracing::debug!(app = name, "another replica is waking or stopping it; not put to sleep this tick");
            return;
        }
        Err(e) => {
            tracing::debug!(app = name, error = %e, "cannot take the lock; not put to sleep this tick");
            return;
        }
    }
    match store.load_app(name).await {
        Ok(Some(record)) => {
            if let Some(at) = record.last_activity {
                app.observe_activity(at);
            }
            if record.state == AppState::Asleep {
                take_shared_state(app, &record, backends).await;
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::debug!(app = name, error = %e, "cannot read the shared record; not put to sleep this tick");
            cluster.release_lock(name).await;
            return;
        }
    }
    let active_since = app.last_activity() > seen;
    if active_since {
        tracing::debug!(app = name, "activity on another replica since the policy's decision; kept awake");
    } else if app.state() != AppState::Awake {
        tracing::info!(app = name, "already put to sleep by another replica");
    } else if cluster.is_leader() && apps.lifecycle().begin_sleep(app) {
        // Recorded before the platform is asked: a leader killed during the
        // stop leaves "asleep" (see AppRecord), and the next request on any
        // replica wakes the app rather than proxying to a stopped one.
        if let Err(e) = apps.save(app).await {
            tracing::warn!(app = name, error = %e, "cannot record the coming sleep in the shared store");
        }
        apps.lifecycle().finish_sleep(app, why).await;
        if let Err(e) = apps.flush().await {
            tracing::warn!(app = name, error = %e, "cannot record the sleep in the shared store");
        }
    }
    cluster.release_lock(name).await;
}
