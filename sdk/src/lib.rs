//! Write [Paastis](https://github.com/paastis/paastis) sleep/wake policies in
//! Rust.
//!
//! A policy is a WebAssembly component that the gateway calls in two phases:
//! for every request routed to an app ([`Policy::on_request`]) and on every
//! timer tick ([`Policy::on_tick`]). Implement [`Policy`] on a unit struct,
//! override the phases you care about, and export it. A complete policy:
//!
//! ```
//! use paastis_sdk::{Decision, Policy, PolicyError, RequestContext, TickContext, TickPlan};
//! use std::time::Duration;
//!
//! pub struct Idle;
//!
//! impl Policy for Idle {
//!     // Monitors (the `passive_*` params) never wake an app nor keep it awake.
//!     fn on_request(ctx: &RequestContext) -> Result<Decision, PolicyError> {
//!         Ok(paastis_sdk::passive::decision(ctx)?.unwrap_or(Decision::Forward))
//!     }
//!
//!     // Sleep after `idle_timeout` (10 minutes by default) without a request.
//!     fn on_tick(ctx: &TickContext) -> Result<TickPlan, PolicyError> {
//!         let mut plan = TickPlan::new();
//!         for app in ctx.apps() {
//!             let idle = app.params().duration_or("idle_timeout", Duration::from_secs(600))?;
//!             if app.is_awake() && app.in_flight() == 0 && app.idle_for(ctx.now()) >= idle {
//!                 plan.put_to_sleep(app.name());
//!             }
//!         }
//!         Ok(plan)
//!     }
//! }
//!
//! paastis_sdk::export_policy!(Idle);
//! ```
//!
//! The guide, "Writing policies" (`docs/policies.md` in the repository),
//! walks through params, time zones, answering uptime monitors, `kv`,
//! testing, simulating and deploying. `paastis policy new NAME` starts a
//! crate like the one below.
//!
//! # Project setup
//!
//! ```toml
//! [lib]
//! # cdylib is the component; rlib lets `cargo test` link the policy natively.
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! paastis-sdk = { version = "0.1", git = "https://github.com/paastis/paastis" }
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`: the `.wasm` in
//! `target/wasm32-wasip2/release/` is the component the gateway loads. Unit
//! test the policy natively with plain `cargo test`, using the builders in
//! [`testing`]; outside WebAssembly `export_policy!` expands to nothing and
//! [`log`] writes to stderr.
//!
//! Params come from the gateway config, the app's own over the policy's
//! defaults; read them with the typed accessors of [`Params`], whose errors
//! name the param and quote the bad value. Return such an error (`?` converts
//! it) to have the host log it and fall back.
//!
//! # Time zones
//!
//! With the `tz` feature (`paastis-sdk = { version = "0.1", features =
//! ["tz"] }`), the `tz` module converts the host's UTC timestamps to local
//! wall-clock time in IANA zones, for schedule-based policies. It bundles the
//! time zone database into the policy, which makes the `.wasm` larger, so it
//! is off by default.
//!
//! # State
//!
//! The host keeps warm instances of a policy and reuses them across calls,
//! requests and apps, so a policy's memory (statics, caches) may persist
//! between calls; it may also be reset at any time (the host starts a fresh
//! instance after a failure, when memory has grown, or for every call when the
//! operator sets `policy.isolation = "per-call"`). A cache in memory is
//! therefore fine as long as the policy decides the same without it. A policy
//! knows its arguments (the time, the apps, their params and the request) and
//! what it stored itself in [`kv`], the host's small key-value store kept per
//! policy name; that is the only state guaranteed to outlive a call.
//!
//! # Sandbox
//!
//! Calls are bounded in CPU time (a few milliseconds) and memory, and have no
//! filesystem, network, environment or arguments. Returning an error, running
//! out of time or panicking makes the host fall back: it forwards and counts
//! the request, or takes no action on the tick.

#![warn(missing_docs)]

// The generated bindings name this crate by its path so that the export macro
// works from policy crates; this makes the same path resolve inside it.
extern crate self as paastis_sdk;

mod app;
#[doc(hidden)]
pub mod bindings;
mod context;
mod decision;
mod error;
pub mod kv;
pub mod log;
mod params;
pub mod passive;
mod request;
mod sent_params;
pub mod testing;
mod time;
#[cfg(feature = "tz")]
pub mod tz;

#[doc(hidden)]
pub mod __private {
    pub use crate::glue::*;
}
mod glue;

pub use app::{App, AppState};
pub use context::{RequestContext, TickContext};
pub use decision::{Answer, Decision, Refusal, TickPlan};
pub use error::PolicyError;
pub use params::{ParamError, ParamValue, Params};
pub use request::Request;
pub use time::{Timestamp, format_duration, parse_duration};

/// A sleep/wake policy. Both phases have defaults that do nothing special, so
/// a policy overrides only what it changes.
///
/// The methods take no `self`: no instance state is guaranteed to survive
/// between calls (see the crate docs); durable state belongs in [`kv`].
///
/// ```
/// use paastis_sdk::testing::{AppBuilder, RequestBuilder};
/// use paastis_sdk::{Decision, Policy, PolicyError, RequestContext, Timestamp};
///
/// struct AdminOnly;
///
/// impl Policy for AdminOnly {
///     fn on_request(ctx: &RequestContext) -> Result<Decision, PolicyError> {
///         Ok(match ctx.request().path().starts_with("/admin") {
///             true => Decision::Forward,
///             false => Decision::refuse(404, "only /admin is served here"),
///         })
///     }
/// }
///
/// let ctx = RequestContext::new(Timestamp::from_secs(1), AppBuilder::new("a").build(), RequestBuilder::get("/").build());
/// assert!(matches!(AdminOnly::on_request(&ctx)?, Decision::Refuse(r) if r.status == 404));
/// # Ok::<(), PolicyError>(())
/// ```
pub trait Policy {
    /// Decides what to do with a request routed to `ctx.app()`. The default
    /// forwards it and counts it as activity.
    fn on_request(ctx: &RequestContext) -> Result<Decision, PolicyError> {
        let _ = ctx;
        Ok(Decision::Forward)
    }

    /// Plans which apps to put to sleep or wake up. The default does nothing.
    fn on_tick(ctx: &TickContext) -> Result<TickPlan, PolicyError> {
        let _ = ctx;
        Ok(TickPlan::default())
    }
}

/// Exports a type implementing [`Policy`] as the component's `handler`, and as
/// the optional `answering`, `ticking`, `requesting` and `requesting-text`
/// exports that newer hosts call instead.
///
/// Use it once per policy crate, at the top level. Outside WebAssembly it
/// expands to nothing, so the same crate builds and unit-tests natively.
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __PaastisPolicyExport;

            // Hosts that know answers call this one...
            impl $crate::__private::AnsweringGuest for __PaastisPolicyExport {
                fn on_request(
                    now: $crate::__private::WitTimestamp,
                    app: $crate::__private::WitApp,
                    request: $crate::__private::WitRequest,
                ) -> ::core::result::Result<$crate::__private::WitAction, $crate::__private::String> {
                    $crate::__private::on_request_action::<$policy>(now, app, request)
                }
            }

            // ...older hosts this one, with answers turned into the nearest decision.
            impl $crate::__private::Guest for __PaastisPolicyExport {
                fn on_request(
                    now: $crate::__private::WitTimestamp,
                    app: $crate::__private::WitApp,
                    request: $crate::__private::WitRequest,
                ) -> ::core::result::Result<$crate::__private::WitDecision, $crate::__private::String> {
                    $crate::__private::on_request::<$policy>(now, app, request)
                }

                fn on_tick(
                    now: $crate::__private::WitTimestamp,
                    apps: $crate::__private::Vec<$crate::__private::WitApp>,
                ) -> ::core::result::Result<$crate::__private::WitTickPlan, $crate::__private::String> {
                    $crate::__private::on_tick::<$policy>(now, apps)
                }
            }

            // Hosts that send params by reference, but not the whole request as
            // one text, call this one.
            impl $crate::__private::RequestingGuest for __PaastisPolicyExport {
                fn on_request(
                    now: $crate::__private::WitTimestamp,
                    app: $crate::__private::WitAppRef,
                    request: $crate::__private::WitLeanRequest,
                ) -> ::core::result::Result<$crate::__private::WitLeanAction, $crate::__private::String> {
                    $crate::__private::on_lean_request::<$policy>(now, app, request)
                }
            }

            // Hosts that send the request as one text call this one first of all.
            impl $crate::__private::RequestingTextGuest for __PaastisPolicyExport {
                fn on_request(
                    now: $crate::__private::WitTimestamp,
                    app: $crate::__private::WitAppStatus,
                    request: $crate::__private::String,
                ) -> ::core::result::Result<$crate::__private::WitTextAction, $crate::__private::String> {
                    $crate::__private::on_text_request::<$policy>(now, app, request)
                }
            }

            // Hosts that share params between apps call this tick.
            impl $crate::__private::TickingGuest for __PaastisPolicyExport {
                fn on_tick(
                    now: $crate::__private::WitTimestamp,
                    param_sets: $crate::__private::Vec<$crate::__private::Vec<$crate::__private::WitParam>>,
                    apps: $crate::__private::Vec<$crate::__private::WitAppEntry>,
                ) -> ::core::result::Result<$crate::__private::WitTickPlan, $crate::__private::String> {
                    $crate::__private::on_tick_shared::<$policy>(now, param_sets, apps)
                }
            }

            $crate::__private::bindings::export!(
                __PaastisPolicyExport with_types_in $crate::__private::bindings
            );
        };
    };
}
