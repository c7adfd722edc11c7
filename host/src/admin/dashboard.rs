//! The dashboard: one HTML page, a stylesheet and a script, compiled into
//! the binary. No build step, no CDN: the page works offline and loads
//! nothing from anywhere but this listener.

use super::respond::{AdminBody, with_type};
use http::{HeaderValue, Response, StatusCode};

const INDEX: &str = include_str!("dashboard/index.html");
const ASSETS: [(&str, &str, &str); 2] = [
    ("/dashboard.css", include_str!("dashboard/dashboard.css"), "text/css; charset=utf-8"),
    ("/dashboard.js", include_str!("dashboard/dashboard.js"), "text/javascript; charset=utf-8"),
];

pub fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    ASSETS.iter().find(|(p, _, _)| *p == path).map(|(_, body, kind)| (*body, *kind))
}

pub fn page() -> Response<AdminBody> {
    let mut response = with_type(StatusCode::OK, INDEX, "text/html; charset=utf-8");
    // Only this listener's own script and style; no framing by other sites.
    response.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    response
}

pub fn serve(path: &str) -> Response<AdminBody> {
    match asset(path) {
        Some((body, kind)) => with_type(StatusCode::OK, body, kind),
        None => super::respond::error(StatusCode::NOT_FOUND, "no such asset"),
    }
}
