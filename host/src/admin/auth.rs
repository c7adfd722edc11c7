//! Who may use the admin API. The bearer token comes from the environment
//! and is compared in constant time. It is required when the listener is
//! not on loopback; on loopback a request without one is served, but a
//! request that presents a wrong one is refused, so a misconfigured client
//! learns early.
//!
//! Two browser-borne attacks are closed as well: on a loopback listener the
//! Host header must be a loopback name (DNS rebinding), and a state-changing
//! request carrying an Origin header must come from the admin origin itself
//! (cross-site POSTs from a page the operator happens to visit).

use http::{HeaderMap, Method, header};
use subtle::ConstantTimeEq;

pub struct AdminAuth {
    token: Option<String>,
    required: bool,
    loopback: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    /// No valid token: 401 with a WWW-Authenticate challenge.
    Unauthorized(&'static str),
    /// A request the admin API never serves from here: 403.
    Forbidden(&'static str),
}

impl AdminAuth {
    pub fn new(token: Option<String>, required: bool, loopback: bool) -> AdminAuth {
        AdminAuth { token, required, loopback }
    }

    pub fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), Denied> {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
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

fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
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
pub fn strip_admin_bearer(headers: &mut HeaderMap, token: &str) {
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

    #[test]
    fn required_token_must_match() {
        let auth = AdminAuth::new(Some("s3cret".into()), true, false);
        let get = Method::GET;
        assert!(matches!(auth.check(&get, &headers("admin.example", None)), Err(Denied::Unauthorized(_))));
        assert!(matches!(auth.check(&get, &headers("a", Some("Bearer nope"))), Err(Denied::Unauthorized(_))));
        assert!(matches!(auth.check(&get, &headers("a", Some("Basic czNjcmV0"))), Err(Denied::Unauthorized(_))));
        assert_eq!(auth.check(&get, &headers("a", Some("Bearer s3cret"))), Ok(()));
        assert_eq!(auth.check(&get, &headers("a", Some("bearer  s3cret "))), Ok(()));
    }

    #[test]
    fn loopback_serves_without_a_token_but_refuses_a_wrong_one() {
        let auth = AdminAuth::new(Some("s3cret".into()), false, true);
        assert_eq!(auth.check(&Method::GET, &headers("127.0.0.1:9180", None)), Ok(()));
        assert_eq!(auth.check(&Method::GET, &headers("localhost:9180", Some("Bearer s3cret"))), Ok(()));
        assert!(auth.check(&Method::GET, &headers("[::1]:9180", Some("Bearer x"))).is_err());
        let rebound = auth.check(&Method::GET, &headers("evil.example:9180", None));
        assert!(matches!(rebound, Err(Denied::Forbidden(_))));
    }

    #[test]
    fn cross_origin_writes_are_refused() {
        let auth = AdminAuth::new(None, false, true);
        let mut h = headers("127.0.0.1:9180", None);
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:9180"));
        assert_eq!(auth.check(&Method::POST, &h), Ok(()));
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(matches!(auth.check(&Method::POST, &h), Err(Denied::Forbidden(_))));
        assert_eq!(auth.check(&Method::GET, &h), Ok(()));
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
