//! The HTTP JSON API of a node (axum). It listens on loopback unless
//! configured otherwise; errors are JSON `{"error": {"code", "message"}}`
//! with a stable `code` ([`ErrorCode`]) and a message for people.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/healthz` | liveness and the node's peer id |
//! | GET | `/metrics` | Prometheus metrics (OpenMetrics text), see [`metrics`] |
//! | GET | `/v1/openapi.json` | the OpenAPI description of every route, see [`openapi`] |
//! | GET | `/v1/lookup/{nik}` | the verdict, with how fresh our copy of that village is |
//! | GET | `/v1/verdict/{nik}` | the checkpoint verdict (policy, isolation cases), with the heads it was computed from |
//! | POST | `/v1/crossings` | a checkpoint logs a check: verdict computed now, the officer's decision, optionally a new isolation case |
//! | GET | `/v1/crossings?checkpoint=&offset=&limit=` | a checkpoint's crossing log, newest first |
//! | POST | `/v1/cases` | open an isolation case |
//! | GET | `/v1/cases` | every isolation case, with where it stands today |
//! | GET | `/v1/cases/{id}` | one case |
//! | POST | `/v1/cases/{id}/placement`, `/pickup`, `/follow-ups`, `/notes`, `/release` | update a case |
//! | GET | `/v1/follow-ups/today` | open cases whose follow-up for today is still due |
//! | POST | `/v1/trust` | add a root-signed statement file (certificate, revocation, policy) |
//! | GET | `/v1/residents?village=&q=&status=&offset=&limit=` | a page of a village's residents, with search |
//! | POST | `/v1/residents` | write records of this node's village (JSON array) |
//! | POST | `/v1/residents/check` | which records a write would refuse, and why |
//! | GET | `/v1/residents/{nik}[?village=CODE]` | one full record (in one village) |
//! | GET | `/v1/status` | node, documents with heads and freshness, mesh counters |
//! | GET | `/v1/peers` | connected peers |
//!
//! Code map: [`routes`] builds the router and holds the handlers (one module
//! per concern), `error` the error type and the extractors that produce it,
//! [`metrics`] the Prometheus registry, [`openapi`] the description.

mod clock;
mod error;
pub mod metrics;
pub mod openapi;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use kampung_core::VillageCode;
use kampung_mesh::Client as MeshClient;
use kampung_runtime::StoreHandle;
use kampung_store::trust::SharedRoster;
use tokio_util::sync::CancellationToken;

pub use clock::Clock;
pub use error::{ApiError, ApiJson, ApiQuery, ErrorBody, ErrorCode, ErrorDetail};
pub use metrics::Metrics;

/// Largest request body accepted.
pub const MAX_BODY: usize = 16 << 20;
/// Longest a request may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// What the handlers share: a cheap handle (one reference count per
/// request) on an [`ApiContext`].
#[derive(Debug, Clone)]
pub struct AppState(Arc<ApiContext>);

impl AppState {
    pub fn new(context: ApiContext) -> Self {
        AppState(Arc::new(context))
    }
}

impl std::ops::Deref for AppState {
    type Target = ApiContext;
    fn deref(&self) -> &ApiContext {
        &self.0
    }
}

/// The node's parts the API uses.
#[derive(Debug)]
pub struct ApiContext {
    pub store: StoreHandle,
    pub mesh: MeshClient,
    /// `village:35.10.15.2012`, `checkpoint:ketapang`, `facility:gor-tawangalun`, `auditor`.
    pub role: String,
    pub own_village: Option<VillageCode>,
    pub peer_id: String,
    /// Century pivot of NIK birth years (the current year), as the store uses.
    pub this_year: i32,
    /// The node's Prometheus metrics; other subsystems may hold a clone.
    pub metrics: Metrics,
    /// The root-signed statements this node verified (certificates,
    /// revocations, the policy in force), shared with the mesh and the
    /// store. `None` when no root key is configured: the default policy
    /// applies and `POST /v1/trust` is refused.
    pub roster: Option<SharedRoster>,
    /// The time of verdicts, crossings and case updates (the system clock;
    /// a manual one in tests, to reach day 15 of a case).
    pub clock: Clock,
}

impl ApiContext {
    /// The checkpoint policy in force: the newest the root signed, or the
    /// default without a root.
    pub fn policy(&self) -> kampung_core::Policy {
        match &self.roster {
            Some(r) => r
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .policy(),
            None => kampung_core::Policy::default(),
        }
    }
}

/// The API's router (every route, the JSON fallbacks, limits and metrics).
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// Serve until `shutdown` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
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
