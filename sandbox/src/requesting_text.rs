//! The optional `paastis:policy/requesting-text` export: `on-request` with
//! the app's name and the whole request in one string, and everything else
//! as numbers, so that a request call enters the guest three times (the
//! string's allocation, the call, the post-return) rather than nine (one
//! allocation per string of `requesting`'s arguments, each a full entry into
//! wasm). Found at load, and called instead of `requesting.on-request` when
//! a policy has it; policies built before it load and answer as they always
//! did.
//!
//! The text is written (by `request_text`) into a buffer each instance
//! keeps, straight from the caller's request, so a warm instance's call
//! allocates nothing on the host for it.

use wasmtime::component::{Instance, InstancePre};
use wasmtime::{AsContextMut, Store};

use crate::answering;
use crate::bindings::optional::exports::paastis::policy::requesting_text::{self as exported, GuestIndices};
use crate::call_state::CallState;
use crate::contract::{self, AppRef, RequestSource};
use crate::convert;
use crate::requesting::{self, SentParams};

/// The export's functions in one instance.
pub(crate) type Guest = exported::Guest;
/// The app as the export takes it.
pub(crate) type AppStatus = exported::AppStatus;
/// What its `on-request` returns.
pub(crate) type RequestAction = exported::RequestAction;

/// A buffer grown past this by a large request is not kept for the next.
const KEEP_TEXT_BYTES: usize = 16 << 10;

/// Where the export's function is, when the component has it.
#[derive(Clone)]
pub(crate) struct RequestingText {
    indices: GuestIndices,
}

impl RequestingText {
    /// `None` for a component without the export: it predates it.
    pub(crate) fn find(pre: &InstancePre<CallState>) -> Option<RequestingText> {
        GuestIndices::new(pre).ok().map(|indices| RequestingText { indices })
    }

    /// Its `on-request`, with the types checked against the host's.
    pub(crate) fn load(&self, store: &mut Store<CallState>, instance: &Instance) -> wasmtime::Result<Guest> {
        self.indices.load(store.as_context_mut(), instance)
    }
}

/// The app as the export takes it, its params through `sent`.
pub(crate) fn app_status(app: &AppRef<'_>, sent: &mut SentParams) -> AppStatus {
    let params = match sent.reference(app.params) {
        requesting::ParamsRef::Sent(number) => exported::ParamsRef::Sent(number),
        requesting::ParamsRef::New { number, params } => {
            exported::ParamsRef::New(exported::NumberedParams { number, params })
        }
    };
    AppStatus {
        state: convert::state_to_wit(app.state),
        state_since: app.state_since,
        last_activity: app.last_activity,
        in_flight: app.in_flight,
        params,
    }
}

/// Writes the request text into `text`, the instance's buffer, cut back
/// first if a large request grew it.
pub(crate) fn write_text(text: &mut String, app: &str, request: &dyn RequestSource) {
    text.clear();
    if text.capacity() > KEEP_TEXT_BYTES {
        text.shrink_to(KEEP_TEXT_BYTES);
    }
    contract::write_request_text(text, app, request);
}

/// The guest's action in `answering`'s terms (the two are declared alike),
/// checked the same way.
pub(crate) fn action_from_wit(action: RequestAction) -> Result<contract::RequestDecision, String> {
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
    use crate::contract::{HeaderLines, RequestView};

    fn request(headers: &[(&str, &str)]) -> RequestView {
        RequestView {
            method: "GET".into(),
            path: "/".into(),
            query: None,
            headers: headers.iter().copied().collect::<HeaderLines>(),
            client_addr: "2001:db8::1".into(),
        }
    }

    #[test]
    fn a_buffer_grown_by_a_large_request_is_not_kept_that_large() {
        let mut text = String::new();
        let big = "v".repeat(4 * KEEP_TEXT_BYTES);
        write_text(&mut text, "a", &request(&[("cookie", &big)]));
        assert!(text.len() > KEEP_TEXT_BYTES);
        write_text(&mut text, "a", &request(&[]));
        assert!(text.capacity() <= KEEP_TEXT_BYTES, "{}", text.capacity());
    }
}
