//! Residents: a village node writes its own; every node reads and lists
//! any village it holds.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kampung_core::resident::StatusKind;
use kampung_core::{Nik, Resident, VillageCode};
use kampung_runtime::store::ResidentQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiJson, ApiQuery, ErrorBody, ErrorCode};
use crate::{now_ms, openapi::schemas, AppState};

/// Records per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 50;
/// Records per page at most.
pub const MAX_LIMIT: usize = 500;
/// Longest search accepted, in characters (a name is at most 120).
pub const MAX_SEARCH: usize = 120;

fn own_village(state: &AppState) -> Result<VillageCode, ApiError> {
    state.own_village.ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::NotAVillageNode,
            format!(
                "this node is {}: only a village node writes residents",
                state.role
            ),
        )
    })
}

/// What a write did.
#[derive(Debug, Serialize, ToSchema)]
pub struct WriteResponse {
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
    /// The village document's heads after the write (hex change hashes).
    pub heads: Vec<String>,
}

/// Write records of this node's village: new ones are added, changed ones
/// updated, identical ones left alone. Durable when this answers; the change
/// is then announced to the mesh. All or nothing: one refused record refuses
/// the write (use `/v1/residents/check` first).
#[utoipa::path(
    post,
    path = "/v1/residents",
    tag = "residents",
    request_body(content = Vec<schemas::Resident>, description = "Records of this node's village"),
    responses(
        (status = 200, description = "Written and durable", body = WriteResponse),
        (status = 400, description = "`invalid_body`: not an array of records", body = ErrorBody),
        (status = 403, description = "`not_a_village_node`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 422, description = "`refused` (a record breaks a rule), or `invalid_body` (a field has the wrong type)", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn write(
    State(state): State<AppState>,
    ApiJson(records): ApiJson<Vec<Resident>>,
) -> Result<Json<WriteResponse>, ApiError> {
    let village = own_village(&state)?;
    let now = now_ms() as i64;
    let (report, announce) = match state
        .store
        .write(village, records, now)
        .await
        .map_err(|_| ApiError::unavailable())?
    {
        Ok(r) => r,
        Err(kampung_store::StoreError::Refused(refusal)) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::Refused,
                refusal.to_string(),
            ))
        }
        Err(e) => return Err(ApiError::store(e)),
    };
    if report.added + report.changed > 0 && state.mesh.announce(announce).await.is_err() {
        tracing::warn!("mesh stopped: the write is stored and will spread by anti-entropy");
    }
    Ok(Json(WriteResponse {
        added: report.added,
        changed: report.changed,
        unchanged: report.unchanged,
        heads: report.heads.iter().map(ToString::to_string).collect(),
    }))
}

/// Records a write would refuse.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    pub refused: Vec<RefusedRecord>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedRecord {
    /// Position of the record in the request (from 0).
    pub index: usize,
    pub message: String,
}

/// Which records a write would refuse, and why. Writes nothing.
#[utoipa::path(
    post,
    path = "/v1/residents/check",
    tag = "residents",
    request_body(content = Vec<schemas::Resident>, description = "Records of this node's village"),
    responses(
        (status = 200, description = "The refused records (empty: the write would pass)", body = CheckResponse),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 403, description = "`not_a_village_node`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 422, description = "`invalid_body`: a field has the wrong type", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn check(
    State(state): State<AppState>,
    ApiJson(records): ApiJson<Vec<Resident>>,
) -> Result<Json<CheckResponse>, ApiError> {
    let village = own_village(&state)?;
    let refused = state
        .store
        .check(village, records)
        .await
        .map_err(|_| ApiError::unavailable())?;
    let refused = refused
        .iter()
        .map(|(i, r)| RefusedRecord {
            index: *i,
            message: r.to_string(),
        })
        .collect();
    Ok(Json(CheckResponse { refused }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VillageParam {
    /// Read the record in this village (a NIK may have records in two
    /// villages after a move); without it, the record that decides the verdict.
    #[param(example = "35.10.15.2012")]
    village: Option<String>,
}

/// One full record.
#[utoipa::path(
    get,
    path = "/v1/residents/{nik}",
    tag = "residents",
    params(("nik" = String, Path, description = "16 digits", example = "3510155203850001"), VillageParam),
    responses(
        (status = 200, description = "The record", body = schemas::Resident),
        (status = 400, description = "`invalid_nik`, `invalid_village` or `invalid_parameter`", body = ErrorBody),
        (status = 404, description = "`not_registered`", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Path(nik): Path<String>,
    ApiQuery(q): ApiQuery<VillageParam>,
) -> Result<Json<Resident>, ApiError> {
    let parsed = Nik::parse(&nik, state.this_year).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidNik,
            e.to_string(),
        )
    })?;
    let found = match q.village {
        Some(v) => {
            let village = VillageCode::parse(&v).map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidVillage,
                    format!("village: {e}"),
                )
            })?;
            state.store.read(village, parsed.nik()).await
        }
        None => state.store.get(parsed.nik()).await,
    };
    match found.map_err(|_| ApiError::unavailable())? {
        Ok(Some(r)) => Ok(Json(r)),
        Ok(None) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotRegistered,
            format!("{nik} is not in the registry"),
        )),
        Err(e) => Err(ApiError::store(e)),
    }
}

