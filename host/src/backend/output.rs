//! Forwards a child's stdout and stderr to the gateway's log, line by line,
//! tagged with the app, so one log tells the whole story.

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

pub fn forward(app: String, stream: &'static str, reader: impl AsyncRead + Unpin + Send + 'static) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::info!(target: "paastis::app", app = %app, stream, "{line}");
        }
    });
}
