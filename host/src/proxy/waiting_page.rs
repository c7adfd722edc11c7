//! The page a browser gets while its app wakes: it refreshes itself every
//! second, and once the app is awake the refresh lands on the page asked
//! for. Served with `Cache-Control: no-store` so no CDN keeps it. Other
//! clients are held until the app is ready instead (see `Proxy::route`).

use super::{ProxyBody, full};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use std::path::Path;

/// Marks the waiting page, so scripts and tests can tell it from the app.
pub(crate) const WAITING_HEADER: &str = "x-paastis-waiting";

const BUILTIN: &str = include_str!("waiting_page.html");

#[derive(Clone)]
pub(crate) struct WaitingPage {
    template: String,
}

impl Default for WaitingPage {
    fn default() -> Self {
        WaitingPage { template: BUILTIN.to_owned() }
    }
}

impl WaitingPage {
    /// A user's template; `{{app}}` stands for the app's name.
    pub(crate) fn load(path: &Path) -> std::io::Result<WaitingPage> {
        Ok(WaitingPage { template: std::fs::read_to_string(path)? })
    }

    /// Whether this request comes from a browser that can take the page: a
    /// GET (or HEAD) for HTML that is not an upgrade.
    pub(crate) fn suits<B>(request: &Request<B>) -> bool {
        let html = request
            .headers()
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|t| t.trim().to_ascii_lowercase().starts_with("text/html")));
        (request.method() == Method::GET || request.method() == Method::HEAD)
            && html
            && !request.headers().contains_key(header::UPGRADE)
    }

    pub(crate) fn render(&self, app: &str) -> Response<ProxyBody> {
        let body = self.template.replace("{{app}}", &escape(app));
        let mut response = Response::new(full(body));
        // 503 so crawlers and monitors do not take it for the app's page.
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        headers.insert(header::REFRESH, HeaderValue::from_static("1"));
        headers.insert(WAITING_HEADER, HeaderValue::from_static("1"));
        response
    }
}

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, accept: &str) -> Request<()> {
        Request::builder().method(method).header(header::ACCEPT, accept).body(()).unwrap()
    }

    #[test]
    fn only_browsers_asking_for_html_get_the_page() {
        assert!(WaitingPage::suits(&request(Method::GET, "text/html,application/xhtml+xml,*/*;q=0.8")));
        assert!(!WaitingPage::suits(&request(Method::GET, "application/json")));
        assert!(!WaitingPage::suits(&request(Method::POST, "text/html")));
    }

    #[test]
    fn renders_the_app_name_escaped_and_uncacheable() {
        let page = WaitingPage { template: "<p>{{app}}</p>".into() };
        let response = page.render("a<b");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }
}
