//! Typed access to the params a policy receives from the gateway config,
//! with errors that name the param and quote what was found, because the
//! person reading them is the one editing the config.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::passive::Convention;
use crate::time::parse_duration;

/// One value from the config: a TOML string, integer, float, boolean or
/// list of strings. Rust values convert into it, for tests.
///
/// ```
/// use paastis_sdk::ParamValue;
/// assert_eq!(ParamValue::from("15m"), ParamValue::Text("15m".to_owned()));
/// assert_eq!(ParamValue::from(["/health"]).to_string(), r#"["/health"]"#);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// `idle_timeout = "15m"`
    Text(String),
    /// `retries = 3`
    Integer(i64),
    /// `ratio = 0.5`
    Float(f64),
    /// `verbose = true`
    Boolean(bool),
    /// `passive_paths = ["/health", "/status/*"]`
    TextList(Vec<String>),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Text(s) => write!(f, "{s:?}"),
            ParamValue::Integer(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Boolean(b) => write!(f, "{b}"),
            ParamValue::TextList(items) => f.debug_list().entries(items).finish(),
        }
    }
}

macro_rules! from_scalar {
    ($($t:ty => $variant:ident($conv:expr)),* $(,)?) => {
        $(impl From<$t> for ParamValue {
            fn from(v: $t) -> Self {
                ParamValue::$variant($conv(v))
            }
        })*
    };
}

from_scalar! {
    String => Text(|v| v),
    &str => Text(str::to_owned),
    i64 => Integer(|v| v),
    i32 => Integer(i64::from),
    u32 => Integer(i64::from),
    f64 => Float(|v| v),
    bool => Boolean(|v| v),
    Vec<String> => TextList(|v| v),
    Vec<&str> => TextList(|v: Vec<&str>| v.into_iter().map(str::to_owned).collect()),
    &[&str] => TextList(|v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect()),
}

impl<const N: usize> From<[&str; N]> for ParamValue {
    fn from(items: [&str; N]) -> Self {
        ParamValue::TextList(items.iter().map(|s| (*s).to_owned()).collect())
    }
}

/// A param that is missing or does not have the expected shape. Its message
/// names the param and quotes what the config says, for the person editing
/// the config; `?` turns it into a [`PolicyError`](crate::PolicyError).
///
/// ```
/// use paastis_sdk::testing::AppBuilder;
/// let app = AppBuilder::new("blog").param("idle_timeout", "soon").build();
/// let error = app.params().duration("idle_timeout").unwrap_err();
/// assert_eq!(error.name(), "idle_timeout");
/// assert!(error.to_string().ends_with(r#"got "soon""#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    name: String,
    problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    Missing,
    Mismatch { expected: &'static str, found: String },
}

impl ParamError {
    /// The param `name` is required but not set.
    ///
    /// ```
    /// let e = paastis_sdk::ParamError::missing("timezone");
    /// assert_eq!(e.to_string(), r#"param "timezone" is required but not set"#);
    /// ```
    pub fn missing(name: &str) -> Self {
        ParamError { name: name.to_owned(), problem: Problem::Missing }
    }

    /// `expected` completes "expected ...", e.g. `a duration such as "15m"`:
    /// for your own param types.
    ///
    /// ```
    /// use paastis_sdk::{ParamError, ParamValue};
    /// let e = ParamError::mismatch("mode", r#""sleep" or "refuse""#, &ParamValue::from("nap"));
    /// assert_eq!(e.to_string(), r#"param "mode": expected "sleep" or "refuse", got "nap""#);
    /// ```
    pub fn mismatch(name: &str, expected: &'static str, found: &ParamValue) -> Self {
        ParamError { name: name.to_owned(), problem: Problem::Mismatch { expected, found: found.to_string() } }
    }

    /// The param's name.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::ParamError::missing("open").name(), "open");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::Missing => write!(f, "param {:?} is required but not set", self.name),
            Problem::Mismatch { expected, found } => {
                write!(f, "param {:?}: expected {expected}, got {found}", self.name)
            }
        }
    }
}

impl std::error::Error for ParamError {}

const DURATION: &str = "a duration such as \"15m\", \"90s\" or a number of seconds";
const TEXT: &str = "a string";
const TEXT_LIST: &str = "a list of strings";
const BOOL: &str = "true or false";
const INTEGER: &str = "an integer";
const NUMBER: &str = "a number";

