//! The apps whose record the next flush writes. An app is pushed once, when
//! its `dirty` flag goes from clear to set (`App::set_dirty`), and the
//! flusher takes the list whole: a flush costs what changed, not the number
//! of apps. (Scanning every app's flag instead cost 10,000 apps some 0.3 ms
//! per flush, and a wake triggers several: the scan was more than half of
//! the gateway's own CPU in a run of cold starts.)

use crate::config::AppConfig;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub(crate) struct DirtyApps {
    apps: Mutex<Vec<Arc<AppConfig>>>,
}

impl DirtyApps {
    fn list(&self) -> std::sync::MutexGuard<'_, Vec<Arc<AppConfig>>> {
        // A push or a take cannot be left half done by a panic.
        self.apps.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called once per clear-to-set of an app's flag, so at most once per
    /// flush per app, never on every request.
    pub(super) fn push(&self, app: &Arc<AppConfig>) {
        self.list().push(app.clone());
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.list().len()
    }

    /// The apps pushed since the last take.
    pub(super) fn take(&self) -> Vec<Arc<AppConfig>> {
        std::mem::take(&mut *self.list())
    }
}
