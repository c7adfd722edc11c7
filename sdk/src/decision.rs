//! What a policy answers.

use std::time::Duration;

/// What to do with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Proxy the request, waking the app if needed, and count it as activity.
    Forward,
    /// Proxy it without counting it as activity, and without waking a
    /// sleeping app for it (health checks, uptime monitors, bots).
    ForwardPassive,
    /// Answer it without contacting the app.
    Refuse(Refusal),
}

impl Decision {
    /// Refuses with `status` (the host uses 503 for anything outside
    /// 400..=599) and `reason` as the body.
    pub fn refuse(status: u16, reason: impl Into<String>) -> Self {
        Decision::Refuse(Refusal { status, reason: reason.into(), retry_after_secs: None })
    }

    /// Adds a `Retry-After` to a refusal; no effect on other decisions.
    pub fn retry_after(mut self, after: Duration) -> Self {
        if let Decision::Refuse(refusal) = &mut self {
            refusal.retry_after_secs = Some(u32::try_from(after.as_secs()).unwrap_or(u32::MAX));
        }
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
    pub retry_after_secs: Option<u32>,
}

/// The actions for one tick. Names the policy does not govern are ignored by
/// the host, and an app with requests in flight is never put to sleep, so a
/// policy may be approximate without being dangerous.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickPlan {
    pub sleep: Vec<String>,
    pub wake: Vec<String>,
}

impl TickPlan {
    pub fn new() -> Self {
        TickPlan::default()
    }

    pub fn put_to_sleep(&mut self, app: impl Into<String>) -> &mut Self {
        self.sleep.push(app.into());
        self
    }

    pub fn wake_up(&mut self, app: impl Into<String>) -> &mut Self {
        self.wake.push(app.into());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.sleep.is_empty() && self.wake.is_empty()
    }
}
