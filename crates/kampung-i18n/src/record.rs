//! Why a record, a village code or a row of a clerk's file is refused.

use kampung_core::banyuwangi::VillageCodeError;
use kampung_core::resident::{FieldProblem, RecordError, MAX_TEXT};
use kampung_core::Status;

use crate::{nik_error, t, tr, Lang};

/// What is wrong with a field of a record.
pub fn field_problem(lang: Lang, p: &FieldProblem) -> String {
    match p {
        FieldProblem::Empty => t(lang, "record-empty"),
        FieldProblem::TooLong { chars } => tr(
            lang,
            "record-too_long",
            &[
                ("chars", chars.to_string().into()),
                ("max", MAX_TEXT.to_string().into()),
            ],
        ),
        FieldProblem::ControlCharacter => t(lang, "record-control_character"),
        FieldProblem::BidiControl => t(lang, "record-bidi_control"),
        FieldProblem::Invisible => t(lang, "record-invisible"),
        FieldProblem::Not16Digits(value) => tr(
            lang,
            "record-not_16_digits",
            &[("value", value.as_str().into())],
        ),
        FieldProblem::OutOfRange(value) => tr(
            lang,
            "record-out_of_range",
            &[("value", value.to_string().into())],
        ),
        FieldProblem::BeforeBirth { date, born } => tr(
            lang,
            "record-before_birth",
            &[
                ("date", crate::date(lang, *date).into()),
                ("born", crate::date(lang, *born).into()),
            ],
        ),
        // A rule added to the core but not yet to the catalogue.
        other => other.to_string(),
    }
}

/// Why a record breaks a rule (its field is told apart, as a column).
pub fn record_error(lang: Lang, e: &RecordError) -> String {
    match e {
        RecordError::Nik(n) => nik_error(lang, n),
        RecordError::Field { problem, .. } => field_problem(lang, problem),
        other => other.to_string(),
    }
}

/// Why a text is not one of Banyuwangi's village codes.
pub fn village_code_error(lang: Lang, e: &VillageCodeError) -> String {
    match e {
        VillageCodeError::Malformed(s) => {
            tr(lang, "village-malformed", &[("code", s.as_str().into())])
        }
        VillageCodeError::OutsideBanyuwangi(s) => {
            tr(lang, "village-outside", &[("code", s.as_str().into())])
        }
        VillageCodeError::Unknown(c) => {
            tr(lang, "village-unknown", &[("code", c.to_string().into())])
        }
        other => other.to_string(),
    }
}

/// A resident's status as a clerk reads it: `pindah ke Jember`.
pub fn status(lang: Lang, s: &Status) -> String {
    match s {
        Status::Active => t(lang, "status-active"),
        Status::MovedOut {
            destination,
            date: None,
        } => tr(
            lang,
            "status-moved_out-to",
            &[("to", destination.as_str().into())],
        ),
        Status::MovedOut {
            destination,
            date: Some(d),
        } => tr(
            lang,
            "status-moved_out-to-on",
            &[
                ("to", destination.as_str().into()),
                ("date", crate::date(lang, *d).into()),
            ],
        ),
        Status::Deceased { date: Some(d) } => tr(
            lang,
            "status-deceased-on",
            &[("date", crate::date(lang, *d).into())],
        ),
        Status::Deceased { date: None } => t(lang, "status-deceased"),
    }
}
