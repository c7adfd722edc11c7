//! The request being routed, as a policy sees it.

use std::cell::OnceCell;
use std::fmt;

/// The request being routed: method, path, query, headers and the client's
/// address. Build one for a test with [`crate::testing::RequestBuilder`].
///
/// ```
/// use paastis_sdk::testing::RequestBuilder;
///
/// let request = RequestBuilder::get("/search?q=paastis").user_agent("curl/8").build();
/// assert_eq!((request.path(), request.query(), request.user_agent()), ("/search", Some("q=paastis"), Some("curl/8")));
/// ```
#[derive(Clone)]
pub struct Request {
    /// Every field below is a range of this text: as the host sent it
    /// (`requesting-text`), or the fields written one after the other.
    text: String,
    method: Span,
    path: Span,
    query: Option<Span>,
    client_addr: Span,
    headers: Headers,
}

/// A range of a request's text.
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    fn of(self, text: &str) -> &str {
        &text[self.start..self.end]
    }
}

/// Appends `field` to `text`, returning where it is.
fn push(text: &mut String, field: &str) -> Span {
    let start = text.len();
    text.push_str(field);
    Span { start, end: text.len() }
}

/// The request's headers: from a host that sends them as `name: value`
/// lines, split only if a policy asks for all of them
/// ([`Request::headers`]); looking one up reads the lines in place.
#[derive(Clone, Default)]
struct Headers {
    /// The lines in the request's text; empty when built from pairs.
    lines: Span,
    split: OnceCell<Vec<(String, String)>>,
}

impl Headers {
    fn all<'a>(&'a self, text: &str) -> &'a [(String, String)] {
        self.split.get_or_init(|| {
            lines(self.lines.of(text)).map(|(name, value)| (name.to_owned(), value.to_owned())).collect()
        })
    }

    fn first<'a>(&'a self, text: &'a str, name: &str) -> Option<&'a str> {
        match self.split.get() {
            Some(pairs) => pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()),
            None => find_line(self.lines.of(text), name),
        }
    }
}

impl Request {
    /// The request text of `requesting-text`: lines for the app's name,
    /// the method, the path, `?query` (or nothing), the client's address,
    /// then the header lines. Returns the app's name and the request, whose
    /// fields stay ranges of the one text.
    pub(crate) fn from_text(text: String) -> Result<(String, Request), String> {
        let mut fields = [Span::default(); 5];
        let mut start = 0;
        for (i, field) in fields.iter_mut().enumerate() {
            let Some(end) = text[start..].find('\n').map(|at| start + at) else {
                return Err(format!("the host sent a request text of {i} lines, not at least 5"));
            };
            *field = Span { start, end };
            start = end + 1;
        }
        let [name, method, path, query, client_addr] = fields;
        let query = match query.of(&text).as_bytes().first() {
            None => None,
            Some(b'?') => Some(Span { start: query.start + 1, end: query.end }),
            Some(_) => return Err("the host sent a request text whose query line does not start with `?`".into()),
        };
        let headers = Headers { lines: Span { start, end: text.len() }, split: OnceCell::new() };
        let name = name.of(&text).to_owned();
        Ok((name, Request { text, method, path, query, client_addr, headers }))
    }

    /// From fields sent apart, the headers as `name: value` lines (as
    /// `requesting` sends them): the other fields are written after the
    /// lines, in their buffer.
    pub(crate) fn from_lines(
        lines: String,
        method: &str,
        path: &str,
        query: Option<&str>,
        client_addr: &str,
    ) -> Request {
        let headers = Headers { lines: Span { start: 0, end: lines.len() }, split: OnceCell::new() };
        Request::with_fields(lines, method, path, query, client_addr, headers)
    }

    /// From fields sent apart, the headers as pairs.
    pub(crate) fn from_pairs(
        pairs: Vec<(String, String)>,
        method: &str,
        path: &str,
        query: Option<&str>,
        client_addr: &str,
    ) -> Request {
        let headers = Headers { lines: Span::default(), split: OnceCell::from(pairs) };
        let bytes = method.len() + path.len() + query.map_or(0, str::len) + client_addr.len();
        Request::with_fields(String::with_capacity(bytes), method, path, query, client_addr, headers)
    }

    fn with_fields(
        mut text: String,
        method: &str,
        path: &str,
        query: Option<&str>,
        client_addr: &str,
        headers: Headers,
    ) -> Request {
        let method = push(&mut text, method);
        let path = push(&mut text, path);
        let query = query.map(|query| push(&mut text, query));
        let client_addr = push(&mut text, client_addr);
        Request { text, method, path, query, client_addr, headers }
    }
}

/// The value of the first line named `name`, ignoring case: each line's
/// name is compared in place, and only a line of that name is split (this
/// runs on every request that looks at a header).
fn find_line<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    if name.contains(':') {
        // The host never puts one in a name: no line can be named so.
        return None;
    }
    let wanted = name.as_bytes();
    text.split_terminator('\n').find_map(|line| {
        let bytes = line.as_bytes();
        let named = bytes.len() >= wanted.len() && bytes[..wanted.len()].eq_ignore_ascii_case(wanted);
        match bytes.get(wanted.len()) {
            // `wanted.len()` is a char boundary: a `:` (ASCII) follows it.
            Some(b':') if named => {
                let value = &line[wanted.len() + 1..];
                Some(value.strip_prefix(' ').unwrap_or(value))
            }
            None if named => Some(""),
            _ => None,
        }
    })
}

/// The `(name, value)` of each line. The host never puts a `:` in a name
/// nor a line break in a value, so the first `:` ends the name.
fn lines(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.split_terminator('\n').map(|line| match line.split_once(':') {
        Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
        None => (line, ""),
    })
}

