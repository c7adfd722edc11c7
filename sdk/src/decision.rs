//! What a policy answers.

use std::time::Duration;

/// What to do with one request: the result of
/// [`Policy::on_request`](crate::Policy::on_request).
///
/// ```
/// use paastis_sdk::{Answer, Decision};
///
/// let for_people = Decision::Forward;
/// let for_monitors = Decision::ForwardPassiveOr(Answer::new(200).json(r#"{"status":"asleep"}"#));
/// let at_night = Decision::refuse(503, "closed until 08:00").retry_after(std::time::Duration::from_secs(3600));
/// assert_ne!(for_people, for_monitors);
/// assert!(matches!(at_night, Decision::Refuse(ref r) if r.retry_after_secs == Some(3600)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Proxy the request, waking the app if needed, and count it as activity.
    Forward,
    /// Proxy it without counting it as activity, and without waking a
    /// sleeping app for it (health checks, uptime monitors, bots): a sleeping
    /// app gets the client a 503.
    ForwardPassive,
    /// Like [`Decision::ForwardPassive`] while the app is awake; when it is
    /// not, the gateway sends this answer instead of the 503. For uptime
    /// monitors: a 200 while the app sleeps, and neither a wake nor a page.
    /// The gateway decides "awake" as it admits the request, under the app's
    /// lock, so a sleep in progress cannot race it.
    ForwardPassiveOr(Answer),
    /// Answer it without contacting the app (a 4xx or 5xx, with the reason
    /// as the body); see [`Decision::refuse`].
    Refuse(Refusal),
    /// Answer it with this response, whatever the app's state, without
    /// waking or contacting the app; not counted as activity.
    Answer(Answer),
}

impl Decision {
    /// Refuses with `status` (the host uses 503 for anything outside
    /// 400..=599) and `reason` as the body.
    ///
    /// ```
    /// use paastis_sdk::Decision;
    /// let Decision::Refuse(refusal) = Decision::refuse(429, "slow down") else { unreachable!() };
    /// assert_eq!((refusal.status, refusal.reason.as_str()), (429, "slow down"));
    /// ```
    pub fn refuse(status: u16, reason: impl Into<String>) -> Self {
        Decision::Refuse(Refusal { status, reason: reason.into(), retry_after_secs: None })
    }

    /// Adds a `Retry-After` (whole seconds) to a refusal or an answer; no
    /// effect on the other decisions.
    ///
    /// ```
    /// use paastis_sdk::{Answer, Decision};
    /// use std::time::Duration;
    /// let later = Decision::Answer(Answer::new(503).text("asleep")).retry_after(Duration::from_secs(60));
    /// assert!(matches!(later, Decision::Answer(ref a) if a.get_header("retry-after") == Some("60")));
    /// ```
    pub fn retry_after(mut self, after: Duration) -> Self {
        let secs = u32::try_from(after.as_secs()).unwrap_or(u32::MAX);
        match &mut self {
            Decision::Refuse(refusal) => refusal.retry_after_secs = Some(secs),
            Decision::Answer(answer) | Decision::ForwardPassiveOr(answer) => {
                answer.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("retry-after"));
                answer.headers.push(("retry-after".to_owned(), secs.to_string()));
            }
            Decision::Forward | Decision::ForwardPassive => {}
        }
        self
    }
}

/// A refusal: a status, a body and maybe a `Retry-After`.
///
/// ```
/// use paastis_sdk::{Decision, Refusal};
/// let refusal = Refusal { status: 503, reason: "closed".into(), retry_after_secs: Some(600) };
/// assert_eq!(Decision::Refuse(refusal.clone()), Decision::refuse(503, "closed").retry_after(std::time::Duration::from_secs(600)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 400..=599; the host uses 503 for anything else.
    pub status: u16,
    /// The body, as text (4 KiB at most; longer is cut).
    pub reason: String,
    /// Sent as `Retry-After`, in seconds.
    pub retry_after_secs: Option<u32>,
}

/// A response the gateway sends in the app's place: a status from 200 to
/// 599, a few headers (32 at most) and a short body (64 KiB at most). The
/// gateway adds `x-paastis-answered: 1`. An answer outside those limits, or
/// with a hop-by-hop header or `content-length`, fails the call, which the
/// gateway handles like any failed call (it forwards the request).
///
/// ```
/// use paastis_sdk::Answer;
///
/// let asleep = Answer::new(200).json(r#"{"status":"asleep"}"#);
/// assert_eq!(asleep.get_header("content-type"), Some("application/json"));
/// let moved = Answer::new(302).header("location", "https://status.example.com/");
/// assert_eq!((moved.status, moved.body.as_str()), (302, ""));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status, 200..=599.
    pub status: u16,
    /// Headers, in order; names may repeat.
    pub headers: Vec<(String, String)>,
    /// The body, sent as is.
    pub body: String,
}

