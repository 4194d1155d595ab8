//! The checkpoint officer at the gate: one NIK field, the verdict as one
//! colour and one reason, and the decisions under it, each logging the
//! crossing (and, for an isolation, opening the case) in one step.

use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use kampung_core::{CheckVerdict, Nik, NikError, Pledge, VillageCode};
use kampung_i18n::Lang;
use kampung_node::{Answer, CrossingInput};
use kampung_store::crossing::Decision;
use serde::{Deserialize, Serialize};

use crate::ctx::{Shell, Tr, Viewer};
use crate::{check_csrf, error_page, render, WebState};

/// A verdict, ready to show.
#[derive(Debug, Clone)]
pub struct VerdictView {
    /// `resident`, `barred`, ... (the page's colour follows it).
    pub kind: &'static str,
    /// `ok` (green), `isolate` (amber), `stop` (red), `invalid` (grey).
    pub colour: &'static str,
    pub title: String,
    pub detail: String,
    /// Our copy of the deciding village is old: say so.
    pub stale: Option<String>,
    /// The NIK is active in more than one village: which.
    pub double: Option<String>,
    pub alert: bool,
    pub nik: String,
    /// Decisions that open an isolation case make sense (a valid NIK, no open case).
    pub can_isolate: bool,
    pub name: Option<String>,
}

fn colour(v: &CheckVerdict) -> &'static str {
    match v {
        CheckVerdict::Resident { .. } => "ok",
        CheckVerdict::Barred { .. } | CheckVerdict::Deceased { .. } => "stop",
        CheckVerdict::Invalid { .. } => "invalid",
        _ => "isolate",
    }
}

pub fn view(a: &Answer, lang: Lang, nik: &str) -> VerdictView {
    let h = kampung_i18n::headline(lang, &a.verdict);
    let stale = a
        .freshness
        .as_ref()
        .filter(|f| !f.own_document)
        .and_then(|f| {
            let age = f.owner_last_heard_secs.map(Duration::from_secs_f64);
            match age {
                Some(age) if age < crate::STALE => None,
                _ => Some(kampung_i18n::tr(
                    lang,
                    "stale-village",
                    &[("age", kampung_i18n::ago(lang, age).into())],
                )),
            }
        });
    VerdictView {
        kind: a.kind(),
        colour: colour(&a.verdict),
        title: h.title,
        detail: h.detail,
        stale,
        double: a.double_note(lang),
        alert: a.alert(),
        nik: nik.to_string(),
        can_isolate: !matches!(a.verdict, CheckVerdict::Invalid { .. }) && a.open_case().is_none(),
        name: a.registry_name().map(str::to_string),
    }
}

