//! Reads a log file as a stream of requests, whatever its format (told apart
//! line by line: JSON objects are the gateway's log, anything else is read
//! as combined), naming the app of each and keeping count of what it skips.

use super::combined;
use super::gateway_log::{self, JsonLine};
use super::hit::Hit;
use crate::policy::model::Timestamp;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// How lines are turned into requests for apps.
#[derive(Debug, Clone, Default)]
pub(super) struct AppRule {
    /// Every request is for this app (`--app`).
    pub app: Option<String>,
    /// Apps are named by the label before this domain, as the gateway routes;
    /// without it, by the first label of the host.
    pub domain: Option<String>,
    /// Only these apps exist (from `--config`); requests for others are
    /// ignored, as the gateway answers them 404 without a policy.
    pub known: Option<BTreeSet<String>>,
}

/// Skipped lines are listed up to this many, then only counted.
const LISTED: usize = 5;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub(crate) struct LineCounts {
    pub lines: u64,
    pub requests: u64,
    /// Lines that could not be read as a request: counted and skipped.
    pub unparseable: u64,
    /// Lines about something else (gateway events, unknown hosts, apps not
    /// in the config).
    pub ignored: u64,
    /// Requests dated before one already read, replayed at that earlier
    /// line's time (servers log a request when it ends, so slight disorder
    /// is normal).
    pub out_of_order: u64,
    pub first_unparseable: Vec<Unparseable>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct Unparseable {
    pub line: usize,
    pub reason: String,
}

pub(super) struct LogReader<R> {
    input: BufReader<R>,
    rule: AppRule,
    buf: Vec<u8>,
    line: usize,
    latest: Timestamp,
    pub counts: LineCounts,
}

impl LogReader<std::fs::File> {
    pub(super) fn open(path: &Path, rule: AppRule) -> std::io::Result<Self> {
        Ok(LogReader::new(std::fs::File::open(path)?, rule))
    }
}

impl<R: Read> LogReader<R> {
    pub(super) fn new(input: R, rule: AppRule) -> Self {
        LogReader {
            input: BufReader::with_capacity(1 << 16, input),
            rule,
            buf: Vec::with_capacity(512),
            line: 0,
            latest: 0,
            counts: LineCounts::default(),
        }
    }

    /// The next request, or `None` at the end of the input.
    pub(super) fn next_hit(&mut self) -> std::io::Result<Option<Hit>> {
        loop {
            self.buf.clear();
            if self.input.read_until(b'\n', &mut self.buf)? == 0 {
                return Ok(None);
            }
            self.line += 1;
            let text = String::from_utf8_lossy(&self.buf);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            self.counts.lines += 1;
            let read = if text.starts_with('{') { from_json(text) } else { from_combined(text) };
            let outcome = read.and_then(|read| read.map(|hit| self.assign(hit, self.line)).transpose());
            match outcome {
                Ok(Some(Some(mut hit))) => {
                    if hit.at < self.latest {
                        self.counts.out_of_order += 1;
                        hit.at = self.latest;
                    }
                    self.latest = hit.at;
                    self.counts.requests += 1;
                    return Ok(Some(hit));
                }
                Ok(_) => self.counts.ignored += 1,
                Err(reason) => {
                    self.counts.unparseable += 1;
                    if self.counts.first_unparseable.len() < LISTED {
                        self.counts.first_unparseable.push(Unparseable { line: self.line, reason });
                    }
                }
            }
        }
    }

    /// Names the app of a request; `Ok(None)` when it is for no app the
    /// simulation knows.
    fn assign(&self, mut hit: Hit, line: usize) -> Result<Option<Hit>, String> {
        hit.line = line;
        let app = if let Some(app) = &self.rule.app {
            app.clone()
        } else if !hit.app.is_empty() {
            hit.app.to_ascii_lowercase()
        } else {
            let Some(host) = hit.host.as_deref() else {
                return Err(
                    "no virtual host on the line: pass --app NAME to name the app of a plain combined log".into()
                );
            };
            match &self.rule.domain {
                Some(domain) => match crate::proxy::app_name(host, domain) {
                    Some(app) => app.to_ascii_lowercase(),
                    None => return Ok(None),
                },
                None => first_label(host).ok_or_else(|| format!("the host {host:?} names no app"))?,
            }
        };
        if self.rule.known.as_ref().is_some_and(|known| !known.contains(&app)) {
            return Ok(None);
        }
        hit.app = app;
        Ok(Some(hit))
    }
}

/// `web` for `web.example.com:443`; nothing for an IP address.
fn first_label(host: &str) -> Option<String> {
    let host = host.rsplit_once(':').map_or(host, |(h, port)| if port.parse::<u16>().is_ok() { h } else { host });
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return None;
    }
    let label = host.split('.').next()?;
    (!label.is_empty()).then(|| label.to_ascii_lowercase())
}

