//! Writes every event on the bus to the event history in the store. Each
//! batch (the events that arrived together) is on disk before the next is
//! read, so a crash loses at most the batch in flight; at shutdown the
//! recorder drains what is left before the final flush.

use super::EventLog;
use crate::telemetry::{Event, EventBus};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, oneshot, watch};
use tokio::task::JoinHandle;

pub(crate) struct Recorder {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    progress: watch::Receiver<u64>,
}

/// How far the recorder got, in the bus's count of emitted events: readers
/// of the history wait on it to see their own writes.
#[derive(Clone)]
pub(crate) struct RecordedProgress {
    progress: watch::Receiver<u64>,
}

impl RecordedProgress {
    /// Waits until every event emitted before `target` is in the store, at
    /// most `limit`; false when the limit passed first.
    pub(crate) async fn caught_up(&self, target: u64, limit: std::time::Duration) -> bool {
        let mut progress = self.progress.clone();
        matches!(tokio::time::timeout(limit, progress.wait_for(|n| *n >= target)).await, Ok(Ok(_)))
    }
}

impl Recorder {
    /// Subscribes now, so that nothing emitted after this call is missed.
    pub(crate) fn spawn(bus: &EventBus, log: EventLog) -> Recorder {
        let events = bus.subscribe();
        // Subscribed first: whatever was emitted before is not ours to wait on.
        let (progress_tx, progress) = watch::channel(bus.emitted());
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(record(events, log, stopped, progress_tx));
        Recorder { stop, task, progress }
    }

    pub(crate) fn progress(&self) -> RecordedProgress {
        RecordedProgress { progress: self.progress.clone() }
    }

    /// Records the events already emitted, then returns.
    pub(crate) async fn finish(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the event recorder failed");
        }
    }
}

async fn record(
    mut events: broadcast::Receiver<Event>,
    log: EventLog,
    mut stop: oneshot::Receiver<()>,
    progress: watch::Sender<u64>,
) {
    // Events seen (written or missed), for `progress`.
    let advance = |n: u64| progress.send_modify(|seen| *seen += n);
    loop {
        let first = tokio::select! {
            received = events.recv() => received,
            _ = &mut stop => {
                let (batch, missed, _) = drain(&mut events, Vec::new());
                let seen = batch.len() as u64 + missed;
                write(&log, batch).await;
                advance(seen);
                return;
            }
        };
        match first {
            Ok(event) => {
                let (batch, missed, closed) = drain(&mut events, vec![event]);
                let seen = batch.len() as u64 + missed;
                write(&log, batch).await;
                advance(seen);
                if closed {
                    return;
                }
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the event recorder fell behind; some events were not recorded");
                advance(missed);
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Everything already queued behind `batch`, with the count of events
/// missed meanwhile; true when the bus is gone.
fn drain(events: &mut broadcast::Receiver<Event>, mut batch: Vec<Event>) -> (Vec<Event>, u64, bool) {
    let mut missed_total = 0;
    loop {
        match events.try_recv() {
            Ok(event) => batch.push(event),
            Err(TryRecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the event recorder fell behind; some events were not recorded");
                missed_total += missed;
            }
            Err(TryRecvError::Empty) => return (batch, missed_total, false),
            Err(TryRecvError::Closed) => return (batch, missed_total, true),
        }
    }
}

async fn write(log: &EventLog, batch: Vec<Event>) {
    if batch.is_empty() {
        return;
    }
    let written = match log.append(&batch).await {
        Ok(()) => log.flush().await,
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        tracing::error!(error = %e, events = batch.len(), "cannot record events");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventQuery, Store};
    use crate::telemetry::EventKind;

    #[tokio::test]
    async fn finish_records_everything_emitted_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let log = store.events(100).await.unwrap();
        let bus = EventBus::default();
        let recorder = Recorder::spawn(&bus, log.clone());
        let progress = recorder.progress();
        for i in 0..50 {
            bus.emit(Some("a"), EventKind::Slept { reason: format!("r{i}") });
        }
        assert!(progress.caught_up(bus.emitted(), std::time::Duration::from_secs(10)).await);
        assert_eq!(log.recent(&EventQuery { limit: 100, ..Default::default() }).await.unwrap().len(), 50);
        bus.emit(Some("a"), EventKind::Slept { reason: "last".into() });
        recorder.finish().await;
        let stored = log.recent(&EventQuery { limit: 100, ..Default::default() }).await.unwrap();
        assert_eq!(stored.len(), 51);
        assert_eq!(stored[0].event.kind, EventKind::Slept { reason: "last".into() });
    }
}
