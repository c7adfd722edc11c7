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
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: Headers,
    pub(crate) client_addr: String,
}

/// The request's headers: from a host that sends them as one string of
/// `name: value` lines, split only if a policy asks for all of them
/// ([`Request::headers`]); looking one up reads the lines in place.
#[derive(Clone, Default)]
pub(crate) struct Headers {
    /// As the host sent them; empty when built from pairs.
    lines: String,
    split: OnceCell<Vec<(String, String)>>,
}

impl Headers {
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Headers {
        Headers { lines: String::new(), split: OnceCell::from(pairs) }
    }

    /// `name: value` lines, each ending with `\n`, as `requesting` sends them.
    pub(crate) fn from_lines(lines: String) -> Headers {
        Headers { lines, split: OnceCell::new() }
    }

    pub(crate) fn push(&mut self, name: String, value: String) {
        let mut pairs = self.all().to_vec();
        pairs.push((name, value));
        *self = Headers::from_pairs(pairs);
    }

    fn all(&self) -> &[(String, String)] {
        self.split.get_or_init(|| lines(&self.lines).map(|(name, value)| (name.to_owned(), value.to_owned())).collect())
    }

    fn first(&self, name: &str) -> Option<&str> {
        match self.split.get() {
            Some(pairs) => pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()),
            None => find_line(&self.lines, name),
        }
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

impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.all() == other.all()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.all()).finish()
    }
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
        self.headers.all()
    }

    /// The first value of a header, looked up case-insensitively as HTTP
    /// requires.
    ///
    /// ```
    /// let request = paastis_sdk::testing::RequestBuilder::get("/").header("X-Team", "ops").build();
    /// assert_eq!(request.header("x-team"), Some("ops"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.first(name)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(lines: &str) -> Headers {
        Headers::from_lines(lines.to_owned())
    }

    #[test]
    fn one_header_is_found_without_splitting_them_all() {
        let headers = sent("host: a.example.com\nUser-Agent: curl/8\nx-empty:\nx-colon: a: b\n");
        assert_eq!(headers.first("user-agent"), Some("curl/8"));
        assert_eq!(headers.first("x-colon"), Some("a: b"));
        assert_eq!(headers.first("x-empty"), Some(""));
        assert_eq!(headers.first("accept"), None);
        assert!(headers.split.get().is_none(), "looking up one header split them all");
        // A name that is a prefix of another, or the other way round.
        let headers = sent("x-forwarded-for: a\nx: b\nhost-name: c\nhost: d\nbare\n");
        assert_eq!((headers.first("x"), headers.first("X-Forwarded-For")), (Some("b"), Some("a")));
        assert_eq!((headers.first("host"), headers.first("host-name")), (Some("d"), Some("c")));
        assert_eq!((headers.first("x-forwarded"), headers.first("x-forwarded-for-more")), (None, None));
        assert_eq!((headers.first("bare"), headers.first("")), (Some(""), None));
        assert_eq!(headers.first("x-forwarded-for: a\nx"), None, "a name with a colon names no line");
        assert_eq!(sent("é: 1\n").first("É"), None, "case is ignored in ASCII only, as HTTP names are");
    }

    #[test]
    fn all_headers_split_on_demand_as_the_host_sent_them() {
        let headers = sent("host: a.example.com\naccept: text/html\naccept:  */*\n");
        let expected = [("host", "a.example.com"), ("accept", "text/html"), ("accept", " */*")];
        let expected: Vec<(String, String)> =
            expected.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        assert_eq!(headers.all(), expected);
        assert_eq!(headers.first("ACCEPT"), Some("text/html"));
        assert_eq!(headers, Headers::from_pairs(expected));
        assert_eq!(sent("").all(), &[]);
    }
}
