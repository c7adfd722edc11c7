//! The request the policy benches show a policy: a typical API call.

use paastis::testing::contract::RequestView;

pub fn request(host: &str) -> RequestView {
    RequestView {
        method: "GET".into(),
        path: "/api/items".into(),
        query: Some("page=2".into()),
        headers: [
            ("host", host),
            ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"),
            ("accept", "application/json"),
        ]
        .into_iter()
        .collect(),
        client_addr: "203.0.113.7".into(),
    }
}
