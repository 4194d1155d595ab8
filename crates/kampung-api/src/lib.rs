//! The HTTP JSON API of a node (axum). It listens on loopback unless
//! configured otherwise; errors are JSON with a stable `code` and a message
//! for people.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/healthz` | liveness and the node's peer id |
//! | GET | `/v1/lookup/{nik}` | the verdict, with how fresh our copy of that village is |
//! | POST | `/v1/residents` | write records of this node's village (JSON array) |
//! | POST | `/v1/residents/check` | which records a write would refuse, and why |
//! | GET | `/v1/residents/{nik}[?village=CODE]` | one full record (in one village) |
//! | GET | `/v1/status` | node, documents with heads and freshness, mesh counters |
//! | GET | `/v1/peers` | connected peers |

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kampung_core::{Nik, Resident, Verdict, VillageCode};
use kampung_mesh::Client as MeshClient;
use kampung_runtime::StoreHandle;
use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Largest request body accepted.
pub const MAX_BODY: usize = 16 << 20;
/// Longest a request may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: StoreHandle,
    pub mesh: MeshClient,
    /// `village:35.10.15.2012`, `checkpoint:ketapang`, `auditor`.
    pub role: String,
    pub own_village: Option<VillageCode>,
    pub peer_id: String,
    /// Century pivot of NIK birth years (the current year), as the store uses.
    pub this_year: i32,
}

/// An error as JSON: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the node is shutting down",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/lookup/{nik}", get(lookup))
        .route("/v1/residents", post(write_residents))
        .route("/v1/residents/check", post(check_residents))
        .route("/v1/residents/{nik}", get(get_resident))
        .route("/v1/status", get(status))
        .route("/v1/peers", get(peers))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            TIMEOUT,
        ))
        .with_state(state)
}

/// Serve until `shutdown` is cancelled. Returns the bound address through `bound`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How fresh our copy of a village's document is.
#[derive(Debug, Serialize)]
pub struct Freshness {
    pub doc: String,
    /// This node writes the document: always current.
    pub own_document: bool,
    /// Seconds since we last heard from the village's node (directly or by gossip); null if never.
    pub owner_last_heard_secs: Option<f64>,
}

async fn freshness(state: &AppState, village: VillageCode) -> Freshness {
    let doc = format!("v/{village}");
    let own = state.own_village == Some(village);
    let heard = match state.mesh.status().await {
        Ok(s) => s.owner_heard_ms.get(&doc).copied(),
        Err(_) => None,
    };
    Freshness {
        owner_last_heard_secs: if own {
            Some(0.0)
        } else {
            heard.map(|ms| now_ms().saturating_sub(ms) as f64 / 1000.0)
        },
        own_document: own,
        doc,
    }
}

fn verdict_village(v: &Verdict) -> Option<VillageCode> {
    match v {
        Verdict::Resident { village, .. }
        | Verdict::MovedOut { village, .. }
        | Verdict::Deceased { village, .. } => Some(*village),
        _ => None,
    }
}

async fn lookup(
    State(state): State<AppState>,
    Path(nik): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let verdict = state
        .store
        .lookup(nik)
        .await
        .map_err(|_| ApiError::unavailable())?;
    let fresh = match verdict_village(&verdict) {
        Some(v) => Some(freshness(&state, v).await),
        None => None,
    };
    Ok(Json(
        json!({ "verdict": verdict, "explanation": verdict.explain(), "freshness": fresh }),
    ))
}

async fn write_residents(
    State(state): State<AppState>,
    Json(records): Json<Vec<Resident>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let village = own_village(&state)?;
    let now = now_ms() as i64;
    let (report, changes) = match state
        .store
        .write(village, records, now)
        .await
        .map_err(|_| ApiError::unavailable())?
    {
        Ok(r) => r,
        Err(kampung_store::StoreError::Refused(refusal)) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "refused",
                refusal.to_string(),
            ))
        }
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store",
                e.to_string(),
            ))
        }
    };
    if !changes.is_empty() || report.added + report.changed > 0 {
        let announce = kampung_sync::Announce {
            doc: format!("v/{village}"),
            heads: report.heads.iter().map(|h| h.0).collect(),
            changes,
            from_owner: true,
        };
        if state.mesh.announce(announce).await.is_err() {
            tracing::warn!("mesh stopped: the write is stored and will spread by anti-entropy");
        }
    }
    Ok(Json(json!({
        "added": report.added,
        "changed": report.changed,
        "unchanged": report.unchanged,
        "heads": report.heads.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })))
}

