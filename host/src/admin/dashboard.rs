//! The dashboard: one HTML page, a stylesheet and a script, compiled into
//! the binary. No build step, no CDN: the page works offline and loads
//! nothing from anywhere but this listener.

use super::respond::{AdminBody, with_type};
use http::{HeaderValue, Response, StatusCode};

const INDEX: &str = include_str!("dashboard/index.html");
const JS: &str = "text/javascript; charset=utf-8";
/// The page's files, each with one job; `index.html` loads the scripts in
/// this order (later ones use what earlier ones define).
const ASSETS: [(&str, &str, &str); 6] = [
    ("/dashboard.css", include_str!("dashboard/dashboard.css"), "text/css; charset=utf-8"),
    ("/format.js", include_str!("dashboard/format.js"), JS),
    ("/dom.js", include_str!("dashboard/dom.js"), JS),
    ("/timeline.js", include_str!("dashboard/timeline.js"), JS),
    ("/savings-chart.js", include_str!("dashboard/savings-chart.js"), JS),
    ("/dashboard.js", include_str!("dashboard/dashboard.js"), JS),
];

pub(super) fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    ASSETS.iter().find(|(p, _, _)| *p == path).map(|(_, body, kind)| (*body, *kind))
}

pub(super) fn page() -> Response<AdminBody> {
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

pub(super) fn serve(path: &str) -> Response<AdminBody> {
    match asset(path) {
        Some((body, kind)) => with_type(StatusCode::OK, body, kind),
        None => super::respond::error(StatusCode::NOT_FOUND, "no such asset"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file the page links to is served, in the order of `ASSETS`,
    /// and the page links to every asset.
    #[test]
    fn the_page_loads_every_asset_and_only_those() {
        let linked: Vec<&str> = INDEX
            .split(['"', '\''])
            .filter(|part| part.starts_with('/') && (part.ends_with(".js") || part.ends_with(".css")))
            .collect();
        let served: Vec<&str> = ASSETS.iter().map(|(path, _, _)| *path).collect();
        assert_eq!(linked, served);
    }
}
