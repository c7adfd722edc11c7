//! The pool against a real app on 127.0.0.1: a plain-threads HTTP/1.1
//! server that counts its connections, so that what the client does on the
//! wire (a reuse, a close) is seen from the app's side.

use super::*;
use http::Method;
use http_body_util::{BodyExt, Empty};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

const DEADLINE: Duration = Duration::from_secs(5);

struct App {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    /// One message per connection that ended (the client closed it, or the
    /// app did).
    ended: mpsc::Receiver<()>,
    /// With `Mode::HoldFirst`: closes the first connection, idle after its
    /// first answer.
    close_first: mpsc::Sender<()>,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Answers every request.
    Serve,
    /// The first connection is closed by the app when the test says so,
    /// after its first answer.
    HoldFirst,
    /// The first connection takes a second request, then closes without
    /// answering it (the app's keep-alive timeout firing as the request
    /// came).
    CloseFirstOnSecond,
    /// Answers with half of a 10-byte body, then waits for the client to
    /// close.
    HalfABody,
}

/// Answers requests with `ok` and the given extra header lines, as `mode`
/// says.
fn app(extra_headers: &'static str, mode: Mode) -> App {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let (ended_tx, ended) = mpsc::channel();
    let (close_first, close_rx) = mpsc::channel::<()>();
    let close_rx = Arc::new(Mutex::new(Some(close_rx)));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let nth = counter.fetch_add(1, Ordering::SeqCst);
            let hold = (mode == Mode::HoldFirst && nth == 0).then(|| close_rx.lock().unwrap().take()).flatten();
            let answers = match mode {
                Mode::CloseFirstOnSecond if nth == 0 => 1,
                _ => usize::MAX,
            };
            let ended_tx = ended_tx.clone();
            std::thread::spawn(move || {
                serve(stream, extra_headers, hold, answers, mode == Mode::HalfABody);
                let _ = ended_tx.send(());
            });
        }
    });
    App { addr, accepted, ended, close_first }
}

/// Reads a request head; false at the end of the stream.
fn read_head(reader: &mut BufReader<TcpStream>) -> bool {
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) if line == "\r\n" => return true,
            Ok(_) => {}
        }
    }
}

fn serve(stream: TcpStream, extra_headers: &str, hold: Option<mpsc::Receiver<()>>, answers: usize, half: bool) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    // The tests send no bodies.
    for _ in 0..answers {
        if !read_head(&mut reader) {
            return;
        }
        if half {
            let _ = writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello");
            // Until the client closes.
            let _ = std::io::Read::read(&mut reader, &mut [0; 1]);
            return;
        }
        let answer = format!("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n{extra_headers}\r\nok");
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
        if let Some(hold) = &hold {
            let _ = hold.recv_timeout(DEADLINE);
            return;
        }
    }
    // The next request, left unanswered.
    read_head(&mut reader);
}

fn client(idle: Duration) -> UpstreamClient {
    Upstream::new(None, DEADLINE).unwrap().pooled(idle)
}

fn pool_of(client: &UpstreamClient) -> &pool::Pool {
    client.pool.as_deref().unwrap()
}

/// A request without a body, as the client takes it.
fn bodiless(method: Method, addr: SocketAddr) -> http::Request<UpstreamBody> {
    let empty = Empty::new().map_err(|never| match never {}).boxed();
    http::Request::builder().method(method).uri(format!("http://{addr}/")).body(empty).unwrap()
}

async fn get(client: &UpstreamClient, addr: SocketAddr) -> String {
    let request = bodiless(Method::GET, addr);
    let exchange = async {
        let response = client.request(request).await.map_err(|e| crate::error_chain::causes(&e)).unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&body).into_owned()
    };
    tokio::time::timeout(DEADLINE, exchange).await.expect("no answer within the deadline")
}

/// Waits, off the runtime, for `n` connections of the app to end.
async fn connections_end(app: &mut App, n: usize) {
    let (ended, rest) = {
        let ended = std::mem::replace(&mut app.ended, mpsc::channel().1);
        tokio::task::spawn_blocking(move || {
            let got = (0..n).all(|_| ended.recv_timeout(DEADLINE).is_ok());
            (got, ended)
        })
        .await
        .unwrap()
    };
    app.ended = rest;
    assert!(ended, "{n} connection(s) did not end within {DEADLINE:?}");
}

#[tokio::test]
async fn a_connection_serves_the_next_request_once_its_answer_was_read() {
    let app = app("", Mode::Serve);
    let client = client(Duration::from_secs(30));
    for _ in 0..3 {
        assert_eq!(get(&client, app.addr).await, "ok");
    }
    assert_eq!(app.accepted.load(Ordering::SeqCst), 1, "the app saw a connection per request");
    assert_eq!(pool_of(&client).idle_count(), 1);
}

