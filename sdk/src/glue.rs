//! Between the generated bindings and the SDK's plain types. Only
//! `export_policy!` uses this module; it is public so that the macro's
//! expansion, which lives in the policy crate, can reach it.

use crate::Policy;
use crate::app::{App, AppState};
use crate::bindings::paastis::policy::types as wit;
use crate::context::{RequestContext, TickContext};
use crate::decision::{Answer, Decision, TickPlan};
use crate::params::{ParamValue, Params};
use crate::request::Request;
use crate::time::Timestamp;

use crate::bindings::exports::paastis::policy::answering as wit_answering;
use crate::bindings::exports::paastis::policy::requesting as wit_requesting;
use crate::bindings::exports::paastis::policy::requesting_text as wit_text;

pub use crate::bindings;
pub use crate::bindings::exports::paastis::policy::answering::Guest as AnsweringGuest;
pub use crate::bindings::exports::paastis::policy::answering::RequestAction as WitAction;
pub use crate::bindings::exports::paastis::policy::handler::Guest;
pub use crate::bindings::exports::paastis::policy::requesting::AppRef as WitAppRef;
pub use crate::bindings::exports::paastis::policy::requesting::Guest as RequestingGuest;
pub use crate::bindings::exports::paastis::policy::requesting::LeanRequest as WitLeanRequest;
pub use crate::bindings::exports::paastis::policy::requesting::RequestAction as WitLeanAction;
pub use crate::bindings::exports::paastis::policy::requesting_text::AppStatus as WitAppStatus;
pub use crate::bindings::exports::paastis::policy::requesting_text::Guest as RequestingTextGuest;
pub use crate::bindings::exports::paastis::policy::requesting_text::RequestAction as WitTextAction;
pub use crate::bindings::exports::paastis::policy::ticking::AppEntry as WitAppEntry;
pub use crate::bindings::exports::paastis::policy::ticking::Guest as TickingGuest;
pub use std::string::String;
pub use std::vec::Vec;
pub use wit::{App as WitApp, Param as WitParam, Request as WitRequest, RequestDecision as WitDecision};
pub use wit::{TickPlan as WitTickPlan, Timestamp as WitTimestamp};

/// `answering.on-request`, which hosts that know answers call.
pub fn on_request_action<P: Policy>(now: WitTimestamp, app: WitApp, request: WitRequest) -> Result<WitAction, String> {
    decide::<P>(now, app, request).map(action_into)
}

/// `requesting.on-request`: the app's params by reference to a set this
/// instance keeps, the headers as lines split only if the policy asks.
pub fn on_lean_request<P: Policy>(
    now: WitTimestamp,
    app: WitAppRef,
    request: WitLeanRequest,
) -> Result<WitLeanAction, String> {
    let params = match app.params {
        wit_requesting::ParamsRef::Sent(number) => crate::sent_params::Sent::Number(number),
        wit_requesting::ParamsRef::New(set) => crate::sent_params::Sent::New(set.number, set.params),
    };
    let params = crate::sent_params::resolve(params, params_from)?;
    let app = App {
        name: app.name,
        state: state_from(app.state),
        state_since: Timestamp::from_millis(app.state_since),
        last_activity: app.last_activity.map(Timestamp::from_millis),
        in_flight: app.in_flight,
        params,
    };
    let request = Request::from_lines(
        request.headers,
        &request.method,
        &request.path,
        request.query.as_deref(),
        &request.client_addr,
    );
    let ctx = RequestContext::new(Timestamp::from_millis(now), app, request);
    P::on_request(&ctx).map(lean_action_into).map_err(crate::PolicyError::into_message)
}

/// `requesting-text.on-request`: the app's name and the request in one
/// string, read in place; the params by reference, as `requesting`.
pub fn on_text_request<P: Policy>(
    now: WitTimestamp,
    app: WitAppStatus,
    request: String,
) -> Result<WitTextAction, String> {
    let params = match app.params {
        wit_text::ParamsRef::Sent(number) => crate::sent_params::Sent::Number(number),
        wit_text::ParamsRef::New(set) => crate::sent_params::Sent::New(set.number, set.params),
    };
    let params = crate::sent_params::resolve(params, params_from)?;
    let (name, request) = Request::from_text(request)?;
    let app = App {
        name,
        state: state_from(app.state),
        state_since: Timestamp::from_millis(app.state_since),
        last_activity: app.last_activity.map(Timestamp::from_millis),
        in_flight: app.in_flight,
        params,
    };
    let ctx = RequestContext::new(Timestamp::from_millis(now), app, request);
    P::on_request(&ctx).map(text_action_into).map_err(crate::PolicyError::into_message)
}

