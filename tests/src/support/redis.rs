//! A real `redis-server` per test (the same file the store's unit tests
//! use), and how a gateway joins it.

#[path = "../../../host/src/store/test_redis.rs"]
mod server;

pub use server::RedisServer;

/// The variable the test gateways read their Redis URL from.
pub const URL_ENV: &str = "PAASTIS_TEST_REDIS_URL";
