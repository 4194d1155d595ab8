//! A crossing as one value: the form every crossing takes since crossing
//! format 2.
//!
//! A crossing used to be a map of up to sixteen fields and a map of lists
//! for its basis: about fourteen Automerge operations. Automerge 0.12 pays
//! for each operation it inserts, in CPU (the store thread's) and in memory
//! (a checkpoint holds its current month whole). A month of 93,000
//! crossings took 66-76 s to log and 33.5 MB of disk as maps, the process
//! 203-302 MB of memory at the month's end; as values, one operation each,
//! 41-44 s, 28.7 MB and 169-246 MB (three runs each; what is left is mostly
//! each change's own metadata and signature). Nothing is lost: a crossing
//! is written once and never edited, so no field of it ever needed merging
//! on its own.
//!
//! The value is a JSON array, so that any Automerge implementation reads it
//! with its JSON parser (docs/documents.md):
//!
//! ```text
//! [2, at, nik, verdict, decision, decision_village, found, issued, rule, case,
//!  officer_id, officer, note, policy, state, { "<doc id>": ["<head hex>", ...] }, explain]
//! ```
//!
//! with the meanings of the map form's fields (`at` in UTC milliseconds,
//! `decision_village` the village house's village of an
//! `isolation_village_house` decision, `null` for a field a crossing lacks,
//! `explain` empty in every crossing this version logs). The leading 2 is
//! the format; a later format appends fields, and a reader takes the ones it
//! knows.

use kampung_core::VillageCode;
use serde_json::{json, Map, Value};

use super::{Crossing, Decision, DocHeads};

/// The crossing format this code writes.
pub const FORMAT: u64 = 2;

/// Fields of format 2, the format number included.
const FIELDS: usize = 17;

/// `c`, made on registry state `state` (`c.state` is not read), as the
/// value a crossing log keeps.
pub fn encode(c: &Crossing, state: Option<u64>) -> String {
    let village = match &c.decision {
        Decision::IsolationVillageHouse { village } => Some(village.to_string()),
        _ => None,
    };
    let basis: Map<String, Value> = c
        .basis
        .iter()
        .map(|b| (b.doc.clone(), json!(b.heads)))
        .collect();
    json!([
        FORMAT,
        c.at_ms,
        c.nik,
        c.verdict,
        c.decision.kind(),
        village,
        c.found_in.map(|v| v.to_string()),
        c.issued_in,
        c.rule,
        c.case_id,
        c.officer_id,
        c.officer,
        c.note,
        c.policy,
        state,
        basis,
        c.explanation,
    ])
    .to_string()
}

/// The crossing a value holds; `Err` names the field that is missing or
/// malformed.
pub fn decode(value: &str) -> Result<Crossing, &'static str> {
    let Ok(Value::Array(f)) = serde_json::from_str::<Value>(value) else {
        return Err("entry");
    };
    if f.len() < FIELDS {
        return Err("entry");
    }
    if f[0].as_u64().is_none_or(|v| v < FORMAT) {
        return Err("format");
    }
    let text = |i: usize, field| f[i].as_str().map(str::to_string).ok_or(field);
    let optional = |i: usize, field| match &f[i] {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(field),
    };
    let number = |i: usize, field| match &f[i] {
        Value::Null => Ok(None),
        v => v.as_u64().map(Some).ok_or(field),
    };
    let decision = Decision::from_parts(&text(4, "decision")?, optional(5, "village")?.as_deref())
        .ok_or("decision")?;
    let found_in = match optional(6, "found")? {
        Some(v) => Some(VillageCode::parse(&v).map_err(|_| "found")?),
        None => None,
    };
    let Value::Object(basis) = &f[15] else {
        return Err("basis");
    };
    let basis = basis
        .iter()
        .map(|(doc, heads)| {
            let heads = heads
                .as_array()
                .ok_or("basis")?
                .iter()
                .map(|h| h.as_str().map(str::to_string).ok_or("basis"))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(DocHeads {
                doc: doc.clone(),
                heads,
            })
        })
        .collect::<Result<Vec<_>, &'static str>>()?;
    Ok(Crossing {
        at_ms: f[1].as_i64().ok_or("at")?,
        nik: text(2, "nik")?,
        verdict: text(3, "verdict")?,
        decision,
        found_in,
        issued_in: optional(7, "issued")?,
        rule: optional(8, "rule")?,
        case_id: optional(9, "case")?,
        officer_id: optional(10, "officer_id")?,
        officer: optional(11, "officer")?,
        note: optional(12, "note")?,
        policy: number(13, "policy")?,
        state: number(14, "state")?,
        basis,
        explanation: text(16, "explain")?,
    })
}
