//! The second step of a start: every port bound, certificates checked
//! before the first one, and "listening" logged only once all are bound,
//! so that it never precedes a failed start.

use super::GatewayError;
use super::server::Listener;
use crate::config::Config;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

pub(super) struct Edge {
    /// The plain-HTTP listeners, in `server.listen` order, then the HTTPS ones.
    pub(super) listeners: Vec<Listener>,
    pub(super) addrs: Vec<SocketAddr>,
    pub(super) https_addrs: Vec<SocketAddr>,
    pub(super) admin: Option<TcpListener>,
}

impl Edge {
    pub(super) async fn bind(config: &Config) -> Result<Edge, GatewayError> {
        let mut terminators = Vec::new();
        for https in &config.edge.https {
            let tls = crate::tls::TlsTerminator::new(https.certs.get_ref())
                .map_err(|source| GatewayError::Tls { addr: https.listen, source })?;
            terminators.push((https.listen, Arc::new(tls)));
        }

        let mut listeners = Vec::new();
        let mut addrs = Vec::new();
        for &listen in config.server.listen.as_slice() {
            let (tcp, addr) = bind(listen).await?;
            addrs.push(addr);
            listeners.push(Listener { tcp, tls: None });
        }
        let admin = match config.admin.enabled {
            true => {
                let listen = *config.admin.listen.get_ref();
                let bound = TcpListener::bind(listen)
                    .await
                    .map_err(|source| GatewayError::AdminListen { addr: listen, source })?;
                Some(bound)
            }
            false => None,
        };
        let mut https_addrs = Vec::new();
        for (listen, tls) in terminators {
            let (tcp, addr) = bind(listen).await?;
            https_addrs.push(addr);
            listeners.push(Listener { tcp, tls: Some(tls) });
        }

        for addr in &addrs {
            tracing::info!(%addr, domain = %config.server.domain, apps = config.apps.len(), "listening");
        }
        for addr in &https_addrs {
            tracing::info!(%addr, "listening https");
        }
        Ok(Edge { listeners, addrs, https_addrs, admin })
    }
}

async fn bind(listen: SocketAddr) -> Result<(TcpListener, SocketAddr), GatewayError> {
    let tcp = TcpListener::bind(listen).await.map_err(|source| GatewayError::Listen { addr: listen, source })?;
    let addr = tcp.local_addr().map_err(|source| GatewayError::Listen { addr: listen, source })?;
    Ok((tcp, addr))
}