impl Answer {
    /// An answer with `status`, no header and an empty body.
    ///
    /// ```
    /// let answer = paastis_sdk::Answer::new(204);
    /// assert!(answer.headers.is_empty() && answer.body.is_empty());
    /// ```
    pub fn new(status: u16) -> Answer {
        Answer { status, headers: Vec::new(), body: String::new() }
    }

    /// Sets `body` as plain text (`content-type: text/plain; charset=utf-8`).
    ///
    /// ```
    /// let answer = paastis_sdk::Answer::new(200).text("asleep, and fine");
    /// assert_eq!(answer.get_header("content-type"), Some("text/plain; charset=utf-8"));
    /// ```
    pub fn text(self, body: impl Into<String>) -> Answer {
        self.body(body).header("content-type", "text/plain; charset=utf-8")
    }

    /// Sets `body` as JSON (`content-type: application/json`); the text is
    /// sent as given.
    ///
    /// ```
    /// let answer = paastis_sdk::Answer::new(200).json(r#"{"status":"asleep"}"#);
    /// assert_eq!(answer.body, r#"{"status":"asleep"}"#);
    /// ```
    pub fn json(self, body: impl Into<String>) -> Answer {
        self.body(body).header("content-type", "application/json")
    }

    /// Sets the body, adding no header.
    ///
    /// ```
    /// let answer = paastis_sdk::Answer::new(200).body("ok").header("content-type", "text/csv");
    /// assert_eq!(answer.body, "ok");
    /// ```
    pub fn body(mut self, body: impl Into<String>) -> Answer {
        self.body = body.into();
        self
    }

    /// Sets a header, replacing one of the same name (case-insensitive).
    ///
    /// ```
    /// let answer = paastis_sdk::Answer::new(200).header("cache-control", "no-store").header("Cache-Control", "max-age=60");
    /// assert_eq!(answer.headers, vec![("Cache-Control".to_owned(), "max-age=60".to_owned())]);
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Answer {
        let name = name.into();
        self.headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
        self
    }

    /// The first value of a header, looked up case-insensitively.
    ///
    /// ```
    /// let answer = paastis_sdk::Answer::new(200).text("x");
    /// assert_eq!(answer.get_header("Content-Type"), Some("text/plain; charset=utf-8"));
    /// ```
    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The actions for one tick. Names the policy does not govern are ignored by
/// the host, and an app with requests in flight is never put to sleep, so a
/// policy may be approximate without being dangerous. An app both put to
/// sleep and woken by one plan fails the call.
///
/// ```
/// use paastis_sdk::TickPlan;
/// let mut plan = TickPlan::new();
/// plan.put_to_sleep("blog").wake_up("shop");
/// assert_eq!((plan.sleep.as_slice(), plan.wake.as_slice()), (&["blog".to_owned()][..], &["shop".to_owned()][..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickPlan {
    /// Apps to put to sleep (only awake ones with nothing in flight are).
    pub sleep: Vec<String>,
    /// Apps to wake (only asleep ones are), such as before an opening.
    pub wake: Vec<String>,
}

impl TickPlan {
    /// A plan that does nothing.
    ///
    /// ```
    /// assert!(paastis_sdk::TickPlan::new().is_empty());
    /// ```
    pub fn new() -> Self {
        TickPlan::default()
    }

    /// Puts `app` to sleep.
    ///
    /// ```
    /// let mut plan = paastis_sdk::TickPlan::new();
    /// plan.put_to_sleep("blog");
    /// assert_eq!(plan.sleep, vec!["blog"]);
    /// ```
    pub fn put_to_sleep(&mut self, app: impl Into<String>) -> &mut Self {
        self.sleep.push(app.into());
        self
    }

    /// Wakes `app`.
    ///
    /// ```
    /// let mut plan = paastis_sdk::TickPlan::new();
    /// plan.wake_up("shop");
    /// assert_eq!(plan.wake, vec!["shop"]);
    /// ```
    pub fn wake_up(&mut self, app: impl Into<String>) -> &mut Self {
        self.wake.push(app.into());
        self
    }

    /// Whether the plan does nothing.
    ///
    /// ```
    /// let mut plan = paastis_sdk::TickPlan::new();
    /// plan.wake_up("shop");
    /// assert!(!plan.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.sleep.is_empty() && self.wake.is_empty()
    }
}
