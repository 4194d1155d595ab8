//! The node's people and tokens, for its operator: `kampung user` and
//! `kampung token` send these while the node runs.

use axum::extract::{Path, State};
use axum::Json;
use kampung_node::people::{AccountChange, AccountView, TokenInfo};
use kampung_node::PersonRole;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ErrorBody, ErrorCode};
use crate::AppState;

/// An account as the operator sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountResponse {
    /// `u-` and 8 hex digits: what writes record.
    pub id: String,
    pub login: String,
    pub name: String,
    pub role: PersonRole,
    pub disabled: bool,
    /// Locked after repeated failed sign-ins (the operator unlocks).
    pub locked: bool,
    pub failures: u32,
    pub created_ms: i64,
}

impl From<AccountView> for AccountResponse {
    fn from(a: AccountView) -> Self {
        AccountResponse {
            id: a.id,
            login: a.login,
            name: a.name,
            role: a.role,
            disabled: a.disabled,
            locked: a.locked,
            failures: a.failures,
            created_ms: a.created_ms,
        }
    }
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPersonRequest {
    /// 1-32 of `a-z 0-9 . _ -`.
    #[schema(example = "made.suarta", pattern = "^[a-z0-9._-]{1,32}$")]
    pub login: String,
    /// The name people read.
    #[schema(example = "Bripka Made Suarta", max_length = 64)]
    pub name: String,
    pub role: PersonRole,
}

/// An account, and its one-time password (shown once: give it to the person).
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResponse {
    pub account: AccountResponse,
    /// Present after adding or resetting an account.
    pub password: Option<String>,
}

/// A token as the operator sees it (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// `t-` and 8 hex digits.
    pub id: String,
    pub label: String,
    pub role: PersonRole,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub revoked: bool,
}

impl From<TokenInfo> for TokenResponse {
    fn from(t: TokenInfo) -> Self {
        TokenResponse {
            id: t.id,
            label: t.label,
            role: t.role,
            created_ms: t.created_ms,
            expires_ms: t.expires_ms,
            revoked: t.revoked,
        }
    }
}

/// A new token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[schema(example = "pos-ketapang-scanner", max_length = 64)]
    pub label: String,
    pub role: PersonRole,
    /// Days it stays valid (none: until revoked).
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_days: Option<u32>,
}

/// A new token and its secret (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct NewTokenResponse {
    pub info: TokenResponse,
    /// `Authorization: Bearer` this.
    pub token: String,
}

#[utoipa::path(get, path = "/v1/users", tag = "people",
    responses(
        (status = 200, description = "Every account of this node", body = Vec<AccountResponse>),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: operators only", body = ErrorBody),
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<AccountResponse>>, ApiError> {
    Ok(Json(
        state
            .list_people(&caller.actor)?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

#[utoipa::path(post, path = "/v1/users", tag = "people", request_body = AddPersonRequest,
    responses(
        (status = 200, description = "Added; the one-time password", body = PasswordResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: operators only", body = ErrorBody),
        (status = 409, description = "`conflict`: the login exists", body = ErrorBody),
        (status = 422, description = "`invalid_body`: a bad login or name, or a role this node does not have", body = ErrorBody),
    ))]
pub async fn add_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AddPersonRequest>,
) -> Result<Json<PasswordResponse>, ApiError> {
    let (account, password) =
        state.add_person(&caller.actor, &body.login, &body.name, body.role)?;
    Ok(Json(PasswordResponse {
        account: account.into(),
        password: Some(password),
    }))
}

/// Disable, enable, reset (a new one-time password) or unlock an account.
#[utoipa::path(post, path = "/v1/users/{login}/{action}", tag = "people",
    params(
        ("login" = String, Path, description = "The login name"),
        ("action" = String, Path, description = "`disable`, `enable`, `reset` or `unlock`"),
    ),
    responses(
        (status = 200, description = "Changed (with the new password after `reset`)", body = PasswordResponse),
        (status = 400, description = "`invalid_parameter`: not an action", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: operators only", body = ErrorBody),
        (status = 404, description = "`no_such_account`", body = ErrorBody),
    ))]
pub async fn change_user(
    State(state): State<AppState>,
    caller: Caller,
    Path((login, action)): Path<(String, String)>,
) -> Result<Json<PasswordResponse>, ApiError> {
    let change = match action.as_str() {
        "disable" => AccountChange::Disable,
        "enable" => AccountChange::Enable,
        "reset" => AccountChange::Reset,
        "unlock" => AccountChange::Unlock,
        other => {
            return Err(ApiError::parameter(
                "action",
                format!("'{other}' is not one of disable, enable, reset, unlock"),
            ))
        }
    };
    let (account, password) = state.change_person(&caller.actor, &login, change)?;
    Ok(Json(PasswordResponse {
        account: account.into(),
        password,
    }))
}

#[utoipa::path(get, path = "/v1/tokens", tag = "people",
    responses(
        (status = 200, description = "Every token of this node (never a secret)", body = Vec<TokenResponse>),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: operators only", body = ErrorBody),
    ))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TokenResponse>>, ApiError> {
    Ok(Json(
        state
            .list_tokens(&caller.actor)?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

#[utoipa::path(post, path = "/v1/tokens", tag = "people", request_body = TokenRequest,
    responses(
        (status = 200, description = "Created; the token, shown once", body = NewTokenResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: operators only", body = ErrorBody),
        (status = 422, description = "`invalid_body`", body = ErrorBody),
    ))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<TokenRequest>,
) -> Result<Json<NewTokenResponse>, ApiError> {
    let expires = match body.expires_days {
        Some(0) | Some(3651..) => {
            return Err(ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidBody,
                "expires_days: a whole number from 1 to 3650",
            ))
        }
        Some(d) => Some(state.now_ms() + i64::from(d) * 86_400_000),
        None => None,
    };
    let (info, token) = state.create_token(&caller.actor, &body.label, body.role, expires)?;
    Ok(Json(NewTokenResponse {
        info: info.into(),
        token,
    }))
}

#[utoipa::path(post, path = "/v1/tokens/{id}/revoke", tag = "people",
    params(("id" = String, Path, description = "The token's id, `t-...`")),
    responses(
        (status = 200, description = "Revoked", body = TokenResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: operators only", body = ErrorBody),
        (status = 404, description = "`no_such_token`", body = ErrorBody),
    ))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TokenResponse>, ApiError> {
    Ok(Json(state.revoke_token(&caller.actor, &id)?.into()))
}
