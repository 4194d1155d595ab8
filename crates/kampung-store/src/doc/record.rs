//! A resident's record as one value: the form every write takes since
//! record format 2.
//!
//! A record used to be a map of twelve fields, one Automerge operation
//! each. Automerge 0.12 pays about 13 µs of CPU for every operation it
//! inserts (splicing its columnar op set): 8,000 records of eleven
//! operations took 1.13 s, of one operation 0.09 s, and one change per 64
//! records instead of one per record saved almost nothing (1.09 s). The
//! regency's import went from 179 s to 26 s on 2 cores (BENCHMARKS.md). What it
//! gives up is merging two concurrent edits of *different fields of the
//! same record* field by field: only the village's own devices write its
//! document, and of two edits made at once to one record, one whole record
//! wins (the same on every replica, by Automerge's rule for a key written
//! twice), where before each field did. Both stay in the history.
//!
//! The value is a JSON array, so that any Automerge implementation reads it
//! with its JSON parser (docs/documents.md):
//!
//! ```text
//! [2, name, sex, birth, kk, dusun, rt, rw, status, moved_to, moved_on, died_on, updated]
//! ```
//!
//! with the types and meanings of the map form's fields (days as Julian day
//! numbers, 0 not known; `updated` in UTC milliseconds). The leading 2 is the
//! format. A later format appends fields: a reader takes the ones it knows
//! and ignores the rest, so an older node still reads a newer record.

use kampung_core::resident::StatusKind;
use kampung_core::{Address, Nik, Resident, Sex, Status};
use serde_json::Value;

use super::{julian, status_parts, DocError};

/// The record format this code writes.
pub const FORMAT: u64 = 2;

/// Fields of format 2, the format number included.
const FIELDS: usize = 13;

/// `r` as the value a village document keeps under its NIK.
pub fn encode(r: &Resident, updated_ms: i64) -> String {
    let (status, moved_to, moved_on, died_on) = status_parts(&r.status);
    let day = |d: Option<time::Date>| d.map_or(0, |d| i64::from(d.to_julian_day()));
    serde_json::json!([
        FORMAT,
        r.full_name,
        r.sex.code(),
        i64::from(r.birth_date.to_julian_day()),
        r.family_card,
        r.address.dusun,
        r.address.rt,
        r.address.rw,
        status.as_str(),
        moved_to,
        day(moved_on),
        day(died_on),
        updated_ms,
    ])
    .to_string()
}

/// The record a value under `nik` holds, of `village`.
pub fn decode(
    nik: Nik,
    village: kampung_core::VillageCode,
    value: &str,
) -> Result<Resident, DocError> {
    let bad = |field| DocError::BadRecord {
        nik: nik.to_string(),
        field,
    };
    let Ok(Value::Array(fields)) = serde_json::from_str::<Value>(value) else {
        return Err(bad("record"));
    };
    if fields.len() < FIELDS {
        return Err(bad("record"));
    }
    if fields[0].as_u64().is_none_or(|f| f < FORMAT) {
        return Err(bad("format"));
    }
    let text = |i: usize, field| {
        fields[i]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| bad(field))
    };
    let int = |i: usize, field| fields[i].as_i64().ok_or_else(|| bad(field));
    let small = |i: usize, field| {
        fields[i]
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| bad(field))
    };
    let day = |i: usize, field| match int(i, field)? {
        0 => Ok(None),
        d => julian(d).map(Some).ok_or_else(|| bad(field)),
    };
    let status = match StatusKind::parse(&text(8, "status")?).ok_or_else(|| bad("status"))? {
        StatusKind::Active => Status::Active,
        StatusKind::MovedOut => Status::MovedOut {
            destination: text(9, "moved_to")?,
            date: day(10, "moved_on")?,
        },
        StatusKind::Deceased => Status::Deceased {
            date: day(11, "died_on")?,
        },
    };
    Ok(Resident {
        nik,
        full_name: text(1, "name")?,
        sex: Sex::parse(&text(2, "sex")?).ok_or_else(|| bad("sex"))?,
        birth_date: day(3, "birth")?.ok_or_else(|| bad("birth"))?,
        family_card: text(4, "kk")?,
        address: Address {
            dusun: text(5, "dusun")?,
            rt: small(6, "rt")?,
            rw: small(7, "rw")?,
        },
        village,
        status,
        updated_at_ms: int(12, "updated")?,
    })
}

#[cfg(test)]
mod tests;
