//! Host header → app name.

/// The host a request is for: HTTP/2 carries it in :authority, HTTP/1.1 in Host.
pub fn request_host<B>(request: &http::Request<B>) -> Option<&str> {
    request
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
}

/// The app is the label just before the gateway's domain:
/// `hello.localhost` and `www.hello.localhost` both route to `hello`.
pub fn app_name<'a>(host: &'a str, domain: &str) -> Option<&'a str> {
    let host = strip_port(host).trim_end_matches('.');
    let domain = domain.trim_matches('.');
    let prefix = host.len().checked_sub(domain.len() + 1)?;
    let (front, back) = host.split_at(prefix);
    if !back.starts_with('.') || !back[1..].eq_ignore_ascii_case(domain) {
        return None;
    }
    let label = front.rsplit('.').next()?;
    (!label.is_empty()).then_some(label)
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
    use super::app_name;

    #[test]
    fn routes_by_the_label_before_the_domain() {
        assert_eq!(app_name("hello.localhost", "localhost"), Some("hello"));
        assert_eq!(app_name("hello.localhost:8080", "localhost"), Some("hello"));
        assert_eq!(app_name("www.hello.example.com", "example.com"), Some("hello"));
        assert_eq!(app_name("HELLO.Example.COM.", "example.com"), Some("HELLO"));
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
