//! The gateway's JSON log, read line by line from its stderr, as a stream of
//! events that tests wait on instead of sleeping.

use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Logs {
    lines: Arc<Mutex<Vec<Value>>>,
    raw: Arc<Mutex<Vec<String>>>,
    grew: Arc<Notify>,
}

impl Logs {
    pub fn capture(&self, reader: impl AsyncRead + Unpin + Send + 'static) {
        let logs = self.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(reader).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    logs.lines.lock().unwrap().push(value);
                }
                logs.raw.lock().unwrap().push(line);
                logs.grew.notify_waiters();
            }
            logs.grew.notify_waiters();
        });
    }

    /// Events whose message is `message` and that match `filter`.
    pub fn matching(&self, message: &str, filter: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.lines.lock().unwrap().iter().filter(|v| v["message"] == message && filter(v)).cloned().collect()
    }

    /// Events with `message` for `app`, or for any app when `app` is empty.
    pub fn count(&self, message: &str, app: &str) -> usize {
        self.matching(message, |v| app.is_empty() || v["app"] == app).len()
    }

    /// Waits until the `nth` (1-based) event with `message` for `app` appears.
    pub async fn wait_for_nth(&self, message: &str, app: &str, nth: usize, limit: Duration) -> Value {
        let found = self.wait_until(message, |v| app.is_empty() || v["app"] == app, nth, limit).await;
        found.unwrap_or_else(|| {
            panic!("no {message:?} event #{nth} for app {app:?} within {limit:?}; log:\n{}", self.dump())
        })
    }

    /// The `nth` (1-based) event with `message` that matches `filter`, once it
    /// appears within `limit`.
    pub async fn wait_until(
        &self,
        message: &str,
        filter: impl Fn(&Value) -> bool,
        nth: usize,
        limit: Duration,
    ) -> Option<Value> {
        tokio::time::timeout(limit, async {
            loop {
                let notified = self.grew.notified();
                let found = self.matching(message, &filter);
                if found.len() >= nth {
                    return found[nth - 1].clone();
                }
                notified.await;
            }
        })
        .await
        .ok()
    }

    /// Whether an event with `message` for `app` appears within `limit`.
    pub async fn appears(&self, message: &str, app: &str, limit: Duration) -> bool {
        self.wait_until(message, |v| app.is_empty() || v["app"] == app, 1, limit).await.is_some()
    }

    pub async fn wait_for(&self, message: &str, app: &str, limit: Duration) -> Value {
        self.wait_for_nth(message, app, 1, limit).await
    }

    /// Every event's message, in order.
    pub fn messages(&self) -> Vec<String> {
        self.lines.lock().unwrap().iter().map(|v| v["message"].as_str().unwrap_or("").to_owned()).collect()
    }

    pub fn dump(&self) -> String {
        self.raw.lock().unwrap().join("\n")
    }
}
