//! nginx/Apache "combined" lines, plain or with the virtual host as the first
//! field (Apache `vhost_combined`, `%v:%p` first) or as one field after the
//! user agent (a common nginx variant):
//!
//! ```text
//! [$host ]$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"[ $host]
//! ```
//!
//! The variant is told apart line by line, by how many fields come before
//! the bracketed time, so a file mixing them still reads.

use crate::policy::model::Timestamp;

/// What a combined line says about one request.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct CombinedLine<'a> {
    pub at: Timestamp,
    pub host: Option<&'a str>,
    pub client: &'a str,
    pub method: &'a str,
    pub target: &'a str,
    pub referer: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field<'a> {
    Bare(&'a str),
    Quoted(&'a str),
    Bracketed(&'a str),
}

impl<'a> Field<'a> {
    fn text(self) -> &'a str {
        match self {
            Field::Bare(s) | Field::Quoted(s) | Field::Bracketed(s) => s,
        }
    }
}

/// Splits a line into bare words, "quoted strings" (with `\"` escapes kept
/// as written) and [bracketed] text.
fn fields(line: &str) -> Result<Vec<Field<'_>>, String> {
    let bytes = line.as_bytes();
    let mut out = Vec::with_capacity(12);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && bytes[j] != b'"' {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                if j >= bytes.len() {
                    return Err("a quoted field is not closed".into());
                }
                out.push(Field::Quoted(&line[start..j]));
                i = j + 1;
            }
            b'[' => {
                let start = i + 1;
                let end = line[start..].find(']').ok_or("a [bracketed] field is not closed")?;
                out.push(Field::Bracketed(&line[start..start + end]));
                i = start + end + 1;
            }
            _ => {
                let start = i;
                while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n') {
                    i += 1;
                }
                out.push(Field::Bare(&line[start..i]));
            }
        }
    }
    Ok(out)
}

/// `-` is how both servers write "no value".
fn present(s: &str) -> Option<&str> {
    (!s.is_empty() && s != "-").then_some(s)
}

/// A trailing field is taken for the virtual host only when it looks like
/// one, so formats that append timings (`$request_time`) still read.
fn looks_like_host(s: &str) -> bool {
    !s.is_empty()
        && s != "-"
        && s.bytes().any(|b| b.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_'))
}

pub(super) fn parse(line: &str) -> Result<CombinedLine<'_>, String> {
    let fields = fields(line)?;
    let time_at = fields
        .iter()
        .position(|f| matches!(f, Field::Bracketed(_)))
        .ok_or("no [time] field: not a combined log line")?;
    let host = match time_at {
        3 => None,
        4 => Some(fields[0].text()),
        n => return Err(format!("{n} fields before [time], expected 3 (combined) or 4 (vhost first)")),
    };
    let client = fields[time_at - 3].text();
    let at = parse_time(fields[time_at].text())?;
    let Some(Field::Quoted(request)) = fields.get(time_at + 1) else {
        return Err("no quoted \"request\" after [time]".into());
    };
    let mut parts = request.split_ascii_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(format!("the request {request:?} is not \"METHOD TARGET PROTOCOL\""));
    };
    match fields.get(time_at + 2) {
        Some(Field::Bare(status)) if status.parse::<u16>().is_ok() => {}
        _ => return Err("no numeric status after the request".into()),
    }
    let quoted = |i: usize| match fields.get(i) {
        Some(Field::Quoted(s)) => Ok(present(s)),
        None => Ok(None),
        Some(_) => Err("the referer and user agent must be quoted".to_owned()),
    };
    let referer = quoted(time_at + 4)?;
    let user_agent = quoted(time_at + 5)?;
    let host = match (host, fields.get(time_at + 6)) {
        (Some(host), _) => Some(host),
        (None, Some(last)) if fields.len() == time_at + 7 && looks_like_host(last.text()) => Some(last.text()),
        (None, _) => None,
    };
    Ok(CombinedLine { at, host: host.and_then(present), client, method, target, referer, user_agent })
}

/// `10/Oct/2000:13:55:36 -0700`, the `$time_local` / `%t` format.
fn parse_time(text: &str) -> Result<Timestamp, String> {
    let parsed = jiff::fmt::strtime::parse("%d/%b/%Y:%H:%M:%S %z", text)
        .and_then(|t| t.to_timestamp())
        .map_err(|e| format!("the time {text:?} is not like 10/Oct/2000:13:55:36 -0700: {e}"))?;
    Timestamp::try_from(parsed.as_millisecond()).map_err(|_| format!("the time {text:?} is before 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Timestamp = 971_211_336_000; // 2000-10-10T20:55:36Z

    #[test]
    fn reads_a_plain_combined_line() {
        let line = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?x=1 HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#;
        let parsed = parse(line).unwrap();
        assert_eq!(
            parsed,
            CombinedLine {
                at: AT,
                host: None,
                client: "127.0.0.1",
                method: "GET",
                target: "/apache_pb.gif?x=1",
                referer: Some("http://www.example.com/start.html"),
                user_agent: Some("Mozilla/4.08 [en] (Win98; I ;Nav)"),
            }
        );
    }

    #[test]
    fn reads_the_vhost_first_and_last_variants() {
        let first = r#"web.example.com:443 10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "POST /login HTTP/1.1" 302 0 "-" "curl/8""#;
        let parsed = parse(first).unwrap();
        assert_eq!((parsed.host, parsed.client, parsed.referer), (Some("web.example.com:443"), "10.0.0.1", None));
        let last =
            r#"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-" "curl/8" "shop.example.com""#;
        assert_eq!(parse(last).unwrap().host, Some("shop.example.com"));
        let bare = r#"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-" "curl/8" shop.example.com"#;
        assert_eq!(parse(bare).unwrap().host, Some("shop.example.com"));
    }

    #[test]
    fn a_trailing_timing_is_not_a_host() {
        let line = r#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8" 0.005"#;
        assert_eq!(parse(line).unwrap().host, None);
    }

    #[test]
    fn escaped_quotes_stay_inside_the_field() {
        let line = r#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "say \"hi\"""#;
        assert_eq!(parse(line).unwrap().user_agent, Some(r#"say \"hi\""#));
    }

    #[test]
    fn refuses_what_is_not_combined() {
        for (line, why) in [
            ("", "no [time]"),
            ("hello world", "no [time]"),
            (r#"1.2.3.4 - - [yesterday] "GET / HTTP/1.1" 200 5 "-" "-""#, "is not like"),
            (r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "\x16\x03\x01" 400 0 "-" "-""#, "METHOD TARGET"),
            (r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" abc 5"#, "numeric status"),
            (r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1 200 5"#, "not closed"),
        ] {
            let err = parse(line).unwrap_err();
            assert!(err.contains(why), "{line:?}: {err}");
        }
    }
}
