//! The optional `paastis:policy/requesting-text` export: `on-request` with
//! the app's name and the whole request in one string, and everything else
//! as numbers, so that a request call enters the guest three times (the
//! string's allocation, the call, the post-return) rather than nine (one
//! allocation per string of `requesting`'s arguments, each a full entry into
//! wasm). Found at load, and called instead of `requesting.on-request` when
//! a policy has it; policies built before it load and answer as they always
//! did.
//!
//! The text is written into a buffer each instance keeps, so a warm
//! instance's call allocates nothing on the host for it.

use wasmtime::component::{Instance, InstancePre};
use wasmtime::{AsContextMut, Store};

use crate::answering;
use crate::bindings::optional::exports::paastis::policy::requesting_text::{self as exported, GuestIndices};
use crate::call_state::CallState;
use crate::contract::{self, AppView, RequestView};
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
pub(crate) fn app_status(app: &AppView, sent: &mut SentParams) -> AppStatus {
    let params = match sent.reference(&app.params) {
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

/// Writes the request text the WIT describes into `text`, emptied first:
/// the app's name, method, path, `?query`, client address, one line each,
/// then the header lines as they were built with the view.
pub(crate) fn write_text(text: &mut String, app: &str, request: &RequestView) {
    text.clear();
    if text.capacity() > KEEP_TEXT_BYTES {
        text.shrink_to(KEEP_TEXT_BYTES);
    }
    let query = request.query.as_ref().map_or(0, |query| query.len() + 1);
    let lines = [app, &request.method, &request.path, &request.client_addr];
    text.reserve(lines.iter().map(|line| line.len() + 1).sum::<usize>() + query + 1 + request.headers.as_str().len());
    for line in &lines[..3] {
        contract::push_clean(text, line, false);
        text.push('\n');
    }
    if let Some(query) = &request.query {
        text.push('?');
        contract::push_clean(text, query, false);
    }
    text.push('\n');
    contract::push_clean(text, &request.client_addr, false);
    text.push('\n');
    text.push_str(request.headers.as_str());
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
    use crate::contract::HeaderLines;

    fn request(query: Option<&str>, headers: &[(&str, &str)]) -> RequestView {
        RequestView {
            method: "GET".into(),
            path: "/a b".into(),
            query: query.map(str::to_owned),
            headers: headers.iter().copied().collect::<HeaderLines>(),
            client_addr: "2001:db8::1".into(),
        }
    }

    #[test]
    fn the_request_text_has_one_line_per_field_then_the_headers() {
        let mut text = String::new();
        write_text(&mut text, "blog", &request(Some("q=1"), &[("host", "blog.example.com"), ("x", "a: b")]));
        assert_eq!(text, "blog\nGET\n/a b\n?q=1\n2001:db8::1\nhost: blog.example.com\nx: a: b\n");
        write_text(&mut text, "blog", &request(None, &[]));
        assert_eq!(text, "blog\nGET\n/a b\n\n2001:db8::1\n", "no query is an empty line, and the buffer is emptied");
        write_text(&mut text, "blog", &request(Some(""), &[]));
        assert_eq!(text, "blog\nGET\n/a b\n?\n2001:db8::1\n", "an empty query is a `?` alone");
    }

    #[test]
    fn line_breaks_in_a_field_cannot_add_a_line() {
        let mut text = String::new();
        let mut odd = request(Some("a\nb"), &[]);
        odd.path = "/x\r\ny".into();
        odd.client_addr = "1.2.3.4\n".into();
        write_text(&mut text, "a\nb", &odd);
        assert_eq!(text, "a b\nGET\n/x  y\n?a b\n1.2.3.4 \n");
    }

    #[test]
    fn a_buffer_grown_by_a_large_request_is_not_kept_that_large() {
        let mut text = String::new();
        let big = "v".repeat(4 * KEEP_TEXT_BYTES);
        write_text(&mut text, "a", &request(None, &[("cookie", &big)]));
        assert!(text.len() > KEEP_TEXT_BYTES);
        write_text(&mut text, "a", &request(None, &[]));
        assert!(text.capacity() <= KEEP_TEXT_BYTES, "{}", text.capacity());
    }
}
