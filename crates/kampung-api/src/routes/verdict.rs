//! `GET /v1/verdict/{nik}` and `GET /v1/lookup/{nik}`: the verdict on a
//! KTP, one answer for both (and for the CLI and the pages): the policy in
//! force and open isolation cases applied, the documents and heads it was
//! computed from (so that an auditor can replay it), and how fresh our copy
//! of the deciding village is.

use axum::extract::{Path, State};
use axum::Json;
use kampung_core::CheckVerdict;
use kampung_node::{Answer, Freshness};
use kampung_store::crossing::DocHeads;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Caller, ReaderLang};
use crate::error::{ApiError, ErrorBody};
use crate::{openapi::schemas, AppState};
use kampung_i18n::Lang;

/// A verdict, what it means for the officer, and its basis.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerdictResponse {
    #[schema(value_type = schemas::CheckVerdict)]
    pub verdict: CheckVerdict,
    /// The verdict's kind: `resident`, `resident_under_isolation`,
    /// `moved_out`, `deceased`, `non_resident`, `barred` or `invalid`.
    #[schema(example = "barred")]
    pub kind: String,
    /// One line for the officer: what the verdict is and what follows
    /// (for `invalid`, the rule the NIK breaks), in the language the
    /// client asks for with `Accept-Language` (`id` or `en`; default `en`).
    pub explanation: String,
    /// The officer must escalate, not just act (a deceased person's KTP).
    pub alert: bool,
    /// The documents, with their heads, the verdict was computed from.
    #[schema(value_type = Vec<schemas::DocHeads>)]
    pub basis: Vec<DocHeads>,
    /// Version of the policy applied (0: the default, no policy signed yet).
    pub policy_version: u64,
    /// How fresh our copy of the deciding village is (for a verdict from a
    /// village's record); null otherwise.
    pub freshness: Option<Freshness>,
    /// Every village where the NIK is an active resident, when there is
    /// more than one (registered on both sides of a cut network: both
    /// offices must resolve it); else empty.
    #[schema(value_type = Vec<String>, example = json!([]))]
    pub double_registration: Vec<kampung_core::VillageCode>,
}

impl VerdictResponse {
    /// The answer, its explanation in `lang`.
    pub fn new(a: Answer, lang: Lang) -> Self {
        VerdictResponse {
            kind: a.kind().to_string(),
            explanation: a.explanation(lang),
            alert: a.alert(),
            policy_version: a.policy.version,
            verdict: a.verdict,
            basis: a.basis,
            freshness: a.freshness,
            double_registration: a.double_registration,
        }
    }
}

/// The verdict on a NIK, under the policy in force. An invalid NIK is a
/// verdict (200, `invalid`, naming the rule broken), not an error.
#[utoipa::path(
    get,
    path = "/v1/verdict/{nik}",
    tag = "checkpoint",
    params(("nik" = String, Path, description = "16 digits; spaces (any white space), dots and dashes are ignored", example = "5101015203850007")),
    responses(
        (status = 200, description = "The verdict", body = VerdictResponse),
        (status = 401, description = "`unauthenticated`: no session or token", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role may not check KTPs (an operator)", body = ErrorBody),
    )
)]
pub async fn verdict(
    State(state): State<AppState>,
    caller: Caller,
    ReaderLang(lang): ReaderLang,
    Path(nik): Path<String>,
) -> Result<Json<VerdictResponse>, ApiError> {
    Ok(Json(VerdictResponse::new(
        state.verdict(&caller.actor, &nik)?,
        lang,
    )))
}

/// The same verdict as `GET /v1/verdict/{nik}` (the older name).
#[utoipa::path(
    get,
    path = "/v1/lookup/{nik}",
    tag = "lookup",
    params(("nik" = String, Path, description = "16 digits; spaces (any white space), dots and dashes are ignored", example = "3510155203850001")),
    responses(
        (status = 200, description = "The verdict", body = VerdictResponse),
        (status = 401, description = "`unauthenticated`: no session or token", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role may not check KTPs (an operator)", body = ErrorBody),
    )
)]
pub async fn lookup(
    State(state): State<AppState>,
    caller: Caller,
    ReaderLang(lang): ReaderLang,
    Path(nik): Path<String>,
) -> Result<Json<VerdictResponse>, ApiError> {
    Ok(Json(VerdictResponse::new(
        state.verdict(&caller.actor, &nik)?,
        lang,
    )))
}

/// The verdict on an empty NIK (nothing typed): `invalid`, with its rule,
/// as every other front door answers it.
#[utoipa::path(
    get,
    path = "/v1/verdict/",
    tag = "checkpoint",
    responses(
        (status = 200, description = "The verdict: invalid, the NIK is empty", body = VerdictResponse),
        (status = 401, description = "`unauthenticated`: no session or token", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role may not check KTPs (an operator)", body = ErrorBody),
    )
)]
pub async fn verdict_empty(
    state: State<AppState>,
    caller: Caller,
    lang: ReaderLang,
) -> Result<Json<VerdictResponse>, ApiError> {
    verdict(state, caller, lang, Path(String::new())).await
}

/// The same as `GET /v1/verdict/` (the older name).
#[utoipa::path(
    get,
    path = "/v1/lookup/",
    tag = "lookup",
    responses(
        (status = 200, description = "The verdict: invalid, the NIK is empty", body = VerdictResponse),
        (status = 401, description = "`unauthenticated`: no session or token", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role may not check KTPs (an operator)", body = ErrorBody),
    )
)]
pub async fn lookup_empty(
    state: State<AppState>,
    caller: Caller,
    lang: ReaderLang,
) -> Result<Json<VerdictResponse>, ApiError> {
    verdict(state, caller, lang, Path(String::new())).await
}
