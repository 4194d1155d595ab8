//! `GET /metrics` and the middleware that counts and times every request.
//! The metrics themselves are the node's ([`kampung_node::Metrics`]).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kampung_node::Metrics;

use crate::AppState;

/// The content type of the OpenMetrics text exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of requests that matched no route (one label value for
/// every unknown path, so a scanner cannot blow up the label set).
pub const UNMATCHED: &str = "unmatched";

/// `GET /metrics`: read the mesh and the store, then encode. A stopped mesh
/// or store leaves its values as last read; the scrape still succeeds.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "node",
    responses((status = 200, description = "Prometheus metrics in the OpenMetrics text format", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String))
)]
pub async fn handler(State(state): State<AppState>) -> Response {
    state.refresh_metrics().await;
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.metrics().encode(),
    )
        .into_response()
}

/// Middleware on every matched route: count the request and time it by its
/// route template.
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_string();
    let method = req.method().clone();
    let start = Instant::now();
    let response = next.run(req).await;
    metrics.request(
        method.as_str(),
        &route,
        response.status().as_u16(),
        start.elapsed(),
    );
    response
}
