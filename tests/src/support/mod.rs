//! Test support, after linkerd2-proxy's integration tests: builders for the
//! gateway, its apps and a client, all on ephemeral ports, driving real
//! processes over real sockets.

pub mod admin;
mod app;
pub mod browser;
pub mod client;
pub mod fake_clever_cloud;
pub mod fake_heroku;
pub mod fake_http;
pub mod fake_render;
pub mod fake_scalingo;
mod gateway;
pub mod history;
pub mod kube_emulator;
mod logs;
pub mod policies;
mod process;
pub mod raw;
pub mod redis;
pub mod tls;

pub use admin::AdminClient;
pub use app::AppBuilder;
pub use client::{TestClient, TestResponse};
pub use gateway::{GatewayBuilder, TestGateway, run_paastis, run_paastis_with_env, spawn_paastis_with_env};
pub use logs::Logs;
pub use process::{
    all_threads_stopped, children_of, free_port, pid_alive, port_closed, processes_with_args, python3, wait_pid_gone,
    wait_until,
};

use libtest_mimic::Trial;
use std::future::Future;
use std::time::Duration;

/// When set, the test binary behaves as the `paastis` binary: the gateways
/// and demo apps the tests start are this executable, running the same
/// `paastis::cli` entry point as the real binary.
pub const EXEC_AS_PAASTIS: &str = "PAASTIS_TEST_EXEC_AS_PAASTIS";

/// Every test has a deadline, so a bug fails fast instead of hanging CI.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

pub fn trial<F, Fut>(name: &'static str, test: F) -> Trial
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    trial_with_deadline(name, DEFAULT_DEADLINE, test)
}

pub fn trial_with_deadline<F, Fut>(name: &'static str, deadline: Duration, test: F) -> Trial
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    Trial::test(name, move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot build a runtime: {e}"))?;
        runtime
            .block_on(async move { tokio::time::timeout(deadline, test()).await })
            .map_err(|_| format!("test exceeded its deadline of {deadline:?}").into())
    })
}

/// Waits for `what` with a deadline, panicking with `why` when it passes.
pub async fn within<T>(limit: Duration, why: &str, what: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, what).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {limit:?}: {why}"),
    }
}
