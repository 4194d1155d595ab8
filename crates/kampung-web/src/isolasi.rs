//! The isolation facility (and a village's task force): the people in
//! isolation with their day counter and place, today's follow-ups with one
//! tap each, and a case's page with transfer, family pick-up, notes and
//! release. Every update names the person who made it.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use kampung_core::{Place, Pledge};
use kampung_i18n::Lang;
use kampung_node::{CaseChange, ErrorCode, NodeError, Permission};
use kampung_store::case::{CaseHistory, CaseState, Outcome, ReleaseReason, Writer};
use serde::Deserialize;
use time::Date;

use crate::ctx::{Shell, Viewer};
use crate::pos::{districts, house_village, District};
use crate::{check_csrf, error_page, render, WebState};

/// One case in a list.
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub id: String,
    pub nik: String,
    pub name: String,
    pub origin: String,
    pub place: String,
    pub place_kind: &'static str,
    /// `Hari ke-3 dari 14`.
    pub day: String,
    pub open: bool,
    /// Nobody has recorded today's follow-up yet.
    pub due: bool,
    /// Today's follow-up, if recorded.
    pub today: Option<String>,
    pub opened: String,
}

pub fn outcome_text(lang: Lang, o: Outcome) -> String {
    kampung_i18n::t(lang, &format!("outcome-{}", o.as_str()))
}

pub fn day_text(lang: Lang, c: &CaseState) -> String {
    kampung_i18n::tr(
        lang,
        "case-day",
        &[
            ("day", c.day.to_string().into()),
            ("days", c.info.required_days.to_string().into()),
        ],
    )
}

