//! The checkpoint's crossing log: every check at the post, with the verdict
//! computed at that moment, the officer's decision and the document heads
//! the verdict was computed from, so that an auditor can replay it. A
//! checkpoint writes only its own log; every node reads every log it holds.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use kampung_core::{Pledge, VillageCode};
use kampung_node::CrossingInput;
use kampung_store::crossing::{Crossing, Decision, DocHeads};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::residents::number;
use crate::auth::{Caller, ReaderLang};
use crate::error::{ApiError, ApiJson, ApiQuery, ErrorBody, ErrorCode};
use crate::{openapi::schemas, AppState};

/// Crossings per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 100;
/// Crossings per page at most.
pub const MAX_LIMIT: usize = 1000;

/// What the officer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    AllowedIn,
    TurnedBack,
    IsolationGor,
    /// Needs `village`.
    IsolationVillageHouse,
    /// Needs `address` to open a case.
    IsolationHome,
    /// Needs `pledge` to open a case.
    PickedUpByFamily,
}

impl DecisionKind {
    fn of(d: &Decision) -> DecisionKind {
        match d {
            Decision::AllowedIn => DecisionKind::AllowedIn,
            Decision::TurnedBack => DecisionKind::TurnedBack,
            Decision::IsolationGor => DecisionKind::IsolationGor,
            Decision::IsolationVillageHouse { .. } => DecisionKind::IsolationVillageHouse,
            Decision::IsolationHome => DecisionKind::IsolationHome,
            Decision::PickedUpByFamily => DecisionKind::PickedUpByFamily,
        }
    }
}

/// One check at the post, as the officer sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrossingRequest {
    /// The NIK as typed or scanned (an invalid one is logged too).
    #[schema(example = "3509154203900002")]
    pub nik: String,
    pub decision: DecisionKind,
    /// The village of the isolation house, for `isolation_village_house`.
    #[schema(example = "35.10.15.2012")]
    pub village: Option<String>,
    /// The home address, to open a case with `isolation_home`.
    pub address: Option<String>,
    /// The signed pledge, to open a case with `picked_up_by_family`.
    #[schema(value_type = Option<schemas::Pledge>)]
    pub pledge: Option<Pledge>,
    /// The person's name for a new case (default: the registry's, if any).
    pub person_name: Option<String>,
    pub note: Option<String>,
    /// An existing isolation case this crossing refers to (default: the
    /// open case the verdict found, if any).
    pub case_id: Option<String>,
    /// Open an isolation case first, placed as the decision says
    /// (isolation decisions only), and log its id.
    #[serde(default)]
    pub open_case: bool,
}

/// One logged check.
#[derive(Debug, Serialize, ToSchema)]
pub struct CrossingView {
    /// Unix ms.
    pub at_ms: i64,
    /// As typed or scanned.
    pub nik: String,
    /// The verdict's kind.
    #[schema(example = "non_resident")]
    pub verdict: String,
    /// The verdict in one line, in the reader's language (`Accept-Language`:
    /// `id` or `en`), made from the codes the log keeps: it names no one.
    /// Crossings logged before the log kept codes give the officer's
    /// English line as it was.
    pub explanation: String,
    pub decision: DecisionKind,
    /// The isolation house's village, for `isolation_village_house`.
    pub village: Option<String>,
    /// The isolation case opened or referred to.
    pub case_id: Option<String>,
    /// The officer who decided (the person signed in; null when the node's
    /// own machine logged it).
    pub officer: Option<String>,
    /// The officer's account id on the checkpoint.
    pub officer_id: Option<String>,
    pub note: Option<String>,
    /// The documents, with their heads, the verdict was computed from.
    #[schema(value_type = Vec<schemas::DocHeads>)]
    pub basis: Vec<DocHeads>,
}

impl CrossingView {
    /// A logged crossing with its explanation in `lang` (made from the
    /// codes the log keeps).
    pub fn new(c: Crossing, lang: kampung_i18n::Lang) -> Self {
        let village = match &c.decision {
            Decision::IsolationVillageHouse { village } => Some(village.to_string()),
            _ => None,
        };
        let explanation = kampung_node::crossing_explanation(lang, &c);
        CrossingView {
            at_ms: c.at_ms,
            nik: c.nik,
            verdict: c.verdict,
            explanation,
            decision: DecisionKind::of(&c.decision),
            village,
            case_id: c.case_id,
            officer: c.officer,
            officer_id: c.officer_id,
            note: c.note,
            basis: c.basis,
        }
    }
}

/// What logging a crossing did.
#[derive(Debug, Serialize, ToSchema)]
pub struct CrossingResponse {
    /// This checkpoint's peer id: its log is `GET /v1/crossings?checkpoint=` this.
    pub checkpoint: String,
    pub crossing: CrossingView,
    /// The verdict must be escalated (a deceased person's KTP).
    pub alert: bool,
    /// The case this request opened, if it opened one (also in `crossing.case_id`).
    pub opened_case: Option<String>,
}

