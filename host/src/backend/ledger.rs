//! The store's record of each running process app: its supervisor and its
//! process group, with their start times and the boot id, written when the
//! app starts and forgotten once its supervisor has exited. A crash (the
//! gateway and a supervisor killed together) leaves the record behind, and
//! the next start sweeps what it names (`sweep.rs`).
//!
//! The writes go through one task, in order, off the wake's path: the
//! record is a safety net for a crash, never a reason to delay an app (a
//! disk sync per wake, or a Redis that does not answer). In order, because
//! the record of an app's next run must never be the one forgotten.

use crate::store::{ProcessId, ProcessRecord, Store};
use tokio::sync::mpsc;

enum Write {
    Record(String, ProcessRecord),
    Forget(String),
}

#[derive(Clone)]
pub struct Ledger {
    writes: mpsc::UnboundedSender<Write>,
}

impl Ledger {
    pub fn new(store: Store) -> Ledger {
        let (writes, mut queue) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(write) = queue.recv().await {
                apply(&store, write).await;
            }
        });
        Ledger { writes }
    }

    /// Records `app`'s processes (durably, soon after).
    pub fn record(&self, app: &str, supervisor: ProcessId, group: ProcessId) {
        let Some(boot_id) = crate::backend::procfs::boot_id() else {
            tracing::warn!(app, "the boot id cannot be read: this app's processes are not recorded for the sweep");
            return;
        };
        let record = ProcessRecord { boot_id: boot_id.to_owned(), supervisor, group };
        let _ = self.writes.send(Write::Record(app.to_owned(), record));
    }

    /// Forgets `app`'s record: its processes are all gone.
    pub fn forget(&self, app: &str) {
        let _ = self.writes.send(Write::Forget(app.to_owned()));
    }
}

/// A failure is logged and the app runs on: a record missing means only
/// that a crash's leftovers are not swept, a stale one that the sweep finds
/// nothing of it.
async fn apply(store: &Store, write: Write) {
    match write {
        Write::Record(app, record) => match store.save_process(&app, &record).await {
            Ok(()) => tracing::debug!(app, "app processes recorded"),
            Err(e) => tracing::warn!(app, error = %e, "cannot record the app's processes for the sweep"),
        },
        Write::Forget(app) => {
            if let Err(e) = store.forget_process(&app).await {
                tracing::warn!(app, error = %e, "cannot forget the app's process record");
            }
        }
    }
}
