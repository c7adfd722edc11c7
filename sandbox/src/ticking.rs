//! The optional `paastis:policy/ticking` export: `on-tick` with the apps'
//! params shared. Most apps of a policy have equal params (the policy's
//! defaults), and copying them into the guest for every app was most of a
//! tick's cost; here each distinct set is copied once per call. Found at
//! load, and called instead of `handler.on-tick` when a policy has it;
//! policies built before it load and tick as they always did.

use std::sync::Arc;
use wasmtime::component::{Instance, InstancePre};
use wasmtime::{AsContextMut, Store};

use crate::bindings::optional::exports::paastis::policy::ticking::{self as exported, GuestIndices};
use crate::bindings::paastis::policy::types as wit;
use crate::call_state::CallState;
use crate::contract::{AppView, Params};
use crate::convert;

/// The export's functions in one instance.
pub(crate) type Guest = exported::Guest;
/// An app with its params as an index into the call's sets.
pub(crate) type AppEntry = exported::AppEntry;

/// Where the export's function is, when the component has it.
#[derive(Clone)]
pub(crate) struct Ticking {
    indices: GuestIndices,
}

impl Ticking {
    /// `None` for a component without the export: it predates it.
    pub(crate) fn find(pre: &InstancePre<CallState>) -> Option<Ticking> {
        GuestIndices::new(pre).ok().map(|indices| Ticking { indices })
    }

    /// Its `on-tick`, with the types checked against the host's.
    pub(crate) fn load(&self, store: &mut Store<CallState>, instance: &Instance) -> wasmtime::Result<Guest> {
        self.indices.load(store.as_context_mut(), instance)
    }
}

/// Distinct param sets looked for among the most recent ones: apps with the
/// policy's defaults, or a few variants of them, come out as one set each;
/// a config where every app differs costs a bounded search per app and
/// simply repeats some sets.
const LOOK_BACK: usize = 8;

/// The apps as `ticking.on-tick` takes them: each distinct param set once
/// (apps with equal params share it) and every app pointing at its set.
pub(crate) fn shared(apps: &[AppView]) -> (Vec<Vec<wit::Param>>, Vec<AppEntry>) {
    let mut distinct: Vec<&Arc<Params>> = Vec::new();
    let mut entries = Vec::with_capacity(apps.len());
    for app in apps {
        let recent = distinct.len().saturating_sub(LOOK_BACK);
        let index =
            match distinct[recent..].iter().rposition(|set| Arc::ptr_eq(set, &app.params) || *set == &app.params) {
                Some(i) => recent + i,
                None => {
                    distinct.push(&app.params);
                    distinct.len() - 1
                }
            };
        entries.push(AppEntry {
            name: app.name.clone(),
            state: convert::state_to_wit(app.state),
            state_since: app.state_since,
            last_activity: app.last_activity,
            in_flight: app.in_flight,
            params: u32::try_from(index).unwrap_or(u32::MAX),
        });
    }
    let sets = distinct.into_iter().map(|set| convert::params_to_wit(set)).collect();
    (sets, entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{AppState, ParamValue};

    fn app(name: &str, timeout: &str) -> AppView {
        AppView {
            name: name.into(),
            state: AppState::Awake,
            state_since: 1,
            last_activity: None,
            in_flight: 0,
            params: Params::from([("idle_timeout".to_owned(), ParamValue::Text(timeout.into()))]).into(),
        }
    }

    #[test]
    fn apps_with_equal_params_share_one_set() {
        let apps = [app("a", "15m"), app("b", "5m"), app("c", "15m"), app("d", "5m")];
        let (sets, entries) = shared(&apps);
        assert_eq!(sets.len(), 2);
        let indices: Vec<u32> = entries.iter().map(|e| e.params).collect();
        assert_eq!(indices, [0, 1, 0, 1]);
        assert_eq!(entries[2].name, "c");
    }

    #[test]
    fn every_index_is_within_the_sets_when_all_params_differ() {
        let apps: Vec<AppView> = (0..40).map(|i| app(&format!("a{i}"), &format!("{i}m"))).collect();
        let (sets, entries) = shared(&apps);
        assert_eq!(sets.len(), 40);
        assert!(entries.iter().all(|e| (e.params as usize) < sets.len()));
    }
}
