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
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

enum Write {
    Record(String, ProcessRecord),
    Forget(String),
    /// Answered once every write queued before it is durable.
    Settled(oneshot::Sender<()>),
}

/// How long a shutdown waits for the last records to be forgotten.
const SETTLE_LIMIT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub(super) struct Ledger {
    writes: mpsc::UnboundedSender<Write>,
    /// This gateway: while it runs, its apps are not a crash's leftovers.
    gateway: ProcessId,
}

impl Ledger {
    pub(super) fn new(store: Store) -> Ledger {
        let (writes, mut queue) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut batch = Vec::new();
            // What queued up meanwhile (a burst of wakes) is written with
            // one flush.
            while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
                apply(&store, std::mem::take(&mut batch)).await;
            }
        });
        let pid = std::process::id() as i32;
        let gateway = ProcessId { pid, start_time: crate::backend::procfs::start_time(pid).unwrap_or(0) };
        Ledger { writes, gateway }
    }

    /// One key per app and gateway: two gateways on one host sharing a
    /// Redis store (a rolling restart) never overwrite or forget each
    /// other's records.
    fn key(&self, app: &str) -> String {
        format!("{app}@{}", self.gateway.pid)
    }

    /// Records `app`'s processes (durably, soon after).
    pub(super) fn record(&self, app: &str, supervisor: ProcessId, group: ProcessId) {
        let Some(boot_id) = crate::backend::procfs::boot_id() else {
            tracing::warn!(app, "the boot id cannot be read: this app's processes are not recorded for the sweep");
            return;
        };
        let record = ProcessRecord {
            app: app.to_owned(),
            boot_id: boot_id.to_owned(),
            gateway: self.gateway,
            supervisor,
            group,
        };
        let _ = self.writes.send(Write::Record(self.key(app), record));
    }

    /// Forgets `app`'s record: its processes are all gone.
    pub(super) fn forget(&self, app: &str) {
        let _ = self.writes.send(Write::Forget(self.key(app)));
    }

    /// Waits (bounded) until every write queued so far is durable: at
    /// shutdown, so that a clean stop leaves no record behind.
    pub(super) async fn settle(&self) {
        let (tx, rx) = oneshot::channel();
        if self.writes.send(Write::Settled(tx)).is_ok() && tokio::time::timeout(SETTLE_LIMIT, rx).await.is_err() {
            tracing::warn!(limit = ?SETTLE_LIMIT, "the apps' process records were not all forgotten at shutdown");
        }
    }
}

/// The most writes one flush covers.
const MAX_BATCH: usize = 256;

/// A failure is logged and the app runs on: a record missing means only
/// that a crash's leftovers are not swept, a stale one that the sweep finds
/// nothing of it (every pid's start time is checked).
async fn apply(store: &Store, batch: Vec<Write>) {
    let mut recorded = Vec::new();
    let mut settled = Vec::new();
    for write in batch {
        match write {
            Write::Record(key, record) => match store.save_process(&key, &record).await {
                Ok(()) => recorded.push(record.app),
                Err(e) => {
                    tracing::warn!(app = record.app, error = %e, "cannot record the app's processes for the sweep")
                }
            },
            Write::Forget(key) => {
                if let Err(e) = store.forget_process(&key).await {
                    tracing::warn!(key, error = %e, "cannot forget an app's process record");
                }
            }
            Write::Settled(tx) => settled.push(tx),
        }
    }
    match store.flush().await {
        Ok(()) => recorded.iter().for_each(|app| tracing::debug!(app, "app processes recorded")),
        Err(e) => tracing::warn!(error = %e, "cannot flush the apps' process records"),
    }
    for tx in settled {
        let _ = tx.send(());
    }
}
