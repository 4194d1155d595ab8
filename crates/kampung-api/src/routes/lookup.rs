//! `GET /v1/lookup/{nik}`: the verdict from the local index, with how fresh
//! our copy of the deciding village's document is.

use axum::extract::{Path, State};
use axum::Json;
use kampung_core::{Verdict, VillageCode};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{now_ms, openapi::schemas, AppState};

/// A verdict, a paragraph for the officer, and how fresh it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct LookupResponse {
    #[schema(value_type = schemas::Verdict)]
    pub verdict: Verdict,
    /// One paragraph for a person at a desk.
    pub explanation: String,
    /// For a verdict from a village's record (resident, moved out, deceased);
    /// null otherwise.
    pub freshness: Option<Freshness>,
}

/// How fresh our copy of a village's document is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Freshness {
    /// The document, `v/35.10.15.2012`.
    pub doc: String,
    /// This node writes the document: always current.
    pub own_document: bool,
    /// Seconds since we last heard from the village's node (directly or by gossip); null if never.
    pub owner_last_heard_secs: Option<f64>,
}

fn freshness(state: &AppState, village: VillageCode) -> Freshness {
    let doc = format!("v/{village}");
    let own = state.own_village == Some(village);
    let heard = state.mesh.heard_from_owner(&doc);
    Freshness {
        owner_last_heard_secs: if own {
            Some(0.0)
        } else {
            heard.map(|ms| now_ms().saturating_sub(ms) as f64 / 1000.0)
        },
        own_document: own,
        doc,
    }
}

fn verdict_village(v: &Verdict) -> Option<VillageCode> {
    match v {
        Verdict::Resident { village, .. }
        | Verdict::MovedOut { village, .. }
        | Verdict::Deceased { village, .. } => Some(*village),
        _ => None,
    }
}

/// The verdict on a NIK. An invalid NIK is a verdict (200, `invalid`, naming
/// the rule broken), not an error.
#[utoipa::path(
    get,
    path = "/v1/lookup/{nik}",
    tag = "lookup",
    params(("nik" = String, Path, description = "16 digits; spaces, dots and dashes are ignored", example = "3510155203850001")),
    responses(
        (status = 200, description = "The verdict", body = LookupResponse),
    )
)]
pub async fn lookup(
    State(state): State<AppState>,
    Path(nik): Path<String>,
) -> Json<LookupResponse> {
    // From the store's shared lookups, on this thread: no queueing behind writes.
    let verdict = state.store.lookups().read().lookup(&nik);
    state.metrics.verdict(verdict.kind());
    let freshness = verdict_village(&verdict).map(|v| freshness(&state, v));
    Json(LookupResponse {
        explanation: verdict.explain(),
        verdict,
        freshness,
    })
}
