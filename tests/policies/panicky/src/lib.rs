//! A hostile test policy: both hooks panic, with a message the host should
//! pass on in its error.

use paastis_sdk::{Decision, Policy, PolicyError, RequestContext, TickContext, TickPlan};

pub const REQUEST_PANIC: &str = "panicky policy gave up on a request";
pub const TICK_PANIC: &str = "panicky policy gave up on a tick";

pub struct Panicky;

impl Policy for Panicky {
    fn on_request(_ctx: &RequestContext) -> Result<Decision, PolicyError> {
        panic!("{REQUEST_PANIC}")
    }

    fn on_tick(_ctx: &TickContext) -> Result<TickPlan, PolicyError> {
        panic!("{TICK_PANIC}")
    }
}

paastis_sdk::export_policy!(Panicky);
