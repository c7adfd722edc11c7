//! A real `redis-server` for tests, on a free loopback port, with
//! persistence off. Self-contained (std only) so that the integration tests
//! include this very file (`tests/src/support/redis.rs`).
//!
//! A missing `redis-server` fails the test with the command that installs
//! it; it is never skipped.

// Shared by two crates, each using a different part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL: &str = "scripts/test-deps (or apt-get install -y redis-server)";
/// How long a starting server may take to answer PING.
const START_LIMIT: Duration = Duration::from_secs(10);

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
}

impl RedisServer {
    /// Starts a server on a free port; panics (failing the test) if
    /// `redis-server` is missing or does not answer.
    pub fn start() -> RedisServer {
        // A port found free can be taken before redis binds it: try again.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            match spawn(port) {
                Ok(child) => return RedisServer { child: Some(child), port },
                Err(e) => last = e,
            }
        }
        panic!("cannot start redis-server: {last}");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `kill -9`: the server vanishes with its (in-memory) data.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a fresh (empty) server on the same port after `kill`.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + START_LIMIT;
        loop {
            match spawn(self.port) {
                Ok(child) => {
                    self.child = Some(child);
                    return;
                }
                // The old socket may linger a moment.
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("cannot restart redis-server on port {}: {e}", self.port),
            }
        }
    }

    /// Sends one command (as its words) and returns the raw reply, for a
    /// test that plays another party (deletes a lease, reads a key).
    pub fn command(&self, words: &[&str]) -> String {
        let mut stream = TcpStream::connect(self.addr()).expect("connect to the test redis-server");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("read timeout");
        let mut request = format!("*{}\r\n", words.len());
        for word in words {
            request.push_str(&format!("${}\r\n{word}\r\n", word.len()));
        }
        stream.write_all(request.as_bytes()).expect("send to redis-server");
        let mut reader = BufReader::new(stream);
        read_reply(&mut reader)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

fn spawn(port: u16) -> Result<Child, String> {
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--daemonize", "no", "--loglevel", "warning"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                panic!("redis-server is not installed (the Redis tests need a real one): run `{INSTALL}`")
            }
            _ => format!("cannot run redis-server: {e}"),
        })?;
    let deadline = Instant::now() + START_LIMIT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut err) = child.stderr.take() {
                let _ = err.read_to_string(&mut stderr);
            }
            return Err(format!("redis-server exited with {status} on port {port}: {stderr}"));
        }
        if ping(port) {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("redis-server did not answer PING on port {port} within {START_LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("+PONG")
}

/// One RESP reply, flattened to text (arrays joined by newlines).
fn read_reply(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).expect("read a reply from redis-server");
    let line = line.trim_end();
    let (kind, rest) = line.split_at(1.min(line.len()));
    match kind {
        "$" => {
            let len: i64 = rest.parse().unwrap_or(-1);
            if len < 0 {
                return "(nil)".to_owned();
            }
            let mut buf = vec![0; len as usize + 2];
            reader.read_exact(&mut buf).expect("read a bulk reply");
            String::from_utf8_lossy(&buf[..len as usize]).into_owned()
        }
        "*" => {
            let n: i64 = rest.parse().unwrap_or(-1);
            (0..n.max(0)).map(|_| read_reply(reader)).collect::<Vec<_>>().join("\n")
        }
        _ => rest.to_owned(),
    }
}
