//! A policy as built before the `answering` interface existed: bindings
//! generated from `wit/policy.wit` as first released (a frozen copy, not the
//! workspace's), exporting only `handler`. Hosts that know answers must keep
//! loading it and calling its `handler.on-request`.
//!
//! Behaviour: requests with a User-Agent containing "monitor" are passive;
//! every other request is refused with 409 "built before answers". Ticks do
//! nothing.

/// The refusal's status and body, for the tests.
pub const STATUS: u16 = 409;
pub const REASON: &str = "built before answers";

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        path: "wit",
        world: "paastis:policy/policy",
    });

    use exports::paastis::policy::handler::Guest;
    use paastis::policy::types::{App, Refusal, Request, RequestDecision, TickPlan, Timestamp};

    struct BeforeAnswers;

    impl Guest for BeforeAnswers {
        fn on_request(_now: Timestamp, _app: App, request: Request) -> Result<RequestDecision, String> {
            let monitor = request.headers.iter().any(|(name, value)| {
                name.eq_ignore_ascii_case("user-agent") && value.to_lowercase().contains("monitor")
            });
            Ok(if monitor {
                RequestDecision::ForwardPassive
            } else {
                RequestDecision::Refuse(Refusal {
                    status: super::STATUS,
                    reason: super::REASON.to_owned(),
                    retry_after_secs: None,
                })
            })
        }

        fn on_tick(_now: Timestamp, _apps: Vec<App>) -> Result<TickPlan, String> {
            Ok(TickPlan { sleep: Vec::new(), wake: Vec::new() })
        }
    }

    export!(BeforeAnswers);
}