/// The decision, with its village for a village house.
fn decision(body: &CrossingRequest) -> Result<Decision, ApiError> {
    let unprocessable =
        |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidBody, m);
    let village = body
        .village
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty());
    match (body.decision, village) {
        (DecisionKind::IsolationVillageHouse, Some(v)) => Ok(Decision::IsolationVillageHouse {
            village: VillageCode::parse(v).map_err(|e| unprocessable(format!("village: {e}")))?,
        }),
        (DecisionKind::IsolationVillageHouse, None) => Err(unprocessable(
            "village: isolation_village_house needs the village of the house, e.g. \"village\": \"35.10.15.2012\"".into(),
        )),
        (_, Some(_)) => Err(unprocessable(
            "village: only an isolation_village_house decision takes a village".into(),
        )),
        (DecisionKind::AllowedIn, None) => Ok(Decision::AllowedIn),
        (DecisionKind::TurnedBack, None) => Ok(Decision::TurnedBack),
        (DecisionKind::IsolationGor, None) => Ok(Decision::IsolationGor),
        (DecisionKind::IsolationHome, None) => Ok(Decision::IsolationHome),
        (DecisionKind::PickedUpByFamily, None) => Ok(Decision::PickedUpByFamily),
    }
}

/// Log a check at this checkpoint. The node computes the verdict itself, now
/// (as `GET /v1/verdict/{nik}`), and logs it with the officer's decision and
/// the heads it was computed from. With `open_case` and an isolation
/// decision it first opens an isolation case (the policy's days, origin from
/// the NIK, placed as decided) and logs its id. Durable and announced when
/// answered.
#[utoipa::path(
    post,
    path = "/v1/crossings",
    tag = "checkpoint",
    request_body = CrossingRequest,
    responses(
        (status = 200, description = "Logged, durable and announced", body = CrossingResponse),
        (status = 400, description = "`invalid_body`: not JSON", body = ErrorBody),
        (status = 403, description = "`role_not_allowed`: not a checkpoint node", body = ErrorBody),
        (status = 409, description = "`case_open`: `open_case` for a person who has an open case", body = ErrorBody),
        (status = 422, description = "`invalid_body` (a field is missing, malformed or does not fit the decision), `invalid_nik` (`open_case` with an invalid NIK) or `refused` (e.g. a note too long)", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn record(
    State(state): State<AppState>,
    caller: Caller,
    ReaderLang(lang): ReaderLang,
    ApiJson(body): ApiJson<CrossingRequest>,
) -> Result<Json<CrossingResponse>, ApiError> {
    state.require_checkpoint()?;
    let decision = decision(&body)?;
    let input = CrossingInput {
        nik: body.nik,
        decision,
        address: body.address,
        pledge: body.pledge,
        person_name: body.person_name,
        note: body.note,
        case_id: body.case_id,
        open_case: body.open_case,
    };
    let logged = state.log_crossing(&caller.actor, input).await?;
    Ok(Json(CrossingResponse {
        checkpoint: logged.checkpoint,
        alert: logged.answer.alert(),
        crossing: CrossingView::new(logged.crossing, lang),
        opened_case: logged.opened_case,
    }))
}

/// The query string of a crossing log listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// The checkpoint's peer id (default: this node, if it is a checkpoint).
    checkpoint: Option<String>,
    /// Crossings to skip, newest first.
    #[param(value_type = Option<u64>, minimum = 0, default = 0)]
    offset: Option<String>,
    /// Crossings per page.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000, default = 100)]
    limit: Option<String>,
}

/// A page of a checkpoint's crossing log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CrossingsPage {
    /// The checkpoint's peer id.
    pub checkpoint: String,
    /// Crossings in the log (as this node holds it).
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub items: Vec<CrossingView>,
}

/// A checkpoint's crossing log as this node holds it (every node holds a
/// replica of every checkpoint's log), newest first.
#[utoipa::path(
    get,
    path = "/v1/crossings",
    tag = "checkpoint",
    params(LogParams),
    responses(
        (status = 200, description = "One page of the log (empty if this node holds no log of that checkpoint)", body = CrossingsPage),
        (status = 400, description = "`invalid_parameter`: the message and `parameter` name the query parameter at fault", body = ErrorBody),
        (status = 500, description = "`store`", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ReaderLang(lang): ReaderLang,
    ApiQuery(q): ApiQuery<LogParams>,
) -> Result<Json<CrossingsPage>, ApiError> {
    let offset = number("offset", q.offset.as_deref(), 0, 0, usize::MAX)?;
    let limit = number("limit", q.limit.as_deref(), DEFAULT_LIMIT, 1, MAX_LIMIT)?;
    let page = state
        .crossings_page(&caller.actor, q.checkpoint.as_deref(), offset, limit)
        .await?;
    Ok(Json(CrossingsPage {
        checkpoint: page.checkpoint,
        total: page.total,
        offset,
        limit,
        items: page
            .items
            .into_iter()
            .map(|c| CrossingView::new(c, lang))
            .collect(),
    }))
}
