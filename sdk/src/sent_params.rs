//! The param sets the host sent this instance through `requesting` or
//! `requesting-text`, kept in the instance's memory by number, so that a
//! request call carries only the number of a set it was sent before. The
//! host keeps the same record for each instance, and a fresh instance starts
//! with neither, so the two never disagree (a reset memory is a fresh
//! instance).

use std::cell::RefCell;

use crate::params::Params;

/// Numbers the host may use, as `wit/policy.wit` says.
const MAX_SETS: usize = 16;

thread_local! {
    // A component instance runs one call at a time on one thread: this is
    // the instance's own table.
    static SETS: RefCell<Vec<Option<Params>>> = const { RefCell::new(Vec::new()) };
}

/// The app's params as `requesting` and `requesting-text` send them (each
/// declares its own `params-ref`, of this shape).
pub(crate) enum Sent {
    /// The set last sent under this number.
    Number(u32),
    /// A set to keep under its number, and use.
    New(u32, Vec<crate::glue::WitParam>),
}

/// The set `params` stands for, keeping a `new` one under its number.
pub(crate) fn resolve(
    params: Sent,
    convert: impl FnOnce(Vec<crate::glue::WitParam>) -> Params,
) -> Result<Params, String> {
    SETS.with_borrow_mut(|sets| match params {
        Sent::Number(number) => sets
            .get(number as usize)
            .cloned()
            .flatten()
            .ok_or_else(|| format!("the host referred to params set {number}, which this instance was never sent")),
        Sent::New(number, params) => {
            let number = number as usize;
            if number >= MAX_SETS {
                return Err(format!("the host sent params set {number}; numbers stop at {}", MAX_SETS - 1));
            }
            if sets.len() <= number {
                sets.resize(number + 1, None);
            }
            let params = convert(params);
            sets[number] = Some(params.clone());
            Ok(params)
        }
    })
}
