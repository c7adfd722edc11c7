//! The access line: one per proxied request, the log's hottest path.
//!
//! Through `tracing::info!`, a line costs 1.6–2.2 µs of formatting and
//! dispatch in text and ~2.7 µs in JSON (a loop of a million lines into a
//! memory sink, release build); the same line written with one `write!`
//! costs ~0.4 µs. So when logging goes to the gateway's own writer without
//! colours (a file, a pipe, journald: the production case), `init_logging`
//! installs the writer here and the line is formatted straight into it,
//! byte for byte as tracing-subscriber's `Full` or flattened JSON format
//! would write it (a unit test holds the two together). On a terminal, or
//! before logging is set up, the line goes through `tracing` as any other.
//!
//! Whether a line is written at all is still tracing's filter's call
//! (`RUST_LOG`): the proxy asks `enabled()` first.

use std::cell::RefCell;
use std::fmt::{self, Display};
use std::io::Write;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::log_writer::LogWriter;

/// The target operators filter on (`RUST_LOG=paastis::access=off`), and the
/// one `paastis simulate` reads access lines by.
pub(crate) const TARGET: &str = "paastis::access";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Format {
    Text,
    Json,
}

struct Direct {
    writer: LogWriter,
    format: Format,
}

static DIRECT: OnceLock<Direct> = OnceLock::new();

/// From now on, access lines go straight to `writer` in `format`. Called
/// once, by logging's setup, only when the output takes no colour codes.
pub(crate) fn write_directly(writer: LogWriter, format: Format) {
    let _ = DIRECT.set(Direct { writer, format });
}

/// Whether tracing's filter lets access lines through.
pub(crate) fn enabled() -> bool {
    tracing::enabled!(target: "paastis::access", tracing::Level::INFO)
}

/// One proxied request, as its access line tells it.
pub(crate) struct AccessLine<'a> {
    pub app: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    /// The client's address, as `IpAddr`'s `Display` writes it.
    pub client: &'a str,
    pub user_agent: &'a str,
    pub cold_start: bool,
    pub answered: bool,
    pub elapsed: Duration,
}

thread_local! {
    /// Each worker formats into its own buffer, reused line after line.
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
    /// "2026-11-30T13:50:32" for the second it names: the date is worked
    /// out once a second per thread, not once a line.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl AccessLine<'_> {
    /// Writes the line, to the installed writer or else through `tracing`.
    pub(crate) fn log(&self) {
        let Some(direct) = DIRECT.get() else {
            self.trace();
            return;
        };
        let written = BUFFER.try_with(|buffer| {
            let Ok(mut buffer) = buffer.try_borrow_mut() else { return false };
            buffer.clear();
            self.format_into(&mut buffer, direct.format, SystemTime::now());
            direct.writer.append(&buffer);
            true
        });
        if written != Ok(true) {
            // Only while the thread is being torn down, or re-entered.
            let mut buffer = Vec::with_capacity(512);
            self.format_into(&mut buffer, direct.format, SystemTime::now());
            direct.writer.append(&buffer);
        }
    }

    fn trace(&self) {
        tracing::info!(
            target: "paastis::access",
            app = self.app,
            method = %self.method,
            path = self.path,
            status = self.status,
            client = %self.client,
            user_agent = self.user_agent,
            cold_start = self.cold_start,
            answered = self.answered,
            ms = %Millis(self.elapsed),
            "request"
        );
    }

    fn format_into(&self, out: &mut Vec<u8>, format: Format, now: SystemTime) {
        // Writing into a Vec cannot fail.
        let _ = match format {
            Format::Text => self.text(out, now),
            Format::Json => self.json(out, now),
        };
    }

    /// As tracing-subscriber's `Full` format without colours: strings
    /// quoted and escaped as `Debug` does, `%` fields as `Display`. Written
    /// piece by piece rather than through one `write!`: `fmt`'s machinery
    /// (an `Ipv4Addr`'s four `u8`s, a float to a tenth, each padded) was
    /// most of the line's cost.
    fn text(&self, out: &mut Vec<u8>, now: SystemTime) -> std::io::Result<()> {
        write_timestamp(out, now);
        out.extend_from_slice(b"  INFO ");
        out.extend_from_slice(TARGET.as_bytes());
        out.extend_from_slice(b": request app=");
        debug_string(out, self.app);
        out.extend_from_slice(b" method=");
        out.extend_from_slice(self.method.as_bytes());
        out.extend_from_slice(b" path=");
        debug_string(out, self.path);
        out.extend_from_slice(b" status=");
        write_integer(out, self.status);
        out.extend_from_slice(b" client=");
        out.extend_from_slice(self.client.as_bytes());
        out.extend_from_slice(b" user_agent=");
        debug_string(out, self.user_agent);
        out.extend_from_slice(b" cold_start=");
        write_bool(out, self.cold_start);
        out.extend_from_slice(b" answered=");
        write_bool(out, self.answered);
        out.extend_from_slice(b" ms=");
        write_millis(out, self.elapsed);
        out.push(b'\n');
        Ok(())
    }

    /// As tracing-subscriber's JSON format with `flatten_event(true)`.
    fn json(&self, out: &mut Vec<u8>, now: SystemTime) -> std::io::Result<()> {
        out.extend_from_slice(b"{\"timestamp\":\"");
        write_timestamp(out, now);
        out.extend_from_slice(b"\",\"level\":\"INFO\",\"message\":\"request\",\"app\":");
        json_string(out, self.app)?;
        out.extend_from_slice(b",\"method\":");
        json_string(out, self.method)?;
        out.extend_from_slice(b",\"path\":");
        json_string(out, self.path)?;
        out.extend_from_slice(b",\"status\":");
        write_integer(out, self.status);
        out.extend_from_slice(b",\"client\":\"");
        out.extend_from_slice(self.client.as_bytes());
        out.extend_from_slice(b"\",\"user_agent\":");
        json_string(out, self.user_agent)?;
        out.extend_from_slice(b",\"cold_start\":");
        write_bool(out, self.cold_start);
        out.extend_from_slice(b",\"answered\":");
        write_bool(out, self.answered);
        out.extend_from_slice(b",\"ms\":\"");
        write_millis(out, self.elapsed);
        out.extend_from_slice(b"\",\"target\":\"");
        out.extend_from_slice(TARGET.as_bytes());
        out.extend_from_slice(b"\"}\n");
        Ok(())
    }
}

