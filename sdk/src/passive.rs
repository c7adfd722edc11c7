//! The shared convention for passive requests (health checks, uptime
//! monitors, bots), read from params, so every policy that offers it offers
//! it the same way:
//! - `passive_paths`: a request whose path equals an entry, or starts with an
//!   entry ending in `*` (minus the star), is passive;
//! - `passive_user_agents`: a request whose User-Agent contains an entry,
//!   ignoring case, is passive;
//! - `passive_asleep_status`: what a passive request gets while the app is
//!   not awake: this status (say 200) with `{"status":"asleep","app":NAME}`
//!   as JSON, rather than the gateway's 503.
//!
//! A passive request is served by the app while it is awake, never counts as
//! activity, and never wakes the app.
//!
//! ```
//! use paastis_sdk::passive;
//! use paastis_sdk::testing::{AppBuilder, RequestBuilder};
//! use paastis_sdk::{Decision, RequestContext, Timestamp};
//!
//! let app = AppBuilder::new("blog").param("passive_user_agents", ["UptimeRobot"]).param("passive_asleep_status", 200).build();
//! let monitor = RequestBuilder::get("/").user_agent("UptimeRobot/2.0").build();
//! let ctx = RequestContext::new(Timestamp::from_secs(1), app, monitor);
//! assert!(matches!(passive::decision(&ctx)?, Some(Decision::ForwardPassiveOr(a)) if a.status == 200));
//! # Ok::<(), paastis_sdk::PolicyError>(())
//! ```

use crate::{Answer, App, Decision, ParamError, Params, PolicyError, Request, RequestContext};

const STATUS: &str = "an HTTP status from 200 to 599, such as 200";

/// Whether `request` is passive under `params`; an error names a malformed param.
///
/// ```
/// use paastis_sdk::passive::is_passive;
/// use paastis_sdk::testing::{AppBuilder, RequestBuilder};
///
/// let app = AppBuilder::new("blog").param("passive_paths", ["/health", "/status/*"]).build();
/// assert!(is_passive(app.params(), &RequestBuilder::get("/status/db").build())?);
/// assert!(!is_passive(app.params(), &RequestBuilder::get("/").build())?);
/// # Ok::<(), paastis_sdk::PolicyError>(())
/// ```
pub fn is_passive(params: &Params, request: &Request) -> Result<bool, PolicyError> {
    // Read in place, from what the set's first call read (this runs on
    // every request; looking each param up by name, copying the lists or
    // lowercasing every string would be most of the call's work).
    let convention = params.passive();
    let path = request.path();
    if convention.paths()?.iter().any(|pattern| path_matches(pattern, path)) {
        return Ok(true);
    }
    let agents = convention.agents()?;
    if agents.is_empty() {
        return Ok(false);
    }
    let Some(agent) = request.user_agent() else {
        return Ok(false);
    };
    let ascii = agent.is_ascii();
    Ok(agents.iter().any(|needle| contains_ignoring_case(agent, ascii, needle)))
}

/// The convention's params of one set, read once (`Params::passive`): each
/// as it was found, a malformed one as its error, so that every call that
/// reads it fails as it would reading the param itself.
#[derive(Debug)]
pub(crate) struct Convention {
    paths: Result<Vec<String>, ParamError>,
    /// Without empty entries: one would match every client, which is never
    /// meant.
    agents: Result<Vec<String>, ParamError>,
    asleep_status: Result<Option<u16>, ParamError>,
}

impl Convention {
    pub(crate) fn read(params: &Params) -> Convention {
        let name = "passive_asleep_status";
        let asleep_status = match params.get(name) {
            None => Ok(None),
            Some(value) => params
                .integer(name)
                .ok()
                .and_then(|s| u16::try_from(s).ok())
                .filter(|s| (200..=599).contains(s))
                .map(Some)
                .ok_or_else(|| ParamError::mismatch(name, STATUS, value)),
        };
        Convention {
            paths: params.strings("passive_paths").map(<[String]>::to_vec),
            agents: params
                .strings("passive_user_agents")
                .map(|agents| agents.iter().filter(|needle| !needle.is_empty()).cloned().collect()),
            asleep_status,
        }
    }

    fn paths(&self) -> Result<&[String], ParamError> {
        self.paths.as_deref().map_err(Clone::clone)
    }

