//! The admin API on the proxy's port, for requests to `server.admin_host`
//! (a PaaS gives the gateway one port). There it faces whoever reaches the
//! proxy, so the token is required on every path that shows or changes
//! anything, `/healthz` included: a platform's health check or a Prometheus
//! scrape sends it (Kubernetes: `httpGet.httpHeaders`). Only the dashboard's
//! page and its static files are served without it: they hold no data (the
//! same text is in every build), and a browser cannot put a bearer token on
//! the navigation that loads them; the page then asks for the token and
//! sends it with every API call.

use super::respond::AdminBody;
use super::{AdminAuth, AdminState, Door};
use http::{Request, Response};
use hyper::body::Incoming;
use std::sync::Arc;

pub(crate) struct AdminHost {
    /// Lowercase, without a trailing dot.
    name: String,
    state: Arc<AdminState>,
    auth: AdminAuth,
}

impl AdminHost {
    pub(crate) fn new(name: String, state: Arc<AdminState>, token: String) -> AdminHost {
        // Not a loopback listener: any Host may reach the proxy's port, so
        // only the token decides.
        AdminHost { name, state, auth: AdminAuth::new(Some(token), true, false) }
    }

    /// Whether `host` (a request's Host or :authority) is the admin host:
    /// compared without case, port or trailing dot, as app routing reads
    /// hosts. An IPv6 literal never is.
    pub(crate) fn matches(&self, host: &str) -> bool {
        is_host(host, &self.name)
    }

    pub(crate) async fn handle(&self, request: Request<Incoming>) -> Response<AdminBody> {
        super::serve(&self.state, &self.auth, Door::AdminHost, request).await
    }
}

fn is_host(host: &str, name: &str) -> bool {
    crate::proxy::host_name(host).eq_ignore_ascii_case(name)
}

#[cfg(test)]
mod tests {
    use super::is_host;

    #[test]
    fn the_host_matches_without_case_port_or_trailing_dot() {
        let name = "paastis.example.com";
        for host in ["paastis.example.com", "PAASTIS.Example.com", "paastis.example.com:443", "paastis.example.com."] {
            assert!(is_host(host, name), "{host}");
        }
        for host in ["www.paastis.example.com", "paastis.example.com.evil", "example.com", "[::1]:80", ""] {
            assert!(!is_host(host, name), "{host}");
        }
    }
}