/// Text that both `Debug` and JSON write as it is, between quotes: printable
/// ASCII but the quote and the backslash (most paths, names and user agents).
fn needs_no_escape(value: &str) -> bool {
    value.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
}

/// The value between quotes, when it needs no escaping (true); else nothing
/// is written (false).
fn quoted_as_is(out: &mut Vec<u8>, value: &str) -> bool {
    let as_is = needs_no_escape(value);
    if as_is {
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    }
    as_is
}

/// `{:?}` of a string.
fn debug_string(out: &mut Vec<u8>, value: &str) {
    if !quoted_as_is(out, value) {
        let _ = write!(out, "{value:?}");
    }
}

fn write_integer(out: &mut Vec<u8>, value: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn write_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

/// As `IpAddr`'s `Display`: an IPv4 address by hand, IPv6 (rare, and with
/// its zero runs to compress) through `fmt`.
pub(crate) fn write_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            write_integer(out, a);
            for octet in [b, c, d] {
                out.push(b'.');
                write_integer(out, octet);
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

/// A duration in milliseconds to a tenth, rounded half up: what `{:.1}` of
/// the float makes, in integers.
fn write_millis(out: &mut Vec<u8>, elapsed: Duration) {
    let tenths = (elapsed.as_nanos() + 50_000) / 100_000;
    write_integer(out, tenths / 10);
    out.push(b'.');
    out.push(b'0' + (tenths % 10) as u8);
}

fn json_string(out: &mut Vec<u8>, value: &str) -> std::io::Result<()> {
    if quoted_as_is(out, value) {
        return Ok(());
    }
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::other)
}

/// RFC 3339 in UTC with microseconds, as tracing-subscriber's default
/// timer writes it: `2026-11-30T13:50:32.004976Z`.
fn write_timestamp(out: &mut Vec<u8>, now: SystemTime) {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let second = since_epoch.as_secs();
    let micros = since_epoch.subsec_micros();
    let cached = SECOND.try_with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else { return false };
        if cache.0 != second {
            cache.1 = date_and_time(second);
            cache.0 = second;
        }
        out.extend_from_slice(cache.1.as_bytes());
        true
    });
    if cached != Ok(true) {
        out.extend_from_slice(date_and_time(second).as_bytes());
    }
    // ".{micros:06}Z", without `fmt`.
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(micros);
    out.push(b'.');
    out.extend(std::iter::repeat_n(b'0', 6usize.saturating_sub(digits.len())));
    out.extend_from_slice(digits.as_bytes());
    out.push(b'Z');
}

/// "2026-11-30T13:50:32": a whole second, without its zone letter.
fn date_and_time(second: u64) -> String {
    let Ok(at) = i64::try_from(second).map_err(|_| ()).and_then(|s| jiff::Timestamp::from_second(s).map_err(|_| ()))
    else {
        // Past the year 9999: not a clock this gateway runs under.
        return "9999-12-31T23:59:59".to_owned();
    };
    let mut text = at.to_string();
    text.pop(); // the "Z"
    text
}

/// A request's duration in milliseconds, to a tenth.
struct Millis(Duration);