/// The params for one app: the app's own over the policy's defaults. Read
/// them with the typed accessors; each `_or` variant takes a default for a
/// param that is not set, but a param that is set and malformed is always an
/// error (a typo must not silently become the default).
///
/// ```
/// use paastis_sdk::Params;
/// use std::time::Duration;
///
/// let params: Params = [("idle_timeout", "30m")].into_iter().collect();
/// assert_eq!(params.duration_or("idle_timeout", Duration::from_secs(900))?, Duration::from_secs(1800));
/// assert_eq!(params.bool_or("verbose", false)?, false);
/// # Ok::<(), paastis_sdk::ParamError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
// Shared: a tick hands every app with the same params the same set, so a
// clone is a reference count, not a copy of every string.
pub struct Params(Arc<Table>);

/// The values, and what the SDK read from them once for every call that
/// gets this set: the host sends a set once per instance and then refers to
/// it, so a set outlives many calls.
#[derive(Default)]
struct Table {
    values: BTreeMap<String, ParamValue>,
    /// The passive convention, read on first use (and again after an
    /// `insert`, which empties it).
    passive: OnceLock<Convention>,
}

impl Clone for Table {
    fn clone(&self) -> Table {
        Table { values: self.values.clone(), passive: OnceLock::new() }
    }
}

impl PartialEq for Table {
    fn eq(&self, other: &Table) -> bool {
        self.values == other.values
    }
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.values.fmt(f)
    }
}

