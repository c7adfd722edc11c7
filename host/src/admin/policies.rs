//! `GET /policies` and `PUT /policies/{name}` (a .wasm upload).

use super::AdminState;
use super::respond::{AdminBody, error, json};
use super::upload::UploadRefused;
use crate::policy::watch::{UploadError, Uploaded};
use http::{HeaderValue, Response, StatusCode, header};
use hyper::body::Incoming;

pub(super) fn list(state: &AdminState) -> Response<AdminBody> {
    let apps: Vec<String> = state.apps.iter().map(|app| app.name().to_owned()).collect();
    json(StatusCode::OK, &serde_json::json!({ "policies": state.gate.policies(&apps) }))
}

pub(super) async fn upload(state: &AdminState, name: &str, request: http::Request<Incoming>) -> Response<AdminBody> {
    let (parts, mut body) = request.into_parts();
    let received = async {
        let turn = state.uploads.begin()?;
        state.uploads.check_declared(&parts.headers)?;
        let bytes = state.uploads.receive(&turn, &mut body).await?;
        Ok::<_, UploadRefused>((turn, bytes))
    };
    let (_turn, bytes) = match received.await {
        Ok(received) => received,
        Err(refused) => {
            super::upload::linger(&mut body).await;
            return refuse(&refused);
        }
    };
    match state.uploader.upload(name, &bytes).await {
        Ok(uploaded) => {
            let (status, sha256, path) = match uploaded {
                Uploaded::Installed { sha256, path } => ("installed", sha256, path),
                Uploaded::Unchanged { sha256, path } => ("unchanged", sha256, path),
                Uploaded::Repaired { sha256, path } => ("repaired", sha256, path),
            };
            tracing::info!(policy = name, sha256, status, "policy uploaded on the admin API");
            let body = serde_json::json!({
                "name": name,
                "sha256": sha256,
                "status": status,
                "path": path.display().to_string(),
            });
            json(StatusCode::OK, &body)
        }
        Err(e) => {
            let status = match e {
                UploadError::BadName(_) => StatusCode::BAD_REQUEST,
                UploadError::NoDir => StatusCode::CONFLICT,
                UploadError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
                UploadError::Write { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            };
            error(status, &e.to_string())
        }
    }
}

fn refuse(refused: &UploadRefused) -> Response<AdminBody> {
    let status = match refused {
        UploadRefused::Busy => StatusCode::TOO_MANY_REQUESTS,
        UploadRefused::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        UploadRefused::Stalled(_) => StatusCode::REQUEST_TIMEOUT,
        UploadRefused::Read(_) => StatusCode::BAD_REQUEST,
        UploadRefused::TempFile(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status.is_server_error() {
        tracing::error!(error = %refused, "policy upload failed");
    }
    let mut response = error(status, &refused.to_string());
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    }
    response
}
