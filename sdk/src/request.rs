//! The request being routed, as a policy sees it.

/// The request being routed: method, path, query, headers and the client's
/// address. Build one for a test with [`crate::testing::RequestBuilder`].
///
/// ```
/// use paastis_sdk::testing::RequestBuilder;
///
/// let request = RequestBuilder::get("/search?q=paastis").user_agent("curl/8").build();
/// assert_eq!((request.path(), request.query(), request.user_agent()), ("/search", Some("q=paastis"), Some("curl/8")));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) client_addr: String,
}

impl Request {
    /// `"GET"`, `"POST"`, ...
    ///
    /// ```
    /// assert_eq!(paastis_sdk::testing::RequestBuilder::post("/").build().method(), "POST");
    /// ```
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path, without the query string.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::testing::RequestBuilder::get("/a/b?c").build().path(), "/a/b");
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query string, without the `?`.
    ///
    /// ```
    /// use paastis_sdk::testing::RequestBuilder;
    /// assert_eq!(RequestBuilder::get("/a?b=1").build().query(), Some("b=1"));
    /// assert_eq!(RequestBuilder::get("/a").build().query(), None);
    /// ```
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// All headers in the order received; names may repeat. Values that are
    /// not UTF-8 come with the invalid bytes replaced. Over HTTP/2 the
    /// `:authority` is shown as `host`.
    ///
    /// ```
    /// let request = paastis_sdk::testing::RequestBuilder::get("/").header("accept", "text/html").build();
    /// assert_eq!(request.headers(), &[("accept".to_owned(), "text/html".to_owned())]);
    /// ```
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of a header, looked up case-insensitively as HTTP
    /// requires.
    ///
    /// ```
    /// let request = paastis_sdk::testing::RequestBuilder::get("/").header("X-Team", "ops").build();
    /// assert_eq!(request.header("x-team"), Some("ops"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `User-Agent` header.
    ///
    /// ```
    /// let request = paastis_sdk::testing::RequestBuilder::get("/").user_agent("UptimeRobot/2.0").build();
    /// assert!(request.user_agent().is_some_and(|ua| ua.contains("UptimeRobot")));
    /// ```
    pub fn user_agent(&self) -> Option<&str> {
        self.header("user-agent")
    }

    /// The client's IP address, as text (`"203.0.113.7"`, `"2001:db8::1"`).
    ///
    /// ```
    /// let request = paastis_sdk::testing::RequestBuilder::get("/").client_addr("203.0.113.7").build();
    /// assert_eq!(request.client_addr(), "203.0.113.7");
    /// ```
    pub fn client_addr(&self) -> &str {
        &self.client_addr
    }
}
