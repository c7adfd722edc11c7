//! A hostile test policy: both hooks allocate (and touch) memory until the
//! sandbox's memory limit kills the call.

use paastis_sdk::{Decision, Policy, PolicyError, RequestContext, TickContext, TickPlan};

pub struct MemoryBomb;

const MIB: usize = 1 << 20;

/// Never returns: keeps every MiB it allocates. Each chunk is written to,
/// but only once: touching every page costs a page fault each, which makes
/// the CPU deadline (5 ms by default) end the call before the memory limit
/// does; the sandbox counts memory as it grows, touched or not.
pub fn allocate_forever() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = Vec::with_capacity(MIB);
        chunk.push(1u8);
        hoard.push(std::hint::black_box(chunk));
    }
}

impl Policy for MemoryBomb {
    fn on_request(_ctx: &RequestContext) -> Result<Decision, PolicyError> {
        allocate_forever()
    }

    fn on_tick(_ctx: &TickContext) -> Result<TickPlan, PolicyError> {
        allocate_forever()
    }
}

paastis_sdk::export_policy!(MemoryBomb);
