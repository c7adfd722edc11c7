//! The test policies in `tests/policies`, built to components by
//! `tests/build.rs`. The gateway names a policy file after its stem, so the
//! `policy` field of their log events is `paastis_test_policy_<name>`.

use std::path::Path;

/// Refuses every request with 418 "teapot policy"; ticks do nothing.
pub const TEAPOT: &str = env!("TEST_POLICY_TEAPOT");
/// Loops forever in both hooks.
pub const SPIN: &str = env!("TEST_POLICY_SPIN");
/// Allocates until the memory limit, in both hooks.
pub const MEMORY_BOMB: &str = env!("TEST_POLICY_MEMORY_BOMB");
/// Panics in both hooks.
pub const PANICKY: &str = env!("TEST_POLICY_PANICKY");
/// Passes the load and startup checks, then misbehaves in its `mode` param
/// ("spin", "memory-bomb" or "panic") on requests with the `x-armed` header
/// and on ticks showing an app with activity.
pub const ARMED: &str = env!("TEST_POLICY_ARMED");
/// A valid component of another world: no paastis:policy handler export.
pub const WRONG_WORLD: &str = env!("TEST_POLICY_WRONG_WORLD");
/// Built against the contract as first released (only `handler`, no
/// `answering`): refuses with 409 "built before answers", except requests
/// whose User-Agent contains "monitor", which are passive.
pub const BEFORE_ANSWERS: &str = env!("TEST_POLICY_BEFORE_ANSWERS");
/// Built against the contract of stop 19 (`handler`, `answering`,
/// `ticking`; no `requesting`): answers every request with 200 and
/// "built before requesting: app=NAME greeting=PARAM user-agent=UA".
pub const BEFORE_REQUESTING: &str = env!("TEST_POLICY_BEFORE_REQUESTING");
/// Built against the contract of stop 22 (`handler`, `answering`,
/// `ticking`, `requesting`; no `requesting-text`): answers every request
/// with 200 and "built before requesting-text, via requesting: app=NAME
/// greeting=PARAM method=M path=P query=Q client=ADDR user-agent=UA" from
/// `requesting.on-request` (and "via answering" from `answering`'s).
pub const BEFORE_REQUESTING_TEXT: &str = env!("TEST_POLICY_BEFORE_REQUESTING_TEXT");
/// Answers every request itself with a 200 (JSON naming the app, an
/// `x-policy: answers` header and a cookie), asleep or awake; forwards
/// requests for `/through`.
pub const ANSWERS: &str = env!("TEST_POLICY_ANSWERS");

/// `policies/office-hours`: open on working days by a time zone's clock.
pub const OFFICE_HOURS: &str = env!("TEST_POLICY_OFFICE_HOURS");

/// The request header that arms the `ARMED` policy.
pub const ARM_HEADER: &str = "x-armed";

pub fn path(policy: &str) -> &Path {
    Path::new(policy)
}

/// The name the gateway gives a policy file: its stem.
pub fn name(policy: &str) -> String {
    path(policy).file_stem().expect("a file name").to_string_lossy().into_owned()
}

pub fn bytes(policy: &str) -> Vec<u8> {
    std::fs::read(policy).unwrap_or_else(|e| panic!("reading test policy {policy}: {e}"))
}
