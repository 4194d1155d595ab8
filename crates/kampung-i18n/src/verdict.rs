//! The verdict on a KTP, as people read it: a title (the big word at the
//! gate) and one line of detail, in the reader's language.

use std::time::Duration;

use kampung_core::banyuwangi::{self, VillageKind};
use kampung_core::nik::IssuedIn;
use kampung_core::{CheckVerdict, NikError, NikWarning, Place, Sex, VillageCode};

use crate::{age, has, t, tr, Arg, Lang};

/// A verdict for the officer: what it is in one word or two, and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headline {
    /// `WARGA BANYUWANGI`, `DILARANG MASUK`, ...
    pub title: String,
    /// Who, where, how fresh, what follows.
    pub detail: String,
}

fn village_name(lang: Lang, v: VillageCode) -> String {
    match banyuwangi::village(v) {
        Some(v) => match (lang, v.kind) {
            (Lang::Id, VillageKind::Kelurahan) => format!("Kelurahan {}", v.name),
            (Lang::Id, _) => format!("Desa {}", v.name),
            (Lang::En, _) => v.name.to_string(),
        },
        None => t(lang, "unknown-village"),
    }
}

/// A NIK active in more than one village (registered on both sides of a
/// cut network): which, and what the offices must do. Empty for one.
pub fn double_registration(lang: Lang, villages: &[VillageCode]) -> String {
    if villages.len() < 2 {
        return String::new();
    }
    let names: Vec<String> = villages
        .iter()
        .map(|v| {
            let district = banyuwangi::village(*v).map_or("?", |v| v.district_name);
            tr(
                lang,
                "double-village",
                &[
                    ("village", village_name(lang, *v).into()),
                    ("district", district.into()),
                ],
            )
        })
        .collect();
    tr(
        lang,
        "double-registration",
        &[
            (
                "count",
                u32::try_from(villages.len()).unwrap_or(u32::MAX).into(),
            ),
            ("villages", names.join(", ").into()),
        ],
    )
}

fn copy(lang: Lang, village: VillageCode, copy_age_ms: Option<u64>) -> String {
    let name = banyuwangi::village(village).map_or("?", |v| v.name);
    match copy_age_ms {
        Some(ms) => tr(
            lang,
            "copy-age",
            &[
                ("village", name.into()),
                ("age", age(lang, Duration::from_millis(ms)).into()),
            ],
        ),
        None => tr(lang, "copy-never", &[("village", name.into())]),
    }
}

fn origin(lang: Lang, i: &IssuedIn) -> String {
    tr(
        lang,
        "origin",
        &[
            ("regency", i.regency_name.into()),
            ("province", i.province_name.into()),
            (
                "code",
                format!("{:02}.{:02}", i.regency_code / 100, i.regency_code % 100).into(),
            ),
        ],
    )
}

fn requirement(lang: Lang, days: u32) -> String {
    match days {
        0 => t(lang, "requirement-none"),
        n => tr(lang, "requirement-days", &[("days", n.into())]),
    }
}

/// Where a person under isolation is held.
pub fn place(lang: Lang, p: &Place) -> String {
    match p {
        Place::Gor => t(lang, "place-gor"),
        Place::VillageHouse { village } => tr(
            lang,
            "place-village_house",
            &[
                (
                    "village",
                    banyuwangi::village(*village)
                        .map_or_else(|| t(lang, "unknown-village"), |v| v.name.to_string())
                        .into(),
                ),
                ("code", village.to_string().into()),
            ],
        ),
        Place::Home { address } => tr(lang, "place-home", &[("address", address.as_str().into())]),
        Place::FamilyPickup { pledge } => tr(
            lang,
            "place-family_pickup",
            &[
                ("name", pledge.picked_up_by.as_str().into()),
                ("relation", pledge.relation.as_str().into()),
                ("phone", pledge.phone.as_str().into()),
            ],
        ),
    }
}

/// A sex as people read it: `perempuan (P)`.
pub fn sex(lang: Lang, s: Sex) -> String {
    t(lang, &format!("sex-{}", s.code()))
}

