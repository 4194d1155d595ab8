//! Signing in and out of a node from a browser or a program:
//! `POST /v1/session` (a login name and password) sets the session cookie,
//! `GET /v1/session` says who is signed in, `DELETE /v1/session` signs out.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kampung_node::{Actor, PersonRole};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{clear_cookie, client_ip, cookie, session_cookie, Caller, SESSION_COOKIE};
use crate::error::{json_limited, ApiError, ErrorBody, ErrorCode};

/// Largest sign-in body accepted.
pub const SIGN_IN_BODY: usize = 4096;
use crate::AppState;

/// A sign-in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    #[schema(example = "made.suarta", max_length = 64)]
    pub login: String,
    #[schema(max_length = 256)]
    pub password: String,
}

/// Who is signed in.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    /// `person`, `program` or `local`.
    pub kind: &'static str,
    /// The account or token id.
    pub id: Option<String>,
    pub login: Option<String>,
    /// The name people read, or the token's label.
    pub name: Option<String>,
    pub role: Option<PersonRole>,
}

impl WhoAmI {
    fn of(actor: &Actor) -> Option<WhoAmI> {
        Some(match actor {
            Actor::Person {
                id,
                login,
                name,
                role,
            } => WhoAmI {
                kind: "person",
                id: Some(id.clone()),
                login: Some(login.clone()),
                name: Some(name.clone()),
                role: Some(*role),
            },
            Actor::Program { id, label, role } => WhoAmI {
                kind: "program",
                id: Some(id.clone()),
                login: None,
                name: Some(label.clone()),
                role: Some(*role),
            },
            Actor::Local => WhoAmI {
                kind: "local",
                id: None,
                login: None,
                name: None,
                role: None,
            },
            _ => return None,
        })
    }
}

/// Sign in: the session cookie is set (`HttpOnly`, `SameSite=Strict`,
/// `Secure` over TLS); it ends after the node's idle time or at sign-out.
/// Failed sign-ins are counted per account and per device, with growing
/// waits and a lock after repeated failures.
#[utoipa::path(
    post,
    path = "/v1/session",
    tag = "session",
    request_body = SignInRequest,
    security(()),
    responses(
        (status = 200, description = "Signed in; the cookie is set", body = WhoAmI),
        (status = 400, description = "`invalid_body`: not a sign-in", body = ErrorBody),
        (status = 401, description = "`wrong_credentials`: the name or password is wrong (never says which)", body = ErrorBody),
        (status = 403, description = "`account_locked`, or `cross_site`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: wait (the message says how long)", body = ErrorBody),
    )
)]
pub async fn sign_in(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let ip = client_ip(req.extensions());
    let body: SignInRequest = json_limited(req, SIGN_IN_BODY).await?;
    let signed = state
        .people()
        .sign_in(&body.login, &body.password, ip, state.now_ms())
        .await?;
    let who = WhoAmI::of(&signed.actor);
    Ok((
        [(
            header::SET_COOKIE,
            session_cookie(&signed.cookie, state.web().tls),
        )],
        Json(who),
    )
        .into_response())
}

/// Who is signed in (a person, a program's token, or the local credential).
#[utoipa::path(
    get,
    path = "/v1/session",
    tag = "session",
    responses(
        (status = 200, description = "Who is signed in", body = WhoAmI),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    )
)]
pub async fn who_am_i(caller: Caller) -> Result<Json<WhoAmI>, ApiError> {
    WhoAmI::of(&caller.actor).map(Json).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "nobody is signed in",
        )
    })
}

/// The answer to a sign-out.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedOut {
    pub signed_out: bool,
}

/// Sign out: the session ends on the node (its cookie no longer works,
/// also if it was copied) and the cookie is removed.
#[utoipa::path(
    delete,
    path = "/v1/session",
    tag = "session",
    responses(
        (status = 200, description = "Signed out (also if nobody was signed in)", body = SignedOut),
    )
)]
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(value) = cookie(&headers, SESSION_COOKIE) {
        state.people().sign_out(value)?;
    }
    Ok((
        [(header::SET_COOKIE, clear_cookie(state.web().tls))],
        Json(SignedOut { signed_out: true }),
    )
        .into_response())
}
