//! Response helpers: every answer is JSON, text or a static asset, built
//! whole (admin answers are small).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

pub(crate) type AdminBody = Full<Bytes>;

pub(super) fn json(status: StatusCode, value: &impl Serialize) -> Response<AdminBody> {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => with_type(status, body, "application/json"),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("cannot encode the answer: {e}")),
    }
}

/// `{"error": message}` with `status`.
pub(super) fn error(status: StatusCode, message: &str) -> Response<AdminBody> {
    let body = serde_json::json!({ "error": message }).to_string();
    with_type(status, body.into_bytes(), "application/json")
}

pub(super) fn with_type(status: StatusCode, body: impl Into<Bytes>, content_type: &'static str) -> Response<AdminBody> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Live data: never from a cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}
