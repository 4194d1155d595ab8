//! Isolation cases: opened at a checkpoint or by a village, then placed,
//! transferred, handed to family with a pledge, followed up daily and
//! released. Checkpoint, facility and village nodes write (each update
//! records this node as its writer); an auditor only reads. Every write is
//! durable when answered and announced to the mesh at once.

pub mod views;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kampung_core::{Place, Pledge};
use kampung_node::{CaseChange, NewCase};
use kampung_store::case::{CaseState, Outcome, ReleaseReason};
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ErrorBody, ErrorCode};
use crate::{openapi::schemas, AppState};
pub use views::{
    CaseHistoryView, CaseView, FollowUpView, NoteView, PlacementView, ReleaseView, WriterView,
};

/// Open an isolation case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenCaseRequest {
    /// The person's NIK.
    #[schema(example = "3509154203900002")]
    pub nik: String,
    /// Default: the name in the registry, if the person has a record.
    pub person_name: Option<String>,
    /// Where the person came from. Default: where the NIK was issued.
    pub origin: Option<String>,
    /// The first placement.
    #[schema(value_type = schemas::Place)]
    pub place: Place,
}

/// Place or transfer the person.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlacementRequest {
    #[schema(value_type = schemas::Place)]
    pub place: Place,
}

/// The follow-up of one day.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpRequest {
    /// The day followed up, `YYYY-MM-DD` (WIB). Default: today.
    #[schema(example = "2026-05-02")]
    pub date: Option<String>,
    #[schema(value_type = schemas::Outcome)]
    pub outcome: Outcome,
    pub note: Option<String>,
}

/// A free-text note on the case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    pub text: String,
}

/// Why the person is released.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseKind {
    /// The policy's period is over (refused before it is).
    PeriodEnded,
    /// Before the period ended, by a decision: `detail` says why.
    Early,
}

/// Release the person: `{"reason": "period_ended"}` or
/// `{"reason": "early", "detail": "..."}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    pub reason: ReleaseKind,
    /// Why, for an early release (required then, refused otherwise).
    pub detail: Option<String>,
}

/// Open cases whose follow-up for today nobody has recorded yet.
#[derive(Debug, Serialize, ToSchema)]
pub struct DueResponse {
    /// Today (WIB), `YYYY-MM-DD`.
    pub date: String,
    pub due: Vec<CaseView>,
}