/// Liveness, and which node this is (a client checks it is talking to the node it means).
async fn healthz(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "peer_id": state.peer_id }))
}

fn own_village(state: &AppState) -> Result<VillageCode, ApiError> {
    state.own_village.ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "not_a_village_node",
            format!(
                "this node is {}: only a village node writes residents",
                state.role
            ),
        )
    })
}

async fn check_residents(
    State(state): State<AppState>,
    Json(records): Json<Vec<Resident>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let village = own_village(&state)?;
    let refused = state
        .store
        .check(village, records)
        .await
        .map_err(|_| ApiError::unavailable())?;
    let refused: Vec<_> = refused
        .iter()
        .map(|(i, r)| json!({ "index": i, "message": r.to_string() }))
        .collect();
    Ok(Json(json!({ "refused": refused })))
}

#[derive(Debug, serde::Deserialize)]
struct VillageQuery {
    village: Option<String>,
}

async fn get_resident(
    State(state): State<AppState>,
    Path(nik): Path<String>,
    axum::extract::Query(q): axum::extract::Query<VillageQuery>,
) -> Result<Json<Resident>, ApiError> {
    let parsed = Nik::parse(&nik, state.this_year)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_nik", e.to_string()))?;
    let found = match q.village {
        Some(v) => {
            let village = VillageCode::parse(&v).map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_village", e.to_string())
            })?;
            state.store.read(village, parsed.nik()).await
        }
        None => state.store.get(parsed.nik()).await,
    };
    match found.map_err(|_| ApiError::unavailable())? {
        Ok(Some(r)) => Ok(Json(r)),
        Ok(None) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_registered",
            format!("{nik} is not in the registry"),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store",
            e.to_string(),
        )),
    }
}

async fn status(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let mesh = state
        .mesh
        .status()
        .await
        .map_err(|_| ApiError::unavailable())?;
    let heads = state
        .store
        .doc_heads()
        .await
        .map_err(|_| ApiError::unavailable())?;
    let niks = state
        .store
        .niks()
        .await
        .map_err(|_| ApiError::unavailable())?;
    let now = now_ms();
    let docs: Vec<serde_json::Value> = heads
        .iter()
        .map(|(doc, h)| {
            let own = state.own_village.map(|v| format!("v/{v}")) == Some(doc.to_string());
            let heard = mesh.owner_heard_ms.get(doc.as_str()).copied();
            json!({
                "doc": doc.to_string(),
                "heads": h.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "own_document": own,
                "owner_last_heard_secs": if own { Some(0.0) } else { heard.map(|ms| now.saturating_sub(ms) as f64 / 1000.0) },
            })
        })
        .collect();
    Ok(Json(json!({
        "peer_id": state.peer_id,
        "role": state.role,
        "niks": niks,
        "documents": docs,
        "mesh": mesh,
    })))
}

async fn peers(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let mesh = state
        .mesh
        .status()
        .await
        .map_err(|_| ApiError::unavailable())?;
    Ok(Json(
        json!({ "peer_id": mesh.peer_id, "listen": mesh.listen, "peers": mesh.peers }),
    ))
}

/// Where a running node's API listens, recorded in its data directory.
pub fn api_addr_file(data: &std::path::Path) -> std::path::PathBuf {
    data.join("api.addr")
}

/// Read the recorded API address of a running node.
pub fn read_api_addr(data: &std::path::Path) -> Option<SocketAddr> {
    std::fs::read_to_string(api_addr_file(data))
        .ok()?
        .trim()
        .parse()
        .ok()
}
