//! `server.listen`: one address, or a list of them. Browsers try `[::1]`
//! first for `*.localhost`, so a local gateway listens on both loopbacks:
//! `listen = ["127.0.0.1:8080", "[::1]:8080"]`.

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use std::fmt;
use std::net::SocketAddr;

/// At least one address, none twice, in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddrs(Vec<SocketAddr>);

impl ListenAddrs {
    pub fn one(addr: SocketAddr) -> ListenAddrs {
        ListenAddrs(vec![addr])
    }

    pub fn as_slice(&self) -> &[SocketAddr] {
        &self.0
    }

    /// The first address written: the one named in messages.
    pub fn first(&self) -> SocketAddr {
        self.0[0]
    }
}

impl<'de> Deserialize<'de> for ListenAddrs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AddrsVisitor)
    }
}

struct AddrsVisitor;

impl<'de> Visitor<'de> for AddrsVisitor {
    type Value = ListenAddrs;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"an address such as "127.0.0.1:8080", or a list of them"#)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<ListenAddrs, E> {
        parse(text).map(ListenAddrs::one)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ListenAddrs, A::Error> {
        let mut addrs = Vec::new();
        while let Some(text) = seq.next_element::<String>()? {
            let addr = parse(&text)?;
            if addrs.contains(&addr) {
                return Err(de::Error::custom(format!("{addr} is listed twice")));
            }
            addrs.push(addr);
        }
        if addrs.is_empty() {
            return Err(de::Error::custom("needs at least one address"));
        }
        Ok(ListenAddrs(addrs))
    }
}

fn parse<E: de::Error>(text: &str) -> Result<SocketAddr, E> {
    text.parse()
        .map_err(|_| E::custom(format!(r#"{text:?} is not an address such as "127.0.0.1:8080" or "[::1]:8080""#)))
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn parse(listen: &str) -> Result<Config, String> {
        let text = format!("[server]\nlisten = {listen}\ndomain = \"localhost\"\n");
        Config::parse(&text, "l.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn one_address_or_a_list() {
        let one = parse(r#""127.0.0.1:8080""#).unwrap();
        assert_eq!(one.server.listen.as_slice(), ["127.0.0.1:8080".parse().unwrap()]);
        let both = parse(r#"["127.0.0.1:8080", "[::1]:8080"]"#).unwrap();
        let addrs: Vec<String> = both.server.listen.as_slice().iter().map(ToString::to_string).collect();
        assert_eq!(addrs, ["127.0.0.1:8080", "[::1]:8080"]);
    }

    #[test]
    fn a_bad_list_is_refused_with_the_key_and_line() {
        for (listen, why) in [
            ("[]", "at least one address"),
            (r#"["127.0.0.1:8080", "127.0.0.1:8080"]"#, "listed twice"),
            (r#"["127.0.0.1:8080", "localhost:8080"]"#, "\"localhost:8080\" is not an address"),
            ("8080", "an address such as"),
        ] {
            let error = parse(listen).unwrap_err();
            assert!(
                error.contains("server.listen") && error.contains("line 2") && error.contains(why),
                "{listen}: {error}"
            );
        }
    }
}
