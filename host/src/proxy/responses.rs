//! Answers the gateway gives itself. Each has a short plain-text body that
//! says what happened, because the person reading it is usually debugging.

use super::ProxyBody;
use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, Full};

pub(crate) fn full(body: impl Into<Bytes>) -> ProxyBody {
    Full::new(body.into()).map_err(|never| match never {}).boxed()
}

pub(crate) fn text(status: StatusCode, message: impl Into<String>) -> Response<ProxyBody> {
    let mut body = message.into();
    body.push('\n');
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain; charset=utf-8"));
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

/// A 503 that tells clients when to try again.
pub(crate) fn unavailable(message: impl Into<String>, retry_after_secs: u32) -> Response<ProxyBody> {
    let mut response = text(StatusCode::SERVICE_UNAVAILABLE, message);
    response.headers_mut().insert(header::RETRY_AFTER, retry_after_secs.into());
    response
}

/// Marks responses a policy sent in the app's place. A `HeaderName`, not a
/// `&str`: a string would be parsed into a name at each lookup.
pub(crate) const ANSWERED_HEADER: header::HeaderName = header::HeaderName::from_static("x-paastis-answered");

/// A policy's answer, as it asked. The sandbox has checked the status,
/// header names and values; one that still does not fit `http` is dropped
/// rather than failing the answer.
pub(super) fn answered(answer: crate::policy::model::Answer) -> Response<ProxyBody> {
    let mut response = Response::new(full(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) =
            (header::HeaderName::from_bytes(name.as_bytes()), header::HeaderValue::from_str(&value))
        {
            response.headers_mut().append(name, value);
        }
    }
    response.headers_mut().insert(ANSWERED_HEADER, header::HeaderValue::from_static("1"));
    response
}
