//! Documents out, in the open (auditors): `GET /v1/documents/{id}` is a
//! document this node holds as the raw Automerge file any Automerge
//! implementation loads (what `kampung export --automerge` writes), and
//! `POST /v1/documents/verify` checks such a file against this node's
//! signatures (what `kampung audit verify --file` prints). The fields of
//! each kind of document are described in `docs/documents.md`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kampung_node::{ErrorCode, NodeError};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::AppState;

/// A workflow's error; a document not held is a 404.
fn api_error(e: NodeError) -> ApiError {
    match e.code {
        ErrorCode::DocumentNotHeld => ApiError::new(StatusCode::NOT_FOUND, e.code, e.message),
        _ => e.into(),
    }
}

/// A document this node holds, whole, as one Automerge document (its
/// `save()`), to load with any Automerge implementation (auditors only;
/// the export goes to the access log). `docs/documents.md` describes its
/// fields.
#[utoipa::path(get, path = "/v1/documents/{id}", tag = "audit",
    params(("id" = String, Path, description = "The document: `v/35.10.15.2012` (percent-encoded: `v%2F35.10.15.2012`) or the bare village code `35.10.15.2012` for a village's residents, `x%2F<peer id>` for a checkpoint's crossing log, `c%2F<case id>` for an isolation case", example = "35.10.15.2012")),
    responses(
        (status = 200, description = "The document (application/octet-stream), named in Content-Disposition", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "`invalid_parameter`: not a document id", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: auditors only", body = ErrorBody),
        (status = 404, description = "`document_not_held`", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
    ))]
pub async fn get_document(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = kampung_node::parse_document_id(&id).map_err(api_error)?;
    let bytes = state
        .document_bytes(&caller.actor, &id)
        .await
        .map_err(api_error)?;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        kampung_node::document_file_name(&id)
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// Check an exported document file (the body, as `GET
/// /v1/documents/{id}` gave it): that Automerge loads it (a truncated or
/// altered file is refused with Automerge's reason), which document it is
/// by its root fields, that its records read, and that every change in it
/// is covered by a write signature this node holds of a writer allowed to
/// make it. The report is what `kampung audit verify --file --json`
/// prints; `ok` says whether everything passed (auditors only).
#[utoipa::path(post, path = "/v1/documents/verify", tag = "audit",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The exported document file, as it is"),
    responses(
        (status = 200, description = "The report (`ok`, `loads`, `kind`, `doc`, `records`, `changes`, `changes_verified`, `held`, `writers`, `failures`)", content_type = "application/json", body = Object),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: auditors only", body = ErrorBody),
        (status = 413, description = "`body_too_large`: over 16 MiB (check it with `kampung audit verify --file` on the stopped node)", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is declared as another type than application/octet-stream", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
    ))]
pub async fn verify_file(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<kampung_store::audit::file::FileReport>, ApiError> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    if declared
        .as_deref()
        .is_some_and(|t| t != "application/octet-stream")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send the file as it is, declared as Content-Type: application/octet-stream",
        ));
    }
    Ok(Json(
        state
            .check_document_file(&caller.actor, body.to_vec())
            .await
            .map_err(api_error)?,
    ))
}
