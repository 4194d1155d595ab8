//! Residents: a village node writes its own; every node reads and lists
//! any village it holds.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kampung_core::resident::StatusKind;
use kampung_core::{Nik, Resident, Role, Sex, VillageCode};
use kampung_node::{
    Confirmed, Correction, ImportPreview, NodeError, RecordRefusal, RecordWritten, ResidentQuery,
};
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Caller, ReaderLang};
use crate::error::{ApiError, ApiJson, ApiQuery, ErrorBody, ErrorCode};
use crate::{openapi::schemas, AppState};

/// Records per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 50;
/// Records per page at most.
pub const MAX_LIMIT: usize = 500;
/// Longest search accepted, in characters (a name is at most 120).
pub const MAX_SEARCH: usize = 120;

/// What a write did.
#[derive(Debug, Serialize, ToSchema)]
pub struct WriteResponse {
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
    /// The village document's heads after the write (hex change hashes).
    pub heads: Vec<String>,
}

/// NIKs the clerk confirmed a batch write may change the identity of, or
/// bring back from a recorded move out or death.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConfirmParam {
    /// Comma-separated NIKs whose identity change (another name, another
    /// sex, or a new name and birth date together) or return from a move
    /// out or death is confirmed.
    #[param(example = "3510155203850001,3510151203850002")]
    confirm: Option<String>,
}

impl ConfirmParam {
    fn niks(&self, state: &AppState) -> Result<Confirmed, ApiError> {
        self.confirm
            .iter()
            .flat_map(|s| s.split(','))
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                state.parse_nik(s).map_err(|e| {
                    ApiError::from(NodeError::field(ErrorCode::InvalidNik, "confirm", e))
                })
            })
            .collect()
    }
}

/// Write records of this node's village: new ones are added, changed ones
/// updated, identical ones left alone. Durable when this answers; the change
/// is then announced to the mesh. All or nothing: one refused record refuses
/// the write (use `/v1/residents/check` or `/v1/residents/preview` first),
/// among them a change of who a registered NIK is, a return from a recorded
/// move out or death (both unless confirmed) and dates after today.
#[utoipa::path(
    post,
    path = "/v1/residents",
    tag = "residents",
    params(ConfirmParam),
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
    caller: Caller,
    ApiQuery(confirm): ApiQuery<ConfirmParam>,
    ApiJson(records): ApiJson<Vec<Resident>>,
) -> Result<Json<WriteResponse>, ApiError> {
    let confirmed = confirm.niks(&state)?;
    let report = state
        .write_residents(&caller.actor, records, &confirmed, None)
        .await?
        .report;
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
    pub refused: Vec<RecordRefusal>,
}

/// Which records a write would refuse, and why. Writes nothing.
#[utoipa::path(
    post,
    path = "/v1/residents/check",
    tag = "residents",
    params(ConfirmParam),
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
    caller: Caller,
    ReaderLang(lang): ReaderLang,
    ApiQuery(confirm): ApiQuery<ConfirmParam>,
    ApiJson(records): ApiJson<Vec<Resident>>,
) -> Result<Json<CheckResponse>, ApiError> {
    let confirmed = confirm.niks(&state)?;
    let refused = state
        .check_residents(&caller.actor, records, &confirmed)
        .await?
        .into_iter()
        .map(|r| r.in_lang(lang))
        .collect();
    Ok(Json(CheckResponse { refused }))
}

