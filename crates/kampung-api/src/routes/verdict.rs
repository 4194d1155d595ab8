//! `GET /v1/verdict/{nik}`: the checkpoint verdict. Unlike `/v1/lookup` it
//! applies the policy in force (barred regions, isolation days) and open
//! isolation cases, and names the documents and heads it was computed from,
//! so that an auditor can replay it.

use axum::extract::{Path, State};
use axum::Json;
use std::time::Duration;

use kampung_core::{CheckVerdict, Policy, VillageCode};
use kampung_store::crossing::DocHeads;
use kampung_store::DocId;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{openapi::schemas, AppState};

/// A checkpoint verdict, what it means for the officer, and its basis.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerdictResponse {
    #[schema(value_type = schemas::CheckVerdict)]
    pub verdict: CheckVerdict,
    /// The verdict's kind: `resident`, `resident_under_isolation`,
    /// `moved_out`, `deceased`, `non_resident`, `barred` or `invalid`.
    #[schema(example = "barred")]
    pub kind: String,
    /// One line for the officer: what the verdict is and what follows
    /// (for `invalid`, the rule the NIK breaks).
    pub explanation: String,
    /// The officer must escalate, not just act (a deceased person's KTP).
    pub alert: bool,
    /// The documents, with their heads, the verdict was computed from.
    #[schema(value_type = Vec<schemas::DocHeads>)]
    pub basis: Vec<DocHeads>,
    /// Version of the policy applied (0: the default, no policy signed yet).
    pub policy_version: u64,
}

/// A verdict as computed, with the policy it applied.
#[derive(Debug)]
pub(crate) struct Checked {
    pub verdict: CheckVerdict,
    pub basis: Vec<DocHeads>,
    pub policy: Policy,
}

impl Checked {
    pub(crate) fn response(self) -> VerdictResponse {
        VerdictResponse {
            kind: self.verdict.kind().to_string(),
            explanation: self.verdict.explain(),
            alert: self.verdict.is_alert(),
            verdict: self.verdict,
            basis: self.basis,
            policy_version: self.policy.version,
        }
    }
}

/// Compute the checkpoint verdict on `input` now, under the policy in force.
/// It reads the store's shared lookups on this thread: a verdict never
/// queues behind the store's writes.
pub(crate) fn check(state: &AppState, input: &str) -> Checked {
    let now = u64::try_from(state.clock.now_ms()).unwrap_or(0);
    // How old our copy of each village is: when we last heard from its node
    // (the mesh's shared map); our own is current.
    let heard = state.mesh.heard();
    let age = |v: VillageCode| {
        if state.own_village == Some(v) {
            return Some(Duration::ZERO);
        }
        let ms = heard
            .read()
            .ok()?
            .get(&DocId::village(v).to_string())
            .copied()?;
        Some(Duration::from_millis(now.saturating_sub(ms)))
    };
    let policy = state.policy();
    let (verdict, basis) = state
        .store
        .lookups()
        .read()
        .check_verdict(input, &policy, age);
    Checked {
        verdict,
        basis,
        policy,
    }
}

/// The checkpoint verdict on a NIK, under the policy in force. An invalid
/// NIK is a verdict (200, `invalid`, naming the rule broken), not an error.
#[utoipa::path(
    get,
    path = "/v1/verdict/{nik}",
    tag = "checkpoint",
    params(("nik" = String, Path, description = "16 digits; spaces, dots and dashes are ignored", example = "5101015203850007")),
    responses(
        (status = 200, description = "The verdict", body = VerdictResponse),
    )
)]
pub async fn verdict(
    State(state): State<AppState>,
    Path(nik): Path<String>,
) -> Json<VerdictResponse> {
    let checked = check(&state, &nik);
    state.metrics.verdict(checked.verdict.kind());
    Json(checked.response())
}
