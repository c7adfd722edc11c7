//! The request phase: refuse outside opening hours in `refuse` mode,
//! otherwise forward like `inactivity`.

use std::time::Duration;

use paastis_sdk::{Decision, PolicyError, RequestContext, Timestamp};

use crate::schedule::{Schedule, Status};
use crate::settings::OffHours;

pub fn decide(ctx: &RequestContext) -> Result<Decision, PolicyError> {
    let params = ctx.app().params();
    // The schedule is only needed to refuse, and looking a zone up is the
    // costliest part of a call, so `sleep` mode skips it.
    if OffHours::from_params(params)? == OffHours::Refuse {
        let schedule = Schedule::from_params(params)?;
        if let Status::Closed { until, .. } = schedule.status(ctx.now()) {
            return Ok(refusal(&schedule, ctx.now(), until));
        }
    }
    Ok(paastis_sdk::passive::decision(ctx)?.unwrap_or(Decision::Forward))
}

/// "closed until Mon 08:00 (Europe/Paris)", with Retry-After rounded up so
/// that a client retrying on time finds the app open.
fn refusal(schedule: &Schedule, now: Timestamp, opens: Option<Timestamp>) -> Decision {
    let zone = schedule.zone();
    let Some(opens) = opens else {
        return Decision::refuse(503, format!("closed ({})", zone.name()));
    };
    let local = zone.local(opens);
    let reason = format!("closed until {} {} ({})", local.weekday(), local.time_of_day(), zone.name());
    let wait = opens.saturating_since(now);
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Decision::refuse(503, reason).retry_after(Duration::from_secs(secs))
}
