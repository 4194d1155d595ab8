//! The auditor: crossings of every checkpoint with filters (each with its
//! verdict, decision, officer and node), one person's history, the access
//! log, and the signature and authority check of `audit verify`; every
//! table also as CSV.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kampung_i18n::Lang;
use kampung_node::{AccessQuery, Checkpoint, FoundCrossing, NodeError, PersonHistory};
use kampung_store::audit::AuditReport;
use kampung_store::crossing::CrossingFilter;
use serde::Deserialize;
use time::{Date, UtcOffset};

use crate::ctx::{Shell, Viewer};
use crate::desa::{row, ResidentRow};
use crate::isolasi::{case_rows, CaseRow};
use crate::pos::{kind_colour, view, VerdictView};
use crate::report::{label_or_peer, report_html, report_view, ReportView};
use crate::{error_page, render, WebState};

/// Crossings on one page.
const PAGE: usize = 100;
/// Most rows of a CSV export.
const CSV_ROWS: usize = kampung_node::MAX_CROSSINGS_PAGE;
/// Access-log entries shown (and exported) at most.
const ACCESS_ROWS: usize = 500;

const VERDICTS: [&str; 7] = [
    "resident",
    "resident_under_isolation",
    "moved_out",
    "deceased",
    "non_resident",
    "barred",
    "invalid",
];
const DECISIONS: [&str; 6] = [
    "allowed_in",
    "turned_back",
    "isolation_gor",
    "isolation_village_house",
    "isolation_home",
    "picked_up_by_family",
];

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CrossingQuery {
    #[serde(default)]
    pos: String,
    #[serde(default)]
    nik: String,
    #[serde(default)]
    putusan: String,
    #[serde(default)]
    keputusan: String,
    #[serde(default)]
    petugas: String,
    /// First day (YYYY-MM-DD, in WIB).
    #[serde(default)]
    dari: String,
    /// Last day, inclusive.
    #[serde(default)]
    sampai: String,
    #[serde(default)]
    hal: usize,
}

/// Midnight WIB of `d`, in unix ms.
pub(crate) fn wib_midnight_ms(d: Date) -> i64 {
    let wib = UtcOffset::from_hms(7, 0, 0).unwrap_or(UtcOffset::UTC);
    d.midnight().assume_offset(wib).unix_timestamp() * 1000
}

