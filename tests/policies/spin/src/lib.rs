//! A hostile test policy: both hooks loop forever. Only the host's CPU
//! deadline ends a call, so the gateway must refuse to load it (the load
//! smoke-calls `on-tick`) and, were it loaded, fall back on every call.

use paastis_sdk::{Decision, Policy, PolicyError, RequestContext, TickContext, TickPlan};

pub struct Spin;

/// Never returns. `black_box` keeps the optimiser from proving the loop
/// does nothing.
pub fn spin_forever() -> ! {
    let mut n = 0u64;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

impl Policy for Spin {
    fn on_request(_ctx: &RequestContext) -> Result<Decision, PolicyError> {
        spin_forever()
    }

    fn on_tick(_ctx: &TickContext) -> Result<TickPlan, PolicyError> {
        spin_forever()
    }
}

paastis_sdk::export_policy!(Spin);
