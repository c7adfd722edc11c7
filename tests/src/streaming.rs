//! Responses stream: server-sent events reach the client as they are sent.

use crate::support::client::empty;
use crate::support::{AppBuilder, GatewayBuilder, within};
use http_body_util::BodyExt;
use std::time::Duration;

/// The app sends one event, then waits a minute before the next: the client
/// can only see the first one now if nothing buffers it.
pub async fn server_sent_events_pass_through_unbuffered() {
    let gateway = GatewayBuilder::new().app(AppBuilder::new("hello")).spawn().await;
    let client = gateway.client();
    let request = client.builder("hello.localhost", "/events?n=2&ms=60000").body(empty()).unwrap();
    let response = client.stream(request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let frame = within(Duration::from_secs(20), "the first event", body.frame()).await;
    let data = frame.expect("a frame").expect("no error").into_data().expect("a data frame");
    assert_eq!(&data[..], b"data: event 0\n\n");
}
