//! `POST /v1/trust`: hand the running node a root-signed statement file
//! (certificate, revocation, policy), as `kampung trust add` does while the
//! node runs. It is verified against the node's root key, added to the
//! roster the mesh and the store share, and kept; from there it spreads to
//! peers with the roster.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::AppState;

/// What adding the statement did.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrustResponse {
    /// `certificate`, `revocation` or `policy`.
    #[schema(example = "policy")]
    pub kind: String,
    /// False if the node already held this exact statement.
    pub new: bool,
    /// The statement's id (SHA-256 of its wire form, hex).
    pub id: String,
}

/// Verify a statement file against this node's root, add it to the roster
/// and keep it. The body is the file's text, as `kampung admin` wrote it.
#[utoipa::path(
    post,
    path = "/v1/trust",
    tag = "node",
    request_body(content = Object, description = "The text of a statement file written by `kampung admin certify`, `revoke` or `policy`"),
    responses(
        (status = 200, description = "Verified and added (or already held)", body = TrustResponse),
        (status = 400, description = "`invalid_statement`: not a statement file, or a statement that breaks its rules", body = ErrorBody),
        (status = 403, description = "`not_signed_by_root`: not signed by this mesh's root key", body = ErrorBody),
        (status = 409, description = "`no_root`: this node has no root key configured", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
    )
)]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<TrustResponse>, ApiError> {
    // Without a root, say so before looking at the body.
    state.require_root()?;
    let body = body.map_err(|r| {
        let status = r.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            ErrorCode::BodyTooLarge
        } else {
            ErrorCode::InvalidStatement
        };
        ApiError::new(status, code, r.body_text())
    })?;
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidStatement,
            "the body is not UTF-8 text: send the statement file as it is",
        )
    })?;
    let added = state.add_statement(&caller.actor, text).await?;
    Ok(Json(TrustResponse {
        kind: added.kind.to_string(),
        new: added.new,
        id: added.id.iter().map(|b| format!("{b:02x}")).collect(),
    }))
}