/// `handler.on-request`, which only hosts that predate answers call.
pub fn on_request<P: Policy>(now: WitTimestamp, app: WitApp, request: WitRequest) -> Result<WitDecision, String> {
    decide::<P>(now, app, request).map(decision_into)
}

fn decide<P: Policy>(now: WitTimestamp, app: WitApp, request: WitRequest) -> Result<Decision, String> {
    let ctx = RequestContext::new(Timestamp::from_millis(now), app_from(app), request_from(request));
    P::on_request(&ctx).map_err(crate::PolicyError::into_message)
}

/// `handler.on-tick`, which only hosts that predate `ticking` call.
pub fn on_tick<P: Policy>(now: WitTimestamp, apps: Vec<WitApp>) -> Result<WitTickPlan, String> {
    tick::<P>(now, apps.into_iter().map(app_from).collect())
}

/// `ticking.on-tick`: each distinct param set comes once, and the apps that
/// have it share it.
pub fn on_tick_shared<P: Policy>(
    now: WitTimestamp,
    param_sets: Vec<Vec<WitParam>>,
    apps: Vec<WitAppEntry>,
) -> Result<WitTickPlan, String> {
    let sets: Vec<Params> = param_sets.into_iter().map(params_from).collect();
    let apps = apps
        .into_iter()
        .map(|app| {
            let Some(params) = usize::try_from(app.params).ok().and_then(|i| sets.get(i)) else {
                return Err(format!(
                    "app {:?}: the host sent params index {} of {} sets",
                    app.name,
                    app.params,
                    sets.len()
                ));
            };
            Ok(App {
                name: app.name,
                state: state_from(app.state),
                state_since: Timestamp::from_millis(app.state_since),
                last_activity: app.last_activity.map(Timestamp::from_millis),
                in_flight: app.in_flight,
                params: params.clone(),
            })
        })
        .collect::<Result<Vec<App>, String>>()?;
    tick::<P>(now, apps)
}

fn tick<P: Policy>(now: WitTimestamp, apps: Vec<App>) -> Result<WitTickPlan, String> {
    let ctx = TickContext::new(Timestamp::from_millis(now), apps);
    match P::on_tick(&ctx) {
        Ok(TickPlan { sleep, wake }) => Ok(WitTickPlan { sleep, wake }),
        Err(e) => Err(e.into_message()),
    }
}

fn app_from(app: WitApp) -> App {
    App {
        name: app.name,
        state: state_from(app.state),
        state_since: Timestamp::from_millis(app.state_since),
        last_activity: app.last_activity.map(Timestamp::from_millis),
        in_flight: app.in_flight,
        params: params_from(app.params),
    }
}

