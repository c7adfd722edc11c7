//! The admin API's part of a start: its state exists whenever anything
//! serves it: the admin listener, or the admin host on the proxy's port
//! (then possibly the only way in, with `[admin] enabled = false`).

use super::GatewayError;
use super::state::State;
use crate::admin::{AdminAuth, AdminHost, AdminLimits, AdminServer, AdminState, Uploads};
use crate::config::AdminToken;
use crate::policy::watch::PolicyUploader;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The longest an admin upload may pause between two chunks.
const UPLOAD_CHUNK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub(super) fn admin_state(state: &State, uploader: PolicyUploader) -> Option<Arc<AdminState>> {
    let config = &state.config;
    state.admin_token.as_ref().map(|token| {
        let listen = *config.admin.listen.get_ref();
        Arc::new(AdminState {
            apps: state.apps.clone(),
            gate: state.gate.clone(),
            uploader,
            events: state.events.clone(),
            recorded: state.recorder.progress(),
            telemetry: state.telemetry.clone(),
            config: config.clone(),
            auth: AdminAuth::new(token.value.clone(), token.required, listen.ip().is_loopback()),
            cluster: state.cluster.clone(),
            uploads: Uploads::new(*config.admin.max_upload_bytes.get_ref(), UPLOAD_CHUNK_TIMEOUT),
        })
    })
}

/// `server.admin_host`: the admin API on the proxy's port, always behind
/// the token.
pub(super) fn admin_host(state: &State, admin: Option<&Arc<AdminState>>) -> Option<AdminHost> {
    match (crate::config::admin_host(&state.config), admin, &state.admin_token) {
        (Some(host), Some(admin), Some(AdminToken { value: Some(token), .. })) => {
            tracing::info!(host, "admin API served on the proxy's port under its host (token required)");
            Some(AdminHost::new(host, admin.clone(), token.clone()))
        }
        _ => None,
    }
}

/// The admin listener's server, when `[admin] enabled`.
pub(super) fn spawn_admin(
    state: &State,
    listener: Option<TcpListener>,
    admin: Option<Arc<AdminState>>,
) -> Result<Option<AdminServer>, GatewayError> {
    let config = &state.config;
    match (listener, admin, &state.admin_token) {
        (Some(listener), Some(admin), Some(token)) => {
            let listen = *config.admin.listen.get_ref();
            let limits = AdminLimits {
                header_read_timeout: config.edge.header_read_timeout.0,
                idle_keep_alive: config.edge.idle_keep_alive.0,
                ..AdminLimits::default()
            };
            let server = AdminServer::spawn(listener, admin, limits)
                .map_err(|source| GatewayError::AdminListen { addr: listen, source })?;
            tracing::info!(
                addr = %server.local_addr(),
                token_required = token.required,
                token_env = config.admin.token_env.get_ref().as_str(),
                "admin listening"
            );
            Ok(Some(server))
        }
        _ => {
            tracing::info!("admin listener disabled ([admin] enabled = false)");
            Ok(None)
        }
    }
}