impl Params {
    /// No params.
    ///
    /// ```
    /// assert!(paastis_sdk::Params::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Params::default()
    }

    /// The raw value of `name`, for shapes the accessors do not cover.
    ///
    /// ```
    /// use paastis_sdk::{ParamValue, Params};
    /// let params: Params = [("retries", 3)].into_iter().collect();
    /// assert_eq!(params.get("retries"), Some(&ParamValue::Integer(3)));
    /// ```
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.0.values.get(name)
    }

    /// The passive convention as this set configures it, read once per set
    /// (`passive` runs on every request: three lookups by name, each
    /// comparing strings, were a visible part of a call).
    pub(crate) fn passive(&self) -> &Convention {
        self.0.passive.get_or_init(|| Convention::read(self))
    }

    /// Whether `name` is set.
    ///
    /// ```
    /// let params: paastis_sdk::Params = [("open", "08:00")].into_iter().collect();
    /// assert!(params.contains("open") && !params.contains("close"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.0.values.contains_key(name)
    }

    /// Every param, sorted by name.
    ///
    /// ```
    /// let params: paastis_sdk::Params = [("b", 1), ("a", 2)].into_iter().collect();
    /// assert_eq!(params.iter().map(|(name, _)| name).collect::<Vec<_>>(), ["a", "b"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.0.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many params are set.
    ///
    /// ```
    /// let params: paastis_sdk::Params = [("a", 1)].into_iter().collect();
    /// assert_eq!(params.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.0.values.len()
    }

    /// Whether none is set.
    ///
    /// ```
    /// assert!(paastis_sdk::Params::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.values.is_empty()
    }

    /// Sets `name`, replacing a previous value: for tests.
    ///
    /// ```
    /// let mut params = paastis_sdk::Params::new();
    /// params.insert("idle_timeout", "5m");
    /// assert_eq!(params.text("idle_timeout"), Ok("5m"));
    /// ```
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<ParamValue>) {
        let table = Arc::make_mut(&mut self.0);
        table.passive = OnceLock::new();
        table.values.insert(name.into(), value.into());
    }

    fn required(&self, name: &str) -> Result<&ParamValue, ParamError> {
        self.get(name).ok_or_else(|| ParamError::missing(name))
    }

    /// A duration: text in humantime syntax (`"15m"`, `"1h30m"`), or a
    /// non-negative number of seconds (as text or as a number).
    ///
    /// ```
    /// use std::time::Duration;
    /// let params: paastis_sdk::Params = [("a", "90s")].into_iter().collect();
    /// assert_eq!(params.duration("a"), Ok(Duration::from_secs(90)));
    /// assert!(params.duration("b").is_err(), "required");
    /// ```
    pub fn duration(&self, name: &str) -> Result<Duration, ParamError> {
        let value = self.required(name)?;
        let parsed = match value {
            ParamValue::Text(s) => parse_duration(s),
            ParamValue::Integer(i) => u64::try_from(*i).ok().map(Duration::from_secs),
            ParamValue::Float(x) => Duration::try_from_secs_f64(*x).ok(),
            ParamValue::Boolean(_) | ParamValue::TextList(_) => None,
        };
        parsed.ok_or_else(|| ParamError::mismatch(name, DURATION, value))
    }

    /// Like [`Params::duration`], with `default` when the param is not set.
    /// A param that is set but malformed is still an error: silently using
    /// the default would hide a typo in the config.
    ///
    /// ```
    /// use std::time::Duration;
    /// let params: paastis_sdk::Params = [("typo", "15 minuets")].into_iter().collect();
    /// assert_eq!(params.duration_or("absent", Duration::from_secs(60)), Ok(Duration::from_secs(60)));
    /// assert!(params.duration_or("typo", Duration::from_secs(60)).is_err());
    /// ```
    pub fn duration_or(&self, name: &str, default: Duration) -> Result<Duration, ParamError> {
        if self.contains(name) { self.duration(name) } else { Ok(default) }
    }

    /// A string.
    ///
    /// ```
    /// let params: paastis_sdk::Params = [("mode", "refuse")].into_iter().collect();
    /// assert_eq!(params.text("mode"), Ok("refuse"));
    /// ```
    pub fn text(&self, name: &str) -> Result<&str, ParamError> {
        match self.required(name)? {
            ParamValue::Text(s) => Ok(s),
            other => Err(ParamError::mismatch(name, TEXT, other)),
        }
    }

    /// A string, or `default` when not set.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::Params::new().text_or("mode", "sleep"), Ok("sleep"));
    /// ```
    pub fn text_or<'a>(&'a self, name: &str, default: &'a str) -> Result<&'a str, ParamError> {
        if self.contains(name) { self.text(name) } else { Ok(default) }
    }

    /// A list of strings; a single string counts as a list of one, which is
    /// what someone who configures one path usually writes.
    ///
    /// ```
    /// let params: paastis_sdk::Params = [("paths", "/health")].into_iter().collect();
    /// assert_eq!(params.string_list("paths"), Ok(vec!["/health".to_owned()]));
    /// ```
    pub fn string_list(&self, name: &str) -> Result<Vec<String>, ParamError> {
        list_in(name, self.required(name)?).map(<[String]>::to_vec)
    }

    /// A list of strings (a single string is a list of one), empty when not
    /// set, without copying them.
    pub(crate) fn strings(&self, name: &str) -> Result<&[String], ParamError> {
        self.get(name).map_or(Ok(&[]), |value| list_in(name, value))
    }

    /// A list of strings, or `default` when not set.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::Params::new().string_list_or("paths", &["/ping"]), Ok(vec!["/ping".to_owned()]));
    /// ```
    pub fn string_list_or(&self, name: &str, default: &[&str]) -> Result<Vec<String>, ParamError> {
        if self.contains(name) { self.string_list(name) } else { Ok(default.iter().map(|s| (*s).to_owned()).collect()) }
    }

    /// A boolean; the text `"true"`/`"false"` is accepted too, since env-var
    /// driven configs often can only produce strings.
    ///
    /// ```
    /// let params: paastis_sdk::Params = [("verbose", "TRUE")].into_iter().collect();
    /// assert_eq!(params.bool("verbose"), Ok(true));
    /// ```
    pub fn bool(&self, name: &str) -> Result<bool, ParamError> {
        let value = self.required(name)?;
        match value {
            ParamValue::Boolean(b) => Ok(*b),
            ParamValue::Text(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            ParamValue::Text(s) if s.eq_ignore_ascii_case("false") => Ok(false),
            other => Err(ParamError::mismatch(name, BOOL, other)),
        }
    }

    /// A boolean, or `default` when not set.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::Params::new().bool_or("verbose", false), Ok(false));
    /// ```
    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, ParamError> {
        if self.contains(name) { self.bool(name) } else { Ok(default) }
    }

    /// An integer (as a number, or as text).
    ///
    /// ```
    /// let params: paastis_sdk::Params = [("retries", "3")].into_iter().collect();
    /// assert_eq!(params.integer("retries"), Ok(3));
    /// ```
    pub fn integer(&self, name: &str) -> Result<i64, ParamError> {
        let value = self.required(name)?;
        match value {
            ParamValue::Integer(i) => Ok(*i),
            ParamValue::Text(s) => s.trim().parse().map_err(|_| ParamError::mismatch(name, INTEGER, value)),
            other => Err(ParamError::mismatch(name, INTEGER, other)),
        }
    }

    /// An integer, or `default` when not set.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::Params::new().integer_or("retries", 2), Ok(2));
    /// ```
    pub fn integer_or(&self, name: &str, default: i64) -> Result<i64, ParamError> {
        if self.contains(name) { self.integer(name) } else { Ok(default) }
    }

    /// A number; integers are accepted, as TOML writes `2` and `2.0`
    /// differently but authors mean the same.
    ///
    /// ```
    /// let params: paastis_sdk::Params = [("ratio", 2)].into_iter().collect();
    /// assert_eq!(params.float("ratio"), Ok(2.0));
    /// ```
    pub fn float(&self, name: &str) -> Result<f64, ParamError> {
        let value = self.required(name)?;
        match value {
            ParamValue::Float(x) => Ok(*x),
            #[allow(clippy::cast_precision_loss)]
            ParamValue::Integer(i) => Ok(*i as f64),
            ParamValue::Text(s) => s.trim().parse().map_err(|_| ParamError::mismatch(name, NUMBER, value)),
            other => Err(ParamError::mismatch(name, NUMBER, other)),
        }
    }

    /// A number, or `default` when not set.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::Params::new().float_or("ratio", 0.5), Ok(0.5));
    /// ```
    pub fn float_or(&self, name: &str, default: f64) -> Result<f64, ParamError> {
        if self.contains(name) { self.float(name) } else { Ok(default) }
    }
}