    fn agents(&self) -> Result<&[String], ParamError> {
        self.agents.as_deref().map_err(Clone::clone)
    }

    fn asleep_status(&self) -> Result<Option<u16>, ParamError> {
        self.asleep_status.clone()
    }
}

/// Whether `haystack` contains `needle`, ignoring case: without allocating
/// when both are ASCII (user agents nearly always are; `ascii` says whether
/// `haystack` is). Only the positions whose byte matches the needle's first
/// byte are compared further: this runs on every request.
fn contains_ignoring_case(haystack: &str, ascii: bool, needle: &str) -> bool {
    let Some((&first, rest)) = needle.as_bytes().split_first() else {
        return true;
    };
    if ascii && needle.is_ascii() {
        let haystack = haystack.as_bytes();
        let Some(last_start) = haystack.len().checked_sub(needle.len()) else {
            return false;
        };
        let first = first.to_ascii_lowercase();
        return (0..=last_start).any(|i| {
            haystack[i].to_ascii_lowercase() == first && haystack[i + 1..i + needle.len()].eq_ignore_ascii_case(rest)
        });
    }
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// What a passive request gets while `app` is not awake, from its
/// `passive_asleep_status` param: `None` (the gateway's 503) when it is not
/// set; an error when it is not a status from 200 to 599.
///
/// ```
/// use paastis_sdk::passive::asleep_answer;
/// use paastis_sdk::testing::AppBuilder;
///
/// let app = AppBuilder::new("blog").param("passive_asleep_status", 200).build();
/// let answer = asleep_answer(&app)?.expect("set");
/// assert_eq!((answer.status, answer.body.as_str()), (200, r#"{"status":"asleep","app":"blog"}"#));
/// assert!(asleep_answer(&AppBuilder::new("blog").param("passive_asleep_status", 42).build()).is_err());
/// # Ok::<(), paastis_sdk::PolicyError>(())
/// ```
pub fn asleep_answer(app: &App) -> Result<Option<Answer>, PolicyError> {
    Ok(app.params().passive().asleep_status()?.map(|status| answer_with(app, status)))
}

/// The asleep answer of `app` with `status`.
fn answer_with(app: &App, status: u16) -> Answer {
    // Gateway app names are host labels; escaped anyway, as JSON requires.
    let name: String = app.name().chars().filter(|c| !c.is_control()).collect();
    let body = format!(r#"{{"status":"asleep","app":"{}"}}"#, name.replace('\\', "\\\\").replace('"', "\\\""));
    Answer::new(status).json(body).header("cache-control", "no-store")
}

/// The whole convention in one call: `None` for a request that is not
/// passive; for a passive one, [`Decision::ForwardPassive`], or
/// [`Decision::ForwardPassiveOr`] the [`asleep_answer`] when the app sets
/// `passive_asleep_status`. Every param is read, so a malformed one is
/// refused when the gateway checks the config, not on the first monitor.
///
/// ```
/// use paastis_sdk::{passive, Decision, Policy, PolicyError, RequestContext};
///
/// struct Polite;
/// impl Policy for Polite {
///     fn on_request(ctx: &RequestContext) -> Result<Decision, PolicyError> {
///         Ok(passive::decision(ctx)?.unwrap_or(Decision::Forward))
///     }
/// }
/// ```
pub fn decision(ctx: &RequestContext) -> Result<Option<Decision>, PolicyError> {
    // The status is read first, so that a malformed one fails every call;
    // the answer itself (a formatted body, a header: a few allocations in
    // the guest) is made only for a passive request, not for every request
    // of an app that sets the status.
    let status = ctx.app().params().passive().asleep_status()?;
    if !is_passive(ctx.app().params(), ctx.request())? {
        return Ok(None);
    }
    Ok(Some(match status {
        Some(status) => Decision::ForwardPassiveOr(answer_with(ctx.app(), status)),
        None => Decision::ForwardPassive,
    }))
}

/// An entry ending in `*` matches every path starting with the rest of it.
fn path_matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => path == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::{asleep_answer, contains_ignoring_case, decision, is_passive};
    use crate::testing::{AppBuilder, RequestBuilder};
    use crate::{Decision, ParamValue, Params, RequestContext, Timestamp};

    /// The convention is read once per set: a set changed after (in a
    /// test) is read again, and a copy taken before keeps what it had.
    #[test]
    fn a_set_read_once_is_read_again_after_a_change() {
        let mut params: Params = [("passive_paths", ParamValue::from(["/health"]))].into_iter().collect();
        let (health, ping) = (RequestBuilder::get("/health").build(), RequestBuilder::get("/ping").build());
        assert_eq!((is_passive(&params, &health), is_passive(&params, &ping)), (Ok(true), Ok(false)));
        let before = params.clone();
        params.insert("passive_paths", ["/ping"]);
        assert_eq!((is_passive(&params, &health), is_passive(&params, &ping)), (Ok(false), Ok(true)));
        assert_eq!((is_passive(&before, &health), is_passive(&before, &ping)), (Ok(true), Ok(false)));
        params.insert("passive_paths", 3);
        assert!(is_passive(&params, &ping).is_err() && is_passive(&params, &ping).is_err(), "an error every call");
    }

    /// A malformed `passive_asleep_status` is refused on every call, and a
    /// good one answers with its status.
    #[test]
    fn the_asleep_status_is_checked_on_every_call() {
        for bad in [ParamValue::from("ok"), ParamValue::from(42), ParamValue::from(70_000)] {
            let app = AppBuilder::new("web").param("passive_asleep_status", bad.clone()).build();
            for _ in 0..2 {
                let err = asleep_answer(&app).unwrap_err();
                assert!(
                    err.message().contains("passive_asleep_status") && err.message().contains("200 to 599"),
                    "{bad}"
                );
            }
        }
        let app = AppBuilder::new("web").param("passive_asleep_status", "204").build();
        assert_eq!(asleep_answer(&app).map(|a| a.map(|a| a.status)), Ok(Some(204)));
        assert_eq!(asleep_answer(&AppBuilder::new("web").build()), Ok(None));
    }

    /// With `passive_asleep_status` set, a passive request gets the asleep
    /// answer and any other request nothing; a malformed status fails both.
    #[test]
    fn the_decision_answers_passive_requests_only_and_checks_the_status_on_every_call() {
        let app = AppBuilder::new("web").param("passive_paths", ["/health"]).param("passive_asleep_status", 200);
        let decide = |app: &AppBuilder, path: &str| {
            decision(&RequestContext::new(
                Timestamp::from_secs(1),
                app.clone().build(),
                RequestBuilder::get(path).build(),
            ))
        };
        let expected = asleep_answer(&app.clone().build()).unwrap().unwrap();
        assert_eq!(decide(&app, "/health"), Ok(Some(Decision::ForwardPassiveOr(expected))));
        assert_eq!(decide(&app, "/"), Ok(None));
        let malformed = app.param("passive_asleep_status", "ok");
        for path in ["/health", "/"] {
            assert!(decide(&malformed, path).unwrap_err().message().contains("passive_asleep_status"), "{path}");
        }
    }

    /// Read whether or not the request has a User-Agent, so that the
    /// config check (whose request has none) refuses a malformed list.
    #[test]
    fn a_malformed_agent_list_is_reported_without_a_user_agent() {
        let app = AppBuilder::new("web").param("passive_user_agents", 3).build();
        let err = is_passive(app.params(), &RequestBuilder::get("/").build()).unwrap_err();
        assert!(err.message().contains("passive_user_agents"), "{err}");
    }

    #[test]
    fn case_is_ignored_in_ascii_and_beyond() {
        let contains = |haystack: &str, needle: &str| contains_ignoring_case(haystack, haystack.is_ascii(), needle);
        assert!(contains("Mozilla/5.0 (compatible; UptimeRobot/2.0)", "uptimerobot"));
        assert!(contains("GoogleBot", "BOT"));
        assert!(!contains("Firefox", "bot"));
        assert!(!contains("bo", "bot"));
        assert!(contains("Überwachung/1.0", "überwachung"));
        assert!(contains("anything", ""));
        // At either end, exactly as long, and after a false start.
        assert!(contains("bot", "BOT") && contains("BOTx", "bot") && contains("xxBoT", "bot"));
        assert!(contains("bbot", "bot") && contains("b-bo-bOt", "bot") && !contains("b-bo-bo", "bot"));
        // Bytes that only look alike once lowercased bit-wise are not letters.
        assert!(!contains("[", "{") && !contains("@bot", "`bot"));
        assert!(contains("Überwachung bot", "BOT"), "a non-ASCII agent, an ASCII needle");
    }
}