fn unprocessable(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

/// Today (WIB) by the node's clock, and one case as the API shows it.
fn view(state: &AppState, case: CaseState) -> Result<CaseView, ApiError> {
    Ok(CaseView::new(case, state.today()?))
}

/// Apply one update by this node to case `id`, and show the case.
async fn update(
    state: &AppState,
    caller: &Caller,
    id: &str,
    change: CaseChange,
) -> Result<Json<CaseView>, ApiError> {
    let case = state.update_case(&caller.actor, id, change).await?;
    Ok(Json(view(state, case)?))
}

/// Open an isolation case (checkpoint, facility or village node). Refused
/// (409 `case_open`) if the person already has an open case.
#[utoipa::path(
    post,
    path = "/v1/cases",
    tag = "cases",
    request_body = OpenCaseRequest,
    responses(
        (status = 200, description = "Opened, durable and announced", body = CaseView),
        (status = 400, description = "`invalid_body`: not JSON", body = ErrorBody),
        (status = 403, description = "`role_not_allowed`: an auditor", body = ErrorBody),
        (status = 409, description = "`case_open`: the person has an open case", body = ErrorBody),
        (status = 422, description = "`invalid_nik`, `invalid_body` (a field is missing or malformed) or `refused` (e.g. an empty home address, a bad pledge phone)", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<OpenCaseRequest>,
) -> Result<Json<CaseView>, ApiError> {
    let by = caller.actor;
    state.case_writer(&by)?;
    let new = NewCase {
        nik: state.parse_nik_full(&body.nik)?,
        person_name: body.person_name,
        origin: body.origin,
        place: body.place,
    };
    let case = state.open_case(&by, new).await?;
    Ok(Json(view(&state, case)?))
}

/// Every isolation case this node holds, with where it stands today.
#[utoipa::path(
    get,
    path = "/v1/cases",
    tag = "cases",
    responses(
        (status = 200, description = "Every case, by case id", body = Vec<CaseView>),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<CaseView>>, ApiError> {
    let today = state.today()?;
    let cases = state.cases(&caller.actor).await?;
    Ok(Json(
        cases.into_iter().map(|c| CaseView::new(c, today)).collect(),
    ))
}

/// One isolation case.
#[utoipa::path(
    get,
    path = "/v1/cases/{id}",
    tag = "cases",
    params(("id" = String, Path, description = "16 lowercase hex digits", example = "3f9a0c1d2e4b5a69")),
    responses(
        (status = 200, description = "The case", body = CaseView),
        (status = 400, description = "`invalid_parameter`: not a case id", body = ErrorBody),
        (status = 404, description = "`case_not_found`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    let case = state.case(&caller.actor, &id).await?;
    Ok(Json(view(&state, case)?))
}

/// One isolation case and everything recorded on it: every placement,
/// follow-up (of every day), note and release, by whom and when.
#[utoipa::path(
    get,
    path = "/v1/cases/{id}/history",
    tag = "cases",
    params(("id" = String, Path, description = "16 lowercase hex digits", example = "3f9a0c1d2e4b5a69")),
    responses(
        (status = 200, description = "The case and its history", body = CaseHistoryView),
        (status = 400, description = "`invalid_parameter`: not a case id", body = ErrorBody),
        (status = 404, description = "`case_not_found`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CaseHistoryView>, ApiError> {
    let (case, history) = state.case_history(&caller.actor, &id).await?;
    Ok(Json(CaseHistoryView::new(view(&state, case)?, history)))
}

/// Place or transfer the person (GOR, a village isolation house, home; a
/// family pick-up is better sent to `/pickup`). Refused once released.
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/placement",
    tag = "cases",
    params(("id" = String, Path, description = "16 lowercase hex digits")),
    request_body = PlacementRequest,
    responses(
        (status = 200, description = "Placed; the case as it stands now", body = CaseView),
        (status = 400, description = "`invalid_parameter` (not a case id) or `invalid_body` (not JSON)", body = ErrorBody),
        (status = 403, description = "`role_not_allowed`: an auditor", body = ErrorBody),
        (status = 404, description = "`case_not_found`", body = ErrorBody),
        (status = 422, description = "`refused` (e.g. the case is released) or `invalid_body`", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn placement(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PlacementRequest>,
) -> Result<Json<CaseView>, ApiError> {
    update(&state, &caller, &id, CaseChange::Place(body.place)).await
}

/// Hand the person over to family who signed the isolation pledge.
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/pickup",
    tag = "cases",
    params(("id" = String, Path, description = "16 lowercase hex digits")),
    request_body(content = schemas::Pledge, description = "The signed pledge: who picked the person up, their relation, their phone"),
    responses(
        (status = 200, description = "Handed over; the case as it stands now", body = CaseView),
        (status = 400, description = "`invalid_parameter` (not a case id) or `invalid_body` (not JSON)", body = ErrorBody),
        (status = 403, description = "`role_not_allowed`: an auditor", body = ErrorBody),
        (status = 404, description = "`case_not_found`", body = ErrorBody),
        (status = 422, description = "`refused` (an empty field, a bad phone, a released case) or `invalid_body`", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn pickup(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(pledge): ApiJson<Pledge>,
) -> Result<Json<CaseView>, ApiError> {
    update(&state, &caller, &id, CaseChange::FamilyPickup(pledge)).await
}

/// Record the follow-up of one day (default today). The same node recording
/// the same day again corrects its entry; other nodes' entries are kept.
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/follow-ups",
    tag = "cases",
    params(("id" = String, Path, description = "16 lowercase hex digits")),
    request_body = FollowUpRequest,
    responses(
        (status = 200, description = "Recorded; the case as it stands now", body = CaseView),
        (status = 400, description = "`invalid_parameter` (not a case id) or `invalid_body` (not JSON)", body = ErrorBody),
        (status = 403, description = "`role_not_allowed`: an auditor", body = ErrorBody),
        (status = 404, description = "`case_not_found`", body = ErrorBody),
        (status = 422, description = "`refused` (a day before the opening, in the future or after the release) or `invalid_body` (e.g. a bad date or outcome)", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn follow_up(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<FollowUpRequest>,
) -> Result<Json<CaseView>, ApiError> {
    let date = match body.date.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) => Some(parse_date(d)?),
    };
    let change = CaseChange::FollowUp {
        date,
        outcome: body.outcome,
        note: body.note,
    };
    update(&state, &caller, &id, change).await
}

fn parse_date(d: &str) -> Result<Date, ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(d, &format).map_err(|_| {
        unprocessable(
            ErrorCode::InvalidBody,
            format!("date: '{d}' is not a day written YYYY-MM-DD (e.g. 2026-05-02)"),
        )
    })
}

/// Add a free-text note to the case.
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/notes",
    tag = "cases",
    params(("id" = String, Path, description = "16 lowercase hex digits")),
    request_body = NoteRequest,
    responses(
        (status = 200, description = "Noted; the case as it stands now", body = CaseView),
        (status = 400, description = "`invalid_parameter` (not a case id) or `invalid_body` (not JSON)", body = ErrorBody),
        (status = 403, description = "`role_not_allowed`: an auditor", body = ErrorBody),
        (status = 404, description = "`case_not_found`", body = ErrorBody),
        (status = 422, description = "`refused` (empty or too long) or `invalid_body`", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NoteRequest>,
) -> Result<Json<CaseView>, ApiError> {
    update(&state, &caller, &id, CaseChange::Note(body.text)).await
}

/// Release the person: when the policy's period has ended
/// (`period_ended`, refused before), or earlier with the decision's reason
/// (`early` with `detail`).
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/release",
    tag = "cases",
    params(("id" = String, Path, description = "16 lowercase hex digits")),
    request_body = ReleaseRequest,
    responses(
        (status = 200, description = "Released; the case as it stands now", body = CaseView),
        (status = 400, description = "`invalid_parameter` (not a case id) or `invalid_body` (not JSON)", body = ErrorBody),
        (status = 403, description = "`role_not_allowed`: an auditor", body = ErrorBody),
        (status = 404, description = "`case_not_found`", body = ErrorBody),
        (status = 422, description = "`refused`: the period has not ended (the message gives the day), an early release without a reason, or already released; `invalid_body`", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReleaseRequest>,
) -> Result<Json<CaseView>, ApiError> {
    let reason =
        match (body.reason, body.detail) {
            (ReleaseKind::PeriodEnded, None) => ReleaseReason::PeriodEnded,
            (ReleaseKind::PeriodEnded, Some(_)) => return Err(unprocessable(
                ErrorCode::InvalidBody,
                "detail: only an early release takes a detail; a period_ended release needs none",
            )),
            (ReleaseKind::Early, detail) => ReleaseReason::Early {
                reason: detail.unwrap_or_default(),
            },
        };
    update(&state, &caller, &id, CaseChange::Release(reason)).await
}

/// Open cases whose follow-up for today nobody has recorded yet.
#[utoipa::path(
    get,
    path = "/v1/follow-ups/today",
    tag = "cases",
    responses(
        (status = 200, description = "The cases due today, by case id", body = DueResponse),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn due_today(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<DueResponse>, ApiError> {
    let (today, due) = state.follow_ups_due(&caller.actor).await?;
    Ok(Json(DueResponse {
        date: today.to_string(),
        due: due.into_iter().map(|c| CaseView::new(c, today)).collect(),
    }))
}
