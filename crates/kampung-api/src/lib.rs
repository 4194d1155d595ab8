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

mod error;
pub mod metrics;
pub mod openapi;
pub mod routes;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use axum::Router;
use kampung_core::VillageCode;
use kampung_mesh::Client as MeshClient;
use kampung_runtime::StoreHandle;
use tokio_util::sync::CancellationToken;

pub use error::{ApiError, ApiJson, ApiQuery, ErrorBody, ErrorCode, ErrorDetail};
pub use metrics::Metrics;

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
    /// The node's Prometheus metrics; other subsystems may hold a clone.
    pub metrics: Metrics,
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
