//! What the gateway tells its operators: a stream of events (wakes, sleeps,
//! failures, policy changes) and Prometheus metrics. The request and tick
//! paths record into it; the recorder persists the events; the admin API
//! reads from both.

pub mod events;
mod log_writer;
pub mod metrics;
pub mod recorder;

pub use events::{Event, EventBus, EventKind, WakeCause};
pub use log_writer::{LogGuard, start as log_writer};
pub use metrics::Metrics;
pub use recorder::{RecordedProgress, Recorder};

use std::sync::Arc;

/// Cheap to clone; every part of the gateway that records holds one.
#[derive(Clone, Default)]
pub struct Telemetry {
    pub events: EventBus,
    pub metrics: Arc<Metrics>,
}
