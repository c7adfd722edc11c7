//! A policy as built before the `requesting` interface existed: bindings
//! generated from `wit/policy.wit` as it stood with `answering` and
//! `ticking` (a frozen copy, not the workspace's), the world the SDK
//! exported then. Hosts that know `requesting` must keep loading it and
//! calling its `answering.on-request`, with every param and header whole.
//!
//! Behaviour: every request is answered by the policy itself with 200 and a
//! body naming the app, its `greeting` param and the request's User-Agent;
//! ticks do nothing.

/// The answer's body for an app, its greeting param and a user agent.
pub fn body(app: &str, greeting: &str, user_agent: &str) -> String {
    format!("built before requesting: app={app} greeting={greeting} user-agent={user_agent}")
}

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        path: "wit",
        world: "paastis:policy/sdk-policy",
    });

    use exports::paastis::policy::answering::{Answer, Guest as Answering, RequestAction};
    use exports::paastis::policy::handler::Guest as Handler;
    use exports::paastis::policy::ticking::{AppEntry, Guest as Ticking};
    use paastis::policy::types::{App, Param, ParamValue, Request, RequestDecision, TickPlan, Timestamp};

    struct BeforeRequesting;

    fn nothing() -> TickPlan {
        TickPlan { sleep: Vec::new(), wake: Vec::new() }
    }

    impl Handler for BeforeRequesting {
        fn on_request(_now: Timestamp, _app: App, _request: Request) -> Result<RequestDecision, String> {
            Ok(RequestDecision::Forward)
        }

        fn on_tick(_now: Timestamp, _apps: Vec<App>) -> Result<TickPlan, String> {
            Ok(nothing())
        }
    }

    impl Answering for BeforeRequesting {
        fn on_request(_now: Timestamp, app: App, request: Request) -> Result<RequestAction, String> {
            let greeting = app
                .params
                .iter()
                .find(|p| p.name == "greeting")
                .map(|p| match &p.value {
                    ParamValue::Text(text) => text.clone(),
                    _ => "(not text)".to_owned(),
                })
                .unwrap_or_else(|| "(none)".to_owned());
            let user_agent = request
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("user-agent"))
                .map_or("(none)", |(_, value)| value.as_str());
            Ok(RequestAction::Answer(Answer {
                status: 200,
                headers: vec![("content-type".to_owned(), "text/plain".to_owned())],
                body: super::body(&app.name, &greeting, user_agent),
            }))
        }
    }

    impl Ticking for BeforeRequesting {
        fn on_tick(_now: Timestamp, _param_sets: Vec<Vec<Param>>, _apps: Vec<AppEntry>) -> Result<TickPlan, String> {
            Ok(nothing())
        }
    }

    export!(BeforeRequesting);
}
