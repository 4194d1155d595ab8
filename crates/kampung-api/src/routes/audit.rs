//! What an auditor reads: `GET /v1/access-log` (who looked up whose
//! data) and `GET /v1/audit/history/{nik}` (every change to a person's
//! records, who made it, and whether it passes the audit's check), a
//! village as it stood at a time and what changed between two.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kampung_core::VillageCode;
use kampung_node::{AccessEntry, AccessQuery, RecordTimeline, VillageAsOf, VillageChanges};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::residents::number;
use crate::auth::Caller;
use crate::error::{ApiError, ApiQuery, ErrorBody, ErrorCode};
use crate::openapi::schemas;
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Read this village's document too: where the record was withdrawn,
    /// the index no longer names its village.
    #[param(example = "35.10.15.2012")]
    village: Option<String>,
}

/// Every change to the records of one NIK in every village document that
/// holds one, oldest first: when, which node (with its certificate's role
/// and label), which person, each field old and new, and whether the change
/// passes `kampung audit verify`'s signature and authority check (auditors only).
#[utoipa::path(get, path = "/v1/audit/history/{nik}", tag = "audit",
    params(("nik" = String, Path, description = "16 digits", example = "3510155203850001"), HistoryParams),
    responses(
        (status = 200, description = "The changes, oldest first", body = schemas::RecordTimeline),
        (status = 400, description = "`invalid_nik`, `invalid_village` or `invalid_parameter`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: auditors only", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
    ))]
pub async fn record_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(nik): Path<String>,
    ApiQuery(q): ApiQuery<HistoryParams>,
) -> Result<Json<RecordTimeline>, ApiError> {
    let nik = super::residents::path_nik(&state, &nik)?;
    let also = match q.village.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => vec![path_village(v)?],
        _ => Vec::new(),
    };
    Ok(Json(
        state
            .record_timeline(&caller.actor, &nik.to_string(), &also)
            .await?,
    ))
}

/// A village code from the path, or a 400 `invalid_village`.
fn path_village(code: &str) -> Result<VillageCode, ApiError> {
    VillageCode::parse(code).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidVillage,
            format!("village: {e}"),
        )
    })
}

/// A time parameter (`2026-06-01T08:00+07:00`, `2026-06-01T08:00` in WIB,
/// `2026-06-01`), as unix seconds; or a 400 naming it.
fn time_param(name: &'static str, value: Option<&str>) -> Result<i64, ApiError> {
    let v = value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::parameter(name, "required, e.g. 2026-06-01T08:00+07:00"))?;
    kampung_core::clock::parse_instant(v).map_err(|e| ApiError::parameter(name, e))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AtParams {
    /// The time: `2026-06-01T08:00+07:00`, `2026-06-01T08:00` (WIB) or
    /// `2026-06-01` (its start, WIB).
    #[param(example = "2026-06-01T08:00+07:00")]
    at: Option<String>,
}

/// A village's records as its document stood at a time, by its writers'
/// clocks, with the document's heads then (auditors only).
#[utoipa::path(get, path = "/v1/audit/villages/{code}", tag = "audit",
    params(("code" = String, Path, description = "The village code", example = "35.10.15.2012"), AtParams),
    responses(
        (status = 200, description = "The records then", body = schemas::VillageAsOf),
        (status = 400, description = "`invalid_village` or `invalid_parameter`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: auditors only", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
    ))]
pub async fn village_as_of(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<AtParams>,
) -> Result<Json<VillageAsOf>, ApiError> {
    let village = path_village(&code)?;
    let at_s = time_param("at", q.at.as_deref())?;
    Ok(Json(
        state.village_as_of(&caller.actor, village, at_s).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BetweenParams {
    /// From this time (as `at` of `/v1/audit/villages/{code}`).
    #[param(example = "2026-06-01")]
    from: Option<String>,
    /// To this time.
    #[param(example = "2026-06-08")]
    to: Option<String>,
}

/// What changed in a village's records between two times: who was added,
/// whose record changed (field by field) and whose was withdrawn (auditors only).
#[utoipa::path(get, path = "/v1/audit/villages/{code}/changes", tag = "audit",
    params(("code" = String, Path, description = "The village code", example = "35.10.15.2012"), BetweenParams),
    responses(
        (status = 200, description = "The changes", body = schemas::VillageChanges),
        (status = 400, description = "`invalid_village` or `invalid_parameter`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: auditors only", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
    ))]
pub async fn village_changes(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<BetweenParams>,
) -> Result<Json<VillageChanges>, ApiError> {
    let village = path_village(&code)?;
    let from = time_param("from", q.from.as_deref())?;
    let to = time_param("to", q.to.as_deref())?;
    if to < from {
        return Err(ApiError::parameter("to", "is before from"));
    }
    Ok(Json(
        state
            .village_changes(&caller.actor, village, from, to)
            .await?,
    ))
}

/// `kampung audit verify` on this running node (auditors only): every
/// stored change covered by a valid signature of a writer allowed to make
/// it, no holes, the index equal to the documents; the report is the one
/// `kampung audit verify --json` prints. The store answers nothing else
/// while it runs (seconds for a village; longer for the regency).
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "The report of `kampung audit verify --json` (`ok`, `summary`, `documents`, `writers`, `people`, `periods`, `failures`)", content_type = "application/json", body = Object),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: auditors only", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
    ))]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<kampung_store::audit::AuditReport>, ApiError> {
    Ok(Json(state.audit(&caller.actor).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReplayParams {
    /// One checkpoint's crossings (its peer id); every checkpoint's if absent.
    checkpoint: Option<String>,
    /// Crossings from this time (as `at` of `/v1/audit/villages/{code}`).
    #[param(example = "2026-06-01")]
    from: Option<String>,
    /// Crossings before this time.
    #[param(example = "2026-06-08")]
    to: Option<String>,
}

/// `kampung audit replay` on this running node (auditors only): every
/// crossing's verdict computed again from the registry state it names
/// (every village document at the heads the checkpoint's index reflected)
/// and the policy version it names, and each one that does not match,
/// with why. The store answers nothing else while it runs; verdicts still
/// answer. A long log: ask for a period (`from`, `to`).
#[utoipa::path(get, path = "/v1/audit/replay", tag = "audit",
    params(ReplayParams),
    responses(
        (status = 200, description = "The report of `kampung audit replay --json` (`checkpoints`, `crossings`, `matched`, `without_state`, `states`, `mismatches`: each with `checkpoint`, `at_ms`, `nik`, `recorded` and a `problem`: `verdict_differs` (with `replayed`), `village_differs`, `state_missing`, `village_heads_missing`, `case_missing`, `policy_missing` or `policy_unknown`)", content_type = "application/json", body = Object),
        (status = 400, description = "`invalid_parameter`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: auditors only", body = ErrorBody),
        (status = 404, description = "`not_found`: no crossing log of that checkpoint here", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
    ))]
pub async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ReplayParams>,
) -> Result<Json<kampung_store::ReplayReport>, ApiError> {
    let time = |name, v: Option<&str>| match v.filter(|v| !v.trim().is_empty()) {
        Some(_) => time_param(name, v).map(|s| Some(s.saturating_mul(1000))),
        None => Ok(None),
    };
    let from = time("from", q.from.as_deref())?;
    let to = time("to", q.to.as_deref())?;
    Ok(Json(
        state
            .replay(&caller.actor, q.checkpoint.as_deref(), from, to)
            .await?,
    ))
}
