//! Shared by the checkpoint and case routes: who may do what (from the
//! node's role: `village:<code>`, `checkpoint:<name>`, `facility:<name>`,
//! `auditor`), handing a write's announcement to the mesh, and the store's
//! refusals as API errors.

use axum::http::StatusCode;
use kampung_store::case::{CaseError, Role, Writer};
use kampung_store::crossing::CrossingError;
use kampung_store::RecordError;

use crate::error::{ApiError, ErrorCode};
use crate::AppState;

/// The kind of node, from `AppState::role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    Village,
    Checkpoint,
    Facility,
    Auditor,
}

pub(crate) fn node_kind(role: &str) -> Option<NodeKind> {
    match role.split_once(':').map_or(role, |(kind, _)| kind) {
        "village" => Some(NodeKind::Village),
        "checkpoint" => Some(NodeKind::Checkpoint),
        "facility" => Some(NodeKind::Facility),
        "auditor" => Some(NodeKind::Auditor),
        _ => None,
    }
}

fn refused(state: &AppState, what: &str, who: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::RoleNotAllowed,
        format!(
            "this node is {}: it may not {what}; only {who} may",
            state.role
        ),
    )
}

/// Only a checkpoint logs crossings (into its own log).
pub(crate) fn require_checkpoint(state: &AppState) -> Result<(), ApiError> {
    match node_kind(&state.role) {
        Some(NodeKind::Checkpoint) => Ok(()),
        _ => Err(refused(state, "log border crossings", "a checkpoint node")),
    }
}

/// The writer recorded in a case update: this node, if its role may write
/// cases (checkpoint, facility, village; never an auditor).
pub(crate) fn case_writer(state: &AppState) -> Result<Writer, ApiError> {
    let role = match node_kind(&state.role) {
        Some(NodeKind::Checkpoint) => Role::Checkpoint,
        Some(NodeKind::Facility) => Role::Facility,
        Some(NodeKind::Village) => Role::Village,
        Some(NodeKind::Auditor) | None => {
            return Err(refused(
                state,
                "write isolation cases (it reads them only)",
                "checkpoint, facility and village nodes",
            ))
        }
    };
    Ok(Writer {
        peer: state.peer_id.clone(),
        role,
    })
}

/// Pass a durable write's announcement to the mesh so peers get it at once;
/// if the mesh has stopped, anti-entropy spreads it later.
pub(crate) async fn announce(state: &AppState, announce: kampung_sync::Announce) {
    if state.mesh.announce(announce).await.is_err() {
        tracing::warn!("mesh stopped: the write is stored and will spread by anti-entropy");
    }
}

/// A refused crossing or case write as an API error: the domain's refusals
/// are 422 `refused` (the message says what and why), an unknown case 404,
/// damage or IO in the store 500.
pub(crate) fn record_error(e: RecordError) -> ApiError {
    let refused = |message: String| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Refused,
            message,
        )
    };
    match e {
        RecordError::NoSuchCase(id) => case_not_found(&id),
        RecordError::CaseExists(id) => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::CaseExists,
            format!("isolation case {id} already exists; send the request again for a new id"),
        ),
        RecordError::Case(c) => match *c {
            e @ (CaseError::Automerge(_)
            | CaseError::NotACase { .. }
            | CaseError::WrongCase { .. }
            | CaseError::BadRecord { .. }
            | CaseError::EmptyChange) => ApiError::store(e),
            e => refused(e.to_string()),
        },
        RecordError::Crossing(c) => match *c {
            e @ CrossingError::Refused { .. } => refused(e.to_string()),
            e => ApiError::store(e),
        },
        e => ApiError::store(e),
    }
}

pub(crate) fn case_not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::CaseNotFound,
        format!("there is no isolation case {id} on this node: GET /v1/cases lists the cases it holds (a case opened at another node appears once it has arrived)"),
    )
}
