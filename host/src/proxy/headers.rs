//! Header rewriting between client and upstream (RFC 9110 §7.6.1).

use super::peer::Peer;
use http::header::{self, GetAll, HeaderMap, HeaderName, HeaderValue};

// A static, not a const: a const array would be made and dropped at each use.
static HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// The tokens of every Connection header (`close`, `upgrade`, header
/// names...), trimmed, in order; a value that is not text names nothing.
pub(crate) fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    tokens(&headers.get_all(header::CONNECTION))
}

/// The tokens of Connection values already looked up (for a caller that
/// reads them more than once).
fn tokens<'a>(values: &GetAll<'a, HeaderValue>) -> impl Iterator<Item = &'a str> + use<'a> {
    values.iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim)
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Drops hop-by-hop headers, including those the Connection header names.
/// `Upgrade` goes too: an upgrade is put back explicitly by the tunnel code.
pub(super) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One look at each name the message has, rather than a removal (a hash
    // and a probe) per name that could be there: most messages carry none,
    // and an answer with `connection: keep-alive` loses just that one.
    // Without a Connection header nothing else is named.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    // The names the Connection header lists beyond those: collected (they
    // cannot be removed while its tokens are borrowed) only when it lists
    // any, which `close` and `keep-alive`, nearly all it ever says, are not.
    let connection = headers.get_all(header::CONNECTION);
    let named: Vec<HeaderName> = if tokens(&connection).all(names_nothing_more) {
        Vec::new()
    } else {
        let named = |name: &HeaderName| tokens(&connection).any(|token| token.eq_ignore_ascii_case(name.as_str()));
        headers.keys().filter(|name| !is_hop_by_hop(name) && named(name)).cloned().collect()
    };
    for name in named {
        headers.remove(name);
    }
    // One at a time, each found by a look at the names: usually just one.
    while let Some(name) = headers.keys().find(|name| is_hop_by_hop(name)).cloned() {
        headers.remove(name);
    }
}

/// Whether a Connection token names no header but those every message loses.
fn names_nothing_more(token: &str) -> bool {
    token.eq_ignore_ascii_case("close")
        || token.eq_ignore_ascii_case(header::UPGRADE.as_str())
        || HOP_BY_HOP.iter().any(|hop| token.eq_ignore_ascii_case(hop.as_str()))
}

/// The hop-by-hop headers every message loses, and `Upgrade`.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == header::UPGRADE || HOP_BY_HOP.iter().any(|hop| hop == name)
}

/// Adds X-Forwarded-For (appending to a chain already there), -Proto and -Host.
/// Without a chain, the client's address is the connection's value, written
/// once (`Peer`).
pub(super) fn add_forwarded(headers: &mut HeaderMap, peer: &Peer, host: Option<HeaderValue>) {
    let chained = headers.get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok()).filter(|v| !v.trim().is_empty());
    let forwarded_for = match (chained, peer.forwarded_for()) {
        (None, Some(own)) => Some(own.clone()),
        (chained, _) => {
            let mut chain = Vec::with_capacity(48);
            if let Some(existing) = chained {
                chain.extend_from_slice(existing.as_bytes());
                chain.extend_from_slice(b", ");
            }
            chain.extend_from_slice(peer.ip().as_bytes());
            HeaderValue::from_maybe_shared(bytes::Bytes::from(chain)).ok()
        }
    };
    if let Some(value) = forwarded_for {
        headers.insert(X_FORWARDED_FOR, value);
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(peer.scheme.as_str()));
    if let Some(host) = host {
        headers.insert(X_FORWARDED_HOST, host);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_listed_and_named_hop_by_hop_headers() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, x-secret-hop"));
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        h.insert("x-end-to-end", HeaderValue::from_static("kept"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-end-to-end"], "kept");
    }

    #[test]
    fn strips_every_hop_by_hop_header_when_connection_names_no_other() {
        let mut h = HeaderMap::new();
        h.append(header::CONNECTION, HeaderValue::from_static("Keep-Alive, close"));
        h.append(header::CONNECTION, HeaderValue::from_static("upgrade, TE"));
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        h.append(header::TRANSFER_ENCODING, HeaderValue::from_static("gzip"));
        h.append(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::SERVER, HeaderValue::from_static("nginx"));
        h.insert("x-close", HeaderValue::from_static("kept: `close` names no header"));
        strip_hop_by_hop(&mut h);
        let mut left: Vec<_> = h.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["server", "x-close"]);
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn appends_to_an_existing_forwarded_chain() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
        let peer = Peer::new("127.0.0.1:5000".parse().unwrap(), super::super::Scheme::Http);
        add_forwarded(&mut h, &peer, Some(HeaderValue::from_static("a.localhost")));
        assert_eq!(h["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "a.localhost");
    }

    #[test]
    fn strips_named_tokens_in_any_case_and_ignores_invalid_ones() {
        let mut h = HeaderMap::new();
        h.append(header::CONNECTION, HeaderValue::from_static("X-Hop-One , ,bad name"));
        h.append(header::CONNECTION, HeaderValue::from_static("x-hop-two"));
        h.insert("x-hop-one", HeaderValue::from_static("1"));
        h.insert("x-hop-two", HeaderValue::from_static("2"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::HOST, HeaderValue::from_static("a.localhost"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.keys().collect::<Vec<_>>(), [header::HOST]);
        // Nothing hop-by-hop: left as it is.
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("a.localhost"));
        h.insert("x-end-to-end", HeaderValue::from_static("kept"));
        let before = h.clone();
        strip_hop_by_hop(&mut h);
        assert_eq!(h, before);
    }

    #[test]
    fn starts_a_forwarded_chain_with_the_client() {
        for (existing, client, chain) in [
            (None, "10.0.0.7", "10.0.0.7"),
            (Some("  "), "10.0.0.7", "10.0.0.7"),
            (Some("203.0.113.9"), "2001:db8::1", "203.0.113.9, 2001:db8::1"),
        ] {
            let mut h = HeaderMap::new();
            if let Some(existing) = existing {
                h.insert("x-forwarded-for", HeaderValue::from_static(existing));
            }
            let ip: std::net::IpAddr = client.parse().unwrap();
            add_forwarded(&mut h, &Peer::new((ip, 443).into(), super::super::Scheme::Https), None);
            assert_eq!(h["x-forwarded-for"], chain);
            assert_eq!(h["x-forwarded-proto"], "https");
            assert!(!h.contains_key("x-forwarded-host"));
        }
    }
}