#[tokio::test]
async fn an_answer_dropped_before_its_end_does_not_bring_its_connection_back() {
    let mut app = app("", Mode::Serve);
    let client = client(Duration::from_secs(30));
    let request = bodiless(Method::GET, app.addr);
    let response = tokio::time::timeout(DEADLINE, client.request(request)).await.unwrap().unwrap();
    drop(response);
    assert_eq!(pool_of(&client).idle_count(), 0);
    // Its sender gone, hyper closes the connection.
    connections_end(&mut app, 1).await;
}

#[tokio::test]
async fn a_connection_the_app_will_close_is_not_kept() {
    let mut app = app("connection: close\r\n", Mode::Serve);
    let client = client(Duration::from_secs(30));
    assert_eq!(get(&client, app.addr).await, "ok");
    assert_eq!(pool_of(&client).idle_count(), 0, "a `connection: close` answer's connection was pooled");
    connections_end(&mut app, 1).await;
    assert_eq!(get(&client, app.addr).await, "ok");
    assert_eq!(app.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let mut app = app("", Mode::Serve);
    let client = client(Duration::from_millis(200));
    assert_eq!(get(&client, app.addr).await, "ok");
    assert_eq!(pool_of(&client).idle_count(), 1);
    // The sweep drops it, and hyper closes it: the app sees the end.
    connections_end(&mut app, 1).await;
    assert_eq!(pool_of(&client).idle_count(), 0);
    assert_eq!(get(&client, app.addr).await, "ok");
    assert_eq!(app.accepted.load(Ordering::SeqCst), 2);
}

/// The app closes an idle pooled connection, and the gateway has not yet
/// noticed (its connection task has not run since: this test's runtime has
/// one thread, blocked meanwhile), so the request goes out on it and the
/// connection ends without an answer. A GET without a body on a connection
/// idle for long enough goes out once more, on a fresh connection.
#[tokio::test(flavor = "current_thread")]
async fn a_get_on_a_pooled_connection_the_app_just_closed_is_sent_again_on_a_fresh_one() {
    let app = app("", Mode::HoldFirst);
    let mut client = client(Duration::from_secs(30));
    // Any idle time counts as long enough here.
    client.pool = Some(pool::Pool::with_stale_after(Duration::from_secs(30), Duration::ZERO));
    assert_eq!(get(&client, app.addr).await, "ok");
    app.close_first.send(()).unwrap();
    // Blocking on purpose: the connection's task must not see the close.
    app.ended.recv_timeout(DEADLINE).expect("the app did not close its connection");
    let key = pool::Key { scheme: http::uri::Scheme::HTTP, authority: app.addr.to_string().parse().unwrap() };
    assert!(pool_of(&client).has_open(&key), "the pool already knew the connection closed: nothing to retry");
    assert_eq!(get(&client, app.addr).await, "ok");
    assert_eq!(app.accepted.load(Ordering::SeqCst), 2);
}

/// The same race with a connection reused at once is the app's failure:
/// without a copy of the request, nothing is sent twice.
#[tokio::test(flavor = "current_thread")]
async fn a_request_on_a_connection_reused_at_once_is_not_sent_twice() {
    let app = app("", Mode::HoldFirst);
    let client = client(Duration::from_secs(30));
    assert_eq!(get(&client, app.addr).await, "ok");
    app.close_first.send(()).unwrap();
    app.ended.recv_timeout(DEADLINE).expect("the app did not close its connection");
    let request = bodiless(Method::GET, app.addr);
    let error = tokio::time::timeout(DEADLINE, client.request(request)).await.unwrap().unwrap_err();
    assert!(matches!(error, SendError::Exchange(_)), "{error:?}");
    assert_eq!(app.accepted.load(Ordering::SeqCst), 1);
}

/// The app closes an idle pooled connection: once the runtime has taken in
/// the close, the next checkout skips it and connects afresh, whatever the
/// request (a POST here: never sent twice, so no retry could hide a reuse).
#[tokio::test(flavor = "current_thread")]
async fn a_connection_the_app_closed_while_idle_is_not_reused() {
    let app = app("", Mode::HoldFirst);
    let client = client(Duration::from_secs(30));
    assert_eq!(get(&client, app.addr).await, "ok");
    assert_eq!(pool_of(&client).idle_count(), 1);
    app.close_first.send(()).unwrap();
    app.ended.recv_timeout(DEADLINE).expect("the app did not close its connection");
    // The close is in the kernel (loopback delivers it within `close`);
    // one turn of this runtime takes it in (the reactor, then the
    // connection's task), as it would between any two polls of a busy
    // runtime. Only a close that lands after that goes unseen: the race the
    // retry of safe requests is for.
    tokio::task::yield_now().await;
    let request = bodiless(Method::POST, app.addr);
    let response = tokio::time::timeout(DEADLINE, client.request(request)).await.unwrap();
    assert_eq!(response.map_err(|e| crate::error_chain::causes(&e)).unwrap().status(), 200);
    assert_eq!(app.accepted.load(Ordering::SeqCst), 2);
}

/// The app closes a pooled connection as a request comes in on it, before
/// any answer (its keep-alive timeout firing then), on a multi-threaded
/// runtime where nothing is held back. A GET without a body
/// on a connection idle for long enough goes out once more, on a fresh
/// connection.
#[tokio::test]
async fn a_get_the_app_closes_its_connection_on_is_sent_again_on_a_fresh_one() {
    let app = app("", Mode::CloseFirstOnSecond);
    let mut client = client(Duration::from_secs(30));
    // Any idle time counts as long enough here.
    client.pool = Some(pool::Pool::with_stale_after(Duration::from_secs(30), Duration::ZERO));
    assert_eq!(get(&client, app.addr).await, "ok");
    assert_eq!(get(&client, app.addr).await, "ok");
    assert_eq!(app.accepted.load(Ordering::SeqCst), 2);
}

/// The same race with a connection reused at once is the app's failure:
/// without a copy of the request, nothing is sent twice.
#[tokio::test]
async fn a_get_on_a_connection_reused_at_once_is_not_sent_twice_when_the_app_closes_it() {
    let app = app("", Mode::CloseFirstOnSecond);
    let client = client(Duration::from_secs(30));
    assert_eq!(get(&client, app.addr).await, "ok");
    let request = bodiless(Method::GET, app.addr);
    let error = tokio::time::timeout(DEADLINE, client.request(request)).await.unwrap().unwrap_err();
    assert!(matches!(error, SendError::Exchange(_)), "{error:?}");
    assert_eq!(app.accepted.load(Ordering::SeqCst), 1);
}

/// A body read in part, then dropped (the client went away): its
/// connection is closed, not pooled with the rest of the body unread.
#[tokio::test]
async fn a_body_dropped_midway_closes_its_connection() {
    let mut app = app("", Mode::HalfABody);
    let client = client(Duration::from_secs(30));
    let request = bodiless(Method::GET, app.addr);
    let mut body = tokio::time::timeout(DEADLINE, client.request(request)).await.unwrap().unwrap().into_body();
    let frame = tokio::time::timeout(DEADLINE, body.frame()).await.unwrap().unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), "hello");
    drop(body);
    assert_eq!(pool_of(&client).idle_count(), 0);
    connections_end(&mut app, 1).await;
}