/// Why a NIK is invalid: the rule it breaks.
pub fn nik_error(lang: Lang, e: &NikError) -> String {
    let two = |n: u8| format!("{n:02}");
    match e {
        NikError::Empty => t(lang, "nik-empty"),
        NikError::NotADigit { ch, position } => tr(
            lang,
            "nik-not_a_digit",
            &[
                ("ch", ch.escape_debug().to_string().into()),
                ("position", position.to_string().into()),
            ],
        ),
        NikError::Length { found } => {
            tr(lang, "nik-length", &[("found", found.to_string().into())])
        }
        NikError::UnknownProvince { code } => {
            tr(lang, "nik-unknown_province", &[("code", two(*code).into())])
        }
        NikError::RegencyOutOfRange { code } => tr(
            lang,
            "nik-regency_out_of_range",
            &[("code", two(*code).into())],
        ),
        NikError::UnknownRegency {
            province,
            regency,
            province_name,
        } => tr(
            lang,
            "nik-unknown_regency",
            &[
                ("province", two(*province).into()),
                ("regency", two(*regency).into()),
                ("province_name", (*province_name).into()),
            ],
        ),
        NikError::BadDay { day } => tr(lang, "nik-bad_day", &[("day", two(*day).into())]),
        NikError::BadMonth { month } => tr(lang, "nik-bad_month", &[("month", two(*month).into())]),
        NikError::ImpossibleDate { day, month, year } => tr(
            lang,
            "nik-impossible_date",
            &[("date", format!("{day:02}-{month:02}-{year}").into())],
        ),
        NikError::SerialZero => t(lang, "nik-serial_zero"),
        // A rule added to the core but not yet to the catalogue.
        other => other.to_string(),
    }
}

/// Something odd about a NIK that does not make it invalid.
pub fn nik_warning(lang: Lang, w: &NikWarning) -> String {
    match w {
        NikWarning::UnknownDistrict { regency, district } => tr(
            lang,
            "warning-unknown_district",
            &[
                ("district", format!("{district:02}").into()),
                (
                    "regency",
                    format!("{}.{:02}", regency / 100, regency % 100).into(),
                ),
            ],
        ),
        NikWarning::BirthDateDiffers { nik, registry } => tr(
            lang,
            "warning-birth_date_differs",
            &[
                ("nik", nik.to_string().into()),
                ("registry", registry.to_string().into()),
            ],
        ),
        NikWarning::SexDiffers { nik, registry } => tr(
            lang,
            "warning-sex_differs",
            &[
                ("nik", sex(lang, *nik).into()),
                ("registry", sex(lang, *registry).into()),
            ],
        ),
        other => format!("{other}"),
    }
}

fn warnings(lang: Lang, detail: &mut String, ws: &[NikWarning]) {
    for w in ws {
        detail.push(' ');
        detail.push_str(&tr(
            lang,
            "verdict-warning",
            &[("text", nik_warning(lang, w).into())],
        ));
    }
}

/// The verdict as a title and a detail line.
pub fn headline(lang: Lang, v: &CheckVerdict) -> Headline {
    let kind = v.kind();
    let title = t(lang, &format!("verdict-{kind}-title"));
    let key = format!("verdict-{kind}-detail");
    let code = |c: &VillageCode| Arg::from(c.to_string());
    let detail = match v {
        CheckVerdict::Resident {
            village,
            district_name,
            full_name,
            copy_age_ms,
            warnings: ws,
            ..
        } => {
            let mut d = tr(
                lang,
                &key,
                &[
                    ("name", full_name.as_str().into()),
                    ("village", village_name(lang, *village).into()),
                    ("code", code(village)),
                    ("district", (*district_name).into()),
                    ("copy", copy(lang, *village, *copy_age_ms).into()),
                ],
            );
            warnings(lang, &mut d, ws);
            d
        }
        CheckVerdict::ResidentUnderIsolation {
            case_id,
            place: p,
            full_name,
            ..
        } => tr(
            lang,
            &key,
            &[
                (
                    "name",
                    full_name
                        .clone()
                        .unwrap_or_else(|| t(lang, "verdict-someone"))
                        .into(),
                ),
                ("case", case_id.as_str().into()),
                ("place", place(lang, p).into()),
            ],
        ),
        CheckVerdict::MovedOut {
            village,
            full_name,
            destination,
            copy_age_ms,
            isolation_days,
            ..
        } => tr(
            lang,
            &key,
            &[
                ("name", full_name.as_str().into()),
                ("village", village_name(lang, *village).into()),
                ("code", code(village)),
                (
                    "destination",
                    if destination.is_empty() {
                        t(lang, "verdict-unrecorded-place").into()
                    } else {
                        destination.as_str().into()
                    },
                ),
                ("requirement", requirement(lang, *isolation_days).into()),
                ("copy", copy(lang, *village, *copy_age_ms).into()),
            ],
        ),
        CheckVerdict::Deceased {
            village,
            full_name,
            open_case,
            ..
        } => {
            let mut d = tr(
                lang,
                &key,
                &[
                    ("name", full_name.as_str().into()),
                    ("village", village_name(lang, *village).into()),
                    ("code", code(village)),
                ],
            );
            if let Some(c) = open_case {
                d.push(' ');
                d.push_str(&tr(
                    lang,
                    "verdict-deceased-case",
                    &[
                        ("case", c.case_id.as_str().into()),
                        ("place", place(lang, &c.place).into()),
                    ],
                ));
            }
            d
        }
        CheckVerdict::NonResident {
            issued_in,
            isolation_days,
            warnings: ws,
        } => {
            let mut d = tr(
                lang,
                &key,
                &[
                    ("origin", origin(lang, issued_in).into()),
                    ("requirement", requirement(lang, *isolation_days).into()),
                ],
            );
            warnings(lang, &mut d, ws);
            d
        }
        CheckVerdict::Barred {
            issued_in,
            region,
            region_name,
        } => tr(
            lang,
            &key,
            &[
                ("origin", origin(lang, issued_in).into()),
                ("region_name", (*region_name).into()),
                ("region", region.to_string().into()),
            ],
        ),
        CheckVerdict::Invalid { error, .. } => {
            tr(lang, &key, &[("reason", nik_error(lang, error).into())])
        }
        other => format!("{other:?}"),
    };
    Headline { title, detail }
}