/// What a write would do, before anything is written: the records it would
/// add, those it would change (field by field, old and new), how many it
/// would leave alone, and those it would refuse. Writes nothing.
#[utoipa::path(
    post,
    path = "/v1/residents/preview",
    tag = "residents",
    params(ConfirmParam),
    request_body(content = Vec<schemas::Resident>, description = "Records of this node's village"),
    responses(
        (status = 200, description = "What the write would do", body = schemas::ImportPreview),
        (status = 400, description = "`invalid_body`, or `invalid_nik` in `confirm`", body = ErrorBody),
        (status = 403, description = "`not_a_village_node`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 422, description = "`invalid_body`: a field has the wrong type", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    ReaderLang(lang): ReaderLang,
    ApiQuery(confirm): ApiQuery<ConfirmParam>,
    ApiJson(records): ApiJson<Vec<Resident>>,
) -> Result<Json<ImportPreview>, ApiError> {
    let confirmed = confirm.niks(&state)?;
    let mut preview = state
        .preview_import(&caller.actor, records, &confirmed)
        .await?;
    preview.refused = preview
        .refused
        .into_iter()
        .map(|r| r.in_lang(lang))
        .collect();
    Ok(Json(preview))
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
    caller: Caller,
    Path(nik): Path<String>,
    ApiQuery(q): ApiQuery<VillageParam>,
) -> Result<Json<Resident>, ApiError> {
    let nik = path_nik(&state, &nik)?;
    let village = match q.village {
        Some(v) => Some(VillageCode::parse(&v).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidVillage,
                format!("village: {e}"),
            )
        })?),
        None => None,
    };
    Ok(Json(state.resident(&caller.actor, nik, village).await?))
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
    fn query(self, role: &Role) -> Result<ResidentQuery, ApiError> {
        let village = match self.village.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => {
                VillageCode::parse(v).map_err(|e| ApiError::parameter("village", e))?
            }
            _ => role.village().ok_or_else(|| {
                ApiError::parameter(
                    "village",
                    format!(
                        "required on this node ({}), e.g. village=35.10.15.2012",
                        role.tag()
                    ),
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
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ResidentsPage>, ApiError> {
    let query = params.query(state.role())?;
    let (offset, limit) = (query.offset, query.limit);
    let page = state.residents_page(&caller.actor, query).await?;
    Ok(Json(ResidentsPage {
        total: page.total,
        offset,
        limit,
        items: page.items,
    }))
}

/// One record written by a single-record route, as it stands now.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordResponse {
    #[schema(value_type = schemas::Resident)]
    pub record: Resident,
    /// False if the record already said this (nothing was written).
    pub changed: bool,
    /// What the NIK says that disagrees with the record (not a refusal).
    pub warnings: Vec<String>,
}

impl From<RecordWritten> for RecordResponse {
    fn from(w: RecordWritten) -> Self {
        RecordResponse {
            record: w.record,
            changed: w.changed,
            warnings: w.warnings,
        }
    }
}

/// Fields to correct; an absent field is kept as it is.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectRequest {
    pub full_name: Option<String>,
    /// `L` or `P`.
    #[schema(value_type = Option<String>, example = "P")]
    pub sex: Option<Sex>,
    /// `YYYY-MM-DD`.
    #[schema(value_type = Option<String>, example = "1985-03-12")]
    pub birth_date: Option<String>,
    /// No. KK, 16 digits.
    pub family_card: Option<String>,
    pub dusun: Option<String>,
    pub rt: Option<u16>,
    pub rw: Option<u16>,
}

/// Where a resident moved to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveOutRequest {
    /// Village, regency or city.
    #[schema(example = "Kota Surabaya")]
    pub to: String,
    /// The day the resident moved, `YYYY-MM-DD`, if known (not after today).
    #[serde(default)]
    #[schema(example = "2026-11-30")]
    pub on: Option<String>,
}

/// Why a registration is withdrawn.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// Kept in the document's history with who withdrew it.
    #[schema(example = "salah daftar: warga Desa Kampunganyar")]
    pub reason: String,
}

/// The registration withdrawn: the record as it was.
#[derive(Debug, Serialize, ToSchema)]
pub struct WithdrawnResponse {
    #[schema(value_type = schemas::Resident)]
    pub withdrawn: Resident,
}

/// When a resident died, if known.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeceasedRequest {
    /// `YYYY-MM-DD`.
    #[schema(example = "2026-04-30")]
    pub on: Option<String>,
}

fn body_date(field: &str, value: Option<&str>) -> Result<Option<Date>, ApiError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(v, &format).map(Some).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidBody,
            format!("{field}: '{v}' is not a day written YYYY-MM-DD (e.g. 1985-03-12)"),
        )
    })
}

/// A NIK in a path, as a 400 naming the rule broken.
pub(super) fn path_nik(state: &AppState, nik: &str) -> Result<Nik, ApiError> {
    state
        .parse_nik(nik)
        .map_err(|e| ApiError::from(e).with_status(StatusCode::BAD_REQUEST))
}

