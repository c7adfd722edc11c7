//! The optional `paastis:policy/requesting` export: `on-request` with the
//! app's params by reference and the headers as one string, so that a
//! request call copies a handful of strings into the guest rather than a
//! few dozen (each string or list copied is one call of the guest's
//! allocator from the host, a full entry into wasm). Found at load, and
//! called instead of `answering.on-request` when a policy has it; policies
//! built before it load and answer as they always did.
//!
//! Each instance remembers which param sets it was sent (`SentParams`); a
//! fresh instance starts with none, and so does the guest's memory, so the
//! two sides cannot disagree.

use std::sync::Arc;
use wasmtime::component::{Instance, InstancePre};
use wasmtime::{AsContextMut, Store};

use crate::answering;
use crate::bindings::optional::exports::paastis::policy::requesting::{self as exported, GuestIndices};
use crate::bindings::paastis::policy::types as wit;
use crate::call_state::CallState;
use crate::contract::{AppView, Params, RequestView};
use crate::convert;

/// The export's functions in one instance.
pub(crate) type Guest = exported::Guest;
/// The request as the export takes it.
pub(crate) type LeanRequest = exported::LeanRequest;
/// What its `on-request` returns.
pub(crate) type RequestAction = exported::RequestAction;

/// Where the export's function is, when the component has it.
#[derive(Clone)]
pub(crate) struct Requesting {
    indices: GuestIndices,
}

impl Requesting {
    /// `None` for a component without the export: it predates it.
    pub(crate) fn find(pre: &InstancePre<CallState>) -> Option<Requesting> {
        GuestIndices::new(pre).ok().map(|indices| Requesting { indices })
    }

    /// Its `on-request`, with the types checked against the host's.
    pub(crate) fn load(&self, store: &mut Store<CallState>, instance: &Instance) -> wasmtime::Result<Guest> {
        self.indices.load(store.as_context_mut(), instance)
    }
}

/// Param sets an instance keeps (numbers `0..MAX_SETS`), as the WIT says.
pub(crate) const MAX_SETS: usize = 16;

/// The param sets one instance was sent, by number, most recently used
/// first. Apps of a policy mostly share one set (its defaults), so the
/// first entry is nearly always the one asked for, found by pointer.
#[derive(Default)]
pub(crate) struct SentParams {
    sets: Vec<(u32, Arc<Params>)>,
}

impl SentParams {
    /// The app's params as this instance is to be sent them: the number of
    /// a set it was sent, or the whole set under a number (the least
    /// recently used one once all are taken), now remembered as sent. The
    /// caller must drop the instance if the call then fails, as the guest
    /// may not have kept the set.
    pub(crate) fn reference(&mut self, params: &Arc<Params>) -> ParamsRef {
        let found = self.sets.iter().position(|(_, set)| Arc::ptr_eq(set, params));
        let found = found.or_else(|| self.sets.iter().position(|(_, set)| **set == **params));
        if let Some(i) = found {
            self.sets[..=i].rotate_right(1);
            return ParamsRef::Sent(self.sets[0].0);
        }
        let number = if self.sets.len() < MAX_SETS {
            self.sets.len() as u32
        } else {
            self.sets.pop().map_or(0, |(number, _)| number)
        };
        self.sets.insert(0, (number, Arc::clone(params)));
        ParamsRef::New { number, params: convert::params_to_wit(params) }
    }
}

/// The app's params as `SentParams` decided to send them, for either export
/// that takes them by reference (`requesting`, `requesting-text`), each of
/// which declares its own `params-ref` of this shape.
pub(crate) enum ParamsRef {
    Sent(u32),
    New { number: u32, params: Vec<wit::Param> },
}

impl From<ParamsRef> for exported::ParamsRef {
    fn from(sent: ParamsRef) -> exported::ParamsRef {
        match sent {
            ParamsRef::Sent(number) => exported::ParamsRef::Sent(number),
            ParamsRef::New { number, params } => exported::ParamsRef::New(exported::NumberedParams { number, params }),
        }
    }
}

/// The app as the export takes it, its params through `sent`.
pub(crate) fn app_ref(app: &AppView, sent: &mut SentParams) -> exported::AppRef {
    exported::AppRef {
        name: app.name.clone(),
        state: convert::state_to_wit(app.state),
        state_since: app.state_since,
        last_activity: app.last_activity,
        in_flight: app.in_flight,
        params: sent.reference(&app.params).into(),
    }
}

