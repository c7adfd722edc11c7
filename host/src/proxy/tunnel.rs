//! Upgrade requests (WebSocket and others), and CONNECT: once the app
//! answers 101 (a CONNECT: any 2xx), the two connections are spliced and
//! bytes flow both ways until either side closes. The request's in-flight guard lives as long as the tunnel, so an
//! app is never put to sleep under an open WebSocket; its activity is
//! refreshed while the tunnel is open and again when it closes.

use super::drain::{DrainToken, Phase};
use crate::apps::InFlight;
use http::{HeaderMap, HeaderValue, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

/// How often an open tunnel counts as activity.
const TOUCH_EVERY: Duration = Duration::from_secs(1);
/// Once one side has closed, how long the other may go on sending: a peer
/// that never closes its half must not keep the app awake forever.
const LINGER: Duration = Duration::from_secs(5);

/// Whether the request asks to switch protocols (HTTP/1.1 `Connection:
/// upgrade` with an `Upgrade` header).
pub(super) fn requested(headers: &HeaderMap) -> Option<HeaderValue> {
    let upgrade = headers.get(header::UPGRADE)?;
    let connection_says_upgrade =
        super::headers::connection_tokens(headers).any(|token| token.eq_ignore_ascii_case("upgrade"));
    connection_says_upgrade.then(|| upgrade.clone())
}

/// Puts back the two headers that hop-by-hop stripping removed.
pub(super) fn restore_headers(headers: &mut HeaderMap, upgrade: HeaderValue) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, upgrade);
}

/// `_slot` keeps the client connection counted in `max_connections` while
/// the tunnel lives.
pub(super) async fn splice(
    client: OnUpgrade,
    upstream: OnUpgrade,
    guard: InFlight,
    mut drain: DrainToken,
    _slot: Option<super::ConnectionSlot>,
) {
    let app = guard.app_name();
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(both) => both,
        Err(e) => {
            tracing::warn!(app, error = %e, "upgrade failed; closing the tunnel");
            return;
        }
    };
    let copy = pipe(TokioIo::new(client), TokioIo::new(upstream));
    tokio::pin!(copy);
    let mut touch = tokio::time::interval(TOUCH_EVERY);
    // A tunnel has no request boundary to stop at: it runs on through the
    // drain, and only the end of the grace period cuts it.
    let cut = drain.reached(Phase::Cut);
    tokio::pin!(cut);
    loop {
        tokio::select! {
            (up, down) = &mut copy => {
                tracing::debug!(app, up, down, "tunnel closed");
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

/// Copies both ways; each direction passes its end of stream on. When one
/// direction is done, the other gets `LINGER` to finish. Returns the bytes
/// sent up and down.
async fn pipe<C, U>(client: C, upstream: U) -> (u64, u64)
where
    C: AsyncRead + AsyncWrite,
    U: AsyncRead + AsyncWrite,
{
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut upstream_read, mut upstream_write) = tokio::io::split(upstream);
    let up = async {
        let n = tokio::io::copy(&mut client_read, &mut upstream_write).await.unwrap_or(0);
        let _ = upstream_write.shutdown().await;
        n
    };
    let down = async {
        let n = tokio::io::copy(&mut upstream_read, &mut client_write).await.unwrap_or(0);
        let _ = client_write.shutdown().await;
        n
    };
    tokio::pin!(up, down);
    tokio::select! {
        n = &mut up => (n, tokio::time::timeout(LINGER, down).await.unwrap_or(0)),
        n = &mut down => (tokio::time::timeout(LINGER, up).await.unwrap_or(0), n),
    }
}
