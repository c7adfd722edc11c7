//! The client end of one connection, as each of its requests sees it:
//! the listener's scheme, and its address written out once per connection
//! (the access line's `client`, X-Forwarded-For and the policy's request
//! text), not once per request.

use super::Scheme;
use http::HeaderValue;
use std::net::SocketAddr;

pub(crate) struct Peer {
    pub(crate) scheme: Scheme,
    /// The address as `IpAddr`'s `Display` writes it.
    ip: Box<str>,
    /// `ip` as a header value: X-Forwarded-For when a request carries none
    /// (a clone shares its bytes).
    forwarded_for: Option<HeaderValue>,
}

impl Peer {
    pub(crate) fn new(addr: SocketAddr, scheme: Scheme) -> Peer {
        let mut text = Vec::with_capacity(16);
        crate::telemetry::access_log::write_ip(&mut text, addr.ip());
        // An address's text is ASCII: neither conversion fails.
        let ip: Box<str> = String::from_utf8(text).unwrap_or_else(|_| addr.ip().to_string()).into();
        let forwarded_for = HeaderValue::from_maybe_shared(bytes::Bytes::copy_from_slice(ip.as_bytes())).ok();
        Peer { scheme, ip, forwarded_for }
    }

    /// The client's address as text (as `IpAddr`'s `Display`).
    pub(crate) fn ip(&self) -> &str {
        &self.ip
    }

    pub(super) fn forwarded_for(&self) -> Option<&HeaderValue> {
        self.forwarded_for.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_written_once_as_display_writes_it() {
        for addr in ["10.0.0.7:5000", "[2001:db8::1]:443", "[::ffff:192.0.2.1]:80"] {
            let addr: SocketAddr = addr.parse().unwrap();
            let peer = Peer::new(addr, Scheme::Http);
            assert_eq!(peer.ip(), addr.ip().to_string());
            assert_eq!(peer.forwarded_for().unwrap(), addr.ip().to_string().as_str());
        }
    }
}
