//! Every key the gateway uses in Redis, under the configured prefix `p`:
//!
//! | key                  | type   | what                                                    |
//! |----------------------|--------|---------------------------------------------------------|
//! | `p:apps`             | HASH   | app name → record (JSON)                                |
//! | `p:apps:since`       | HASH   | app name → the record's `state_since` (for the merge)   |
//! | `p:activity`         | ZSET   | app name, scored by its last activity (ms; `ZADD GT`)   |
//! | `p:formations`       | HASH   | `<backend>/<app>` → saved formation (JSON)              |
//! | `p:policy-kv`        | HASH   | `<policy>\0<key>` → value                               |
//! | `p:policy-kv:version`| STRING | bumped by every flush of policy state                   |
//! | `p:events`           | ZSET   | event JSON, scored by its id                            |
//! | `p:events:seq`       | STRING | the next event id                                       |
//! | `p:leader`           | STRING | the leading replica's id, with the lease as expiry      |
//! | `p:leader:epoch`     | STRING | bumped at each new leader (for the logs)                |
//! | `p:wake:<app>`       | STRING | the replica waking or stopping `<app>`, with an expiry  |
//! | `p:woke`             | PUBSUB | an app name, published when its wake finished           |
//! | `p:replicas`         | ZSET   | replica ids, scored by when each was last seen (ms)     |
//! | `p:in-flight:<id>`   | HASH   | replica `<id>`'s requests in flight per app, with a TTL |
//! | `p:processes:<host>` | HASH   | `<app>@<gateway pid>` → its processes on `<host>`       |

#[derive(Clone, Debug)]
pub(crate) struct Keys {
    prefix: String,
    pub apps: String,
    pub apps_since: String,
    pub activity: String,
    pub formations: String,
    pub policy_kv: String,
    pub policy_kv_version: String,
    pub events: String,
    pub events_seq: String,
    pub leader: String,
    pub leader_epoch: String,
    pub woke: String,
    pub replicas: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Keys {
        let key = |name: &str| format!("{prefix}:{name}");
        Keys {
            prefix: prefix.to_owned(),
            apps: key("apps"),
            apps_since: key("apps:since"),
            activity: key("activity"),
            formations: key("formations"),
            policy_kv: key("policy-kv"),
            policy_kv_version: key("policy-kv:version"),
            events: key("events"),
            events_seq: key("events:seq"),
            leader: key("leader"),
            leader_epoch: key("leader:epoch"),
            woke: key("woke"),
            replicas: key("replicas"),
        }
    }

    pub(crate) fn wake_lock(&self, app: &str) -> String {
        format!("{}:wake:{app}", self.prefix)
    }

    /// The processes of the apps running on `host` (its hostname): one
    /// machine's, never another's (`store/processes.rs`).
    pub(crate) fn processes(&self, host: &str) -> String {
        format!("{}:processes:{host}", self.prefix)
    }

    pub(crate) fn in_flight(&self, replica: &str) -> String {
        format!("{}:in-flight:{replica}", self.prefix)
    }
}
