//! The request text of `paastis:policy/requesting-text`, written from a
//! request wherever it lives: the gateway's own (`RequestSource`, which it
//! implements over the request it is proxying, so that a call builds no
//! owned view and allocates nothing), or a `RequestView` (the simulator,
//! `paastis check`, tests; and the view built from a `RequestSource` for
//! policies that predate `requesting-text`). Either way the guest gets the
//! same bytes, because one function writes them.

use crate::contract::{HeaderLines, RequestView, push_clean};

/// A request as a policy sees it, borrowed from wherever the caller keeps it.
/// Each method gives one field as it is; the text's rules (one field per
/// line, a line break written as a space, a `:` in a header name as a space)
/// are applied by whoever writes it, never trusted to the source.
pub trait RequestSource: Sync {
    fn method(&self) -> &str;
    fn path(&self) -> &str;
    /// `None` without a `?` in the target; `Some("")` for a `?` alone.
    fn query(&self) -> Option<&str>;
    /// Appends the client's address, as `IpAddr`'s `Display` writes it.
    fn write_client_addr(&self, out: &mut String);
    /// Pushes the headers onto `lines`, in order, one `HeaderLines::push`
    /// (or `push_bytes`) each.
    fn write_headers(&self, lines: &mut HeaderLines);
}

impl RequestSource for RequestView {
    fn method(&self) -> &str {
        &self.method
    }

    fn path(&self) -> &str {
        &self.path
    }

    fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    fn write_client_addr(&self, out: &mut String) {
        out.push_str(&self.client_addr);
    }

    fn write_headers(&self, lines: &mut HeaderLines) {
        lines.append(&self.headers);
    }
}

impl RequestView {
    /// An owned copy of `request`, for the interfaces that take one
    /// (policies built before `requesting-text`).
    pub fn of(request: &dyn RequestSource) -> RequestView {
        let mut client_addr = String::new();
        request.write_client_addr(&mut client_addr);
        let mut headers = HeaderLines::default();
        request.write_headers(&mut headers);
        RequestView {
            method: request.method().to_owned(),
            path: request.path().to_owned(),
            query: request.query().map(str::to_owned),
            headers,
            client_addr,
        }
    }
}

/// Writes the request text the WIT describes into `text`, emptied first:
/// the app's name, method, path, `?query` (`?` alone for an empty query, an
/// empty line for none), client address, one line each, then the header
/// lines. A buffer kept across calls makes this allocate nothing once it has
/// grown to the requests' size.
pub fn write_request_text(text: &mut String, app: &str, request: &dyn RequestSource) {
    text.clear();
    for line in [app, request.method(), request.path()] {
        push_clean(text, line, false);
        text.push('\n');
    }
    if let Some(query) = request.query() {
        text.push('?');
        push_clean(text, query, false);
    }
    text.push('\n');
    let start = text.len();
    request.write_client_addr(text);
    clean_from(text, start);
    text.push('\n');
    let mut lines = HeaderLines::appending_to(std::mem::take(text));
    request.write_headers(&mut lines);
    *text = lines.into_string();
}

/// `push_clean` of what was appended to `text` since `start`: the source
/// wrote it as it is; an address never holds a line break, but a replayed
/// log's might.
fn clean_from(text: &mut String, start: usize) {
    if text[start..].contains(['\n', '\r']) {
        let written = text.split_off(start);
        push_clean(text, &written, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: Option<&str>, headers: &[(&str, &str)]) -> RequestView {
        RequestView {
            method: "GET".into(),
            path: "/a b".into(),
            query: query.map(str::to_owned),
            headers: headers.iter().copied().collect::<HeaderLines>(),
            client_addr: "2001:db8::1".into(),
        }
    }

    #[test]
    fn the_request_text_has_one_line_per_field_then_the_headers() {
        let mut text = String::new();
        write_request_text(&mut text, "blog", &request(Some("q=1"), &[("host", "blog.example.com"), ("x", "a: b")]));
        assert_eq!(text, "blog\nGET\n/a b\n?q=1\n2001:db8::1\nhost: blog.example.com\nx: a: b\n");
        write_request_text(&mut text, "blog", &request(None, &[]));
        assert_eq!(text, "blog\nGET\n/a b\n\n2001:db8::1\n", "no query is an empty line, and the buffer is emptied");
        write_request_text(&mut text, "blog", &request(Some(""), &[]));
        assert_eq!(text, "blog\nGET\n/a b\n?\n2001:db8::1\n", "an empty query is a `?` alone");
    }

    #[test]
    fn line_breaks_in_a_field_cannot_add_a_line() {
        let mut text = String::new();
        let mut odd = request(Some("a\nb"), &[]);
        odd.path = "/x\r\ny".into();
        odd.client_addr = "1.2.3.4\n".into();
        write_request_text(&mut text, "a\nb", &odd);
        assert_eq!(text, "a b\nGET\n/x  y\n?a b\n1.2.3.4 \n");
    }

    #[test]
    fn the_owned_view_of_a_source_is_the_source() {
        let view = request(Some("q"), &[("host", "a"), ("x", "1")]);
        assert_eq!(RequestView::of(&view), view);
        let mut odd = request(None, &[]);
        odd.client_addr = "x\ny".into();
        let (mut from_view, mut from_copy) = (String::new(), String::new());
        write_request_text(&mut from_view, "app", &odd);
        write_request_text(&mut from_copy, "app", &RequestView::of(&odd));
        assert_eq!(from_view, from_copy);
    }
}
