//! The audit's report as people read it: on the auditor's page
//! (`/audit/periksa`) and as one self-contained HTML file an inspector can
//! keep (`kampung audit verify --html`, or downloaded from the page): the
//! totals, the problems, who changed what and the changes per month.

use askama::Template;
use kampung_i18n::Lang;
use kampung_store::audit::AuditReport;

use crate::ctx::Tr;

/// A writer of the audit, as the report shows it.
#[derive(Debug)]
pub struct WriterRow {
    pub name: String,
    pub role: String,
    pub changes: usize,
    pub documents: usize,
    pub first: String,
    pub last: String,
}

#[derive(Debug)]
pub struct PersonRow {
    pub person: String,
    pub node: String,
    pub changes: usize,
    pub documents: usize,
    pub last: String,
}

#[derive(Debug)]
pub struct FailureRow {
    pub kind: String,
    pub doc: String,
    pub message: String,
}

#[derive(Debug)]
pub struct PeriodRow {
    pub month: String,
    pub changes: usize,
    pub failing: usize,
}

/// The report, ready for `laporan-isi.html`.
#[derive(Debug)]
pub struct ReportView {
    pub ok: bool,
    pub at: String,
    pub root: String,
    pub documents: usize,
    pub documents_failed: usize,
    pub changes: usize,
    pub signatures: usize,
    pub niks: usize,
    pub writers: Vec<WriterRow>,
    pub people: Vec<PersonRow>,
    pub failures: Vec<FailureRow>,
    pub periods: Vec<PeriodRow>,
}

/// `report` made at `at_ms`, in `lang`; `name_of(peer, label)` names a
/// writing node.
pub fn report_view(
    lang: Lang,
    report: &AuditReport,
    at_ms: i64,
    name_of: &dyn Fn(&str, Option<&str>) -> String,
) -> ReportView {
    let when = |s: i64| kampung_i18n::date_time(lang, s.saturating_mul(1000));
    ReportView {
        ok: report.ok,
        at: kampung_i18n::date_time(lang, at_ms),
        root: report.root.clone().unwrap_or_default(),
        documents: report.summary.documents,
        documents_failed: report.summary.documents_failed,
        changes: report.summary.changes,
        signatures: report.summary.signatures,
        niks: report.index.niks,
        writers: report
            .writers
            .iter()
            .map(|w| WriterRow {
                name: name_of(&w.writer, w.label.as_deref()),
                role: w.role.map(|r| r.to_string()).unwrap_or_default(),
                changes: w.changes,
                documents: w.documents,
                first: when(w.first_s),
                last: when(w.last_s),
            })
            .collect(),
        people: report
            .people
            .iter()
            .map(|p| PersonRow {
                person: match (&p.person, &p.person_id) {
                    (Some(name), Some(id)) => format!("{name} ({id})"),
                    _ => kampung_i18n::t(lang, "by-node"),
                },
                node: name_of(&p.writer, None),
                changes: p.changes,
                documents: p.documents,
                last: when(p.last_s),
            })
            .collect(),
        failures: report
            .all_failures()
            .map(|f| FailureRow {
                kind: format!("{:?}", f.kind),
                doc: f.doc.clone().unwrap_or_default(),
                message: f.message.clone(),
            })
            .collect(),
        periods: report
            .periods
            .iter()
            .map(|p| PeriodRow {
                month: p.month.clone(),
                changes: p.changes,
                failing: p.failing,
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "laporan.html")]
struct ReportFile<'a> {
    tr: Tr,
    r: ReportView,
    node: &'a str,
    css: &'static str,
}

/// The report as one HTML file with its style inside: no script, nothing
/// fetched, readable offline for as long as it is kept.
pub fn report_html(
    lang: Lang,
    report: &AuditReport,
    at_ms: i64,
    node: &str,
    name_of: &dyn Fn(&str, Option<&str>) -> String,
) -> String {
    let file = ReportFile {
        tr: Tr(lang),
        r: report_view(lang, report, at_ms, name_of),
        node,
        css: include_str!("../assets/app.css"),
    };
    file.render()
        .unwrap_or_else(|e| format!("<!DOCTYPE html><title>audit</title><p>{e}</p>"))
}

/// A writing node's name when only the report knows it: its certificate's
/// label, else the end of its peer id.
pub fn label_or_peer(peer: &str, label: Option<&str>) -> String {
    label
        .filter(|l| !l.is_empty())
        .map_or_else(|| crate::isolasi::short_peer(peer), str::to_string)
}
