//! The router and the handlers, one module per concern. Every route here must
//! also be in [`crate::openapi::ApiDoc`] (a test compares the two).

pub mod audit;
pub mod cases;
pub mod crossings;
pub mod documents;
pub mod node;
pub mod people;
pub mod residents;
pub mod session;
pub mod trust;
pub mod verdict;

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::error::{ApiError, ErrorCode};
use crate::metrics::{self, UNMATCHED};
use crate::{auth, openapi, AppState, MAX_BODY, TIMEOUT};

pub(crate) fn router(state: AppState) -> Router {
    let metrics = state.metrics().clone();
    Router::new()
        .route("/healthz", get(node::healthz))
        .route("/metrics", get(metrics::handler))
        .route("/v1/openapi.json", get(openapi::handler))
        .route("/v1/lookup/{nik}", get(verdict::lookup))
        .route("/v1/lookup/", get(verdict::lookup_empty))
        .route("/v1/verdict/{nik}", get(verdict::verdict))
        .route("/v1/verdict/", get(verdict::verdict_empty))
        .route(
            "/v1/crossings",
            get(crossings::list).post(crossings::record),
        )
        .route("/v1/cases", get(cases::list).post(cases::open))
        .route("/v1/cases/{id}", get(cases::get))
        .route("/v1/cases/{id}/history", get(cases::history))
        .route("/v1/cases/{id}/placement", post(cases::placement))
        .route("/v1/cases/{id}/pickup", post(cases::pickup))
        .route("/v1/cases/{id}/follow-ups", post(cases::follow_up))
        .route("/v1/cases/{id}/notes", post(cases::note))
        .route("/v1/cases/{id}/release", post(cases::release))
        .route("/v1/follow-ups/today", get(cases::due_today))
        .route("/v1/trust", post(trust::add))
        .route("/v1/residents", get(residents::list).post(residents::write))
        .route("/v1/residents/check", post(residents::check))
        .route("/v1/residents/preview", post(residents::preview))
        .route("/v1/residents/register", post(residents::register))
        .route("/v1/residents/{nik}", get(residents::get))
        .route("/v1/residents/{nik}/correct", post(residents::correct))
        .route("/v1/residents/{nik}/move-out", post(residents::move_out))
        .route("/v1/residents/{nik}/deceased", post(residents::deceased))
        .route("/v1/residents/{nik}/withdraw", post(residents::withdraw))
        .route("/v1/status", get(node::status))
        .route("/v1/peers", get(node::peers))
        .route("/v1/backup", get(node::backup))
        .route("/v1/documents/{id}", get(documents::get_document))
        .route("/v1/documents/verify", post(documents::verify_file))
        .route(
            "/v1/session",
            get(session::who_am_i)
                .post(session::sign_in)
                .delete(session::sign_out),
        )
        .route("/v1/users", get(people::list_users).post(people::add_user))
        .route("/v1/users/{login}/{action}", post(people::change_user))
        .route(
            "/v1/tokens",
            get(people::list_tokens).post(people::create_token),
        )
        .route("/v1/tokens/{id}/revoke", post(people::revoke_token))
        .route("/v1/access-log", get(audit::access_log))
        .route("/v1/audit/history/{nik}", get(audit::record_history))
        .route("/v1/audit/verify", get(audit::verify))
        .route("/v1/audit/replay", get(audit::replay))
        .route("/v1/audit/villages/{code}", get(audit::village_as_of))
        .route(
            "/v1/audit/villages/{code}/changes",
            get(audit::village_changes),
        )
        .method_not_allowed_fallback(method_not_allowed)
        // A route layer runs after routing, so the metrics see the route
        // template; it also cuts a request off after TIMEOUT.
        .route_layer(middleware::from_fn_with_state(metrics, metrics::track))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard))
        .with_state(state)
}

/// The answer of `next`, or after [`TIMEOUT`] a JSON error.
pub(crate) async fn within_timeout(req: Request, next: Next) -> Response {
    match tokio::time::timeout(TIMEOUT, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::Timeout,
            format!(
                "the node did not answer within {} s; a write may still complete: check before sending it again",
                TIMEOUT.as_secs()
            ),
        )
        .into_response(),
    }
}

/// No route has this path (counted under one `unmatched` route label).
async fn not_found(State(state): State<AppState>, method: Method, req: Request) -> Response {
    let start = Instant::now();
    let response = ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        format!(
            "no such route: {method} {}; GET /v1/openapi.json lists every route",
            req.uri().path()
        ),
    )
    .into_response();
    state.metrics().request(
        metrics::method_label(&method),
        UNMATCHED,
        response.status().as_u16(),
        start.elapsed(),
    );
    response
}

async fn method_not_allowed(method: Method, req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        format!(
            "{} does not take {method}; GET /v1/openapi.json lists every route",
            req.uri().path()
        ),
    )
}
