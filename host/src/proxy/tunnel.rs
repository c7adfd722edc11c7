//! Upgrade requests (WebSocket and others): once the app answers 101, the two
//! connections are spliced and bytes flow both ways until either side
//! closes. The request's in-flight guard lives as long as the tunnel, so an
//! app is never put to sleep under an open WebSocket; its activity is
//! refreshed while the tunnel is open and again when it closes.

use super::drain::{DrainToken, Phase};
use crate::apps::InFlight;
use http::{HeaderMap, HeaderValue, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::time::Duration;

/// How often an open tunnel counts as activity.
const TOUCH_EVERY: Duration = Duration::from_secs(1);

/// Whether the request asks to switch protocols (HTTP/1.1 `Connection:
/// upgrade` with an `Upgrade` header).
pub fn requested(headers: &HeaderMap) -> Option<HeaderValue> {
    let upgrade = headers.get(header::UPGRADE)?;
    let connection_says_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    connection_says_upgrade.then(|| upgrade.clone())
}

/// Puts back the two headers that hop-by-hop stripping removed.
pub fn restore_headers(headers: &mut HeaderMap, upgrade: HeaderValue) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, upgrade);
}

pub async fn splice(client: OnUpgrade, upstream: OnUpgrade, guard: InFlight, mut drain: DrainToken, app: String) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(both) => both,
        Err(e) => {
            tracing::warn!(app, error = %e, "upgrade failed; closing the tunnel");
            return;
        }
    };
    let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
    let copy = tokio::io::copy_bidirectional(&mut client, &mut upstream);
    tokio::pin!(copy);
    let mut touch = tokio::time::interval(TOUCH_EVERY);
    // A tunnel has no request boundary to stop at: it runs on through the
    // drain, and only the end of the grace period cuts it.
    let cut = drain.reached(Phase::Cut);
    tokio::pin!(cut);
    loop {
        tokio::select! {
            result = &mut copy => {
                match result {
                    Ok((up, down)) => tracing::debug!(app, up, down, "tunnel closed"),
                    Err(e) => tracing::debug!(app, error = %e, "tunnel ended with an error"),
                }
                break;
            }
            _ = touch.tick() => guard.touch(),
            () = &mut cut => {
                tracing::info!(app, "grace period over; closing an open tunnel");
                break;
            }
        }
    }
    // Dropping the guard touches the app once more: the idle clock starts now.
    drop(guard);
}
