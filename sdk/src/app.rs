//! What a policy knows about one app.

use std::time::Duration;

use crate::params::Params;
use crate::time::Timestamp;

/// Where an app is in its life cycle, as the gateway sees it.
///
/// ```
/// use paastis_sdk::AppState;
///
/// assert_eq!(AppState::Asleep.as_str(), "asleep");
/// assert_ne!(AppState::Starting, AppState::Awake);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppState {
    /// Not running: the gateway wakes it before proxying.
    Asleep,
    /// Being started; requests wait for it.
    Starting,
    /// Running and serving.
    Awake,
    /// Being put to sleep; requests wait, then wake it again.
    Stopping,
}

impl AppState {
    /// The state as the gateway writes it in logs and in its API:
    /// `"asleep"`, `"starting"`, `"awake"` or `"stopping"`.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::AppState::Stopping.as_str(), "stopping");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            AppState::Asleep => "asleep",
            AppState::Starting => "starting",
            AppState::Awake => "awake",
            AppState::Stopping => "stopping",
        }
    }
}

/// One app as the gateway sees it at the time of the call. Build one for a
/// test with [`crate::testing::AppBuilder`].
///
/// ```
/// use paastis_sdk::testing::AppBuilder;
/// use paastis_sdk::{AppState, Timestamp};
/// use std::time::Duration;
///
/// let now = Timestamp::from_secs(10_000);
/// let app = AppBuilder::new("shop").awake_since(now - Duration::from_secs(3600)).in_flight(2).build();
/// assert_eq!((app.name(), app.state(), app.in_flight()), ("shop", AppState::Awake, 2));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub(crate) name: String,
    pub(crate) state: AppState,
    pub(crate) state_since: Timestamp,
    pub(crate) last_activity: Option<Timestamp>,
    pub(crate) in_flight: u32,
    pub(crate) params: Params,
}

impl App {
    /// The app's name: the host label it is served under, and what a
    /// [`TickPlan`](crate::TickPlan) names it by.
    ///
    /// ```
    /// let app = paastis_sdk::testing::AppBuilder::new("blog").build();
    /// assert_eq!(app.name(), "blog");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its state at the time of the call.
    ///
    /// ```
    /// let app = paastis_sdk::testing::AppBuilder::new("blog").build();
    /// assert_eq!(app.state(), paastis_sdk::AppState::Asleep);
    /// ```
    pub fn state(&self) -> AppState {
        self.state
    }

    /// `state() == AppState::Awake`.
    ///
    /// ```
    /// use paastis_sdk::{testing::AppBuilder, Timestamp};
    /// assert!(AppBuilder::new("blog").awake_since(Timestamp::from_secs(5)).build().is_awake());
    /// ```
    pub fn is_awake(&self) -> bool {
        self.state == AppState::Awake
    }

    /// `state() == AppState::Asleep`.
    ///
    /// ```
    /// assert!(paastis_sdk::testing::AppBuilder::new("blog").build().is_asleep());
    /// ```
    pub fn is_asleep(&self) -> bool {
        self.state == AppState::Asleep
    }

    /// When the app entered its current state.
    ///
    /// ```
    /// use paastis_sdk::{testing::AppBuilder, Timestamp};
    /// let app = AppBuilder::new("blog").awake_since(Timestamp::from_secs(5)).build();
    /// assert_eq!(app.state_since(), Timestamp::from_secs(5));
    /// ```
    pub fn state_since(&self) -> Timestamp {
        self.state_since
    }

    /// The last request counted as activity, if one was ever seen (passive
    /// requests, answers and refusals do not count).
    ///
    /// ```
    /// use paastis_sdk::{testing::AppBuilder, Timestamp};
    /// assert_eq!(AppBuilder::new("blog").build().last_activity(), None);
    /// let used = AppBuilder::new("blog").last_activity(Timestamp::from_secs(9)).build();
    /// assert_eq!(used.last_activity(), Some(Timestamp::from_secs(9)));
    /// ```
    pub fn last_activity(&self) -> Option<Timestamp> {
        self.last_activity
    }

    /// Requests (and open streams, such as WebSockets) being proxied to the
    /// app right now. The gateway never stops an app with one in flight.
    ///
    /// ```
    /// let app = paastis_sdk::testing::AppBuilder::new("blog").in_flight(1).build();
    /// assert_eq!(app.in_flight(), 1);
    /// ```
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// The app's params, over the policy's defaults (`[apps.params]` over
    /// `[policy.params]` in the gateway config).
    ///
    /// ```
    /// let app = paastis_sdk::testing::AppBuilder::new("blog").param("idle_timeout", "5m").build();
    /// assert_eq!(app.params().text("idle_timeout"), Ok("5m"));
    /// ```
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// How long the app has gone without counted activity: since its last
    /// counted request, or, if it never had one, since it entered its state
    /// (an app woken and never used is idle from the moment it woke).
    ///
    /// ```
    /// use paastis_sdk::{testing::AppBuilder, Timestamp};
    /// use std::time::Duration;
    ///
    /// let now = Timestamp::from_secs(1_000);
    /// let app = AppBuilder::new("blog").awake_since(Timestamp::from_secs(400)).build();
    /// assert_eq!(app.idle_for(now), Duration::from_secs(600));
    /// ```
    pub fn idle_for(&self, now: Timestamp) -> Duration {
        now.saturating_since(self.last_activity.unwrap_or(self.state_since))
    }
}
