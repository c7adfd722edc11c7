//! Between the generated bindings and the SDK's plain types. Only
//! `export_policy!` uses this module; it is public so that the macro's
//! expansion, which lives in the policy crate, can reach it.

use crate::Policy;
use crate::app::{App, AppState};
use crate::bindings::paastis::policy::types as wit;
use crate::context::{RequestContext, TickContext};
use crate::decision::{Decision, TickPlan};
use crate::params::{ParamValue, Params};
use crate::request::Request;
use crate::time::Timestamp;

pub use crate::bindings;
pub use crate::bindings::exports::paastis::policy::handler::Guest;
pub use std::string::String;
pub use std::vec::Vec;
pub use wit::{App as WitApp, Request as WitRequest, RequestDecision as WitDecision};
pub use wit::{TickPlan as WitTickPlan, Timestamp as WitTimestamp};

pub fn on_request<P: Policy>(now: WitTimestamp, app: WitApp, request: WitRequest) -> Result<WitDecision, String> {
    let ctx = RequestContext::new(Timestamp::from_millis(now), app_from(app), request_from(request));
    match P::on_request(&ctx) {
        Ok(decision) => Ok(decision_into(decision)),
        Err(e) => Err(e.into_message()),
    }
}

pub fn on_tick<P: Policy>(now: WitTimestamp, apps: Vec<WitApp>) -> Result<WitTickPlan, String> {
    let ctx = TickContext::new(Timestamp::from_millis(now), apps.into_iter().map(app_from).collect());
    match P::on_tick(&ctx) {
        Ok(TickPlan { sleep, wake }) => Ok(WitTickPlan { sleep, wake }),
        Err(e) => Err(e.into_message()),
    }
}

fn app_from(app: WitApp) -> App {
    App {
        name: app.name,
        state: match app.state {
            wit::AppState::Asleep => AppState::Asleep,
            wit::AppState::Starting => AppState::Starting,
            wit::AppState::Awake => AppState::Awake,
            wit::AppState::Stopping => AppState::Stopping,
        },
        state_since: Timestamp::from_millis(app.state_since),
        last_activity: app.last_activity.map(Timestamp::from_millis),
        in_flight: app.in_flight,
        params: params_from(app.params),
    }
}

fn params_from(params: Vec<wit::Param>) -> Params {
    params
        .into_iter()
        .map(|p| {
            let value = match p.value {
                wit::ParamValue::Text(s) => ParamValue::Text(s),
                wit::ParamValue::Integer(i) => ParamValue::Integer(i),
                wit::ParamValue::Float(x) => ParamValue::Float(x),
                wit::ParamValue::Boolean(b) => ParamValue::Boolean(b),
                wit::ParamValue::TextList(l) => ParamValue::TextList(l),
            };
            (p.name, value)
        })
        .collect()
}

fn request_from(r: WitRequest) -> Request {
    Request { method: r.method, path: r.path, query: r.query, headers: r.headers, client_addr: r.client_addr }
}

fn decision_into(d: Decision) -> WitDecision {
    match d {
        Decision::Forward => WitDecision::Forward,
        Decision::ForwardPassive => WitDecision::ForwardPassive,
        Decision::Refuse(r) => WitDecision::Refuse(wit::Refusal {
            status: r.status,
            reason: r.reason,
            retry_after_secs: r.retry_after_secs,
        }),
    }
}
