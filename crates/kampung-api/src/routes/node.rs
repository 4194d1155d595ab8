//! The node itself: liveness, status (documents, freshness, mesh), peers.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use kampung_mesh::{MeshStatus, PeerInfo, RefusedPeer};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::{openapi::schemas, AppState};

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`, or `unhealthy` (503) with its problems.
    pub status: &'static str,
    /// This node's libp2p peer id: a client checks it is talking to the node it means.
    pub peer_id: String,
    /// The node's version and the commit it was built from.
    pub version: &'static str,
    /// What keeps the node from doing its job (empty when `ok`).
    pub problems: Vec<kampung_node::HealthProblem>,
    /// What will keep it from its job soon (`certificate_expiring`); the
    /// node is still healthy.
    pub warnings: Vec<kampung_node::HealthProblem>,
}

/// Whether the node can do its job (its store answers, its disk has room,
/// its certificate is in force), and which node this is.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "node",
    security(()),
    responses(
        (status = 200, description = "The node is healthy", body = HealthResponse),
        (status = 503, description = "The node has problems: `unhealthy`, and which", body = HealthResponse),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<HealthResponse>) {
    let problems = state.health().await;
    let (code, status) = if problems.is_empty() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unhealthy")
    };
    (
        code,
        Json(HealthResponse {
            status,
            peer_id: state.peer_id().to_string(),
            version: kampung_node::VERSION,
            problems,
            warnings: state.warnings(),
        }),
    )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusResponse {
    pub peer_id: String,
    /// The node's version and the commit it was built from.
    pub version: &'static str,
    /// `village:35.10.15.2012`, `checkpoint:ketapang` or `auditor`.
    pub role: String,
    /// Distinct NIKs in the index.
    pub niks: usize,
    /// Every document this node holds.
    pub documents: Vec<DocumentStatus>,
    /// SHA-256 of the TLS certificate of the pages on the LAN (null: served
    /// on loopback only, or over plain HTTP): a tablet checks it.
    pub tls_fingerprint: Option<String>,
    /// The mesh (null when the node runs without one).
    #[schema(value_type = Option<schemas::MeshStatus>)]
    pub mesh: Option<MeshStatus>,
    /// `development`: no root key, so the node accepts any change from any
    /// peer and listens on loopback only; `root`: certificates are checked.
    pub trust: &'static str,
    /// What keeps the node from doing its job (as `/healthz` reports it).
    pub problems: Vec<kampung_node::HealthProblem>,
    /// What will keep it from its job soon (as `/healthz` reports it).
    pub warnings: Vec<kampung_node::HealthProblem>,
    /// This node's clock against its peers' (it signs nothing while off).
    pub clock: kampung_node::ClockCheck,
    /// NIKs registered as active in more than one village (after a cut
    /// network): each must be resolved by the two village offices.
    pub double_registrations: usize,
    /// A village node's: the villages keeping a copy of its details (its
    /// residents in full) under the policy in force, by code; empty for
    /// other roles and without a root.
    pub details_kept_by: Vec<String>,
    /// A village node's: the villages whose details it keeps a copy of.
    pub keeps_details_of: Vec<String>,
}

/// One document this node holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentStatus {
    /// `v/35.10.15.2012`.
    pub doc: String,
    /// The document's heads (hex change hashes).
    pub heads: Vec<String>,
    /// This node writes the document.
    pub own_document: bool,
    /// Seconds since we last heard from the document's owner; 0 for our own; null if never.
    pub owner_last_heard_secs: Option<f64>,
}

/// Documents with their heads and freshness, the index size and the mesh.
#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "node",
    responses(
        (status = 200, description = "The node's status", body = StatusResponse),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<StatusResponse>, ApiError> {
    let s = state.status(&caller.actor).await?;
    let documents = s
        .documents
        .into_iter()
        .map(|d| DocumentStatus {
            doc: d.doc.to_string(),
            heads: d.heads,
            own_document: d.own_document,
            owner_last_heard_secs: d.owner_last_heard_secs,
        })
        .collect();
    Ok(Json(StatusResponse {
        peer_id: s.peer_id,
        version: kampung_node::VERSION,
        role: s.role,
        niks: s.niks,
        documents,
        tls_fingerprint: state.web().tls_fingerprint.clone(),
        mesh: s.mesh,
        trust: if s.development { "development" } else { "root" },
        problems: state.health().await,
        warnings: state.warnings(),
        clock: s.clock,
        double_registrations: s.double_registrations,
        details_kept_by: s.details_kept_by.iter().map(ToString::to_string).collect(),
        keeps_details_of: s.keeps_details_of.iter().map(ToString::to_string).collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeersResponse {
    pub peer_id: String,
    /// Addresses the mesh listens on (multiaddrs).
    pub listen: Vec<String>,
    #[schema(value_type = Vec<schemas::PeerInfo>)]
    pub peers: Vec<PeerInfo>,
    /// Peers refused lately (no valid certificate, revoked, another wire
    /// protocol version), newest first, with the latest reason.
    #[schema(value_type = Vec<schemas::RefusedPeer>)]
    pub refused: Vec<RefusedPeer>,
}

/// Connected peers.
#[utoipa::path(
    get,
    path = "/v1/peers",
    tag = "node",
    responses(
        (status = 200, description = "Connected peers", body = PeersResponse),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn peers(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<PeersResponse>, ApiError> {
    let p = state.peers(&caller.actor).await?;
    Ok(Json(PeersResponse {
        peer_id: p.peer_id,
        listen: p.listen,
        peers: p.peers,
        refused: p.refused,
    }))
}

/// A backup of this node, as a tar file (see `kampung backup`): only the
/// node's own machine may take one (the local credential), since it holds
/// the node's key. The file ends with its manifest; a response cut short
/// has none, and `kampung restore` refuses it.
#[utoipa::path(
    get,
    path = "/v1/backup",
    tag = "node",
    responses(
        (status = 200, description = "The backup (application/x-tar), streamed", content_type = "application/x-tar", body = Vec<u8>),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: only the node's own machine takes backups", body = ErrorBody),
    )
)]
pub async fn backup(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::response::Response, ApiError> {
    caller.actor.require(
        kampung_node::Permission::Backup,
        "take a backup (it holds the node's key; run `kampung backup` on the node's machine)",
    )?;
    // The backup is written into one end of a bounded pipe while the
    // response streams the other: memory stays at one buffer whatever
    // the size of the node's data.
    let (mut writer, reader) = tokio::io::duplex(256 << 10);
    let node: kampung_node::Node = (*state).clone();
    let actor = caller.actor.clone();
    tokio::spawn(async move {
        if let Err(e) = node.backup(&actor, &mut writer).await {
            // The stream ends without the manifest: the client sees an
            // incomplete backup and says so.
            tracing::warn!(error = %e, "backup stopped before its end");
        }
    });
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(reader));
    Ok(axum::response::IntoResponse::into_response((
        [(axum::http::header::CONTENT_TYPE, "application/x-tar")],
        body,
    )))
}