fn state_from(state: wit::AppState) -> AppState {
    match state {
        wit::AppState::Asleep => AppState::Asleep,
        wit::AppState::Starting => AppState::Starting,
        wit::AppState::Awake => AppState::Awake,
        wit::AppState::Stopping => AppState::Stopping,
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
    Request::from_pairs(r.headers, &r.method, &r.path, r.query.as_deref(), &r.client_addr)
}

fn action_into(d: Decision) -> WitAction {
    match d {
        Decision::Forward => WitAction::Forward,
        Decision::ForwardPassive => WitAction::ForwardPassive,
        Decision::ForwardPassiveOr(answer) => WitAction::ForwardPassiveOrAnswer(answer_into(answer)),
        Decision::Refuse(r) => WitAction::Refuse(refusal_into(r)),
        Decision::Answer(answer) => WitAction::Answer(answer_into(answer)),
    }
}

fn lean_action_into(d: Decision) -> WitLeanAction {
    let answer = |a: Answer| wit_requesting::Answer { status: a.status, headers: a.headers, body: a.body };
    match d {
        Decision::Forward => WitLeanAction::Forward,
        Decision::ForwardPassive => WitLeanAction::ForwardPassive,
        Decision::ForwardPassiveOr(a) => WitLeanAction::ForwardPassiveOrAnswer(answer(a)),
        Decision::Refuse(r) => WitLeanAction::Refuse(refusal_into(r)),
        Decision::Answer(a) => WitLeanAction::Answer(answer(a)),
    }
}

fn text_action_into(d: Decision) -> WitTextAction {
    let answer = |a: Answer| wit_text::Answer { status: a.status, headers: a.headers, body: a.body };
    match d {
        Decision::Forward => WitTextAction::Forward,
        Decision::ForwardPassive => WitTextAction::ForwardPassive,
        Decision::ForwardPassiveOr(a) => WitTextAction::ForwardPassiveOrAnswer(answer(a)),
        Decision::Refuse(r) => WitTextAction::Refuse(refusal_into(r)),
        Decision::Answer(a) => WitTextAction::Answer(answer(a)),
    }
}

/// For a host that cannot answer: the nearest it can do. An error answer is
/// a refusal with its status and body; any other answer, a passive forward
/// (the app answers if it is awake, and is never woken).
fn decision_into(d: Decision) -> WitDecision {
    match d {
        Decision::Forward => WitDecision::Forward,
        Decision::ForwardPassive | Decision::ForwardPassiveOr(_) => WitDecision::ForwardPassive,
        Decision::Refuse(r) => WitDecision::Refuse(refusal_into(r)),
        Decision::Answer(answer) if answer.status >= 400 => {
            let retry_after_secs = answer.get_header("retry-after").and_then(|v| v.trim().parse().ok());
            WitDecision::Refuse(wit::Refusal { status: answer.status, reason: answer.body, retry_after_secs })
        }
        Decision::Answer(_) => WitDecision::ForwardPassive,
    }
}

fn refusal_into(r: crate::decision::Refusal) -> wit::Refusal {
    wit::Refusal { status: r.status, reason: r.reason, retry_after_secs: r.retry_after_secs }
}

fn answer_into(a: Answer) -> wit_answering::Answer {
    wit_answering::Answer { status: a.status, headers: a.headers, body: a.body }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names each app with its `idle_timeout` param, to see which set it got.
    struct EchoParams;

    impl Policy for EchoParams {
        fn on_request(_: &RequestContext) -> Result<Decision, crate::PolicyError> {
            Ok(Decision::Forward)
        }

        fn on_tick(ctx: &TickContext) -> Result<TickPlan, crate::PolicyError> {
            let mut plan = TickPlan::new();
            for app in ctx.apps() {
                plan.put_to_sleep(format!("{}={}", app.name(), app.params().text("idle_timeout")?));
            }
            Ok(plan)
        }
    }

    fn entry(name: &str, params: u32) -> WitAppEntry {
        WitAppEntry {
            name: name.into(),
            state: wit::AppState::Awake,
            state_since: 0,
            last_activity: None,
            in_flight: 0,
            params,
        }
    }

    fn set(timeout: &str) -> Vec<WitParam> {
        vec![WitParam { name: "idle_timeout".into(), value: wit::ParamValue::Text(timeout.into()) }]
    }

    /// Refuses every request with its `idle_timeout` and user agent, to see
    /// which set and which headers it got.
    struct EchoRequest;

    impl Policy for EchoRequest {
        fn on_request(ctx: &RequestContext) -> Result<Decision, crate::PolicyError> {
            let timeout = ctx.app().params().text("idle_timeout")?;
            Ok(Decision::refuse(404, format!("{timeout} {}", ctx.request().user_agent().unwrap_or("-"))))
        }
    }

    fn lean(params: wit_requesting::ParamsRef, headers: &str) -> Result<String, String> {
        let app = WitAppRef {
            name: "a".into(),
            state: wit::AppState::Awake,
            state_since: 0,
            last_activity: None,
            in_flight: 0,
            params,
        };
        let request = WitLeanRequest {
            method: "GET".into(),
            path: "/".into(),
            query: None,
            headers: headers.into(),
            client_addr: "127.0.0.1".into(),
        };
        match on_lean_request::<EchoRequest>(0, app, request)? {
            WitLeanAction::Refuse(refusal) => Ok(refusal.reason),
            _ => Err("not a refusal".into()),
        }
    }

    fn new(number: u32, timeout: &str) -> wit_requesting::ParamsRef {
        wit_requesting::ParamsRef::New(wit_requesting::NumberedParams { number, params: set(timeout) })
    }

    #[test]
    fn a_set_sent_once_is_found_by_its_number_after() {
        use wit_requesting::ParamsRef::Sent;
        assert_eq!(lean(new(0, "15m"), "host: a\nuser-agent: curl/8\n"), Ok("15m curl/8".into()));
        assert_eq!(lean(Sent(0), ""), Ok("15m -".into()));
        assert_eq!(lean(new(1, "5m"), "User-Agent: bot\n"), Ok("5m bot".into()));
        assert_eq!(lean(Sent(0), ""), Ok("15m -".into()));
        assert_eq!(lean(new(0, "1h"), ""), Ok("1h -".into()), "a new set replaces what its number held");
        assert_eq!(lean(Sent(0), ""), Ok("1h -".into()));
        assert_eq!(lean(Sent(1), ""), Ok("5m -".into()));
        let never = lean(Sent(5), "");
        assert_eq!(never, Err("the host referred to params set 5, which this instance was never sent".into()));
        assert!(lean(new(16, "1m"), "").is_err_and(|e| e.contains("numbers stop at 15")));
    }

    fn text(params: wit_text::ParamsRef, request: &str) -> Result<String, String> {
        let app =
            WitAppStatus { state: wit::AppState::Awake, state_since: 0, last_activity: None, in_flight: 0, params };
        match on_text_request::<EchoText>(0, app, request.to_owned())? {
            WitTextAction::Refuse(refusal) => Ok(refusal.reason),
            _ => Err("not a refusal".into()),
        }
    }

    /// Refuses every request with what it saw of the app and the request.
    struct EchoText;

    impl Policy for EchoText {
        fn on_request(ctx: &RequestContext) -> Result<Decision, crate::PolicyError> {
            let (app, r) = (ctx.app(), ctx.request());
            let timeout = app.params().text("idle_timeout")?;
            let seen = format!(
                "{} {timeout} {} {} {:?} {} {:?} {:?}",
                app.name(),
                r.method(),
                r.path(),
                r.query(),
                r.client_addr(),
                r.user_agent(),
                r.headers()
            );
            Ok(Decision::refuse(404, seen))
        }
    }

    #[test]
    fn the_request_text_and_params_by_reference_reach_the_policy() {
        let new = wit_text::ParamsRef::New(wit_text::NumberedParams { number: 2, params: set("7m") });
        let seen = text(new, "blog\nGET\n/a\n?b=1\n10.0.0.1\nuser-agent: curl/8\nx: y\n");
        let headers = r#"[("user-agent", "curl/8"), ("x", "y")]"#;
        assert_eq!(seen, Ok(format!("blog 7m GET /a Some(\"b=1\") 10.0.0.1 Some(\"curl/8\") {headers}")));
        let seen = text(wit_text::ParamsRef::Sent(2), "shop\nPOST\n/\n\n::1\n");
        assert_eq!(seen, Ok("shop 7m POST / None ::1 None []".into()));
        let never = text(wit_text::ParamsRef::Sent(9), "a\nGET\n/\n\n::1\n");
        assert!(never.is_err_and(|e| e.contains("never sent")));
        let malformed = text(wit_text::ParamsRef::Sent(2), "a\nGET\n/\n");
        assert_eq!(malformed, Err("the host sent a request text of 3 lines, not at least 5".into()));
    }

    #[test]
    fn a_shared_tick_gives_every_app_its_set() {
        let apps = vec![entry("a", 0), entry("b", 1), entry("c", 0)];
        let plan = on_tick_shared::<EchoParams>(0, vec![set("15m"), set("5m")], apps);
        assert_eq!(plan.map(|p| p.sleep), Ok(vec!["a=15m".into(), "b=5m".into(), "c=15m".into()]));
        let err = on_tick_shared::<EchoParams>(0, vec![set("15m")], vec![entry("d", 1)]).map(|p| p.sleep);
        assert_eq!(err, Err("app \"d\": the host sent params index 1 of 1 sets".into()));
    }

    #[test]
    fn hosts_without_answers_get_the_nearest_decision() {
        let closed = Decision::Answer(Answer::new(503).text("closed")).retry_after(std::time::Duration::from_secs(9));
        let WitDecision::Refuse(refusal) = decision_into(closed) else { panic!("not a refusal") };
        assert_eq!((refusal.status, refusal.reason.as_str(), refusal.retry_after_secs), (503, "closed", Some(9)));
        let ok = Answer::new(200).json("{}");
        assert!(matches!(decision_into(Decision::Answer(ok.clone())), WitDecision::ForwardPassive));
        assert!(matches!(decision_into(Decision::ForwardPassiveOr(ok.clone())), WitDecision::ForwardPassive));
        let WitAction::ForwardPassiveOrAnswer(sent) = action_into(Decision::ForwardPassiveOr(ok)) else { panic!() };
        assert_eq!((sent.status, sent.body.as_str()), (200, "{}"));
    }
}