impl Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = Vec::with_capacity(16);
        write_millis(&mut text, self.0);
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    /// The line tracing-subscriber writes for `line`, as `init_logging`
    /// sets it up without colours.
    fn through_tracing(line: &AccessLine<'_>, format: Format) -> String {
        let capture = Capture::default();
        let builder = tracing_subscriber::fmt().with_ansi(false).with_writer(capture.clone());
        match format {
            Format::Text => tracing::subscriber::with_default(builder.finish(), || line.trace()),
            Format::Json => {
                tracing::subscriber::with_default(builder.json().flatten_event(true).finish(), || line.trace())
            }
        }
        String::from_utf8(capture.0.lock().unwrap().clone()).unwrap()
    }

    fn direct(line: &AccessLine<'_>, format: Format, now: SystemTime) -> String {
        let mut out = Vec::new();
        line.format_into(&mut out, format, now);
        String::from_utf8(out).unwrap()
    }

    /// Everything after the timestamp, which the two took at different times.
    fn after_timestamp(line: &str, format: Format) -> &str {
        match format {
            Format::Text => line.split_once(' ').unwrap().1,
            Format::Json => line.split_once("\"level\"").unwrap().1,
        }
    }

    fn lines() -> Vec<AccessLine<'static>> {
        let plain = AccessLine {
            app: "shop",
            method: "GET",
            path: "/cart?item=1",
            status: 200,
            client: "127.0.0.1",
            user_agent: "curl/8.5.0",
            cold_start: false,
            answered: false,
            elapsed: Duration::from_micros(412),
        };
        let awkward = AccessLine {
            app: "-",
            method: "PROPFIND",
            path: "/a b/\"q\"\\é\t",
            status: 503,
            client: "2001:db8::1",
            user_agent: "Mozilla/5.0 \"quoted\" \u{7f}",
            cold_start: true,
            answered: true,
            elapsed: Duration::from_secs(3) + Duration::from_nanos(49_999),
        };
        vec![plain, awkward]
    }

    #[test]
    fn the_direct_line_is_the_line_tracing_writes() {
        for format in [Format::Text, Format::Json] {
            for line in lines() {
                let traced = through_tracing(&line, format);
                let direct = direct(&line, format, SystemTime::now());
                assert_eq!(after_timestamp(&direct, format), after_timestamp(&traced, format), "{format:?}");
            }
        }
    }

    #[test]
    fn timestamps_are_rfc3339_with_microseconds_as_tracing_writes_them() {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_960_232) + Duration::from_micros(4_976);
        let line = &lines()[0];
        let text = direct(line, Format::Text, now);
        assert!(text.starts_with("2026-11-29T13:50:32.004976Z  INFO paastis::access: request "), "{text}");
        let json = direct(line, Format::Json, now);
        assert!(json.starts_with("{\"timestamp\":\"2026-11-29T13:50:32.004976Z\",\"level\""), "{json}");
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["target"], TARGET);
        // A second later on the same thread: the cached date moves on.
        let later = direct(line, Format::Text, now + Duration::from_secs(1));
        assert!(later.starts_with("2026-11-29T13:50:33.004976Z"), "{later}");
        // The same shape as tracing-subscriber's own timer.
        let traced = through_tracing(line, Format::Text);
        let (stamp, _) = traced.split_once(' ').unwrap();
        assert_eq!(stamp.len(), "2026-11-29T13:50:32.004976Z".len(), "{traced}");
        assert!(stamp.parse::<jiff::Timestamp>().is_ok(), "{traced}");
    }

    #[test]
    fn pieces_are_written_as_fmt_writes_them() {
        for text in ["", "shop", "/cart?item=1", "a b", "\"q\"", "back\\slash", "tab\t", "é", "\u{7f}", "~ !"] {
            let mut debug = Vec::new();
            debug_string(&mut debug, text);
            assert_eq!(String::from_utf8(debug).unwrap(), format!("{text:?}"));
            let mut json = Vec::new();
            json_string(&mut json, text).unwrap();
            assert_eq!(String::from_utf8(json).unwrap(), serde_json::to_string(text).unwrap());
        }
        for ip in ["0.0.0.0", "127.0.0.1", "255.255.255.255", "10.20.3.4", "::1", "::ffff:1.2.3.4", "2001:db8::1"] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut out = Vec::new();
            write_ip(&mut out, ip);
            assert_eq!(String::from_utf8(out).unwrap(), ip.to_string());
        }
        // The float's `{:.1}`, except on exact ties (half up here, where
        // the float's binary value decides): none of these is one.
        for nanos in (0..2_000_000u64)
            .step_by(7_919)
            .chain([412_000, 3_000_049_999, 86_400_000_000_000])
            .filter(|nanos| nanos % 100_000 != 50_000)
        {
            let elapsed = Duration::from_nanos(nanos);
            let float = format!("{:.1}", elapsed.as_secs_f64() * 1000.0);
            assert_eq!(Millis(elapsed).to_string(), float, "{nanos} ns");
        }
        for micros in [0, 7, 4_976, 999_999] {
            let mut out = Vec::new();
            write_timestamp(&mut out, UNIX_EPOCH + Duration::from_micros(micros));
            assert!(String::from_utf8(out).unwrap().ends_with(&format!(".{micros:06}Z")));
        }
    }
}
