//! Host header → app name.

use http::header::HOST;

/// Why a request names no host the gateway can trust. Each is a 400: a
/// front proxy and the gateway reading different hosts from one request
/// is how requests get smuggled to the wrong app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HostError {
    #[error("missing Host header")]
    Missing,
    #[error("more than one Host header")]
    Duplicate,
    #[error("the Host header differs from :authority")]
    Conflict,
    #[error("the Host header is not text")]
    Unreadable,
}

/// The host a request is for. An authority in the request target wins:
/// HTTP/2's `:authority`, and an HTTP/1.1 absolute-form URI over its Host
/// header (RFC 9112 §3.2.2). Otherwise the one Host header. Two Host
/// headers (RFC 9112 §3.2), or an HTTP/2 `host` that disagrees with
/// `:authority` (RFC 9113 §8.3.1), are refused.
pub(crate) fn request_host<B>(request: &http::Request<B>) -> Result<&str, HostError> {
    let mut hosts = request.headers().get_all(HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(HostError::Duplicate);
    }
    match (request.uri().authority(), host) {
        (Some(authority), Some(host))
            if request.version() == http::Version::HTTP_2
                && !host.as_bytes().eq_ignore_ascii_case(authority.as_str().as_bytes()) =>
        {
            Err(HostError::Conflict)
        }
        (Some(authority), _) => Ok(authority.as_str()),
        (None, Some(host)) => host.to_str().map_err(|_| HostError::Unreadable),
        (None, None) => Err(HostError::Missing),
    }
}

/// The app is the label just before the gateway's domain:
/// `hello.localhost` and `www.hello.localhost` both route to `hello`.
pub(crate) fn app_name<'a>(host: &'a str, domain: &str) -> Option<&'a str> {
    let host = host_name(host);
    let domain = domain.trim_matches('.');
    let prefix = host.len().checked_sub(domain.len() + 1)?;
    let (front, back) = host.split_at(prefix);
    if !back.starts_with('.') || !back[1..].eq_ignore_ascii_case(domain) {
        return None;
    }
    let label = front.rsplit('.').next()?;
    (!label.is_empty()).then_some(label)
}

/// An app name as the apps are known by, in lower case: copied only when it
/// has an upper-case letter, which requests rarely have (this runs on every
/// request).
pub(crate) fn lowercase(name: &str) -> std::borrow::Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// A request's host as routing reads it: without its port or trailing dots
/// (an IPv6 literal is kept whole, so it never names anything).
pub(crate) fn host_name(host: &str) -> &str {
    strip_port(host).trim_end_matches('.')
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // An IPv6 literal never names an app; keep it whole so it fails to match.
        return host;
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::{HostError, app_name, lowercase, request_host};
    use http::{Request, Version};
    use std::borrow::Cow;

    fn request(version: Version, uri: &str, hosts: &[&str]) -> Request<()> {
        let mut builder = Request::get(uri).version(version);
        for host in hosts {
            builder = builder.header("host", *host);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn the_host_is_unambiguous_or_refused() {
        let h1 = Version::HTTP_11;
        assert_eq!(request_host(&request(h1, "/", &["a.localhost"])), Ok("a.localhost"));
        assert_eq!(request_host(&request(h1, "/", &[])), Err(HostError::Missing));
        assert_eq!(request_host(&request(h1, "/", &["a.localhost", "b.localhost"])), Err(HostError::Duplicate));
        assert_eq!(request_host(&request(h1, "/", &["a.localhost", "a.localhost"])), Err(HostError::Duplicate));
        // Absolute form: the target's authority wins over Host.
        assert_eq!(request_host(&request(h1, "http://b.localhost/x", &["a.localhost"])), Ok("b.localhost"));
        let h2 = Version::HTTP_2;
        assert_eq!(request_host(&request(h2, "http://a.localhost/", &[])), Ok("a.localhost"));
        assert_eq!(request_host(&request(h2, "http://a.localhost/", &["A.localhost"])), Ok("a.localhost"));
        assert_eq!(request_host(&request(h2, "http://a.localhost/", &["b.localhost"])), Err(HostError::Conflict));
    }

    #[test]
    fn routes_by_the_label_before_the_domain() {
        assert_eq!(app_name("hello.localhost", "localhost"), Some("hello"));
        assert_eq!(app_name("hello.localhost:8080", "localhost"), Some("hello"));
        assert_eq!(app_name("www.hello.example.com", "example.com"), Some("hello"));
        assert_eq!(app_name("HELLO.Example.COM.", "example.com"), Some("HELLO"));
    }

    #[test]
    fn a_name_is_copied_to_lower_case_only_when_it_has_an_upper_case_letter() {
        assert!(matches!(lowercase("hello-2"), Cow::Borrowed("hello-2")));
        assert!(matches!(lowercase("héllo"), Cow::Borrowed("héllo")));
        assert_eq!(lowercase("HeLLo"), Cow::<str>::Owned("hello".to_owned()));
        // ASCII only, as `to_ascii_lowercase`: what the apps are named by.
        assert_eq!(lowercase("HÉllo"), "hÉllo");
    }

    #[test]
    fn refuses_other_hosts() {
        assert_eq!(app_name("localhost", "localhost"), None);
        assert_eq!(app_name("hello.other", "localhost"), None);
        assert_eq!(app_name("hellolocalhost", "localhost"), None);
        assert_eq!(app_name(".localhost", "localhost"), None);
        assert_eq!(app_name("[::1]:80", "localhost"), None);
    }
}