#[tokio::test]
async fn a_refused_connect_is_an_error_naming_the_cause() {
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let client = client(Duration::from_secs(30));
    let request = bodiless(Method::GET, addr);
    let error = tokio::time::timeout(DEADLINE, client.request(request)).await.unwrap().unwrap_err();
    assert!(matches!(error, SendError::Connect(_)), "{error:?}");
    assert!(!is_connect_timeout(&error));
    let cause = crate::error_chain::root_cause(&error).to_lowercase();
    assert!(cause.contains("refused"), "{cause}");
}

/// The readiness probe's connection, once its answer is read, is given to
/// the proxy's pool (`adopt`), and carries the proxy's next request; but a
/// probe itself never takes a pooled connection.
#[tokio::test]
async fn a_fresh_connection_adopted_by_the_pool_carries_the_next_request_and_fresh_ones_never_come_from_it() {
    let app = app("", Mode::Serve);
    let upstream = Upstream::new(None, DEADLINE).unwrap();
    let (probe, proxy) = (upstream.unpooled(), upstream.proxying());
    let uri: http::Uri = format!("http://{}/", app.addr).parse().unwrap();
    let fresh = |request| tokio::time::timeout(DEADLINE, probe.send_fresh(&uri, request));
    let (response, spare) = fresh(bodiless(Method::GET, app.addr)).await.unwrap().unwrap();
    assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "ok");
    proxy.adopt(spare);
    assert_eq!(pool_of(&proxy).idle_count(), 1);
    assert_eq!(get(&proxy, app.addr).await, "ok");
    assert_eq!(app.accepted.load(Ordering::SeqCst), 1, "the proxy opened a connection of its own");
    // With an idle connection in the pool, a fresh send still opens its own.
    let (response, _spare) = fresh(bodiless(Method::GET, app.addr)).await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(app.accepted.load(Ordering::SeqCst), 2, "a fresh send reused a pooled connection");
    assert_eq!(pool_of(&proxy).idle_count(), 1);
}

/// An answer that closes its connection leaves nothing to adopt.
#[tokio::test]
async fn a_fresh_connection_the_app_closes_is_not_adopted() {
    let app = app("connection: close\r\n", Mode::Serve);
    let upstream = Upstream::new(None, DEADLINE).unwrap();
    let uri: http::Uri = format!("http://{}/", app.addr).parse().unwrap();
    let probe = upstream.unpooled();
    let sent = probe.send_fresh(&uri, bodiless(Method::GET, app.addr));
    let (response, spare) = tokio::time::timeout(DEADLINE, sent).await.unwrap().unwrap();
    assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "ok");
    let proxy = upstream.proxying();
    proxy.adopt(spare);
    assert_eq!(pool_of(&proxy).idle_count(), 0);
}
