//! A request or stream being proxied to an app. While one exists the app is
//! never put to sleep; dropping it (when the response body ends, or the client
//! goes away) releases the app.

use super::app::App;
use crate::clock::now_ms;
use std::sync::Arc;
use tokio::sync::OwnedSemaphorePermit;

pub(crate) struct InFlight {
    app: Arc<App>,
    counted: bool,
    pub upstream: http::Uri,
    /// True when this request waited for the app to wake.
    pub cold_start: bool,
    /// One of the app's upstream connection slots, once the request has it.
    slot: Option<OwnedSemaphorePermit>,
}

impl InFlight {
    pub(super) fn new(app: Arc<App>, counted: bool, upstream: http::Uri, cold_start: bool) -> InFlight {
        InFlight { app, counted, upstream, cold_start, slot: None }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // A long request counts as activity until its end, so the idle clock
        // starts when the response finishes, not when it began.
        if self.counted {
            self.app.touch(now_ms());
        }
        self.app.lock().request_done();
    }
}

/// One request waiting for its app to wake; counted so that a waking app
/// cannot pile up more waiters than `edge.max_waiting_per_app`.
pub(super) struct WaitSlot {
    app: Arc<App>,
}

impl WaitSlot {
    /// The guard of a slot the app's machine has just counted (the caller
    /// holds its lock): released when dropped.
    pub(super) fn taken(app: &Arc<App>) -> WaitSlot {
        WaitSlot { app: app.clone() }
    }
}

impl Drop for WaitSlot {
    fn drop(&mut self) {
        self.app.lock().release_wait_slot();
    }
}

impl InFlight {
    /// Keeps an upstream slot until the request ends.
    pub(super) fn hold(&mut self, slot: OwnedSemaphorePermit) {
        self.slot = Some(slot);
    }

    pub(crate) fn app_name(&self) -> &str {
        self.app.name()
    }

    /// Counts as activity now (a long-lived stream or tunnel still open).
    pub(crate) fn touch(&self) {
        if self.counted {
            self.app.touch(now_ms());
        }
    }
}