fn some(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

impl CrossingQuery {
    fn filter(&self) -> Result<CrossingFilter, NodeError> {
        let day = |field: &str, s: &str| -> Result<Option<Date>, NodeError> {
            match some(s) {
                None => Ok(None),
                Some(s) => kampung_csv::parse_date("date", &s).map(Some).map_err(|e| {
                    NodeError::field(kampung_node::ErrorCode::InvalidParameter, field, e.1)
                }),
            }
        };
        Ok(CrossingFilter {
            checkpoint: some(&self.pos),
            nik: some(&self.nik),
            verdict: some(&self.putusan).filter(|v| VERDICTS.contains(&v.as_str())),
            decision: some(&self.keputusan).filter(|d| DECISIONS.contains(&d.as_str())),
            officer: some(&self.petugas),
            since_ms: day("dari", &self.dari)?.map(wib_midnight_ms),
            until_ms: day("sampai", &self.sampai)?
                .and_then(|d| d.next_day())
                .map(wib_midnight_ms),
        })
    }

    fn query_string(&self, page: usize) -> String {
        serde_urlencoded::to_string([
            ("pos", self.pos.as_str()),
            ("nik", self.nik.as_str()),
            ("putusan", self.putusan.as_str()),
            ("keputusan", self.keputusan.as_str()),
            ("petugas", self.petugas.as_str()),
            ("dari", self.dari.as_str()),
            ("sampai", self.sampai.as_str()),
            ("hal", page.to_string().as_str()),
        ])
        .unwrap_or_default()
    }
}

/// A crossing, as the auditor's table shows it.
#[derive(Debug, Clone)]
pub struct CrossingRow {
    pub at: String,
    pub checkpoint: String,
    pub nik: String,
    pub verdict: String,
    pub colour: &'static str,
    pub decision: String,
    pub case_id: Option<String>,
    pub officer: String,
}

fn crossing_row(lang: Lang, f: &FoundCrossing) -> CrossingRow {
    let c = &f.crossing;
    CrossingRow {
        at: kampung_i18n::date_time(lang, c.at_ms),
        checkpoint: label_or_peer(&f.checkpoint, f.checkpoint_label.as_deref()),
        nik: c.nik.clone(),
        verdict: kampung_i18n::t(lang, &format!("verdict-{}-title", c.verdict)),
        colour: kind_colour(&c.verdict),
        decision: kampung_i18n::t(lang, &format!("decision-{}", c.decision.kind())),
        case_id: c.case_id.clone(),
        officer: match (&c.officer, &c.officer_id) {
            (Some(name), Some(id)) => format!("{name} ({id})"),
            (Some(name), None) => name.clone(),
            _ => kampung_i18n::t(lang, "by-node"),
        },
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct CrossingsPage {
    shell: Shell,
    q: CrossingQuery,
    checkpoints: Vec<(String, String)>,
    verdicts: Vec<(&'static str, String)>,
    decisions: Vec<(&'static str, String)>,
    total: usize,
    rows: Vec<CrossingRow>,
    csv: String,
    prev: Option<String>,
    next: Option<String>,
}

fn options(
    lang: Lang,
    keys: &[&'static str],
    prefix: &str,
    suffix: &str,
) -> Vec<(&'static str, String)> {
    keys.iter()
        .map(|k| (*k, kampung_i18n::t(lang, &format!("{prefix}{k}{suffix}"))))
        .collect()
}

/// `/audit`: crossings of every checkpoint, newest first, filtered.
pub async fn crossings(
    State(state): State<WebState>,
    v: Viewer,
    Query(q): Query<CrossingQuery>,
) -> Response {
    let node = state.node();
    let filter = match q.filter() {
        Ok(f) => f,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let checkpoints: Vec<Checkpoint> = match node.checkpoints(&v.actor).await {
        Ok(c) => c,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let found = match node
        .search_crossings(&v.actor, filter, q.hal * PAGE, PAGE)
        .await
    {
        Ok(f) => f,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let shown = q.hal * PAGE + found.items.len();
    render(&CrossingsPage {
        checkpoints: checkpoints
            .iter()
            .map(|c| (c.peer.clone(), label_or_peer(&c.peer, c.label.as_deref())))
            .collect(),
        verdicts: options(v.lang, &VERDICTS, "verdict-", "-title"),
        decisions: options(v.lang, &DECISIONS, "decision-", ""),
        total: found.total,
        rows: found
            .items
            .iter()
            .map(|f| crossing_row(v.lang, f))
            .collect(),
        csv: format!("/audit/lintas.csv?{}", q.query_string(0)),
        prev: (q.hal > 0).then(|| format!("/audit?{}", q.query_string(q.hal - 1))),
        next: (shown < found.total).then(|| format!("/audit?{}", q.query_string(q.hal + 1))),
        q,
        shell: Shell::new(&state, &v, "audit-title", "/audit").await,
    })
}

fn csv_response(name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// An ISO 8601 time in WIB, for a spreadsheet.
fn iso_wib(unix_ms: i64) -> String {
    let wib = UtcOffset::from_hms(7, 0, 0).unwrap_or(UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp(unix_ms.div_euclid(1000))
        .map(|t| t.to_offset(wib))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn write_csv<const N: usize>(
    header: [&str; N],
    rows: impl Iterator<Item = [String; N]>,
) -> Result<Vec<u8>, NodeError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(NodeError::store)?;
    for r in rows {
        w.write_record(&r).map_err(NodeError::store)?;
    }
    w.into_inner().map_err(NodeError::store)
}

/// `/audit/lintas.csv`: the filtered crossings (at most 1000, newest first).
pub async fn crossings_csv(
    State(state): State<WebState>,
    v: Viewer,
    Query(q): Query<CrossingQuery>,
) -> Response {
    let node = state.node();
    let filter = match q.filter() {
        Ok(f) => f,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let found = match node.search_crossings(&v.actor, filter, 0, CSV_ROWS).await {
        Ok(f) => f,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let rows = found.items.iter().map(|f| {
        let c = &f.crossing;
        [
            iso_wib(c.at_ms),
            f.checkpoint.clone(),
            f.checkpoint_label.clone().unwrap_or_default(),
            c.nik.clone(),
            c.verdict.clone(),
            c.decision.kind().to_string(),
            c.case_id.clone().unwrap_or_default(),
            c.officer.clone().unwrap_or_default(),
            c.officer_id.clone().unwrap_or_default(),
            kampung_node::crossing_explanation(v.lang, c),
        ]
    });
    match write_csv(
        [
            "time",
            "checkpoint",
            "checkpoint_label",
            "nik",
            "verdict",
            "decision",
            "case_id",
            "officer",
            "officer_id",
            "explanation",
        ],
        rows,
    ) {
        Ok(bytes) => csv_response("lintas.csv", bytes),
        Err(e) => error_page(&state, &v, &e).await,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PersonQuery {
    #[serde(default)]
    nik: String,
}

#[derive(Template)]
#[template(path = "riwayat.html")]
struct PersonPage {
    shell: Shell,
    nik: String,
    found: Option<PersonView>,
}

struct PersonView {
    verdict: VerdictView,
    records: Vec<(String, ResidentRow)>,
    crossings: Vec<CrossingRow>,
    cases: Vec<CaseRow>,
    changes: Vec<ChangeRow>,
}

/// One change to a person's record, as the auditor's page shows it.
struct ChangeRow {
    at: String,
    village: String,
    what: String,
    by: String,
    fields: Vec<crate::desa::FieldRow>,
    verified: bool,
}

fn change_row(lang: Lang, e: &kampung_node::RecordEvent) -> ChangeRow {
    let kind = e.kind.as_str();
    let node = match (&e.node_label, e.node_role) {
        (Some(label), _) if !label.is_empty() => label.clone(),
        (_, Some(role)) => role.as_str().to_string(),
        _ => e.node.chars().take(16).collect(),
    };
    let mut what = kampung_i18n::t(lang, &format!("change-{kind}"));
    if let Some(why) = &e.reason {
        what = format!("{what}: {why}");
    }
    ChangeRow {
        at: kampung_i18n::date_time(lang, e.at_s.saturating_mul(1000)),
        village: kampung_core::banyuwangi::village(e.village)
            .map_or_else(|| e.village.to_string(), |v| v.name.to_string()),
        what,
        by: match &e.person {
            Some(p) => format!("{p} · {node}"),
            None => node,
        },
        fields: kampung_node::field_changes_of_in(lang, e.before.as_ref(), e.after.as_ref())
            .into_iter()
            .map(|f| crate::desa::FieldRow {
                label: kampung_i18n::t(lang, &format!("col-{}", f.field)),
                old: f.old,
                new: f.new,
            })
            .collect(),
        verified: e.verified,
    }
}

fn person_view(state: &WebState, lang: Lang, h: &PersonHistory) -> PersonView {
    let village_name = |code| {
        kampung_core::banyuwangi::village(code)
            .map_or_else(|| code.to_string(), |v| format!("{} ({code})", v.name))
    };
    PersonView {
        verdict: view(&h.answer, lang, &h.nik.to_string()),
        records: h
            .records
            .iter()
            .map(|r| (village_name(r.village), row(lang, r)))
            .collect(),
        crossings: h.crossings.iter().map(|f| crossing_row(lang, f)).collect(),
        cases: case_rows(lang, &h.cases, state.node().today().ok()),
        changes: h.changes.iter().map(|e| change_row(lang, e)).collect(),
    }
}

/// `/audit/nik?nik=`: everything this node holds about one person.
pub async fn person(
    State(state): State<WebState>,
    v: Viewer,
    Query(q): Query<PersonQuery>,
) -> Response {
    let nik = q.nik.trim().to_string();
    let found = if nik.is_empty() {
        None
    } else {
        match state.node().person_history(&v.actor, &nik).await {
            Ok(h) => Some(person_view(&state, v.lang, &h)),
            Err(e) => return error_page(&state, &v, &e).await,
        }
    };
    render(&PersonPage {
        nik,
        found,
        shell: Shell::new(&state, &v, "riwayat-title", "/audit/nik").await,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct AccessParams {
    #[serde(default)]
    nik: String,
    #[serde(default)]
    siapa: String,
}

impl AccessParams {
    fn query(&self) -> AccessQuery {
        AccessQuery {
            subject: some(&self.nik),
            who: some(&self.siapa),
            limit: ACCESS_ROWS,
        }
    }
}

/// One look-up, as the auditor's table shows it.
#[derive(Debug, Clone)]
pub struct AccessRow {
    pub at: String,
    pub who: String,
    pub role: String,
    pub what: String,
    pub subject: String,
    pub answer: String,
}

#[derive(Template)]
#[template(path = "akses.html")]
struct AccessPage {
    shell: Shell,
    nik: String,
    who: String,
    rows: Vec<AccessRow>,
    csv: String,
}

/// `/audit/akses`: who looked up whose data on this node, newest first.
pub async fn access(
    State(state): State<WebState>,
    v: Viewer,
    Query(q): Query<AccessParams>,
) -> Response {
    let entries = match state.node().read_access_log(&v.actor, &q.query()) {
        Ok(e) => e,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let lang = v.lang;
    render(&AccessPage {
        rows: entries
            .iter()
            .map(|e| AccessRow {
                at: kampung_i18n::date_time(lang, e.at_ms),
                who: format!("{} ({})", e.name, e.who),
                role: kampung_i18n::t(lang, &format!("role-{}", e.role)),
                what: kampung_i18n::t(lang, &format!("access-{}", e.what.as_str())),
                subject: e.subject.clone(),
                answer: kampung_i18n::access_answer(lang, &e.answer),
            })
            .collect(),
        csv: format!(
            "/audit/akses.csv?{}",
            serde_urlencoded::to_string([("nik", q.nik.as_str()), ("siapa", q.siapa.as_str())])
                .unwrap_or_default()
        ),
        nik: q.nik,
        who: q.siapa,
        shell: Shell::new(&state, &v, "akses-title", "/audit/akses").await,
    })
}

/// `/audit/akses.csv`.
pub async fn access_csv(
    State(state): State<WebState>,
    v: Viewer,
    Query(q): Query<AccessParams>,
) -> Response {
    let entries = match state.node().read_access_log(&v.actor, &q.query()) {
        Ok(e) => e,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let rows = entries.iter().map(|e| {
        [
            iso_wib(e.at_ms),
            e.who.clone(),
            e.name.clone(),
            e.role.clone(),
            e.what.as_str().to_string(),
            e.subject.clone(),
            e.answer.clone(),
        ]
    });
    match write_csv(
        ["time", "who", "name", "role", "what", "subject", "answer"],
        rows,
    ) {
        Ok(bytes) => csv_response("akses.csv", bytes),
        Err(e) => error_page(&state, &v, &e).await,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct VerifyQuery {
    /// Run the check now (it holds the store while it runs).
    #[serde(default)]
    jalankan: String,
}

#[derive(Template)]
#[template(path = "periksa.html")]
struct VerifyPage {
    shell: Shell,
    report: Option<ReportView>,
}

fn writer_name(state: &WebState, peer: &str, label: Option<&str>) -> String {
    let label = label
        .map(str::to_string)
        .or_else(|| state.node().label_of(peer));
    label_or_peer(peer, label.as_deref())
}

/// `/audit/periksa`: `audit verify` on this running node, on request.
pub async fn verify(
    State(state): State<WebState>,
    v: Viewer,
    Query(q): Query<VerifyQuery>,
) -> Response {
    let shell = Shell::new(&state, &v, "periksa-title", "/audit/periksa").await;
    if q.jalankan.is_empty() {
        return render(&VerifyPage {
            shell,
            report: None,
        });
    }
    let report: AuditReport = match state.node().audit(&v.actor).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let name_of = |peer: &str, label: Option<&str>| writer_name(&state, peer, label);
    render(&VerifyPage {
        shell,
        report: Some(report_view(
            v.lang,
            &report,
            state.node().now_ms(),
            &name_of,
        )),
    })
}

/// `/audit/periksa/laporan.html`: the same check, as one HTML file to keep.
pub async fn verify_file(State(state): State<WebState>, v: Viewer) -> Response {
    let report: AuditReport = match state.node().audit(&v.actor).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let name_of = |peer: &str, label: Option<&str>| writer_name(&state, peer, label);
    let node = Shell::new(&state, &v, "periksa-title", "/audit/periksa")
        .await
        .node;
    let html = report_html(v.lang, &report, state.node().now_ms(), &node, &name_of);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"laporan-audit.html\"",
            ),
        ],
        html,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_filter_covers_the_whole_day_in_wib() {
        let q = CrossingQuery {
            dari: "2026-12-01".into(),
            sampai: "2026-12-01".into(),
            putusan: "not-a-verdict".into(),
            ..CrossingQuery::default()
        };
        let f = q.filter().unwrap();
        // 1 December 2026 00.00 WIB is 30 November 17.00 UTC.
        assert_eq!(f.since_ms, Some(1_796_058_000_000));
        assert_eq!(f.until_ms, Some(1_796_058_000_000 + 86_400_000));
        assert_eq!(f.verdict, None, "an unknown verdict filters nothing");
        let bad = CrossingQuery {
            dari: "kemarin".into(),
            ..CrossingQuery::default()
        };
        assert_eq!(bad.filter().unwrap_err().field.as_deref(), Some("dari"));
    }
}
