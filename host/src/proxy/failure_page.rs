//! The page a browser gets when its app could not be woken: styled like the
//! waiting page, it says so and reloads itself when the cool-down ends. It
//! shows no reason: a reason names pids, paths and ports, which are the
//! operator's business (the dashboard and the log have them). Other clients
//! get the plain-text 503 with the reason.

use super::{ProxyBody, full};
use http::{HeaderValue, Response, StatusCode, header};

const TEMPLATE: &str = include_str!("failure_page.html");

/// Marks the failure page, so scripts and tests can tell it from the app.
pub(crate) const FAILED_HEADER: &str = "x-paastis-wake-failed";

pub(super) fn render(app: &str, retry_after_secs: u32) -> Response<ProxyBody> {
    let retry = retry_after_secs.to_string();
    let body = TEMPLATE.replace("{{app}}", &super::waiting_page::escape(app)).replace("{{retry}}", &retry);
    let mut response = Response::new(full(body));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::RETRY_AFTER, retry_after_secs.into());
    headers.insert(header::REFRESH, retry_after_secs.into());
    headers.insert(FAILED_HEADER, HeaderValue::from_static("1"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn says_when_it_retries_and_escapes_the_name() {
        let response = render("a<b", 4);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "4");
        assert_eq!(response.headers()[header::REFRESH], "4");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let html = String::from_utf8_lossy(&body);
        assert!(html.contains("a&lt;b could not start") && html.contains("content=\"4\""), "{html}");
        assert!(!html.contains("{{"), "{html}");
    }
}
