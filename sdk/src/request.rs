//! The request being routed, as a policy sees it.

/// Build one for a test with [`crate::testing::RequestBuilder`].
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) client_addr: String,
}

impl Request {
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path, without the query string.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// All headers in the order received; names may repeat.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of a header, looked up case-insensitively as HTTP
    /// requires.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn user_agent(&self) -> Option<&str> {
        self.header("user-agent")
    }

    /// The client's IP address, as text.
    pub fn client_addr(&self) -> &str {
        &self.client_addr
    }
}
