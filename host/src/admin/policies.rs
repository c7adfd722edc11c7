//! `GET /policies` and `PUT /policies/{name}` (a .wasm upload).

use super::AdminState;
use super::respond::{AdminBody, error, json};
use crate::policy_gate::watch::{UploadError, Uploaded};
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

/// Far above any real policy (ours are a few hundred KiB), far below harm.
pub const MAX_UPLOAD: usize = 64 * 1024 * 1024;

pub fn list(state: &AdminState) -> Response<AdminBody> {
    let apps: Vec<String> = state.apps.iter().map(|app| app.name().to_owned()).collect();
    json(StatusCode::OK, &serde_json::json!({ "policies": state.gate.policies(&apps) }))
}

pub async fn upload(state: &AdminState, name: &str, body: Incoming) -> Response<AdminBody> {
    let bytes: Bytes = match Limited::new(body, MAX_UPLOAD).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return error(StatusCode::PAYLOAD_TOO_LARGE, &format!("a policy is at most {MAX_UPLOAD} bytes"));
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("cannot read the upload: {e}")),
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
