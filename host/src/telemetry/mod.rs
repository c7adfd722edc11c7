//! What the gateway tells its operators: a stream of events (wakes, sleeps,
//! failures, policy changes) and Prometheus metrics. The request and tick
//! paths record into it; the store's recorder persists the events; the admin API
//! reads from both. The log's writer to stderr lives here too.

pub(crate) mod access_log;
pub(crate) mod events;
mod log_writer;
pub(crate) mod metrics;
mod striped_histogram;

pub(crate) use events::EventBus;
pub use events::{Event, EventKind, WakeCause};
pub(crate) use log_writer::{LogGuard, start as log_writer};
pub(crate) use metrics::Metrics;

use std::sync::Arc;

/// Cheap to clone; every part of the gateway that records holds one.
#[derive(Clone, Default)]
pub(crate) struct Telemetry {
    pub events: EventBus,
    pub metrics: Arc<Metrics>,
}
