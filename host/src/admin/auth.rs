//! Who may use the admin API. The bearer token comes from the environment
//! and is compared in constant time. Once a token is configured it is
//! required on every listener, loopback included: any local process (the
//! gateway's own apps among them) could otherwise sleep apps and upload
//! policies. Only a loopback listener without a configured token serves
//! requests without one; a request that presents a token there is still
//! refused if it is wrong, so a misconfigured client learns early.
//!
//! Two browser-borne attacks are closed as well: on a loopback listener the
//! Host header must be a loopback name (DNS rebinding), and a state-changing
//! request carrying an Origin header must come from the admin origin itself
//! (cross-site POSTs from a page the operator happens to visit).

use http::{HeaderMap, Method, header};
use subtle::ConstantTimeEq;

pub(crate) struct AdminAuth {
    token: Option<String>,
    required: bool,
    loopback: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Denied {
    /// No valid token: 401 with a WWW-Authenticate challenge.
    Unauthorized(&'static str),
    /// A request the admin API never serves from here: 403.
    Forbidden(&'static str),
}

impl AdminAuth {
    /// `required` applies when no token is configured (a listener off
    /// loopback refuses to start without one); a configured token is
    /// always required.
    pub(crate) fn new(token: Option<String>, required: bool, loopback: bool) -> AdminAuth {
        let required = required || token.is_some();
        AdminAuth { token, required, loopback }
    }

    /// `host` is the request's (Host, or :authority on HTTP/2).
    pub(crate) fn check(&self, method: &Method, host: &str, headers: &HeaderMap) -> Result<(), Denied> {
        if self.loopback && !is_loopback_host(host) {
            return Err(Denied::Forbidden("this admin listener only answers to localhost names"));
        }
        if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
            && let Some(origin) = headers.get(header::ORIGIN)
        {
            let same = origin.to_str().ok().and_then(|o| o.split_once("://")).is_some_and(|(_, h)| h == host);
            if !same {
                return Err(Denied::Forbidden("cross-origin requests may not change anything"));
            }
        }
        let presented = match headers.get(header::AUTHORIZATION) {
            None => None,
            Some(value) => match value.to_str().ok().and_then(bearer) {
                Some(token) => Some(token),
                None => return Err(Denied::Unauthorized("the Authorization header must be `Bearer <token>`")),
            },
        };
        match (presented, &self.token) {
            (Some(given), Some(token)) if constant_time_eq(given, token) => Ok(()),
            (Some(_), Some(_)) => Err(Denied::Unauthorized("wrong admin token")),
            // No token configured (loopback only): there is nothing to check against.
            (Some(_), None) => Ok(()),
            (None, _) if self.required => Err(Denied::Unauthorized("this admin API needs a bearer token")),
            (None, _) => Ok(()),
        }
    }
}

/// The token of a `Bearer` credential, however it is spaced or cased: a
/// tab or several spaces after the scheme still make a bearer credential
/// for a lenient app server, so they must for the proxy's stripping too.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(|c: char| c.is_ascii_whitespace())?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn constant_time_eq(given: &str, token: &str) -> bool {
    // `ct_eq` on slices of different lengths returns false at once; the
    // length of the token is not the secret.
    given.as_bytes().ct_eq(token.as_bytes()).into()
}

fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Removes from `headers` every `Authorization: Bearer <admin token>`: the
/// proxy calls it so the admin token never reaches an app, whatever the
/// client sends. Other credentials pass through untouched.
pub(crate) fn strip_admin_bearer(headers: &mut HeaderMap, token: &str) {
    let values: Vec<_> = headers.get_all(header::AUTHORIZATION).iter().cloned().collect();
    let kept: Vec<_> = values
        .iter()
        .filter(|v| !v.to_str().ok().and_then(bearer).is_some_and(|given| constant_time_eq(given, token)))
        .cloned()
        .collect();
    if kept.len() != values.len() {
        headers.remove(header::AUTHORIZATION);
        for value in kept {
            headers.append(header::AUTHORIZATION, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(host: &str, auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(auth) = auth {
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        }
        h
    }

    impl AdminAuth {
        /// As a request with these headers, its host from `Host`.
        fn check_headers(&self, method: &Method, headers: &HeaderMap) -> Result<(), Denied> {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
            self.check(method, host, headers)
        }
    }

    #[test]
    fn required_token_must_match() {
        let auth = AdminAuth::new(Some("s3cret".into()), true, false);
        let get = Method::GET;
        assert!(matches!(auth.check_headers(&get, &headers("admin.example", None)), Err(Denied::Unauthorized(_))));
        assert!(matches!(auth.check_headers(&get, &headers("a", Some("Bearer nope"))), Err(Denied::Unauthorized(_))));
        assert!(matches!(
            auth.check_headers(&get, &headers("a", Some("Basic czNjcmV0"))),
            Err(Denied::Unauthorized(_))
        ));
        assert_eq!(auth.check_headers(&get, &headers("a", Some("Bearer s3cret"))), Ok(()));
        assert_eq!(auth.check_headers(&get, &headers("a", Some("bearer  s3cret "))), Ok(()));
    }

    #[test]
    fn loopback_without_a_configured_token_serves_anyone() {
        let auth = AdminAuth::new(None, false, true);
        assert_eq!(auth.check_headers(&Method::GET, &headers("127.0.0.1:9180", None)), Ok(()));
        assert_eq!(auth.check_headers(&Method::GET, &headers("localhost:9180", Some("Bearer any"))), Ok(()));
        let rebound = auth.check_headers(&Method::GET, &headers("evil.example:9180", None));
        assert!(matches!(rebound, Err(Denied::Forbidden(_))));
    }

    #[test]
    fn a_configured_token_is_required_on_loopback_too() {
        let auth = AdminAuth::new(Some("s3cret".into()), false, true);
        let anonymous = auth.check_headers(&Method::GET, &headers("127.0.0.1:9180", None));
        assert!(matches!(anonymous, Err(Denied::Unauthorized(_))));
        assert_eq!(auth.check_headers(&Method::GET, &headers("localhost:9180", Some("Bearer s3cret"))), Ok(()));
        assert!(auth.check_headers(&Method::GET, &headers("[::1]:9180", Some("Bearer x"))).is_err());
    }

    #[test]
    fn cross_origin_writes_are_refused() {
        let auth = AdminAuth::new(None, false, true);
        let mut h = headers("127.0.0.1:9180", None);
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:9180"));
        assert_eq!(auth.check_headers(&Method::POST, &h), Ok(()));
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(matches!(auth.check_headers(&Method::POST, &h), Err(Denied::Forbidden(_))));
        assert_eq!(auth.check_headers(&Method::GET, &h), Ok(()));
    }

    #[test]
    fn stripping_is_not_fooled_by_case_or_spacing() {
        for variant in ["bearer s3cret", "BEARER s3cret", "Bearer\ts3cret", "Bearer  s3cret", " Bearer s3cret \t"] {
            let mut h = HeaderMap::new();
            h.append(header::AUTHORIZATION, HeaderValue::from_str(variant).unwrap());
            h.append(header::AUTHORIZATION, HeaderValue::from_static("Bearer app-token"));
            strip_admin_bearer(&mut h, "s3cret");
            let left: Vec<_> = h.get_all(header::AUTHORIZATION).iter().collect();
            assert_eq!(left, ["Bearer app-token"], "{variant:?} was forwarded");
        }
    }

    #[test]
    fn strips_only_the_admin_bearer() {
        let mut h = HeaderMap::new();
        h.append(header::AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
        strip_admin_bearer(&mut h, "s3cret");
        assert!(h.get(header::AUTHORIZATION).is_none());
        h.append(header::AUTHORIZATION, HeaderValue::from_static("Bearer app-token"));
        strip_admin_bearer(&mut h, "s3cret");
        assert_eq!(h[header::AUTHORIZATION], "Bearer app-token");
    }
}
