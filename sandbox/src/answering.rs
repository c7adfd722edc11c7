//! The optional `paastis:policy/answering` export (a policy may answer a
//! request itself): found at load, and called instead of
//! `handler.on-request` when a policy has it. Policies without it (built
//! before it existed) load and behave as they always did.

use wasmtime::component::{Instance, InstancePre};
use wasmtime::{AsContextMut, Store};

use crate::bindings::optional::exports::paastis::policy::answering::{self as wit, GuestIndices};
use crate::call_state::CallState;
use crate::contract::{Answer, RequestDecision};
use crate::convert;

/// The export's functions in one instance.
pub(crate) type Guest = wit::Guest;
/// What its `on-request` returns.
pub(crate) type RequestAction = wit::RequestAction;
/// A response a policy sends in the app's place.
pub(crate) type WitAnswer = wit::Answer;

/// Where the export's function is, when the component has it.
#[derive(Clone)]
pub(crate) struct Answering {
    indices: GuestIndices,
}

impl Answering {
    /// `None` for a component without the export: it predates answers.
    pub(crate) fn find(pre: &InstancePre<CallState>) -> Option<Answering> {
        GuestIndices::new(pre).ok().map(|indices| Answering { indices })
    }

    /// Its `on-request`, with the types checked against the host's: an
    /// export of that name with other types is an error (at load, the smoke
    /// call reports it as a contract mismatch).
    pub(crate) fn load(&self, store: &mut Store<CallState>, instance: &Instance) -> wasmtime::Result<wit::Guest> {
        self.indices.load(store.as_context_mut(), instance)
    }
}

/// The guest's action as the gateway's decision, or why it is nonsense.
pub(crate) fn action_from_wit(action: wit::RequestAction) -> Result<RequestDecision, String> {
    Ok(match action {
        wit::RequestAction::Forward => RequestDecision::Forward,
        wit::RequestAction::ForwardPassive => RequestDecision::ForwardPassive,
        wit::RequestAction::ForwardPassiveOrAnswer(answer) => {
            RequestDecision::ForwardPassiveOr(answer_from_wit(answer)?)
        }
        wit::RequestAction::Refuse(refusal) => convert::refusal_from_wit(refusal),
        wit::RequestAction::Answer(answer) => RequestDecision::Answer(answer_from_wit(answer)?),
    })
}

/// Most headers a policy's answer may carry.
const MAX_HEADERS: usize = 32;
/// Longest header value.
const MAX_HEADER_VALUE_BYTES: usize = 1024;
/// Longest header name.
const MAX_HEADER_NAME_BYTES: usize = 256;
/// Largest answer body: "a short body".
pub(crate) const MAX_BODY_BYTES: usize = 64 << 10;
/// The host frames the body and owns the connection: a policy may not set these.
const FORBIDDEN: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
];

/// Refused rather than sanitised: an answer the host would have to change is
/// a bug in the policy, and failing the call makes it visible (it is logged,
/// counted, and the request is forwarded).
fn answer_from_wit(answer: wit::Answer) -> Result<Answer, String> {
    if !(200..=599).contains(&answer.status) {
        return Err(format!("an answer's status must be 200 to 599, not {}", answer.status));
    }
    if answer.body.len() > MAX_BODY_BYTES {
        return Err(format!("an answer's body is at most {MAX_BODY_BYTES} bytes, not {}", answer.body.len()));
    }
    if answer.headers.len() > MAX_HEADERS {
        return Err(format!("an answer has at most {MAX_HEADERS} headers, not {}", answer.headers.len()));
    }
    for (name, value) in &answer.headers {
        if name.is_empty() || name.len() > MAX_HEADER_NAME_BYTES || !name.bytes().all(is_token_byte) {
            return Err(format!("{name:?} is not a header name"));
        }
        if FORBIDDEN.iter().any(|f| name.eq_ignore_ascii_case(f)) {
            return Err(format!("an answer may not set the {name:?} header: the gateway frames the response"));
        }
        if value.len() > MAX_HEADER_VALUE_BYTES || value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(format!(
                "the value of header {name:?} is not printable text of at most {MAX_HEADER_VALUE_BYTES} bytes"
            ));
        }
    }
    Ok(Answer { status: answer.status, headers: answer.headers, body: answer.body })
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> wit::Answer {
        let headers = headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        wit::Answer { status, headers, body: body.to_owned() }
    }

    #[test]
    fn answers_within_the_limits_pass_as_they_are() {
        let ok = answer(200, &[("content-type", "application/json"), ("x-note", "asleep\tfine")], "{}");
        let decision = action_from_wit(wit::RequestAction::ForwardPassiveOrAnswer(ok));
        let Ok(RequestDecision::ForwardPassiveOr(a)) = decision else { panic!("{decision:?}") };
        assert_eq!((a.status, a.headers.len(), a.body.as_str()), (200, 2, "{}"));
        assert!(matches!(
            action_from_wit(wit::RequestAction::Answer(answer(599, &[], ""))),
            Ok(RequestDecision::Answer(_))
        ));
    }

    #[test]
    fn nonsense_answers_fail_the_call_with_the_reason() {
        let too_many: Vec<(String, String)> = (0..=MAX_HEADERS).map(|i| (format!("x-{i}"), "v".to_owned())).collect();
        let cases = [
            (answer(101, &[], ""), "status must be 200 to 599"),
            (answer(600, &[], ""), "status must be 200 to 599"),
            (answer(200, &[("bad name", "v")], ""), "is not a header name"),
            (answer(200, &[("Content-Length", "3")], "abc"), "may not set"),
            (answer(200, &[("transfer-encoding", "chunked")], ""), "may not set"),
            (answer(200, &[("x-a", "line\r\nbreak")], ""), "not printable"),
            (wit::Answer { status: 200, headers: too_many, body: String::new() }, "at most 32 headers"),
            (answer(200, &[], &"x".repeat(MAX_BODY_BYTES + 1)), "body is at most"),
        ];
        for (bad, why) in cases {
            let error = action_from_wit(wit::RequestAction::Answer(bad)).unwrap_err();
            assert!(error.contains(why), "{error} (expected {why:?})");
        }
    }
}
