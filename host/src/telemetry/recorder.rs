//! Writes every event on the bus to the event history in the store. Each
//! batch (the events that arrived together) is on disk before the next is
//! read, so a crash loses at most the batch in flight; at shutdown the
//! recorder drains what is left before the final flush.

use super::{Event, EventBus};
use crate::store::EventLog;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

pub struct Recorder {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Recorder {
    /// Subscribes now, so that nothing emitted after this call is missed.
    pub fn spawn(bus: &EventBus, log: EventLog) -> Recorder {
        let events = bus.subscribe();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(record(events, log, stopped));
        Recorder { stop, task }
    }

    /// Records the events already emitted, then returns.
    pub async fn finish(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the event recorder failed");
        }
    }
}

async fn record(mut events: broadcast::Receiver<Event>, log: EventLog, mut stop: oneshot::Receiver<()>) {
    loop {
        let first = tokio::select! {
            received = events.recv() => received,
            _ = &mut stop => {
                let (batch, _) = drain(&mut events, Vec::new());
                write(&log, batch).await;
                return;
            }
        };
        match first {
            Ok(event) => {
                let (batch, closed) = drain(&mut events, vec![event]);
                write(&log, batch).await;
                if closed {
                    return;
                }
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the event recorder fell behind; some events were not recorded");
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Everything already queued behind `batch`; true when the bus is gone.
fn drain(events: &mut broadcast::Receiver<Event>, mut batch: Vec<Event>) -> (Vec<Event>, bool) {
    loop {
        match events.try_recv() {
            Ok(event) => batch.push(event),
            Err(TryRecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the event recorder fell behind; some events were not recorded");
            }
            Err(TryRecvError::Empty) => return (batch, false),
            Err(TryRecvError::Closed) => return (batch, true),
        }
    }
}

async fn write(log: &EventLog, batch: Vec<Event>) {
    if batch.is_empty() {
        return;
    }
    let written = match log.append(&batch) {
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
        let log = store.events(100).unwrap();
        let bus = EventBus::default();
        let recorder = Recorder::spawn(&bus, log.clone());
        for i in 0..50 {
            bus.emit(Some("a"), EventKind::Slept { reason: format!("r{i}") });
        }
        recorder.finish().await;
        let stored = log.recent(&EventQuery { limit: 100, ..Default::default() }).unwrap();
        assert_eq!(stored.len(), 50);
        assert_eq!(stored[0].event.kind, EventKind::Slept { reason: "r49".into() });
    }
}