/// What a logged crossing's verdict said, in one line, from what the log
/// keeps of it: its kind, the village whose record decided it, the NIK as
/// typed (parsed again, with the year the crossing was made in, for where it
/// was issued or why it is invalid) and the case. The log keeps no name, so
/// neither does this line.
pub fn crossing_line(
    lang: Lang,
    kind: &str,
    found_in: Option<VillageCode>,
    nik: &str,
    year: i32,
    case: Option<&str>,
) -> String {
    let title = t(lang, &format!("verdict-{kind}-title"));
    let parsed = kampung_core::Nik::parse(nik, year);
    let village = |v: VillageCode| -> Vec<(&str, Arg<'static>)> {
        vec![
            ("village", village_name(lang, v).into()),
            ("code", v.to_string().into()),
        ]
    };
    let detail = match (kind, found_in, &parsed) {
        (_, _, Err(e)) => tr(
            lang,
            "verdict-invalid-detail",
            &[("reason", nik_error(lang, e).into())],
        ),
        ("resident" | "moved_out" | "deceased", Some(v), _) => {
            tr(lang, &format!("crossing-{kind}-detail"), &village(v))
        }
        ("resident_under_isolation", _, _) => tr(
            lang,
            "crossing-resident_under_isolation-detail",
            &[("case", case.unwrap_or("?").to_string().into())],
        ),
        ("non_resident" | "barred", _, Ok(p)) => tr(
            lang,
            &format!("crossing-{kind}-detail"),
            &[("origin", origin(lang, p.issued_in()).into())],
        ),
        _ => String::new(),
    };
    if detail.is_empty() {
        return title;
    }
    tr(
        lang,
        "verdict-line",
        &[("title", title.into()), ("detail", detail.into())],
    )
}

/// The verdict in one line: `WARGA BANYUWANGI — Sri Wahyuni, ...`.
pub fn explain(lang: Lang, v: &CheckVerdict) -> String {
    let h = headline(lang, v);
    tr(
        lang,
        "verdict-line",
        &[("title", h.title.into()), ("detail", h.detail.into())],
    )
}

/// The answer an access-log entry recorded (`kampung_node::AccessEntry`'s
/// `answer`), in `lang`: a verdict's kind as the officer read it, `found`
/// or `not_found`, the village a search looked in, or counts
/// (`crossings=3`; `changes=2 crossings=1 cases=0`; `export bytes=1234`).
/// Anything else (entries logged before answers were codes) as it was stored.
pub fn access_answer(lang: Lang, answer: &str) -> String {
    let title = format!("verdict-{answer}-title");
    if has(lang, &title) {
        return t(lang, &title);
    }
    if matches!(answer, "found" | "not_found") {
        return t(lang, &format!("access-answer-{answer}"));
    }
    if let Ok(v) = VillageCode::parse(answer) {
        if banyuwangi::village(v).is_some() {
            return format!("{} ({v})", village_name(lang, v));
        }
    }
    let mut kind = None;
    let mut args: Vec<(&str, Arg)> = Vec::new();
    for token in answer.split_whitespace() {
        match token.split_once('=') {
            Some((name, value)) => match value.parse::<u64>() {
                Ok(n) => {
                    let n = match lang {
                        Lang::Id => crate::number(n),
                        Lang::En => n.to_string(),
                    };
                    args.push((name, n.into()))
                }
                Err(_) => return answer.to_string(),
            },
            None if kind.is_none() && args.is_empty() => kind = Some(token),
            None => return answer.to_string(),
        }
    }
    let names: Vec<&str> = args.iter().map(|(name, _)| *name).collect();
    let key = match (kind, names.as_slice()) {
        (None, ["crossings"]) => "access-answer-crossings",
        (None, ["changes", "crossings", "cases"]) => "access-answer-history",
        (Some("export"), ["bytes"]) => "access-answer-export",
        _ => return answer.to_string(),
    };
    tr(lang, key, &args)
}
