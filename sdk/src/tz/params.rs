//! Typed access to schedule params, with errors in the style of
//! [`Params`]'s: they name the param and quote what the config says.

use crate::error::PolicyError;
use crate::params::{ParamError, ParamValue, Params};
use crate::tz::time_of_day::TimeOfDay;
use crate::tz::weekday::Weekdays;
use crate::tz::zone::Zone;

const ZONE: &str = "an IANA time zone name such as \"Europe/Paris\"";
const TIME: &str = "a time of day such as \"08:00\" or \"19:30\" (\"00:00\" for midnight)";
const DAYS: &str = "weekdays such as \"Mon-Fri\", \"Mon,Wed,Fri\" or \"Sat-Sun\"";

/// Schedule params on [`Params`]. They return [`PolicyError`] rather than
/// [`ParamError`] because an unknown zone deserves its own wording (`param
/// "timezone": unknown time zone "Europe/Pariss"`), which `ParamError`
/// cannot express; `?` converts both the same way.
///
/// As with [`Params::duration_or`], a param that is set but malformed is an
/// error, never the default. The `_or` defaults are the policy author's and
/// are expected to be valid.
///
/// ```
/// use paastis_sdk::Params;
/// use paastis_sdk::tz::{TimeOfDay, TzParams, Weekdays};
///
/// let params: Params = [("timezone", "Europe/Paris"), ("days", "Mon-Sat")].into_iter().collect();
/// assert_eq!(params.timezone_or("timezone", "UTC")?.name(), "Europe/Paris");
/// assert_eq!(params.weekdays_or("days", Weekdays::MON_FRI)?.to_string(), "Mon-Sat");
/// assert_eq!(params.time_of_day_or("open", TimeOfDay::hm(8, 0))?, TimeOfDay::hm(8, 0));
/// # Ok::<(), paastis_sdk::PolicyError>(())
/// ```
pub trait TzParams {
    /// An IANA zone name, case-insensitive: `"Europe/Paris"`, `"UTC"`.
    ///
    /// ```
    /// use paastis_sdk::{Params, tz::TzParams};
    /// let params: Params = [("timezone", "Asia/Tokio")].into_iter().collect();
    /// assert_eq!(params.timezone("timezone").unwrap_err().to_string(), r#"param "timezone": unknown time zone "Asia/Tokio""#);
    /// ```
    fn timezone(&self, name: &str) -> Result<Zone, PolicyError>;
    /// A zone, or the zone named `default` when the param is not set.
    ///
    /// ```
    /// use paastis_sdk::{Params, tz::TzParams};
    /// assert_eq!(Params::new().timezone_or("timezone", "UTC").map(|z| z.name().to_owned()), Ok("UTC".to_owned()));
    /// ```
    fn timezone_or(&self, name: &str, default: &str) -> Result<Zone, PolicyError>;

    /// `"08:00"`, `"8:00"` or `"08:00:30"`.
    ///
    /// ```
    /// use paastis_sdk::{Params, tz::{TimeOfDay, TzParams}};
    /// let params: Params = [("open", "8:30")].into_iter().collect();
    /// assert_eq!(params.time_of_day("open"), Ok(TimeOfDay::hm(8, 30)));
    /// ```
    fn time_of_day(&self, name: &str) -> Result<TimeOfDay, PolicyError>;
    /// A time of day, or `default` when the param is not set.
    ///
    /// ```
    /// use paastis_sdk::{Params, tz::{TimeOfDay, TzParams}};
    /// assert_eq!(Params::new().time_of_day_or("close", TimeOfDay::hm(19, 0)), Ok(TimeOfDay::hm(19, 0)));
    /// ```
    fn time_of_day_or(&self, name: &str, default: TimeOfDay) -> Result<TimeOfDay, PolicyError>;

    /// `"Mon-Fri"`, `"Mon,Wed,Fri"`, `"sat-sun"` (see [`Weekdays::parse`]),
    /// or a list of such strings (`["Mon-Wed", "Fri"]`).
    ///
    /// ```
    /// use paastis_sdk::{Params, tz::{TzParams, Weekdays}};
    /// let params: Params = [("days", ["Mon-Wed", "Fri"])].into_iter().collect();
    /// assert_eq!(params.weekdays("days").map(|d| d.to_string()), Ok("Mon-Wed,Fri".to_owned()));
    /// ```
    fn weekdays(&self, name: &str) -> Result<Weekdays, PolicyError>;
    /// A set of weekdays, or `default` when the param is not set.
    ///
    /// ```
    /// use paastis_sdk::{Params, tz::{TzParams, Weekdays}};
    /// assert_eq!(Params::new().weekdays_or("days", Weekdays::MON_FRI), Ok(Weekdays::MON_FRI));
    /// ```
    fn weekdays_or(&self, name: &str, default: Weekdays) -> Result<Weekdays, PolicyError>;
}

impl TzParams for Params {
    fn timezone(&self, name: &str) -> Result<Zone, PolicyError> {
        let value = self.get(name).ok_or_else(|| ParamError::missing(name))?;
        let ParamValue::Text(text) = value else {
            return Err(ParamError::mismatch(name, ZONE, value).into());
        };
        Zone::named(text).ok_or_else(|| PolicyError::new(format!("param {name:?}: unknown time zone {text:?}")))
    }