/// The villages of Banyuwangi by district, for choosing an isolation house.
#[derive(Debug, Clone)]
pub struct District {
    pub name: &'static str,
    pub villages: Vec<(String, &'static str)>,
}

pub fn districts() -> Vec<District> {
    let mut out: Vec<District> = Vec::new();
    let mut all: Vec<_> = kampung_core::banyuwangi::villages().iter().collect();
    all.sort_by(|a, b| {
        a.district_name
            .cmp(b.district_name)
            .then(a.name.cmp(b.name))
    });
    for v in all {
        match out.last_mut() {
            Some(d) if d.name == v.district_name => d.villages.push((v.code.to_string(), v.name)),
            _ => out.push(District {
                name: v.district_name,
                villages: vec![(v.code.to_string(), v.name)],
            }),
        }
    }
    out
}

/// The village of an isolation house, from the list of Banyuwangi's villages.
pub fn house_village(code: &str) -> Result<VillageCode, kampung_node::NodeError> {
    VillageCode::parse(code.trim())
        .ok()
        .filter(|c| kampung_core::banyuwangi::village(*c).is_some())
        .ok_or_else(|| {
            kampung_node::NodeError::field(
                kampung_node::ErrorCode::InvalidBody,
                "desa",
                "choose the village of the isolation house from the list",
            )
        })
}

/// The verdict and the decisions under it (also sent alone to the page's script).
#[derive(Template)]
#[template(path = "putusan.html")]
pub struct VerdictSection {
    tr: Tr,
    v: VerdictView,
    csrf: String,
    districts: Vec<District>,
}

/// One logged check, as the post's list shows it.
#[derive(Debug, Clone)]
pub struct CrossingRow {
    pub at_ms: i64,
    pub nik: String,
    pub title: String,
    pub colour: &'static str,
    pub decision: String,
    pub officer: String,
    pub case_id: Option<String>,
}

#[derive(Template)]
#[template(path = "pos.html")]
struct PosPage {
    shell: Shell,
    nik: String,
    section: Option<String>,
    recent: Vec<CrossingRow>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PosQuery {
    #[serde(default)]
    nik: String,
    /// Set after a crossing was logged: its decision.
    #[serde(default)]
    catat: String,
    #[serde(default)]
    kasus: String,
}

fn verdict_title(lang: Lang, kind: &str) -> String {
    kampung_i18n::t(lang, &format!("verdict-{kind}-title"))
}

pub fn kind_colour(kind: &str) -> &'static str {
    match kind {
        "resident" => "ok",
        "barred" | "deceased" => "stop",
        "invalid" => "invalid",
        _ => "isolate",
    }
}

async fn recent(state: &WebState, v: &Viewer) -> Vec<CrossingRow> {
    let lang = v.lang;
    match state.node().crossings_page(&v.actor, None, 0, 20).await {
        Ok(page) => page
            .items
            .into_iter()
            .map(|c| CrossingRow {
                at_ms: c.at_ms,
                nik: c.nik,
                title: verdict_title(lang, &c.verdict),
                colour: kind_colour(&c.verdict),
                decision: kampung_i18n::t(lang, &format!("decision-{}", c.decision.kind())),
                officer: c
                    .officer
                    .unwrap_or_else(|| kampung_i18n::t(lang, "by-node")),
                case_id: c.case_id,
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn section(
    state: &WebState,
    v: &Viewer,
    nik: &str,
) -> Result<VerdictSection, kampung_node::NodeError> {
    let answer = state.node().verdict(&v.actor, nik)?;
    Ok(VerdictSection {
        tr: v.tr(),
        v: view(&answer, v.lang, nik.trim()),
        csrf: v.csrf.clone(),
        districts: districts(),
    })
}

/// `/pos`: the NIK field; with `?nik=` (no script), the verdict too.
pub async fn page(State(state): State<WebState>, v: Viewer, Query(q): Query<PosQuery>) -> Response {
    let mut shell = Shell::new(&state, &v, "pos-title", "/pos").await;
    if !q.catat.is_empty() {
        let decision = kampung_i18n::t(v.lang, &format!("decision-{}", q.catat));
        let text = if q.kasus.is_empty() {
            v.tr().a("pos-logged", "decision", &decision)
        } else {
            v.tr()
                .a2("pos-logged-case", "decision", &decision, "case", &q.kasus)
        };
        shell = shell.with_flash("ok", text);
    }
    let nik = q.nik.trim().to_string();
    let section = if nik.is_empty() {
        None
    } else {
        match section(&state, &v, &nik) {
            Ok(s) => s.render().ok(),
            Err(e) => return error_page(&state, &v, &e).await,
        }
    };
    render(&PosPage {
        recent: recent(&state, &v).await,
        shell,
        nik,
        section,
    })
}

/// The verdict section alone, for the page's script (Enter in the NIK field).
pub async fn fragment(
    State(state): State<WebState>,
    v: Viewer,
    Query(q): Query<PosQuery>,
) -> Response {
    match section(&state, &v, &q.nik) {
        Ok(s) => render(&s),
        Err(e) => error_page(&state, &v, &e).await,
    }
}

/// What the field says as the officer types.
#[derive(Debug, Serialize)]
pub struct Check {
    /// Sixteen digits that pass every rule.
    pub ok: bool,
    /// Still typing (fewer than 16 digits, nothing wrong yet).
    pub partial: bool,
    pub message: String,
}

/// A NIK that breaks no rule, to complete what has been typed so far.
const NEUTRAL: &str = "3510150101000001";

/// The digits of the NIK that `e` is about: a broken rule is shown while
/// typing only once every digit it concerns has been typed.
fn digits_concerned(e: &NikError) -> usize {
    match e {
        NikError::Empty => 1,
        NikError::NotADigit { .. } => 0,
        NikError::UnknownProvince { .. } => 2,
        NikError::RegencyOutOfRange { .. } | NikError::UnknownRegency { .. } => 4,
        NikError::BadDay { .. } => 8,
        NikError::BadMonth { .. } => 10,
        NikError::ImpossibleDate { .. } => 12,
        _ => 16,
    }
}

/// What the field says of `typed` so far.
pub fn check_typed(typed: &str, this_year: i32, lang: Lang) -> Check {
    let digits: String = typed.chars().filter(char::is_ascii_digit).collect();
    let only_digits = typed
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-'));
    if !only_digits || digits.len() >= 16 {
        return match Nik::parse(typed, this_year) {
            Ok(_) => Check {
                ok: true,
                partial: false,
                message: String::new(),
            },
            Err(e) => Check {
                ok: false,
                partial: false,
                message: kampung_i18n::nik_error(lang, &e),
            },
        };
    }
    let completed = format!("{digits}{}", &NEUTRAL[digits.len()..]);
    match Nik::parse(&completed, this_year) {
        Err(e) if digits_concerned(&e) <= digits.len() => Check {
            ok: false,
            partial: false,
            message: kampung_i18n::nik_error(lang, &e),
        },
        _ => Check {
            ok: false,
            partial: true,
            message: kampung_i18n::tr(
                lang,
                "nik-digits-typed",
                &[("n", digits.len().to_string().into())],
            ),
        },
    }
}

/// `GET /pos/cek?nik=`: the rule a NIK breaks, as it is typed (no look-up:
/// nothing about a person is read, so nothing goes to the access log).
pub async fn check(
    State(state): State<WebState>,
    v: Viewer,
    Query(q): Query<PosQuery>,
) -> Json<Check> {
    Json(check_typed(&q.nik, state.node().this_year(), v.lang))
}

#[derive(Debug, Deserialize)]
pub struct RecordForm {
    csrf: String,
    nik: String,
    keputusan: String,
    #[serde(default)]
    desa: String,
    #[serde(default)]
    alamat: String,
    #[serde(default)]
    penjemput: String,
    #[serde(default)]
    hubungan: String,
    #[serde(default)]
    telepon: String,
    #[serde(default)]
    nama: String,
}

/// `POST /pos/catat`: log the check with the officer's decision; an
/// isolation decision opens the case in the same step.
pub async fn record(
    State(state): State<WebState>,
    v: Viewer,
    Form(f): Form<RecordForm>,
) -> Response {
    if let Err(e) = check_csrf(&v, &f.csrf) {
        return error_page(&state, &v, &e).await;
    }
    let bad = |msg: &str| kampung_node::NodeError::body(msg.to_string());
    let decision = match f.keputusan.as_str() {
        "allowed_in" => Decision::AllowedIn,
        "turned_back" => Decision::TurnedBack,
        "isolation_gor" => Decision::IsolationGor,
        "isolation_home" => Decision::IsolationHome,
        "picked_up_by_family" => Decision::PickedUpByFamily,
        "isolation_village_house" => match house_village(&f.desa) {
            Ok(village) => Decision::IsolationVillageHouse { village },
            Err(e) => return error_page(&state, &v, &e).await,
        },
        _ => return error_page(&state, &v, &bad("decision: not one of the decisions")).await,
    };
    let isolation = !matches!(decision, Decision::AllowedIn | Decision::TurnedBack);
    let kind = decision.kind();
    let input = CrossingInput {
        address: (!f.alamat.trim().is_empty()).then(|| f.alamat.trim().to_string()),
        pledge: (!f.penjemput.trim().is_empty()).then(|| Pledge {
            picked_up_by: f.penjemput.trim().to_string(),
            relation: f.hubungan.trim().to_string(),
            phone: f.telepon.trim().to_string(),
        }),
        person_name: (!f.nama.trim().is_empty()).then(|| f.nama.trim().to_string()),
        open_case: isolation && Nik::parse(&f.nik, state.node().this_year()).is_ok(),
        ..CrossingInput::new(f.nik.trim(), decision)
    };
    match state.node().log_crossing(&v.actor, input).await {
        Ok(logged) => {
            let case = logged.opened_case.unwrap_or_default();
            Redirect::to(&format!("/pos?catat={kind}&kasus={case}")).into_response()
        }
        Err(e) => error_page(&state, &v, &e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nik_is_checked_as_it_is_typed_once_the_digits_a_rule_concerns_are_there() {
        let year = 2026;
        let c = check_typed("3510", year, Lang::Id);
        assert!(c.partial && !c.ok, "{c:?}");
        assert!(c.message.contains('4'), "{}", c.message);
        // Day 00: wrong as soon as digits 7-8 are typed.
        let c = check_typed("35091500", year, Lang::Id);
        assert!(!c.partial && !c.ok, "{c:?}");
        // Province 99 does not exist: wrong after two digits.
        let c = check_typed("99", year, Lang::Id);
        assert!(!c.partial, "{c:?}");
        // Province 51 exists, and its regency is not typed yet.
        let c = check_typed("51", year, Lang::Id);
        assert!(c.partial, "{c:?}");
        // 31 February: wrong once the year is typed.
        let c = check_typed("350915310290", year, Lang::Id);
        assert!(!c.partial && !c.ok, "{c:?}");
        assert!(check_typed("3509154203900003", year, Lang::Id).ok);
        let c = check_typed("3509154203900000", year, Lang::En);
        assert!(!c.ok && !c.partial, "{c:?}");
        let c = check_typed("35x9", year, Lang::Id);
        assert!(!c.ok && !c.partial, "{c:?}");
    }
}