impl PartialEq for Request {
    fn eq(&self, other: &Request) -> bool {
        (self.method(), self.path(), self.query(), self.headers(), self.client_addr())
            == (other.method(), other.path(), other.query(), other.headers(), other.client_addr())
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method())
            .field("path", &self.path())
            .field("query", &self.query())
            .field("headers", &self.headers())
            .field("client_addr", &self.client_addr())
            .finish()
    }
}

impl Request {
    /// `"GET"`, `"POST"`, ...
    ///
    /// ```
    /// assert_eq!(paastis_sdk::testing::RequestBuilder::post("/").build().method(), "POST");
    /// ```
    pub fn method(&self) -> &str {
        self.method.of(&self.text)
    }

    /// The path, without the query string.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::testing::RequestBuilder::get("/a/b?c").build().path(), "/a/b");
    /// ```
    pub fn path(&self) -> &str {
        self.path.of(&self.text)
    }

    /// The query string, without the `?`.
    ///
    /// ```
    /// use paastis_sdk::testing::RequestBuilder;
    /// assert_eq!(RequestBuilder::get("/a?b=1").build().query(), Some("b=1"));
    /// assert_eq!(RequestBuilder::get("/a").build().query(), None);
    /// ```
    pub fn query(&self) -> Option<&str> {
        self.query.map(|query| query.of(&self.text))
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
        self.headers.all(&self.text)
    }

    /// The first value of a header, looked up case-insensitively as HTTP
    /// requires.
    ///
    /// ```
    /// let request = paastis_sdk::testing::RequestBuilder::get("/").header("X-Team", "ops").build();
    /// assert_eq!(request.header("x-team"), Some("ops"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.first(&self.text, name)
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
        self.client_addr.of(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(lines: &str) -> Request {
        Request::from_lines(lines.to_owned(), "GET", "/", None, "127.0.0.1")
    }

    #[test]
    fn one_header_is_found_without_splitting_them_all() {
        let request = sent("host: a.example.com\nUser-Agent: curl/8\nx-empty:\nx-colon: a: b\n");
        assert_eq!(request.header("user-agent"), Some("curl/8"));
        assert_eq!(request.header("x-colon"), Some("a: b"));
        assert_eq!(request.header("x-empty"), Some(""));
        assert_eq!(request.header("accept"), None);
        assert!(request.headers.split.get().is_none(), "looking up one header split them all");
        // A name that is a prefix of another, or the other way round.
        let request = sent("x-forwarded-for: a\nx: b\nhost-name: c\nhost: d\nbare\n");
        assert_eq!((request.header("x"), request.header("X-Forwarded-For")), (Some("b"), Some("a")));
        assert_eq!((request.header("host"), request.header("host-name")), (Some("d"), Some("c")));
        assert_eq!((request.header("x-forwarded"), request.header("x-forwarded-for-more")), (None, None));
        assert_eq!((request.header("bare"), request.header("")), (Some(""), None));
        assert_eq!(request.header("x-forwarded-for: a\nx"), None, "a name with a colon names no line");
        assert_eq!(sent("é: 1\n").header("É"), None, "case is ignored in ASCII only, as HTTP names are");
        assert_eq!((request.method(), request.path(), request.client_addr()), ("GET", "/", "127.0.0.1"));
    }

    #[test]
    fn all_headers_split_on_demand_as_the_host_sent_them() {
        let request = sent("host: a.example.com\naccept: text/html\naccept:  */*\n");
        let expected = [("host", "a.example.com"), ("accept", "text/html"), ("accept", " */*")];
        let expected: Vec<(String, String)> =
            expected.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        assert_eq!(request.headers(), expected);
        assert_eq!(request.header("ACCEPT"), Some("text/html"));
        assert_eq!(request, Request::from_pairs(expected, "GET", "/", None, "127.0.0.1"));
        assert_eq!(sent("").headers(), &[]);
    }

    #[test]
    fn the_request_text_is_read_in_place() {
        let text = "blog\nPOST\n/a/b\n?q=1&r\n2001:db8::1\nhost: blog.example.com\nuser-agent: curl/8\n";
        let (name, request) = Request::from_text(text.to_owned()).unwrap();
        assert_eq!(name, "blog");
        assert_eq!((request.method(), request.path(), request.query()), ("POST", "/a/b", Some("q=1&r")));
        assert_eq!((request.client_addr(), request.user_agent()), ("2001:db8::1", Some("curl/8")));
        assert_eq!(request.header("host"), Some("blog.example.com"));
        let same = Request::from_lines(
            "host: blog.example.com\nuser-agent: curl/8\n".to_owned(),
            "POST",
            "/a/b",
            Some("q=1&r"),
            "2001:db8::1",
        );
        assert_eq!(request, same);
        assert_eq!(format!("{request:?}"), format!("{same:?}"));

        let (_, bare) = Request::from_text("a\nGET\n/\n\n10.0.0.1\n".to_owned()).unwrap();
        assert_eq!((bare.query(), bare.headers()), (None, &[][..]));
        let (_, empty) = Request::from_text("a\nGET\n/\n?\n10.0.0.1\n".to_owned()).unwrap();
        assert_eq!(empty.query(), Some(""), "`?` alone is an empty query");
    }

    #[test]
    fn a_malformed_request_text_is_an_error() {
        let short = Request::from_text("a\nGET\n/\n\n10.0.0.1".to_owned()).map(|_| ());
        assert_eq!(short, Err("the host sent a request text of 4 lines, not at least 5".into()));
        let query = Request::from_text("a\nGET\n/\nq=1\n10.0.0.1\n".to_owned()).map(|_| ());
        assert!(query.is_err_and(|e| e.contains("query line")));
    }
}