pub fn case_rows(lang: Lang, cases: &[CaseState], today: Option<Date>) -> Vec<CaseRow> {
    cases
        .iter()
        .map(|c| CaseRow {
            id: c.info.case_id.clone(),
            nik: c.info.nik.to_string(),
            name: c
                .info
                .person_name
                .clone()
                .unwrap_or_else(|| kampung_i18n::t(lang, "case-unnamed")),
            origin: c.info.origin.clone(),
            place: kampung_i18n::place(lang, &c.place.place),
            place_kind: c.place.place.kind(),
            day: day_text(lang, c),
            open: c.is_open(),
            due: today.is_some_and(|t| c.follow_up_due(t)),
            today: c.today.first().map(|f| outcome_text(lang, f.outcome)),
            opened: kampung_i18n::date_time(lang, c.info.opened_at_ms),
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// `gor`, `village_house`, `home`, `family_pickup`, or all.
    #[serde(default)]
    tempat: String,
    /// Set after a follow-up was recorded: its case.
    #[serde(default)]
    dicatat: String,
}

#[derive(Template)]
#[template(path = "isolasi.html")]
struct ListPage {
    shell: Shell,
    today: String,
    place: String,
    places: Vec<(&'static str, String)>,
    open: Vec<CaseRow>,
    due: usize,
    closed: Vec<CaseRow>,
    can_write: bool,
}

const PLACES: [&str; 4] = ["gor", "village_house", "home", "family_pickup"];

/// `/isolasi`: the people in isolation, today's follow-ups first.
pub async fn page(
    State(state): State<WebState>,
    v: Viewer,
    Query(q): Query<ListQuery>,
) -> Response {
    let node = state.node();
    let mut cases = match node.cases(&v.actor).await {
        Ok(c) => c,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let place = PLACES
        .iter()
        .find(|p| **p == q.tempat)
        .copied()
        .unwrap_or("");
    if !place.is_empty() {
        cases.retain(|c| c.place.place.kind() == place);
    }
    let today = node.today().ok();
    let (open, mut closed): (Vec<CaseState>, Vec<CaseState>) =
        cases.into_iter().partition(CaseState::is_open);
    let mut open = open;
    open.sort_by_key(|c| {
        (
            !today.is_some_and(|t| c.follow_up_due(t)),
            std::cmp::Reverse(c.day),
        )
    });
    closed.sort_by_key(|c| std::cmp::Reverse(c.release.as_ref().map_or(0, |r| r.at_ms)));
    closed.truncate(20);
    let due = open
        .iter()
        .filter(|c| today.is_some_and(|t| c.follow_up_due(t)))
        .count();
    let tr = v.tr();
    let mut shell = Shell::new(&state, &v, "isolasi-title", "/isolasi").await;
    if !q.dicatat.is_empty() {
        shell = shell.with_flash("ok", tr.a("followup-saved", "case", &q.dicatat));
    }
    render(&ListPage {
        today: today
            .map(|d| kampung_i18n::date(v.lang, d))
            .unwrap_or_default(),
        place: place.to_string(),
        places: PLACES
            .iter()
            .map(|p| (*p, tr.t(&format!("place-kind-{p}"))))
            .collect(),
        open: case_rows(v.lang, &open, today),
        due,
        closed: case_rows(v.lang, &closed, today),
        can_write: v.actor.may(Permission::WriteCases) && node.role().kind().writes_cases(),
        shell,
    })
}

/// One entry of a case's history.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub at: String,
    pub what: String,
    pub by: String,
}

fn writer_text(lang: Lang, state: &WebState, w: &Writer) -> String {
    let node = state
        .node()
        .label_of(&w.peer)
        .unwrap_or_else(|| format!("{} {}", w.role, short_peer(&w.peer)));
    match &w.person {
        Some(p) => kampung_i18n::tr(
            lang,
            "by-person-at",
            &[("person", p.name.clone().into()), ("node", node.into())],
        ),
        None => node,
    }
}

pub fn short_peer(peer: &str) -> String {
    let n = peer.len();
    if n > 12 {
        format!("…{}", &peer[n - 8..])
    } else {
        peer.to_string()
    }
}

fn history_rows(lang: Lang, state: &WebState, c: &CaseState, h: &CaseHistory) -> Vec<HistoryRow> {
    let mut rows: Vec<(i64, HistoryRow)> = Vec::new();
    let tr = |key: &str, args: &[(&str, String)]| {
        let args: Vec<(&str, kampung_i18n::Arg)> =
            args.iter().map(|(k, v)| (*k, v.clone().into())).collect();
        kampung_i18n::tr(lang, key, &args)
    };
    rows.push((
        c.info.opened_at_ms,
        HistoryRow {
            at: kampung_i18n::date_time(lang, c.info.opened_at_ms),
            what: tr("history-opened", &[("origin", c.info.origin.clone())]),
            by: writer_text(lang, state, &c.info.opened_by),
        },
    ));
    for (i, p) in h.placements.iter().enumerate() {
        let key = if i == 0 {
            "history-placed"
        } else {
            "history-moved"
        };
        rows.push((
            p.at_ms,
            HistoryRow {
                at: kampung_i18n::date_time(lang, p.at_ms),
                what: tr(key, &[("place", kampung_i18n::place(lang, &p.place))]),
                by: writer_text(lang, state, &p.by),
            },
        ));
    }
    for f in &h.follow_ups {
        let mut what = tr(
            "history-followup",
            &[
                ("date", kampung_i18n::date(lang, f.date)),
                ("outcome", outcome_text(lang, f.outcome)),
            ],
        );
        if let Some(n) = &f.note {
            what = format!("{what}: {n}");
        }
        rows.push((
            f.at_ms,
            HistoryRow {
                at: kampung_i18n::date_time(lang, f.at_ms),
                what,
                by: writer_text(lang, state, &f.by),
            },
        ));
    }
    for n in &h.notes {
        rows.push((
            n.at_ms,
            HistoryRow {
                at: kampung_i18n::date_time(lang, n.at_ms),
                what: tr("history-note", &[("text", n.text.clone())]),
                by: writer_text(lang, state, &n.by),
            },
        ));
    }
    for r in &h.releases {
        let what = match &r.reason {
            ReleaseReason::PeriodEnded => tr("history-released", &[]),
            ReleaseReason::Early { reason } => {
                tr("history-released-early", &[("reason", reason.clone())])
            }
        };
        rows.push((
            r.at_ms,
            HistoryRow {
                at: kampung_i18n::date_time(lang, r.at_ms),
                what,
                by: writer_text(lang, state, &r.by),
            },
        ));
    }
    rows.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    rows.into_iter().map(|(_, r)| r).collect()
}

#[derive(Template)]
#[template(path = "kasus.html")]
struct CasePage {
    shell: Shell,
    c: CaseRow,
    remaining: u32,
    period_ended: bool,
    released: Option<String>,
    history: Vec<HistoryRow>,
    can_write: bool,
    districts: Vec<District>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CaseQuery {
    #[serde(default)]
    hasil: String,
}

/// `/isolasi/kasus/{id}`: one case, its history, and what can be done.
pub async fn case(
    State(state): State<WebState>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<CaseQuery>,
) -> Response {
    let node = state.node();
    let (c, h) = match node.case_history(&v.actor, &id).await {
        Ok(x) => x,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let today = node.today().ok();
    let tr = v.tr();
    let mut shell = Shell::new(&state, &v, "kasus-title", "/isolasi").await;
    if !q.hasil.is_empty() && kampung_i18n::has(v.lang, &format!("case-done-{}", q.hasil)) {
        shell = shell.with_flash("ok", tr.t(&format!("case-done-{}", q.hasil)));
    }
    let released = c
        .release
        .as_ref()
        .map(|r| kampung_i18n::date_time(v.lang, r.at_ms));
    render(&CasePage {
        history: history_rows(v.lang, &state, &c, &h),
        remaining: c.days_remaining,
        period_ended: c.period_ended(),
        released,
        can_write: c.is_open()
            && v.actor.may(Permission::WriteCases)
            && node.role().kind().writes_cases(),
        c: case_rows(v.lang, std::slice::from_ref(&c), today).remove(0),
        districts: districts(),
        shell,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct UpdateForm {
    #[serde(default)]
    csrf: String,
    /// Follow-up: `seen_ok`, `seen_not_ok`, `missed`.
    #[serde(default)]
    hasil: String,
    #[serde(default)]
    catatan: String,
    /// Transfer: `gor`, `village_house`, `home`.
    #[serde(default)]
    tempat: String,
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
    /// Release: `period_ended` or `early`.
    #[serde(default)]
    alasan: String,
    #[serde(default)]
    keterangan: String,
    /// Back to the list (a follow-up from it), else the case's page.
    #[serde(default)]
    kembali: String,
}

fn bad(field: &str, message: &str) -> NodeError {
    NodeError::field(ErrorCode::InvalidBody, field, message)
}

fn change_of(action: &str, f: &UpdateForm) -> Result<CaseChange, NodeError> {
    Ok(match action {
        "pantau" => CaseChange::FollowUp {
            date: None,
            outcome: match Outcome::parse(&f.hasil) {
                Some(o) if o != Outcome::NotAttempted => o,
                _ => return Err(bad("hasil", "choose seen_ok, seen_not_ok or missed")),
            },
            note: Some(f.catatan.clone()),
        },
        "pindah" => CaseChange::Place(match f.tempat.as_str() {
            "gor" => Place::Gor,
            "village_house" => Place::VillageHouse {
                village: house_village(&f.desa)?,
            },
            "home" => Place::Home {
                address: f.alamat.trim().to_string(),
            },
            _ => return Err(bad("tempat", "choose gor, village_house or home")),
        }),
        "jemput" => CaseChange::FamilyPickup(Pledge {
            picked_up_by: f.penjemput.trim().to_string(),
            relation: f.hubungan.trim().to_string(),
            phone: f.telepon.trim().to_string(),
        }),
        "catatan" => {
            if f.catatan.trim().is_empty() {
                return Err(bad("catatan", "the note is empty"));
            }
            CaseChange::Note(f.catatan.trim().to_string())
        }
        "lepas" => CaseChange::Release(match f.alasan.as_str() {
            "period_ended" => ReleaseReason::PeriodEnded,
            "early" if !f.keterangan.trim().is_empty() => ReleaseReason::Early {
                reason: f.keterangan.trim().to_string(),
            },
            "early" => {
                return Err(bad(
                    "keterangan",
                    "an early release needs its reason (who decided, and why)",
                ))
            }
            _ => return Err(bad("alasan", "choose period_ended or early")),
        }),
        other => {
            return Err(NodeError::new(
                ErrorCode::NotFound,
                format!("'{other}' is not an action on a case"),
            ))
        }
    })
}

/// `POST /isolasi/kasus/{id}/{action}`: a follow-up (`pantau`), transfer
/// (`pindah`), family pick-up (`jemput`), note (`catatan`) or release (`lepas`).
pub async fn update(
    State(state): State<WebState>,
    v: Viewer,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<UpdateForm>,
) -> Response {
    if let Err(e) = check_csrf(&v, &f.csrf) {
        return error_page(&state, &v, &e).await;
    }
    let change = match change_of(&action, &f) {
        Ok(c) => c,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    match state.node().update_case(&v.actor, &id, change).await {
        Ok(_) if f.kembali == "daftar" => {
            Redirect::to(&format!("/isolasi?dicatat={id}")).into_response()
        }
        Ok(_) => Redirect::to(&format!("/isolasi/kasus/{id}?hasil={action}")).into_response(),
        Err(e) => error_page(&state, &v, &e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_become_the_changes_they_name_and_bad_ones_say_which_field() {
        let f = UpdateForm {
            hasil: "seen_ok".into(),
            ..UpdateForm::default()
        };
        assert!(matches!(
            change_of("pantau", &f).unwrap(),
            CaseChange::FollowUp {
                outcome: Outcome::SeenOk,
                ..
            }
        ));
        let e = change_of(
            "pantau",
            &UpdateForm {
                hasil: "not_attempted".into(),
                ..UpdateForm::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("hasil"));
        let e = change_of(
            "lepas",
            &UpdateForm {
                alasan: "early".into(),
                keterangan: "  ".into(),
                ..UpdateForm::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("keterangan"));
        let e = change_of(
            "pindah",
            &UpdateForm {
                tempat: "village_house".into(),
                desa: "35.10.99.9999".into(),
                ..UpdateForm::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("desa"));
        assert_eq!(
            change_of("hapus", &f).unwrap_err().code,
            ErrorCode::NotFound
        );
    }
}
