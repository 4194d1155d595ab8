//! `GET /v1/access-log`: who looked up whose data, for an auditor.

use axum::extract::State;
use axum::Json;
use kampung_node::{AccessEntry, AccessQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::residents::number;
use crate::auth::Caller;
use crate::error::{ApiError, ApiQuery, ErrorBody};
use crate::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccessParams {
    /// Only look-ups of this NIK.
    nik: Option<String>,
    /// Only look-ups by this account or token id, or login name.
    who: Option<String>,
    /// Entries at most, newest first.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000, default = 100)]
    limit: Option<String>,
}

/// One look-up of a person's data.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessView {
    pub at_ms: i64,
    /// The account or token id (`local`: the node's own machine).
    pub who: String,
    pub name: String,
    pub role: String,
    /// `verdict`, `crossing`, `case`, `record` or `search`.
    pub what: String,
    /// The NIK asked about (or the text searched for).
    pub subject: String,
    /// The answer's kind.
    pub answer: String,
}

impl From<AccessEntry> for AccessView {
    fn from(e: AccessEntry) -> Self {
        AccessView {
            at_ms: e.at_ms,
            who: e.who,
            name: e.name,
            role: e.role,
            what: e.what.as_str().to_string(),
            subject: e.subject,
            answer: e.answer,
        }
    }
}

/// The access log of this node, newest first (auditors only).
#[utoipa::path(get, path = "/v1/access-log", tag = "audit", params(AccessParams),
    responses(
        (status = 200, description = "Look-ups, newest first", body = Vec<AccessView>),
        (status = 400, description = "`invalid_parameter`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: auditors only", body = ErrorBody),
    ))]
pub async fn access_log(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AccessParams>,
) -> Result<Json<Vec<AccessView>>, ApiError> {
    let limit = number("limit", q.limit.as_deref(), 100, 1, 1000)?;
    let query = AccessQuery {
        subject: q.nik.filter(|s| !s.trim().is_empty()),
        who: q.who.filter(|s| !s.trim().is_empty()),
        limit,
    };
    Ok(Json(
        state
            .read_access_log(&caller.actor, &query)?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}
