//! `GET /metrics` and the middleware that counts and times every request.
//! The metrics themselves are the node's ([`kampung_node::Metrics`]).

use std::time::Instant;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kampung_node::{Metrics, Permission};

use crate::auth::Caller;
use crate::error::ApiError;

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
    responses(
        (status = 200, description = "Prometheus metrics in the OpenMetrics text format, or in Prometheus' classic text format (0.0.4) when the request accepts text/plain and not OpenMetrics", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 401, description = "`unauthenticated`: from another address than loopback, a token is needed", body = crate::error::ErrorBody),
    )
)]
pub async fn handler(State(state): State<AppState>, caller: Caller, req: Request) -> Response {
    let loopback = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|c| c.0.ip().is_loopback());
    let open = loopback && state.web().metrics_open_on_loopback;
    if !open {
        if let Err(e) = caller
            .actor
            .require(Permission::ReadNode, "read the metrics")
        {
            return ApiError::from(e).into_response();
        }
    }
    state.refresh_metrics().await;
    // Prometheus' classic text when the scraper asks for it and not for
    // OpenMetrics (promtool, older scrapers); OpenMetrics otherwise.
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .unwrap_or_default();
    let (content_type, body) =
        if accept.contains("text/plain") && !accept.contains("application/openmetrics-text") {
            (PROMETHEUS_TEXT, state.metrics().encode_prometheus())
        } else {
            (CONTENT_TYPE, state.metrics().encode())
        };
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Prometheus' classic text format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A request's method as a metric label: the standard ones, else `other`
/// (a client must not be able to add a label value per request).
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Middleware on every matched route: count the request and time it by its
/// route template, cutting it off after [`crate::TIMEOUT`].
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = method_label(req.method());
    let start = Instant::now();
    let response = crate::routes::within_timeout(req, next).await;
    let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    metrics.request(method, route, response.status().as_u16(), start.elapsed());
    response
}
