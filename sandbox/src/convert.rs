//! Between the plain model and the generated bindings, sanitising what a
//! guest may get wrong without breaking the ABI.

use std::collections::BTreeSet;

use crate::bindings::paastis::policy::types as wit;
use crate::contract::{AppState, AppView, ParamValue, Params, Refusal, RequestDecision, RequestView, TickPlan};

/// A refusal body is sent to clients as is; a policy has no business sending
/// megabytes.
const MAX_REASON_BYTES: usize = 4096;
/// The status the host substitutes for one outside 400..=599 (see the WIT).
const FALLBACK_STATUS: u16 = 503;

pub(crate) fn app_to_wit(app: &AppView) -> wit::App {
    app_into_wit(app.clone())
}

/// Moves the view's strings into the guest's types: a request call must not
/// copy every string twice (once into the view, once here).
pub(crate) fn app_into_wit(app: AppView) -> wit::App {
    wit::App {
        name: app.name,
        state: state_to_wit(app.state),
        state_since: app.state_since,
        last_activity: app.last_activity,
        in_flight: app.in_flight,
        params: params_to_wit(&app.params),
    }
}

pub(crate) fn state_to_wit(state: AppState) -> wit::AppState {
    match state {
        AppState::Asleep => wit::AppState::Asleep,
        AppState::Starting => wit::AppState::Starting,
        AppState::Awake => wit::AppState::Awake,
        AppState::Stopping => wit::AppState::Stopping,
    }
}

pub(crate) fn params_to_wit(params: &Params) -> Vec<wit::Param> {
    params.iter().map(|(name, value)| wit::Param { name: name.clone(), value: param_into_wit(value.clone()) }).collect()
}

fn param_into_wit(value: ParamValue) -> wit::ParamValue {
    match value {
        ParamValue::Text(s) => wit::ParamValue::Text(s),
        ParamValue::Integer(i) => wit::ParamValue::Integer(i),
        ParamValue::Float(x) => wit::ParamValue::Float(x),
        ParamValue::Boolean(b) => wit::ParamValue::Boolean(b),
        ParamValue::TextList(l) => wit::ParamValue::TextList(l),
    }
}

/// For policies built before `requesting`: the headers as pairs again.
pub(crate) fn request_into_wit(r: RequestView) -> wit::Request {
    let headers = r.headers.pairs().map(|(name, value)| (name.to_owned(), value.to_owned())).collect();
    wit::Request { method: r.method, path: r.path, query: r.query, headers, client_addr: r.client_addr }
}

pub(crate) fn decision_from_wit(d: wit::RequestDecision) -> RequestDecision {
    match d {
        wit::RequestDecision::Forward => RequestDecision::Forward,
        wit::RequestDecision::ForwardPassive => RequestDecision::ForwardPassive,
        wit::RequestDecision::Refuse(r) => refusal_from_wit(r),
    }
}

pub(crate) fn refusal_from_wit(r: wit::Refusal) -> RequestDecision {
    RequestDecision::Refuse(Refusal {
        status: if (400..=599).contains(&r.status) { r.status } else { FALLBACK_STATUS },
        reason: truncate(r.reason, MAX_REASON_BYTES),
        retry_after_secs: r.retry_after_secs,
    })
}

/// Drops repeated names; an app both put to sleep and woken by the same plan
/// has no meaning, and is reported rather than guessed at.
pub(crate) fn plan_from_wit(plan: wit::TickPlan) -> Result<TickPlan, String> {
    let sleep = dedup(plan.sleep);
    let wake = dedup(plan.wake);
    if let Some(both) = sleep.iter().find(|name| wake.contains(name)) {
        return Err(format!("app {both:?} is both put to sleep and woken"));
    }
    Ok(TickPlan { sleep, wake })
}

fn dedup(names: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    names.into_iter().filter(|n| seen.insert(n.clone())).collect()
}

/// Cuts `s` to at most `max` bytes, on a char boundary.
pub(crate) fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let cut = (0..=max).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        s.truncate(cut);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, reason: &str) -> wit::RequestDecision {
        wit::RequestDecision::Refuse(wit::Refusal { status, reason: reason.to_owned(), retry_after_secs: Some(30) })
    }

    #[test]
    fn statuses_outside_client_and_server_errors_become_503() {
        for (given, used) in [(200, 503), (399, 503), (400, 400), (429, 429), (599, 599), (600, 503)] {
            let RequestDecision::Refuse(r) = decision_from_wit(refusal(given, "no")) else {
                panic!("not a refusal");
            };
            assert_eq!(r.status, used, "status {given}");
            assert_eq!(r.retry_after_secs, Some(30));
        }
    }

    #[test]
    fn long_reasons_are_cut_on_a_char_boundary() {
        let long = "é".repeat(MAX_REASON_BYTES);
        let RequestDecision::Refuse(r) = decision_from_wit(refusal(503, &long)) else {
            panic!("not a refusal");
        };
        assert_eq!(r.reason.len(), MAX_REASON_BYTES);
    }

    #[test]
    fn plans_are_deduplicated_and_contradictions_refused() {
        let plan = plan_from_wit(wit::TickPlan { sleep: vec!["a".into(), "b".into(), "a".into()], wake: vec![] });
        assert_eq!(plan.map(|p| p.sleep), Ok(vec!["a".to_owned(), "b".to_owned()]));
        let contradiction = plan_from_wit(wit::TickPlan { sleep: vec!["a".into()], wake: vec!["a".into()] });
        assert!(contradiction.is_err());
    }
}
