//! The inputs of each phase.

use crate::app::App;
use crate::request::Request;
use crate::time::Timestamp;

/// Input of [`crate::Policy::on_request`].
#[derive(Debug, Clone, PartialEq)]
pub struct RequestContext {
    now: Timestamp,
    app: App,
    request: Request,
}

impl RequestContext {
    pub fn new(now: Timestamp, app: App, request: Request) -> Self {
        RequestContext { now, app, request }
    }

    /// The host's current time; use it instead of a clock.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The app the request is routed to.
    pub fn app(&self) -> &App {
        &self.app
    }

    pub fn request(&self) -> &Request {
        &self.request
    }
}

/// Input of [`crate::Policy::on_tick`].
#[derive(Debug, Clone, PartialEq)]
pub struct TickContext {
    now: Timestamp,
    apps: Vec<App>,
}

impl TickContext {
    pub fn new(now: Timestamp, apps: Vec<App>) -> Self {
        TickContext { now, apps }
    }

    /// The host's current time; use it instead of a clock.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The apps this policy governs.
    pub fn apps(&self) -> &[App] {
        &self.apps
    }
}
