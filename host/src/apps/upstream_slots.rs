//! The cap on an app's concurrent upstream connections
//! (`max_upstream_connections`), after HAProxy's per-server `maxconn`: a
//! request takes a slot before it is sent to the app and keeps it until its
//! response ends (a tunnel, until it closes). Requests above the cap wait
//! in the gateway, first come first served, counted with the requests that
//! wait on a wake (`edge.max_waiting_per_app`).
//!
//! Why: when a sleeping app wakes, every request held during its boot is
//! released at once. A freshly started server with a small listen backlog
//! (python's `http.server` has 5) drops the SYNs above it, and those clients
//! then wait on TCP retransmits (1 s, 3 s, 7 s…).

use super::app::App;
use super::in_flight::{InFlight, WaitSlot};
use super::lifecycle::AdmitError;
use std::sync::{Arc, OnceLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio::time::Instant;

/// The default of `max_upstream_connections`, per app.
pub(crate) const DEFAULT_MAX_UPSTREAM_CONNECTIONS: u32 = 64;

/// One app's slots, made on first use (the cap comes from the app's config
/// or `[edge]`, known to the lifecycle rather than to the app).
#[derive(Default)]
pub(super) struct UpstreamSlots {
    semaphore: OnceLock<(Arc<Semaphore>, u32)>,
}

impl UpstreamSlots {
    /// By reference: the one clone a request makes is its permit's (a
    /// reference count every worker writes on every request).
    fn get(&self, limit: u32) -> (&Arc<Semaphore>, u32) {
        let limit = limit.max(1);
        let (semaphore, limit) = self.semaphore.get_or_init(|| (Arc::new(Semaphore::new(limit as usize)), limit));
        (semaphore, *limit)
    }
}

/// Waits for one of `app`'s upstream slots and hands it to `in_flight`,
/// which holds it until the response ends. tokio's semaphore is fair, so
/// the waiters are served in the order they came, and a newcomer never
/// takes a slot ahead of them.
pub(super) async fn acquire(
    app: &Arc<App>,
    mut in_flight: InFlight,
    default_limit: u32,
    max_waiting: u32,
) -> Result<InFlight, AdmitError> {
    let (semaphore, limit) = app.upstream_slots().get(app.config.max_upstream_connections().unwrap_or(default_limit));
    let permit = match semaphore.clone().try_acquire_owned() {
        Ok(permit) => permit,
        Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => {
            queue(app, semaphore.clone(), limit, max_waiting).await?
        }
    };
    in_flight.hold(permit);
    Ok(in_flight)
}

async fn queue(
    app: &Arc<App>,
    semaphore: Arc<Semaphore>,
    limit: u32,
    max_waiting: u32,
) -> Result<OwnedSemaphorePermit, AdmitError> {
    let taken = app.lock().take_wait_slot(max_waiting);
    let _slot = match taken {
        Ok(()) => WaitSlot::taken(app),
        Err(waiting) => return Err(AdmitError::Overloaded { app: app.name().to_owned(), waiting }),
    };
    // Bounded like every wait of a request: a request never hangs.
    let started = Instant::now();
    let busy = || AdmitError::Busy { app: app.name().to_owned(), limit, waited: started.elapsed() };
    match tokio::time::timeout(app.config.wake_timeout.0, semaphore.acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        // Never closed; if it were, the request is told rather than hung.
        Ok(Err(_)) | Err(_) => Err(busy()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn app(limit: Option<u32>) -> Arc<App> {
        let mut text = "[server]\nlisten = \"127.0.0.1:0\"\ndomain = \"localhost\"\n[[apps]]\nname = \"a\"\nbackend = \"process\"\ncommand = [\"true\"]\nwake_timeout = \"1s\"\n".to_owned();
        if let Some(limit) = limit {
            text.push_str(&format!("max_upstream_connections = {limit}\n"));
        }
        let config = Config::parse(&text, "t.toml").unwrap();
        Arc::new(App::new(config.apps[0].clone(), crate::policy::model::Params::default(), None, Arc::default()))
    }

    fn in_flight(app: &Arc<App>) -> InFlight {
        InFlight::new(app.clone(), false, http::Uri::from_static("http://127.0.0.1:1"), false)
    }

    #[tokio::test]
    async fn waiters_are_served_first_come_first_served() {
        let app = app(Some(1));
        let first = acquire(&app, in_flight(&app), 64, 10).await.unwrap();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for i in 0..5 {
            let (waiter, order) = (app.clone(), order.clone());
            waiters.push(tokio::spawn(async move {
                let held = acquire(&waiter, in_flight(&waiter), 64, 10).await.unwrap();
                order.lock().unwrap().push(i);
                tokio::task::yield_now().await;
                drop(held);
            }));
            // Each waiter is queued before the next one comes.
            while app.lock().waiting() != i + 1 {
                tokio::task::yield_now().await;
            }
        }
        drop(first);
        for waiter in waiters {
            waiter.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
        assert_eq!(app.lock().waiting(), 0);
    }

    #[tokio::test]
    async fn the_queue_is_bounded_and_the_wait_too() {
        let app = app(Some(1));
        let held = acquire(&app, in_flight(&app), 64, 1).await.unwrap();
        let queued = tokio::spawn({
            let app = app.clone();
            async move { acquire(&app, in_flight(&app), 64, 1).await.map(drop) }
        });
        while app.lock().waiting() != 1 {
            tokio::task::yield_now().await;
        }
        let refused = acquire(&app, in_flight(&app), 64, 1).await.map(drop);
        assert!(matches!(refused, Err(AdmitError::Overloaded { waiting: 1, .. })), "{refused:?}");
        // wake_timeout (1 s) later the queued one gives up, with a reason.
        let waited = queued.await.unwrap();
        assert!(matches!(waited, Err(AdmitError::Busy { limit: 1, .. })), "{waited:?}");
        drop(held);
    }

    #[tokio::test]
    async fn the_app_s_own_cap_wins_over_the_default() {
        let own = app(Some(3));
        let held: Vec<_> = futures_util::future::join_all((0..3).map(|_| acquire(&own, in_flight(&own), 1, 0))).await;
        assert!(held.iter().all(Result::is_ok));
        let default = app(None);
        let _one = acquire(&default, in_flight(&default), 1, 0).await.unwrap();
        let refused = acquire(&default, in_flight(&default), 1, 0).await.map(drop);
        assert!(matches!(refused, Err(AdmitError::Overloaded { .. })), "{refused:?}");
    }
}