    fn timezone_or(&self, name: &str, default: &str) -> Result<Zone, PolicyError> {
        if self.contains(name) {
            return self.timezone(name);
        }
        Zone::named(default)
            .ok_or_else(|| PolicyError::new(format!("default of param {name:?}: unknown time zone {default:?}")))
    }

    fn time_of_day(&self, name: &str) -> Result<TimeOfDay, PolicyError> {
        let value = self.get(name).ok_or_else(|| ParamError::missing(name))?;
        let parsed = match value {
            ParamValue::Text(text) => TimeOfDay::parse(text),
            _ => None,
        };
        Ok(parsed.ok_or_else(|| ParamError::mismatch(name, TIME, value))?)
    }

    fn time_of_day_or(&self, name: &str, default: TimeOfDay) -> Result<TimeOfDay, PolicyError> {
        if self.contains(name) { self.time_of_day(name) } else { Ok(default) }
    }

    fn weekdays(&self, name: &str) -> Result<Weekdays, PolicyError> {
        let value = self.get(name).ok_or_else(|| ParamError::missing(name))?;
        let parsed = match value {
            ParamValue::Text(text) => Weekdays::parse(text),
            ParamValue::TextList(items) if !items.is_empty() => items
                .iter()
                .map(|item| Weekdays::parse(item))
                .try_fold(Weekdays::NONE, |set, days| Some(set.union(days?))),
            _ => None,
        };
        Ok(parsed.ok_or_else(|| ParamError::mismatch(name, DAYS, value))?)
    }

    fn weekdays_or(&self, name: &str, default: Weekdays) -> Result<Weekdays, PolicyError> {
        if self.contains(name) { self.weekdays(name) } else { Ok(default) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tz::Weekday;

    fn params() -> Params {
        [
            ("tz", ParamValue::from("europe/paris")),
            ("typo", ParamValue::from("Europe/Pariss")),
            ("number", ParamValue::from(2)),
            ("open", ParamValue::from("8:30")),
            ("late", ParamValue::from("25:00")),
            ("days", ParamValue::from("mon-FRI")),
            ("day_list", ParamValue::from(["Mon-Tue", "Sat"])),
            ("bad_days", ParamValue::from("Mon-Fry")),
            ("bad_list", ParamValue::from(["Mon", "someday"])),
            ("empty_list", ParamValue::TextList(Vec::new())),
        ]
        .into_iter()
        .collect()
    }

    fn err<T: std::fmt::Debug>(r: Result<T, PolicyError>) -> String {
        r.map(|v| format!("unexpected {v:?}")).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn time_zones() {
        let p = params();
        assert_eq!(p.timezone("tz").map(|z| z.name().to_owned()), Ok("Europe/Paris".to_owned()));
        assert_eq!(p.timezone_or("absent", "UTC").map(|z| z.name().to_owned()), Ok("UTC".to_owned()));
        assert_eq!(err(p.timezone("typo")), "param \"typo\": unknown time zone \"Europe/Pariss\"");
        assert_eq!(err(p.timezone_or("typo", "UTC")), "param \"typo\": unknown time zone \"Europe/Pariss\"");
        assert_eq!(err(p.timezone("number")), format!("param \"number\": expected {ZONE}, got 2"));
        assert_eq!(err(p.timezone("absent")), "param \"absent\" is required but not set");
        assert_eq!(
            err(p.timezone_or("absent", "Nowhere")),
            "default of param \"absent\": unknown time zone \"Nowhere\""
        );
    }

    #[test]
    fn times_of_day() {
        let p = params();
        assert_eq!(p.time_of_day("open"), Ok(TimeOfDay::hm(8, 30)));
        assert_eq!(p.time_of_day_or("absent", TimeOfDay::hm(19, 0)), Ok(TimeOfDay::hm(19, 0)));
        assert_eq!(err(p.time_of_day("late")), format!("param \"late\": expected {TIME}, got \"25:00\""));
        assert_eq!(
            err(p.time_of_day_or("late", TimeOfDay::MIDNIGHT)),
            format!("param \"late\": expected {TIME}, got \"25:00\"")
        );
        assert_eq!(err(p.time_of_day("number")), format!("param \"number\": expected {TIME}, got 2"));
    }

    #[test]
    fn weekday_sets() {
        let p = params();
        assert_eq!(p.weekdays("days"), Ok(Weekdays::MON_FRI));
        assert_eq!(p.weekdays_or("absent", Weekdays::SAT_SUN), Ok(Weekdays::SAT_SUN));
        let listed = [Weekday::Monday, Weekday::Tuesday, Weekday::Saturday].into_iter().collect();
        assert_eq!(p.weekdays("day_list"), Ok(listed));
        assert_eq!(err(p.weekdays("bad_days")), format!("param \"bad_days\": expected {DAYS}, got \"Mon-Fry\""));
        assert!(err(p.weekdays("bad_list")).contains("got [\"Mon\", \"someday\"]"));
        assert!(err(p.weekdays("empty_list")).contains("got []"));
        assert!(err(p.weekdays("number")).contains("got 2"));
    }
}