fn from_combined(text: &str) -> Result<Option<Hit>, String> {
    let line = combined::parse(text)?;
    Ok(Some(Hit {
        line: 0,
        at: line.at,
        app: String::new(),
        method: line.method.to_owned(),
        target: line.target.to_owned(),
        client: line.client.to_owned(),
        host: line.host.map(str::to_owned),
        user_agent: line.user_agent.map(str::to_owned),
        referer: line.referer.map(str::to_owned),
    }))
}

fn from_json(text: &str) -> Result<Option<Hit>, String> {
    Ok(match gateway_log::parse(text)? {
        JsonLine::Request(access) => Some(Hit {
            line: 0,
            at: access.at,
            app: access.app,
            method: access.method,
            target: access.target,
            client: access.client,
            host: None,
            user_agent: access.user_agent,
            referer: None,
        }),
        JsonLine::Other => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str, rule: AppRule) -> (Vec<Hit>, LineCounts) {
        let mut reader = LogReader::new(text.as_bytes(), rule);
        let mut hits = Vec::new();
        while let Some(hit) = reader.next_hit().unwrap() {
            hits.push(hit);
        }
        (hits, reader.counts)
    }

    const MIXED: &str = concat!(
        "web.example.com:443 10.0.0.1 - - [01/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n",
        "garbage\n",
        "\n",
        "10.0.0.1 - - [01/Nov/2026:09:59:59 +0000] \"GET /b HTTP/1.1\" 200 5 \"-\" \"curl/8\" \"API.example.com\"\n",
        "{\"timestamp\":\"2026-11-01T10:00:05Z\",\"message\":\"listening\",\"target\":\"paastis::gateway\"}\n",
        "{\"timestamp\":\"2026-11-01T10:00:05Z\",\"message\":\"request\",\"app\":\"shop\",\"path\":\"/\",\"ms\":\"0.4\",\"target\":\"paastis::access\"}\n",
    );

    #[test]
    fn names_apps_by_host_and_counts_what_it_skips() {
        let (hits, counts) = read_all(MIXED, AppRule::default());
        let apps: Vec<_> = hits.iter().map(|h| (h.line, h.app.as_str())).collect();
        assert_eq!(apps, [(1, "web"), (4, "api"), (6, "shop")]);
        // Line 4 is dated a second before line 1: replayed at line 1's time.
        assert_eq!(hits[1].at, hits[0].at);
        assert_eq!(counts.out_of_order, 1);
        assert_eq!((counts.lines, counts.requests, counts.unparseable, counts.ignored), (5, 3, 1, 1));
        assert_eq!(counts.first_unparseable[0].line, 2);
    }

    #[test]
    fn a_domain_and_known_apps_filter_requests() {
        let rule = AppRule {
            domain: Some("example.com".into()),
            known: Some(["web".to_owned(), "shop".to_owned()].into()),
            ..AppRule::default()
        };
        let (hits, counts) = read_all(MIXED, rule);
        assert_eq!(hits.iter().map(|h| h.app.as_str()).collect::<Vec<_>>(), ["web", "shop"]);
        assert_eq!(counts.ignored, 2);
    }

    #[test]
    fn app_overrides_every_line_and_plain_lines_need_it() {
        let plain = "10.0.0.1 - - [01/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"-\"\n";
        let (hits, counts) = read_all(plain, AppRule::default());
        assert!(hits.is_empty());
        assert!(counts.first_unparseable[0].reason.contains("--app"), "{counts:?}");
        let (hits, _) = read_all(plain, AppRule { app: Some("blog".into()), ..AppRule::default() });
        assert_eq!(hits[0].app, "blog");
    }

    #[test]
    fn first_label_skips_ports_and_addresses() {
        assert_eq!(first_label("Web.example.com:8443").as_deref(), Some("web"));
        assert_eq!(first_label("10.1.2.3:80"), None);
        assert_eq!(first_label("[::1]:80"), None);
    }
}