/// The query string of the residents listing, as sent: every value is
/// checked by hand so a bad one is answered with its name and what is allowed.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// The village to list (required on a checkpoint or auditor; a village
    /// node lists its own without it).
    #[param(example = "35.10.15.2012")]
    village: Option<String>,
    /// Part of the name (any case), or the first digits of the NIK.
    #[param(example = "wahyu")]
    q: Option<String>,
    /// Only records with this status.
    #[param(value_type = Option<schemas::StatusKind>)]
    status: Option<String>,
    /// Matching records to skip (NIK order).
    #[param(value_type = Option<u64>, minimum = 0, default = 0)]
    offset: Option<String>,
    /// Records per page.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 500, default = 50)]
    limit: Option<String>,
}

/// A page of residents, in NIK order.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResidentsPage {
    /// Records matching the query, on every page.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    #[schema(value_type = Vec<schemas::Resident>)]
    pub items: Vec<Resident>,
}

impl ListParams {
    /// The store query, or a 400 naming the first bad parameter.
    fn query(self, own: Option<VillageCode>, role: &str) -> Result<ResidentQuery, ApiError> {
        let village = match self.village.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => {
                VillageCode::parse(v).map_err(|e| ApiError::parameter("village", e))?
            }
            _ => own.ok_or_else(|| {
                ApiError::parameter(
                    "village",
                    format!("required on this node ({role}), e.g. village=35.10.15.2012"),
                )
            })?,
        };
        let search = self
            .q
            .map(|q| q.trim().to_string())
            .filter(|q| !q.is_empty());
        if let Some(q) = &search {
            let n = q.chars().count();
            if n > MAX_SEARCH {
                return Err(ApiError::parameter(
                    "q",
                    format!("is {n} characters long, at most {MAX_SEARCH} are allowed"),
                ));
            }
        }
        let status = match self.status.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(parse_status(s)?),
        };
        let offset = number("offset", self.offset.as_deref(), 0, 0, usize::MAX)?;
        let limit = number("limit", self.limit.as_deref(), DEFAULT_LIMIT, 1, MAX_LIMIT)?;
        Ok(ResidentQuery {
            village,
            search,
            status,
            offset,
            limit,
        })
    }
}

fn parse_status(s: &str) -> Result<StatusKind, ApiError> {
    match s {
        "active" => Ok(StatusKind::Active),
        "moved_out" => Ok(StatusKind::MovedOut),
        "deceased" => Ok(StatusKind::Deceased),
        other => Err(ApiError::parameter(
            "status",
            format!("'{other}' is not one of active, moved_out, deceased"),
        )),
    }
}

/// A whole number in `min..=max`, or `default` when absent or empty.
pub(crate) fn number(
    name: &'static str,
    value: Option<&str>,
    default: usize,
    min: usize,
    max: usize,
) -> Result<usize, ApiError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    let range = if max == usize::MAX {
        format!("a whole number from {min}")
    } else {
        format!("a whole number from {min} to {max}")
    };
    match v.parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::parameter(name, format!("'{v}' is not {range}"))),
    }
}

/// A page of one village's residents, with search and a status filter.
#[utoipa::path(
    get,
    path = "/v1/residents",
    tag = "residents",
    params(ListParams),
    responses(
        (status = 200, description = "One page of the matching records", body = ResidentsPage),
        (status = 400, description = "`invalid_parameter`: the message and `parameter` name the query parameter at fault", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ResidentsPage>, ApiError> {
    let query = params.query(state.own_village, &state.role)?;
    let (offset, limit) = (query.offset, query.limit);
    let page = state
        .store
        .resident_page(query)
        .await
        .map_err(|_| ApiError::unavailable())?
        .map_err(ApiError::store)?;
    Ok(Json(ResidentsPage {
        total: page.total,
        offset,
        limit,
        items: page.items,
    }))
}