/// Register a new resident of this village; refused if the NIK is already
/// registered here (correct it instead) or active in another village.
#[utoipa::path(
    post,
    path = "/v1/residents/register",
    tag = "residents",
    request_body(content = schemas::Resident, description = "The new record (its village is this node's)"),
    responses(
        (status = 200, description = "Registered, durable and announced", body = RecordResponse),
        (status = 400, description = "`invalid_body`: not a record", body = ErrorBody),
        (status = 403, description = "`not_a_village_node`", body = ErrorBody),
        (status = 422, description = "`refused`: a field breaks a rule, or the NIK is registered already", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(record): ApiJson<Resident>,
) -> Result<Json<RecordResponse>, ApiError> {
    Ok(Json(state.register(&caller.actor, record).await?.into()))
}

/// Correct fields of a resident of this village.
#[utoipa::path(
    post,
    path = "/v1/residents/{nik}/correct",
    tag = "residents",
    params(("nik" = String, Path, description = "16 digits", example = "3510155203850001")),
    request_body = CorrectRequest,
    responses(
        (status = 200, description = "Corrected, durable and announced", body = RecordResponse),
        (status = 400, description = "`invalid_nik` or `invalid_body`", body = ErrorBody),
        (status = 403, description = "`not_a_village_node`", body = ErrorBody),
        (status = 404, description = "`not_registered` in this village", body = ErrorBody),
        (status = 422, description = "`refused` (a field breaks a rule) or `invalid_body`", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn correct(
    State(state): State<AppState>,
    caller: Caller,
    Path(nik): Path<String>,
    ApiJson(body): ApiJson<CorrectRequest>,
) -> Result<Json<RecordResponse>, ApiError> {
    let nik = path_nik(&state, &nik)?;
    let fix = Correction {
        birth_date: body_date("birth_date", body.birth_date.as_deref())?,
        full_name: body.full_name,
        sex: body.sex,
        family_card: body.family_card,
        dusun: body.dusun,
        rt: body.rt,
        rw: body.rw,
    };
    Ok(Json(state.correct(&caller.actor, nik, fix).await?.into()))
}

/// Record that an active resident of this village moved away.
#[utoipa::path(
    post,
    path = "/v1/residents/{nik}/move-out",
    tag = "residents",
    params(("nik" = String, Path, description = "16 digits", example = "3510155203850001")),
    request_body = MoveOutRequest,
    responses(
        (status = 200, description = "Recorded, durable and announced", body = RecordResponse),
        (status = 400, description = "`invalid_nik` or `invalid_body`", body = ErrorBody),
        (status = 403, description = "`not_a_village_node`", body = ErrorBody),
        (status = 404, description = "`not_registered` in this village", body = ErrorBody),
        (status = 422, description = "`refused`: not an active resident, or an empty destination", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn move_out(
    State(state): State<AppState>,
    caller: Caller,
    Path(nik): Path<String>,
    ApiJson(body): ApiJson<MoveOutRequest>,
) -> Result<Json<RecordResponse>, ApiError> {
    let nik = path_nik(&state, &nik)?;
    Ok(Json(
        state
            .move_out(
                &caller.actor,
                nik,
                body.to,
                body_date("on", body.on.as_deref())?,
            )
            .await?
            .into(),
    ))
}

/// Record that a resident of this village died.
#[utoipa::path(
    post,
    path = "/v1/residents/{nik}/deceased",
    tag = "residents",
    params(("nik" = String, Path, description = "16 digits", example = "3510155203850001")),
    request_body = DeceasedRequest,
    responses(
        (status = 200, description = "Recorded, durable and announced", body = RecordResponse),
        (status = 400, description = "`invalid_nik` or `invalid_body`", body = ErrorBody),
        (status = 403, description = "`not_a_village_node`", body = ErrorBody),
        (status = 404, description = "`not_registered` in this village", body = ErrorBody),
        (status = 422, description = "`refused`: already deceased, or a date before the birth", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn deceased(
    State(state): State<AppState>,
    caller: Caller,
    Path(nik): Path<String>,
    ApiJson(body): ApiJson<DeceasedRequest>,
) -> Result<Json<RecordResponse>, ApiError> {
    let nik = path_nik(&state, &nik)?;
    let on = body_date("on", body.on.as_deref())?;
    Ok(Json(
        state.mark_deceased(&caller.actor, nik, on).await?.into(),
    ))
}

/// Withdraw a registration of this village made in error (one side of a
/// double registration, say): the record leaves the village's document as
/// one signed change that keeps the reason and who did it.
#[utoipa::path(
    post,
    path = "/v1/residents/{nik}/withdraw",
    tag = "residents",
    params(("nik" = String, Path, description = "16 digits", example = "3510155203850001")),
    request_body = WithdrawRequest,
    responses(
        (status = 200, description = "Withdrawn, durable and announced", body = WithdrawnResponse),
        (status = 400, description = "`invalid_nik` or `invalid_body`", body = ErrorBody),
        (status = 403, description = "`not_a_village_node`", body = ErrorBody),
        (status = 404, description = "`not_registered` in this village", body = ErrorBody),
        (status = 422, description = "`refused`: an empty or unreadable reason", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
        (status = 503, description = "`shutting_down` or `clock_off`", body = ErrorBody),
    )
)]
pub async fn withdraw(
    State(state): State<AppState>,
    caller: Caller,
    Path(nik): Path<String>,
    ApiJson(body): ApiJson<WithdrawRequest>,
) -> Result<Json<WithdrawnResponse>, ApiError> {
    let nik = path_nik(&state, &nik)?;
    let withdrawn = state
        .withdraw_registration(&caller.actor, nik, &body.reason)
        .await?;
    Ok(Json(WithdrawnResponse { withdrawn }))
}
