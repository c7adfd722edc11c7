//! Stripes: per-thread places for data that every worker writes on every
//! request (a histogram's counts, idle upstream connections), so that two
//! workers do not take the same cache lines from each other's cores all the
//! time, as nginx's workers share nothing.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Stripes per striped structure: threads take them in turn as they first
/// use one, so the runtime's workers (the first, and few) each have one of
/// their own.
pub(crate) const STRIPES: usize = 16;

/// This thread's stripe, taken on its first use.
pub(crate) fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    // A thread being torn down (a value dropped in its thread-locals) shares
    // the first stripe.
    STRIPE.try_with(|stripe| *stripe).unwrap_or(0)
}
