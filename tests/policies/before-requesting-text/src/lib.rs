//! A policy as built before the `requesting-text` interface existed:
//! bindings generated from `wit/policy.wit` as it stood with `requesting`
//! (a frozen copy, not the workspace's), the world the SDK exported then.
//! Hosts that know `requesting-text` must keep loading it and calling its
//! `requesting.on-request`, with the params by reference and every field of
//! the request whole.
//!
//! Behaviour: every request is answered by the policy itself with 200 and a
//! body saying which export answered, and naming the app, its `greeting`
//! param and what it saw of the request; ticks do nothing.

/// The answer's body from `requesting.on-request`.
pub fn body(app: &str, greeting: &str, request: &str) -> String {
    format!("built before requesting-text, via requesting: app={app} greeting={greeting} {request}")
}

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        path: "wit",
        world: "paastis:policy/sdk-policy",
    });

    use std::cell::RefCell;

    use exports::paastis::policy::answering::{self, Guest as Answering};
    use exports::paastis::policy::handler::Guest as Handler;
    use exports::paastis::policy::requesting::{self, AppRef, Guest as Requesting, LeanRequest, ParamsRef};
    use exports::paastis::policy::ticking::{AppEntry, Guest as Ticking};
    use paastis::policy::types::{App, Param, ParamValue, Request, RequestDecision, TickPlan, Timestamp};

    struct BeforeRequestingText;

    thread_local! {
        // The param sets the host sent this instance, by number.
        static SETS: RefCell<Vec<Option<Vec<Param>>>> = const { RefCell::new(Vec::new()) };
    }

    fn nothing() -> TickPlan {
        TickPlan { sleep: Vec::new(), wake: Vec::new() }
    }

    fn greeting(params: &[Param]) -> String {
        params
            .iter()
            .find(|p| p.name == "greeting")
            .map(|p| match &p.value {
                ParamValue::Text(text) => text.clone(),
                _ => "(not text)".to_owned(),
            })
            .unwrap_or_else(|| "(none)".to_owned())
    }

    impl Handler for BeforeRequestingText {
        fn on_request(_now: Timestamp, _app: App, _request: Request) -> Result<RequestDecision, String> {
            Ok(RequestDecision::Forward)
        }

        fn on_tick(_now: Timestamp, _apps: Vec<App>) -> Result<TickPlan, String> {
            Ok(nothing())
        }
    }

    impl Answering for BeforeRequestingText {
        fn on_request(_now: Timestamp, app: App, _request: Request) -> Result<answering::RequestAction, String> {
            // A host that knows `requesting` must not call this one.
            Ok(answering::RequestAction::Answer(answering::Answer {
                status: 200,
                headers: Vec::new(),
                body: format!("built before requesting-text, via answering: app={}", app.name),
            }))
        }
    }

    impl Requesting for BeforeRequestingText {
        fn on_request(_now: Timestamp, app: AppRef, request: LeanRequest) -> Result<requesting::RequestAction, String> {
            let greeting = SETS.with_borrow_mut(|sets| match app.params {
                ParamsRef::Sent(number) => sets
                    .get(number as usize)
                    .cloned()
                    .flatten()
                    .map(|params| greeting(&params))
                    .ok_or_else(|| format!("params set {number} was never sent")),
                ParamsRef::New(numbered) => {
                    let number = numbered.number as usize;
                    if sets.len() <= number {
                        sets.resize(number + 1, None);
                    }
                    let greeting = greeting(&numbered.params);
                    sets[number] = Some(numbered.params);
                    Ok(greeting)
                }
            })?;
            let user_agent = request
                .headers
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(": ")?;
                    name.eq_ignore_ascii_case("user-agent").then_some(value)
                })
                .unwrap_or("(none)");
            let seen = format!(
                "method={} path={} query={} client={} user-agent={user_agent}",
                request.method,
                request.path,
                request.query.as_deref().unwrap_or("(none)"),
                request.client_addr,
            );
            Ok(requesting::RequestAction::Answer(requesting::Answer {
                status: 200,
                headers: vec![("content-type".to_owned(), "text/plain".to_owned())],
                body: super::body(&app.name, &greeting, &seen),
            }))
        }
    }

    impl Ticking for BeforeRequestingText {
        fn on_tick(_now: Timestamp, _param_sets: Vec<Vec<Param>>, _apps: Vec<AppEntry>) -> Result<TickPlan, String> {
            Ok(nothing())
        }
    }

    export!(BeforeRequestingText);
}
