//! The inputs of each phase.

use crate::app::App;
use crate::request::Request;
use crate::time::Timestamp;

/// Input of [`crate::Policy::on_request`]: the time, the app the request is
/// routed to, and the request. Build one in a test with [`RequestContext::new`].
///
/// ```
/// use paastis_sdk::testing::{AppBuilder, RequestBuilder};
/// use paastis_sdk::{RequestContext, Timestamp};
///
/// let ctx = RequestContext::new(Timestamp::from_secs(60), AppBuilder::new("blog").build(), RequestBuilder::get("/").build());
/// assert_eq!((ctx.app().name(), ctx.request().path()), ("blog", "/"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RequestContext {
    now: Timestamp,
    app: App,
    request: Request,
}

impl RequestContext {
    /// What the gateway passes: for tests, and for simulating calls.
    ///
    /// ```
    /// use paastis_sdk::testing::{AppBuilder, RequestBuilder};
    /// use paastis_sdk::{RequestContext, Timestamp};
    ///
    /// let ctx = RequestContext::new(Timestamp::from_secs(60), AppBuilder::new("blog").build(), RequestBuilder::get("/").build());
    /// assert_eq!(ctx.now(), Timestamp::from_secs(60));
    /// ```
    pub fn new(now: Timestamp, app: App, request: Request) -> Self {
        RequestContext { now, app, request }
    }

    /// The host's current time; use it instead of a clock, so the policy
    /// behaves the same in `paastis simulate` as in the gateway.
    ///
    /// ```
    /// # use paastis_sdk::testing::{AppBuilder, RequestBuilder};
    /// # use paastis_sdk::{RequestContext, Timestamp};
    /// let ctx = RequestContext::new(Timestamp::from_secs(60), AppBuilder::new("a").build(), RequestBuilder::get("/").build());
    /// assert_eq!(ctx.now().as_millis(), 60_000);
    /// ```
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The app the request is routed to.
    ///
    /// ```
    /// # use paastis_sdk::testing::{AppBuilder, RequestBuilder};
    /// # use paastis_sdk::{RequestContext, Timestamp};
    /// let ctx = RequestContext::new(Timestamp::from_secs(60), AppBuilder::new("a").build(), RequestBuilder::get("/").build());
    /// assert!(ctx.app().is_asleep());
    /// ```
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The request itself.
    ///
    /// ```
    /// # use paastis_sdk::testing::{AppBuilder, RequestBuilder};
    /// # use paastis_sdk::{RequestContext, Timestamp};
    /// let ctx = RequestContext::new(Timestamp::from_secs(60), AppBuilder::new("a").build(), RequestBuilder::post("/form").build());
    /// assert_eq!(ctx.request().method(), "POST");
    /// ```
    pub fn request(&self) -> &Request {
        &self.request
    }
}

/// Input of [`crate::Policy::on_tick`]: the time and every app the policy
/// serves.
///
/// ```
/// use paastis_sdk::testing::AppBuilder;
/// use paastis_sdk::{TickContext, Timestamp};
///
/// let ctx = TickContext::new(Timestamp::from_secs(60), vec![AppBuilder::new("a").build(), AppBuilder::new("b").build()]);
/// assert_eq!(ctx.apps().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TickContext {
    now: Timestamp,
    apps: Vec<App>,
}

impl TickContext {
    /// What the gateway passes: for tests, and for simulating calls.
    ///
    /// ```
    /// let ctx = paastis_sdk::TickContext::new(paastis_sdk::Timestamp::from_secs(1), Vec::new());
    /// assert!(ctx.apps().is_empty());
    /// ```
    pub fn new(now: Timestamp, apps: Vec<App>) -> Self {
        TickContext { now, apps }
    }

    /// The host's current time; use it instead of a clock.
    ///
    /// ```
    /// let ctx = paastis_sdk::TickContext::new(paastis_sdk::Timestamp::from_secs(1), Vec::new());
    /// assert_eq!(ctx.now().as_millis(), 1_000);
    /// ```
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The apps this policy serves (the gateway groups apps by policy).
    ///
    /// ```
    /// # use paastis_sdk::{testing::AppBuilder, TickContext, Timestamp};
    /// let ctx = TickContext::new(Timestamp::from_secs(1), vec![AppBuilder::new("a").build()]);
    /// assert_eq!(ctx.apps()[0].name(), "a");
    /// ```
    pub fn apps(&self) -> &[App] {
        &self.apps
    }
}