/// The request as the export takes it: its header lines were built with
/// the view, and move.
pub(crate) fn lean_request(request: RequestView) -> LeanRequest {
    LeanRequest {
        headers: request.headers.into_string(),
        method: request.method,
        path: request.path,
        query: request.query,
        client_addr: request.client_addr,
    }
}

/// `lean_request` for a caller that keeps its view.
pub(crate) fn lean_request_of(request: &RequestView) -> LeanRequest {
    lean_request(request.clone())
}

/// The guest's action in `answering`'s terms (the two are declared alike),
/// checked the same way.
pub(crate) fn action_from_wit(action: RequestAction) -> Result<crate::contract::RequestDecision, String> {
    let answer = |a: exported::Answer| answering::WitAnswer { status: a.status, headers: a.headers, body: a.body };
    answering::action_from_wit(match action {
        RequestAction::Forward => answering::RequestAction::Forward,
        RequestAction::ForwardPassive => answering::RequestAction::ForwardPassive,
        RequestAction::ForwardPassiveOrAnswer(a) => answering::RequestAction::ForwardPassiveOrAnswer(answer(a)),
        RequestAction::Refuse(refusal) => answering::RequestAction::Refuse(refusal),
        RequestAction::Answer(a) => answering::RequestAction::Answer(answer(a)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{HeaderLines, ParamValue};

    fn set(timeout: &str) -> Arc<Params> {
        Arc::new(Params::from([("idle_timeout".to_owned(), ParamValue::Text(timeout.into()))]))
    }

    fn number(sent: ParamsRef) -> (bool, u32) {
        match sent {
            ParamsRef::Sent(n) => (false, n),
            ParamsRef::New { number, .. } => (true, number),
        }
    }

    #[test]
    fn a_set_sent_once_is_referenced_after_by_pointer_or_by_value() {
        let mut sent = SentParams::default();
        let (a, b) = (set("15m"), set("5m"));
        assert_eq!(number(sent.reference(&a)), (true, 0));
        assert_eq!(number(sent.reference(&a)), (false, 0));
        assert_eq!(number(sent.reference(&b)), (true, 1));
        assert_eq!(number(sent.reference(&set("15m"))), (false, 0), "an equal set in another Arc");
        assert_eq!(number(sent.reference(&b)), (false, 1));
    }

    #[test]
    fn the_least_recently_used_number_is_reused_once_all_are_taken() {
        let mut sent = SentParams::default();
        let sets: Vec<Arc<Params>> = (0..MAX_SETS).map(|i| set(&format!("{i}m"))).collect();
        for (i, s) in sets.iter().enumerate() {
            assert_eq!(number(sent.reference(s)), (true, i as u32));
        }
        // Set 0 used again: set 1 is now the least recently used.
        assert_eq!(number(sent.reference(&sets[0])), (false, 0));
        assert_eq!(number(sent.reference(&set("new"))), (true, 1));
        assert_eq!(number(sent.reference(&sets[1])), (true, 2), "set 1 was replaced, so it is sent again");
        assert!(sent.sets.len() <= MAX_SETS);
        assert!(sent.sets.iter().all(|(n, _)| (*n as usize) < MAX_SETS));
    }

    #[test]
    fn headers_become_lines_that_cannot_be_misread() {
        let headers: HeaderLines =
            [("host", "a.example.com"), ("x:odd", "two\nlines\r"), ("x-empty", ""), ("x-colon", "a: b")]
                .into_iter()
                .collect();
        let request = RequestView {
            method: "GET".into(),
            path: "/".into(),
            query: None,
            headers: headers.clone(),
            client_addr: "127.0.0.1".into(),
        };
        let lines = "host: a.example.com\nx odd: two lines \nx-empty: \nx-colon: a: b\n";
        assert_eq!(lean_request(request).headers, lines);
        let pairs: Vec<(&str, &str)> = headers.pairs().collect();
        assert_eq!(pairs, [("host", "a.example.com"), ("x odd", "two lines "), ("x-empty", ""), ("x-colon", "a: b")]);
        let accented: HeaderLines = [("x-é", "caf\u{e9}\n:")].into_iter().collect();
        assert_eq!(accented.as_str(), "x-é: café :\n", "only the unwanted ASCII bytes change");
    }
}
