//! The request being proxied, as the policy sees it, borrowed: the sandbox
//! writes the policy's request text straight from it (no owned view, no
//! allocation per request), and makes an owned view of it only for policies
//! built before `requesting-text`.

use super::model::{HeaderLines, RequestSource};
use http::{HeaderMap, Method, Request, Uri, header};

/// A request's method, target and headers, and its client's address.
pub(super) struct HttpRequest<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    /// As `IpAddr`'s `Display` writes it: the proxy writes it once per
    /// connection (`proxy::Peer`), not once per request.
    client: &'a str,
}

impl<'a> HttpRequest<'a> {
    pub(super) fn new<B>(request: &'a Request<B>, client: &'a str) -> HttpRequest<'a> {
        HttpRequest { method: request.method(), uri: request.uri(), headers: request.headers(), client }
    }
}

impl RequestSource for HttpRequest<'_> {
    fn method(&self) -> &str {
        self.method.as_str()
    }

    fn path(&self) -> &str {
        self.uri.path()
    }

    fn query(&self) -> Option<&str> {
        self.uri.query()
    }

    fn write_client_addr(&self, out: &mut String) {
        out.push_str(self.client);
    }

    fn write_headers(&self, lines: &mut HeaderLines) {
        let mut has_host = false;
        for (name, value) in self.headers {
            // A comparison of standard names, not a second lookup in the map.
            has_host |= name == header::HOST;
            lines.push_bytes(name.as_str(), value.as_bytes());
        }
        // HTTP/2 carries the host in :authority; policies see it as `host` either way.
        if !has_host && let Some(authority) = self.uri.authority() {
            lines.push("host", authority.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::{RequestView, write_request_text};
    use http::HeaderValue;
    use std::net::SocketAddr;

    /// The gateway's view of a request before the sandbox wrote the text
    /// from the request itself (main at 2edf866, `policy::request_view`),
    /// kept as the reference the borrowed path must match byte for byte.
    fn request_view_before<B>(request: &Request<B>, client: SocketAddr) -> RequestView {
        let fields = request.headers();
        let bytes = fields.iter().map(|(k, v)| k.as_str().len() + v.len() + 3).sum();
        let mut headers = HeaderLines::with_capacity(bytes);
        for (name, value) in fields {
            headers.push(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
        }
        if !fields.contains_key(http::header::HOST)
            && let Some(authority) = request.uri().authority()
        {
            headers.push("host", authority.as_str());
        }
        RequestView {
            method: request.method().as_str().to_owned(),
            path: request.uri().path().to_owned(),
            query: request.uri().query().map(str::to_owned),
            headers,
            client_addr: client.ip().to_string(),
        }
    }

    /// The sandbox's request text before (`requesting_text::write_text` at
    /// 2edf866), from an owned view.
    fn text_before(app: &str, request: &RequestView) -> String {
        fn push_clean(out: &mut String, text: &str) {
            out.extend(text.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }));
        }
        let mut text = String::new();
        for line in [app, &request.method, &request.path] {
            push_clean(&mut text, line);
            text.push('\n');
        }
        if let Some(query) = &request.query {
            text.push('?');
            push_clean(&mut text, query);
        }
        text.push('\n');
        push_clean(&mut text, &request.client_addr);
        text.push('\n');
        text.push_str(request.headers.as_str());
        text
    }

    fn get(target: &str) -> http::request::Builder {
        Request::builder().method("GET").uri(target)
    }

    #[test]
    fn the_text_written_from_the_request_is_the_text_of_the_view_before() {
        let v4: SocketAddr = "203.0.113.7:50000".parse().unwrap();
        let v4_small: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:443".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:192.0.2.1]:80".parse().unwrap();
        let mut odd_value = get("/").header("host", "a.example.com").body(()).unwrap();
        // obs-text: bytes that are not UTF-8, which hyper lets through.
        odd_value.headers_mut().insert("x-latin1", HeaderValue::from_bytes(b"caf\xe9 \xff\xfe ok").unwrap());
        odd_value.headers_mut().append("x-latin1", HeaderValue::from_bytes(b"\xc3").unwrap());
        let cases: Vec<(&str, Request<()>, SocketAddr)> = vec![
            (
                "plain",
                get("/a/b?q=1&r=2").header("host", "blog.localhost").header("user-agent", "curl/8").body(()).unwrap(),
                v4,
            ),
            ("no query", get("/a").header("host", "blog.localhost").body(()).unwrap(), v4_small),
            ("empty query", get("/a?").header("host", "blog.localhost").body(()).unwrap(), v4),
            ("no headers", get("/").body(()).unwrap(), v4),
            ("non-UTF-8 values", odd_value, v4),
            ("h2, absolute URI, no Host", get("https://blog.example.com:8443/x?y").body(()).unwrap(), v6),
            (
                "absolute URI and a Host",
                get("http://a.example.com/x").header("host", "b.example.com").body(()).unwrap(),
                mapped,
            ),
            (
                "repeated and odd headers",
                Request::builder()
                    .method("PATCH")
                    .uri("/%0A?a=%0D")
                    .header("host", "a")
                    .header("cookie", "a=1")
                    .header("cookie", "b=2")
                    .header("x-empty", "")
                    .header("x-colon", "a: b")
                    .body(())
                    .unwrap(),
                v6,
            ),
            ("CONNECT", Request::builder().method("CONNECT").uri("example.com:443").body(()).unwrap(), v4),
            ("OPTIONS *", Request::builder().method("OPTIONS").uri("*").header("host", "a").body(()).unwrap(), v4),
        ];
        let mut text = String::from("left over from an earlier call\n");
        for (case, request, client) in &cases {
            let before = request_view_before(request, *client);
            let client = client.ip().to_string();
            let source = HttpRequest::new(request, &client);
            write_request_text(&mut text, "blog", &source);
            assert_eq!(text, text_before("blog", &before), "{case}");
            assert_eq!(RequestView::of(&source), before, "{case}: the owned view older policies get");
        }
    }
}
