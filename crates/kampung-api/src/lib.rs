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
//! | POST | `/v1/residents/register` | register one new resident of this node's village |
//! | POST | `/v1/residents/{nik}/correct`, `/move-out`, `/deceased`, `/withdraw` | correct a record, record a move out or a death, withdraw a registration made in error |
//! | GET | `/v1/status` | node, documents with heads and freshness, mesh counters |
//! | GET | `/v1/peers` | connected peers |
//!
//! Code map: [`routes`] builds the router and holds the handlers (one module
//! per concern), each a thin translation between HTTP and a workflow of the
//! node library ([`kampung_node::Node`]); `error` the error type and the
//! extractors that produce it; [`metrics`] the scrape route and the request
//! counting middleware; [`openapi`] the description.

pub mod auth;
mod error;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod serve;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use kampung_node::Node;
use tokio_util::sync::CancellationToken;

pub use error::{ApiError, ApiJson, ApiQuery, ErrorBody, ErrorDetail};
pub use kampung_node::{ErrorCode, Metrics};

/// Largest request body accepted.
pub const MAX_BODY: usize = 16 << 20;
/// Longest a request may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// What the handlers share: the node and how it is served (a cheap handle,
/// one reference count per request). Handlers translate between HTTP and the
/// node's workflows.
#[derive(Debug, Clone)]
pub struct AppState(std::sync::Arc<Shared>);

#[derive(Debug)]
struct Shared {
    node: Node,
    web: Web,
}

/// How the API is served.
#[derive(Debug, Clone, Default)]
pub struct Web {
    /// The `Host` names it answers to (besides loopback).
    pub hosts: auth::HostAllowList,
    /// Served over TLS: cookies are `Secure`.
    pub tls: bool,
    /// `/metrics` needs no credentials from a loopback address.
    pub metrics_open_on_loopback: bool,
    /// SHA-256 of the TLS certificate the node serves its LAN address with.
    pub tls_fingerprint: Option<String>,
}

impl AppState {
    /// The API of `node` on loopback, any port (tests).
    pub fn new(node: Node) -> Self {
        AppState::with_web(
            node,
            Web {
                metrics_open_on_loopback: true,
                ..Web::default()
            },
        )
    }

    pub fn with_web(node: Node, web: Web) -> Self {
        AppState(std::sync::Arc::new(Shared { node, web }))
    }

    pub fn web(&self) -> &Web {
        &self.0.web
    }
}

impl std::ops::Deref for AppState {
    type Target = Node;
    fn deref(&self) -> &Node {
        &self.0.node
    }
}

/// The API's router (every route, the JSON fallbacks, limits and metrics).
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// Serve plain HTTP until `shutdown` is cancelled, with the default bounds
/// (see [`serve::serve_with`] for TLS).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    serve::serve_with(
        listener,
        router(state),
        shutdown,
        None,
        serve::Limits::default(),
    )
    .await
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