/// `value` as a list of strings, in place; a single string is a list of one.
fn list_in<'a>(name: &str, value: &'a ParamValue) -> Result<&'a [String], ParamError> {
    match value {
        ParamValue::TextList(items) => Ok(items),
        ParamValue::Text(s) => Ok(std::slice::from_ref(s)),
        other => Err(ParamError::mismatch(name, TEXT_LIST, other)),
    }
}

impl<K: Into<String>, V: Into<ParamValue>> FromIterator<(K, V)> for Params {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let values = iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Params(Arc::new(Table { values, passive: OnceLock::new() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        [
            ("timeout", ParamValue::from("2m")),
            ("secs", ParamValue::from(90)),
            ("bad", ParamValue::from("abc")),
            ("neg", ParamValue::from(-3)),
            ("paths", ParamValue::from(["/health", "/ping*"])),
            ("one", ParamValue::from("/only")),
            ("flag", ParamValue::from(true)),
            ("flag_text", ParamValue::from("FALSE")),
            ("ratio", ParamValue::from(2)),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn durations() {
        let p = params();
        assert_eq!(p.duration("timeout"), Ok(Duration::from_secs(120)));
        assert_eq!(p.duration("secs"), Ok(Duration::from_secs(90)));
        assert_eq!(p.duration_or("absent", Duration::from_secs(7)), Ok(Duration::from_secs(7)));
        assert_eq!(
            p.duration("bad").map_err(|e| e.to_string()),
            Err(format!("param \"bad\": expected {DURATION}, got \"abc\""))
        );
        assert!(p.duration("neg").is_err());
        assert!(p.duration_or("bad", Duration::ZERO).is_err());
        assert_eq!(
            p.duration("absent").map_err(|e| e.to_string()),
            Err("param \"absent\" is required but not set".to_owned())
        );
    }

    #[test]
    fn lists_text_and_flags() {
        let p = params();
        assert_eq!(p.string_list("paths").map(|l| l.len()), Ok(2));
        assert_eq!(p.string_list("one"), Ok(vec!["/only".to_owned()]));
        assert_eq!(p.string_list_or("absent", &["x"]), Ok(vec!["x".to_owned()]));
        assert!(p.string_list("flag").is_err());
        assert_eq!(p.text("one"), Ok("/only"));
        assert_eq!(p.text_or("absent", "d"), Ok("d"));
        assert_eq!(
            p.text("paths").map_err(|e| e.to_string()),
            Err("param \"paths\": expected a string, got [\"/health\", \"/ping*\"]".to_owned())
        );
        assert_eq!(p.bool("flag"), Ok(true));
        assert_eq!(p.bool("flag_text"), Ok(false));
        assert_eq!(p.bool_or("absent", true), Ok(true));
        assert!(p.bool("one").is_err());
        assert_eq!(p.integer("secs"), Ok(90));
        assert_eq!(p.float("ratio"), Ok(2.0));
        assert_eq!(p.integer_or("absent", 4), Ok(4));
    }
}
