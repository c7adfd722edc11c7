//! One request read from a log, in the terms a policy sees.

use crate::policy::model::{HeaderLines, RequestView, Timestamp};

/// A request as a log line records it. Fields a format does not carry are
/// `None` (the gateway's log has no Host or Referer; combined has no app).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Hit {
    /// 1-based line number in the log, for messages.
    pub line: usize,
    /// When the request arrived, in ms since the Unix epoch.
    pub at: Timestamp,
    pub app: String,
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    pub client: String,
    pub host: Option<String>,
    pub user_agent: Option<String>,
    pub referer: Option<String>,
}

impl Hit {
    /// The request as the gateway would show it to the policy: the headers a
    /// log keeps (Host, User-Agent, Referer), and `host_fallback` as Host
    /// when the log has none.
    pub(super) fn view(&self, host_fallback: &str) -> RequestView {
        let (path, query) = match self.target.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (self.target.clone(), None),
        };
        let mut headers = HeaderLines::default();
        headers.push("host", self.host.as_deref().unwrap_or(host_fallback));
        if let Some(ua) = &self.user_agent {
            headers.push("user-agent", ua);
        }
        if let Some(referer) = &self.referer {
            headers.push("referer", referer);
        }
        RequestView { method: self.method.clone(), path, query, headers, client_addr: self.client.clone() }
    }
}
