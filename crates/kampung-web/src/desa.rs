//! The village office: its residents (searched through the index, so a
//! search never holds up writes or replication), adding, correcting, moving
//! out and marking deceased, each confirmed after seeing what changes; a
//! file's import previewed row by row before anything is written; export;
//! and the village's isolation cases.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use kampung_core::resident::StatusKind;
use kampung_core::{Address, Nik, Resident, Sex, Status, VillageCode};
use kampung_csv::Reason;
use kampung_i18n::Lang;
use kampung_node::{
    ChangedRecord, Confirmed, Correction, ErrorCode, NodeError, RecordChange, RefusalCode,
    ResidentQuery,
};
use serde::Deserialize;
use time::Date;

use crate::ctx::{Shell, Viewer};
use crate::isolasi::{case_rows, CaseRow};
use crate::{check_csrf, error_page, render, PendingImport, WebState, PENDING_IMPORTS};

/// Residents on one page of the list.
const PAGE: usize = 50;
/// Largest upload: the largest file a clerk imports, and the form around it.
pub const MAX_UPLOAD: usize = kampung_csv::MAX_FILE_BYTES as usize + 64 * 1024;
/// Rows of a preview shown in full (the counts cover them all).
const PREVIEW_ROWS: usize = 200;
/// A preview not confirmed within this time is forgotten.
const PENDING_MS: i64 = 30 * 60 * 1000;

/// One resident, as the list shows them.
#[derive(Debug, Clone)]
pub struct ResidentRow {
    pub nik: String,
    pub name: String,
    pub sex: String,
    pub birth: String,
    pub address: String,
    pub status: String,
    pub status_kind: &'static str,
}

fn address_text(a: &Address) -> String {
    format!("{}, RT {:03}/RW {:03}", a.dusun, a.rt, a.rw)
}

pub fn row(lang: Lang, r: &Resident) -> ResidentRow {
    ResidentRow {
        nik: r.nik.to_string(),
        name: r.full_name.clone(),
        sex: r.sex.code().to_string(),
        birth: kampung_i18n::date(lang, r.birth_date),
        address: address_text(&r.address),
        status: kampung_i18n::status(lang, &r.status),
        status_kind: r.status.kind().as_str(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    cari: String,
    /// Set after a withdrawal: the NIK withdrawn.
    #[serde(default)]
    ditarik: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    hal: usize,
}

/// A link to another page of the list, keeping the search.
#[derive(Debug, Clone)]
pub struct PageLink {
    pub href: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "desa.html")]
struct ListPage {
    shell: Shell,
    village: String,
    search: String,
    status: String,
    total: usize,
    /// `51–100`.
    shown: String,
    rows: Vec<ResidentRow>,
    prev: Option<PageLink>,
    next: Option<PageLink>,
    cases: Vec<CaseRow>,
    due: usize,
    /// Residents also active in another village: (NIK, what to do).
    doubles: Vec<(String, String)>,
}

fn query_string(search: &str, status: &str, page: usize) -> String {
    serde_urlencoded::to_string([
        ("cari", search),
        ("status", status),
        ("hal", &page.to_string()),
    ])
    .unwrap_or_default()
}

/// This node's village, or the page saying this is no village node.
fn own_village(state: &WebState) -> Result<VillageCode, NodeError> {
    state.node().own_village()
}

/// `/desa`: the residents, searched and paged; the village's open cases.
pub async fn page(
    State(state): State<WebState>,
    v: Viewer,
    Query(q): Query<ListQuery>,
) -> Response {
    let village = match own_village(&state) {
        Ok(village) => village,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    // Empty means every status here (in a CSV file it means active).
    let status = Some(q.status.trim())
        .filter(|s| !s.is_empty())
        .and_then(StatusKind::parse);
    let search = q.cari.trim().to_string();
    let query = ResidentQuery {
        village,
        search: (!search.is_empty()).then(|| search.clone()),
        status,
        offset: q.hal * PAGE,
        limit: PAGE,
    };
    let found = match state.node().residents_page(&v.actor, query).await {
        Ok(p) => p,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let status_text = status.map_or("", StatusKind::as_str).to_string();
    let tr = v.tr();
    let link = |page: usize, key: &str| PageLink {
        href: format!("/desa?{}", query_string(&search, &status_text, page)),
        label: tr.t(key),
    };
    let shown_from = (q.hal * PAGE + 1).min(found.total);
    let shown_to = (q.hal * PAGE + found.items.len()).min(found.total);
    let today = state.node().today().ok();
    let cases = state
        .node()
        .village_cases(&v.actor)
        .await
        .unwrap_or_default();
    let due = cases
        .iter()
        .filter(|c| today.is_some_and(|t| c.follow_up_due(t)))
        .count();
    render(&ListPage {
        village: crate::ctx::node_label(state.node(), tr),
        rows: found.items.iter().map(|r| row(v.lang, r)).collect(),
        prev: (q.hal > 0).then(|| link(q.hal - 1, "page-prev")),
        next: (shown_to < found.total).then(|| link(q.hal + 1, "page-next")),
        total: found.total,
        shown: format!("{shown_from}–{shown_to}"),
        search,
        status: status_text,
        cases: case_rows(v.lang, &cases, today),
        due,
        doubles: state
            .node()
            .double_registrations(&v.actor)
            .unwrap_or_default()
            .into_iter()
            .map(|(nik, villages)| {
                let note = kampung_i18n::double_registration(v.lang, &villages);
                (nik.to_string(), note)
            })
            .collect(),
        shell: match Nik::parse(&q.ditarik, state.node().this_year()) {
            Ok(nik) => Shell::new(&state, &v, "desa-title", "/desa")
                .await
                .with_flash("ok", v.tr().a("desa-withdrawn", "nik", nik.nik())),
            Err(_) => Shell::new(&state, &v, "desa-title", "/desa").await,
        },
    })
}

/// The form withdrawing a registration made in error.
#[derive(Debug, Default, Deserialize)]
pub struct WithdrawForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    alasan: String,
    /// The clerk ticked "I am sure" (`ya`).
    #[serde(default)]
    yakin: String,
}

/// `POST /desa/warga/{nik}/tarik`: withdraw a registration made in error,
/// then back to the list, which says so.
pub async fn withdraw(
    State(state): State<WebState>,
    v: Viewer,
    Path(nik): Path<String>,
    Form(f): Form<WithdrawForm>,
) -> Response {
    let nik = match posted_nik(&state, &v, &f.csrf, &nik) {
        Ok(nik) => nik,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    if f.yakin != "ya" {
        let e = bad("yakin", "tick the box to confirm the withdrawal".into());
        return resident_page(&state, &v, nik, None, Some(refusal_text(v.lang, &e))).await;
    }
    match state
        .node()
        .withdraw_registration(&v.actor, nik, &f.alasan)
        .await
    {
        Ok(_) => Redirect::to(&format!("/desa?ditarik={nik}")).into_response(),
        Err(e) => resident_page(&state, &v, nik, None, Some(refusal_text(v.lang, &e))).await,
    }
}

/// The form of a record's fields (to add or correct one).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RecordForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub nik: String,
    #[serde(default)]
    pub nama: String,
    #[serde(default)]
    pub jk: String,
    #[serde(default)]
    pub lahir: String,
    #[serde(default)]
    pub kk: String,
    #[serde(default)]
    pub dusun: String,
    #[serde(default)]
    pub rt: String,
    #[serde(default)]
    pub rw: String,
    /// `koreksi`, `pindah`, `meninggal` (a change), or empty (a new record).
    #[serde(default)]
    pub aksi: String,
    #[serde(default)]
    pub tujuan: String,
    #[serde(default)]
    pub tanggal: String,
    /// `pratinjau` (show what changes) or `simpan` (write it).
    #[serde(default)]
    pub langkah: String,
}

impl RecordForm {
    fn of(r: &Resident) -> RecordForm {
        RecordForm {
            nik: r.nik.to_string(),
            nama: r.full_name.clone(),
            jk: r.sex.code().to_string(),
            lahir: r.birth_date.to_string(),
            kk: r.family_card.clone(),
            dusun: r.address.dusun.clone(),
            rt: r.address.rt.to_string(),
            rw: r.address.rw.to_string(),
            ..RecordForm::default()
        }
    }
}

fn bad(field: &str, message: String) -> NodeError {
    NodeError::field(ErrorCode::InvalidBody, field, message)
}

fn date_field(field: &str, s: &str) -> Result<Date, NodeError> {
    kampung_csv::parse_date("date", s.trim()).map_err(|e| bad(field, e.1.to_string()))
}

/// A date a form may leave empty (not known).
fn optional_date(field: &str, s: &str) -> Result<Option<Date>, NodeError> {
    kampung_csv::parse_optional_date("date", s.trim()).map_err(|e| bad(field, e.1.to_string()))
}

fn number_field(field: &str, s: &str) -> Result<u16, NodeError> {
    s.trim()
        .parse()
        .map_err(|_| bad(field, Reason::NotNumber(s.to_string()).to_string()))
}

fn sex_field(s: &str) -> Result<Sex, NodeError> {
    Sex::parse(s.trim()).ok_or_else(|| bad("jk", Reason::NotSex(s.to_string()).to_string()))
}

/// The record a registration form describes.
fn new_record(
    state: &WebState,
    lang: Lang,
    f: &RecordForm,
    village: VillageCode,
) -> Result<Resident, Problem> {
    let nik = Nik::parse(&f.nik, state.node().this_year())
        .map_err(|e| Problem {
            message: kampung_i18n::nik_error(lang, &e),
            detail: format!("nik: {e}"),
        })?
        .nik();
    let fields = |e: NodeError| refusal_text(lang, &e);
    Ok(Resident {
        nik,
        full_name: f.nama.trim().to_string(),
        sex: sex_field(&f.jk).map_err(fields)?,
        birth_date: date_field("lahir", &f.lahir).map_err(fields)?,
        family_card: f.kk.trim().to_string(),
        address: Address {
            dusun: f.dusun.trim().to_string(),
            rt: number_field("rt", &f.rt).map_err(fields)?,
            rw: number_field("rw", &f.rw).map_err(fields)?,
        },
        village,
        status: Status::Active,
        updated_at_ms: 0,
    })
}

/// The change a form on a resident's page asks for.
fn change_of(f: &RecordForm) -> Result<RecordChange, NodeError> {
    match f.aksi.as_str() {
        "koreksi" => Ok(RecordChange::Correct(Correction {
            full_name: Some(f.nama.trim().to_string()),
            sex: Some(sex_field(&f.jk)?),
            birth_date: Some(date_field("lahir", &f.lahir)?),
            family_card: Some(f.kk.trim().to_string()),
            dusun: Some(f.dusun.trim().to_string()),
            rt: Some(number_field("rt", &f.rt)?),
            rw: Some(number_field("rw", &f.rw)?),
        })),
        "pindah" => Ok(RecordChange::MoveOut {
            to: f.tujuan.trim().to_string(),
            on: optional_date("tanggal", &f.tanggal)?,
        }),
        "meninggal" => Ok(RecordChange::Deceased(optional_date(
            "tanggal", &f.tanggal,
        )?)),
        other => Err(bad(
            "aksi",
            format!("'{other}' is not a change of a record"),
        )),
    }
}

/// One field that changes, as the confirmation shows it.
#[derive(Debug, Clone)]
pub struct FieldRow {
    pub label: String,
    pub old: String,
    pub new: String,
}

/// The fields in which `new` differs from `old`, as a confirmation shows them.
pub fn field_rows(lang: Lang, old: &Resident, new: &Resident) -> Vec<FieldRow> {
    kampung_node::field_changes_in(lang, old, new)
        .iter()
        .map(|f| FieldRow {
            label: kampung_i18n::t(lang, &format!("col-{}", f.field)),
            old: f.old.clone(),
            new: f.new.clone(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "warga.html")]
struct ResidentPage {
    shell: Shell,
    r: ResidentRow,
    form: RecordForm,
    active: bool,
    deceased: bool,
    /// A change shown for confirmation, with the form to confirm it.
    confirm: Option<Vec<FieldRow>>,
    pending: RecordForm,
    error: Option<Problem>,
}

async fn resident_page(
    state: &WebState,
    v: &Viewer,
    nik: Nik,
    confirm: Option<(Vec<FieldRow>, RecordForm)>,
    error: Option<Problem>,
) -> Response {
    resident_page_with(state, v, nik, confirm, error, None).await
}

async fn resident_page_with(
    state: &WebState,
    v: &Viewer,
    nik: Nik,
    confirm: Option<(Vec<FieldRow>, RecordForm)>,
    error: Option<Problem>,
    done: Option<&str>,
) -> Response {
    let village = match own_village(state) {
        Ok(village) => village,
        Err(e) => return error_page(state, v, &e).await,
    };
    let record = match state.node().resident(&v.actor, nik, Some(village)).await {
        Ok(r) => r,
        Err(e) => return error_page(state, v, &e).await,
    };
    let (confirm, pending) = match confirm {
        Some((rows, form)) => (Some(rows), form),
        None => (None, RecordForm::default()),
    };
    let page = ResidentPage {
        r: row(v.lang, &record),
        form: RecordForm::of(&record),
        active: record.status == Status::Active,
        deceased: matches!(record.status, Status::Deceased { .. }),
        confirm,
        pending,
        error,
        shell: match done {
            Some(key) => Shell::new(state, v, "warga-title", "/desa")
                .await
                .with_flash("ok", v.tr().t(key)),
            None => Shell::new(state, v, "warga-title", "/desa").await,
        },
    };
    render(&page)
}

fn parse_nik_path(state: &WebState, nik: &str) -> Result<Nik, NodeError> {
    state.node().parse_nik(nik)
}

/// The NIK of a form posted to a resident's page, once its token is checked.
fn posted_nik(state: &WebState, v: &Viewer, csrf: &str, nik: &str) -> Result<Nik, NodeError> {
    check_csrf(v, csrf)?;
    parse_nik_path(state, nik)
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    /// Set after a change: `saved` or `unchanged`.
    #[serde(default)]
    hasil: String,
}

/// `/desa/warga/{nik}`: one resident, and the forms to change the record.
pub async fn resident(
    State(state): State<WebState>,
    v: Viewer,
    Path(nik): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let done = match q.hasil.as_str() {
        "saved" => Some("warga-saved"),
        "unchanged" => Some("warga-unchanged"),
        _ => None,
    };
    match parse_nik_path(&state, &nik) {
        Ok(nik) => resident_page_with(&state, &v, nik, None, None, done).await,
        Err(e) => error_page(&state, &v, &e).await,
    }
}

/// A refusal: what it is in the viewer's language, and its particulars
/// (the node's words, in English).
pub fn refusal_text(lang: Lang, e: &NodeError) -> Problem {
    Problem {
        message: kampung_i18n::error(lang, e.code.as_str()),
        detail: e.message.clone(),
    }
}

/// What went wrong with a form, shown above it.
#[derive(Debug, Clone)]
pub struct Problem {
    pub message: String,
    pub detail: String,
}

/// `POST /desa/warga/{nik}/ubah`: first what would change (to confirm),
/// then, confirmed, the change itself.
pub async fn change(
    State(state): State<WebState>,
    v: Viewer,
    Path(nik): Path<String>,
    Form(f): Form<RecordForm>,
) -> Response {
    let nik = match posted_nik(&state, &v, &f.csrf, &nik) {
        Ok(nik) => nik,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let change = match change_of(&f) {
        Ok(c) => c,
        Err(e) => {
            return resident_page(&state, &v, nik, None, Some(refusal_text(v.lang, &e))).await
        }
    };
    let node = state.node();
    if f.langkah == "simpan" {
        return match node.change_record(&v.actor, nik, change).await {
            Ok(written) => {
                let key = if written.changed {
                    "saved"
                } else {
                    "unchanged"
                };
                Redirect::to(&format!("/desa/warga/{nik}?hasil={key}")).into_response()
            }
            Err(e) => resident_page(&state, &v, nik, None, Some(refusal_text(v.lang, &e))).await,
        };
    }
    match node.preview_change(&v.actor, nik, change).await {
        Ok(ChangedRecord { old, new, .. }) => {
            let rows = field_rows(v.lang, &old, &new);
            let form = RecordForm {
                langkah: "simpan".into(),
                csrf: String::new(),
                ..f
            };
            resident_page(&state, &v, nik, Some((rows, form)), None).await
        }
        Err(e) => resident_page(&state, &v, nik, None, Some(refusal_text(v.lang, &e))).await,
    }
}

#[derive(Template)]
#[template(path = "baru.html")]
struct NewPage {
    shell: Shell,
    form: RecordForm,
    confirm: Option<Vec<FieldRow>>,
    error: Option<Problem>,
}

async fn new_page(
    state: &WebState,
    v: &Viewer,
    form: RecordForm,
    confirm: Option<Vec<FieldRow>>,
    error: Option<Problem>,
) -> Response {
    render(&NewPage {
        form,
        confirm,
        error,
        shell: Shell::new(state, v, "baru-title", "/desa").await,
    })
}

/// `/desa/baru`: the form to register a resident.
pub async fn new_form(State(state): State<WebState>, v: Viewer) -> Response {
    if let Err(e) = own_village(&state) {
        return error_page(&state, &v, &e).await;
    }
    new_page(&state, &v, RecordForm::default(), None, None).await
}

/// `POST /desa/baru`: the new record to confirm, then registered.
pub async fn register(
    State(state): State<WebState>,
    v: Viewer,
    Form(f): Form<RecordForm>,
) -> Response {
    if let Err(e) = check_csrf(&v, &f.csrf) {
        return error_page(&state, &v, &e).await;
    }
    let village = match own_village(&state) {
        Ok(village) => village,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let record = match new_record(&state, v.lang, &f, village) {
        Ok(r) => r,
        Err(problem) => return new_page(&state, &v, f, None, Some(problem)).await,
    };
    let node = state.node();
    if f.langkah == "simpan" {
        return match node.register(&v.actor, record).await {
            Ok(written) => Redirect::to(&format!("/desa/warga/{}?hasil=saved", written.record.nik))
                .into_response(),
            Err(e) => new_page(&state, &v, f, None, Some(refusal_text(v.lang, &e))).await,
        };
    }
    let refused = match node
        .check_residents(&v.actor, vec![record.clone()], &Confirmed::new())
        .await
    {
        Ok(r) => r,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    if let Some(r) = refused.first() {
        let text = Problem {
            message: kampung_i18n::error(v.lang, "refused"),
            detail: r.message.clone(),
        };
        return new_page(&state, &v, f, None, Some(text)).await;
    }
    if let Err(e) = record.validate(node.this_year()) {
        let text = Problem {
            message: kampung_i18n::error(v.lang, "refused"),
            detail: e.to_string(),
        };
        return new_page(&state, &v, f, None, Some(text)).await;
    }
    let lang = v.lang;
    let fields = [
        ("nik", record.nik.to_string()),
        ("full_name", record.full_name.clone()),
        ("sex", kampung_i18n::sex(lang, record.sex)),
        ("birth_date", kampung_i18n::date(lang, record.birth_date)),
        ("family_card", record.family_card.clone()),
        ("dusun", record.address.dusun.clone()),
        ("rt", record.address.rt.to_string()),
        ("rw", record.address.rw.to_string()),
    ]
    .into_iter()
    .map(|(field, value)| FieldRow {
        label: kampung_i18n::t(lang, &format!("col-{field}")),
        old: String::new(),
        new: value,
    })
    .collect();
    let form = RecordForm {
        langkah: "simpan".into(),
        ..f
    };
    new_page(&state, &v, form, Some(fields), None).await
}

/// A row of an uploaded file that cannot be imported, and why.
#[derive(Debug, Clone)]
pub struct ImportError {
    pub line: u64,
    pub field: String,
    pub reason: String,
}

/// A record an import would change.
#[derive(Debug, Clone)]
pub struct ChangedRow {
    pub nik: String,
    pub name: String,
    pub fields: Vec<FieldRow>,
}

#[derive(Template)]
#[template(path = "impor.html")]
struct ImportPage {
    shell: Shell,
    file: String,
    /// Nothing uploaded yet: just the form.
    uploaded: bool,
    file_error: Option<String>,
    /// Columns of the file this node does not keep, left out.
    ignored: String,
    errors: Vec<ImportError>,
    added: Vec<ResidentRow>,
    added_total: usize,
    changed: Vec<ChangedRow>,
    changed_total: usize,
    unchanged: usize,
    /// Rows that change who a registered NIK is, or undo a move out or a
    /// death: written only once the clerk ticks them.
    confirmable: Vec<ConfirmRow>,
    /// NIKs already confirmed (ticked again on the form).
    confirmed: Vec<String>,
    /// The preview to check again with confirmations.
    recheck: Option<String>,
    /// The preview to confirm (only when the file has no errors).
    token: Option<String>,
    done: Option<String>,
}

/// A row waiting for the clerk's confirmation.
struct ConfirmRow {
    line: u64,
    nik: String,
    reason: String,
}

impl ImportPage {
    async fn blank(state: &WebState, v: &Viewer) -> ImportPage {
        ImportPage {
            file: String::new(),
            uploaded: false,
            file_error: None,
            ignored: String::new(),
            errors: Vec::new(),
            added: Vec::new(),
            added_total: 0,
            changed: Vec::new(),
            changed_total: 0,
            unchanged: 0,
            confirmable: Vec::new(),
            confirmed: Vec::new(),
            recheck: None,
            token: None,
            done: None,
            shell: Shell::new(state, v, "impor-title", "/desa/impor").await,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ImportQuery {
    #[serde(default)]
    ditulis: Option<usize>,
    #[serde(default)]
    diubah: Option<usize>,
}

/// `/desa/impor`: the form to upload a file.
pub async fn import_form(
    State(state): State<WebState>,
    v: Viewer,
    Query(q): Query<ImportQuery>,
) -> Response {
    if let Err(e) = own_village(&state) {
        return error_page(&state, &v, &e).await;
    }
    let mut page = ImportPage::blank(&state, &v).await;
    if let (Some(added), Some(changed)) = (q.ditulis, q.diubah) {
        page.done = Some(v.tr().a2("impor-done", "added", added, "changed", changed));
    }
    render(&page)
}

/// The file and the form token of an upload.
async fn read_upload(mut form: Multipart) -> Result<(String, String, Vec<u8>), NodeError> {
    let mut csrf = String::new();
    let mut file = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| NodeError::body(format!("the upload could not be read: {e}")))?
    {
        match field.name() {
            Some("csrf") => {
                csrf = field
                    .text()
                    .await
                    .map_err(|e| NodeError::body(format!("csrf: {e}")))?;
            }
            Some("berkas") => {
                let name = field.file_name().unwrap_or("berkas.csv").to_string();
                let bytes = field.bytes().await.map_err(|e| {
                    NodeError::new(
                        ErrorCode::BodyTooLarge,
                        format!(
                            "the file could not be read (larger than {} MB?): {e}",
                            MAX_UPLOAD / 1024 / 1024
                        ),
                    )
                })?;
                file = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    let (name, bytes) = file.ok_or_else(|| NodeError::body("berkas: no file was chosen"))?;
    Ok((csrf, name, bytes))
}

/// `POST /desa/impor`: read the file, check every row and show what would
/// be written (added, changed field by field, unchanged) and every bad row.
/// Nothing is written here; a file without errors can be confirmed.
pub async fn import_upload(State(state): State<WebState>, v: Viewer, form: Multipart) -> Response {
    let (csrf, name, bytes) = match read_upload(form).await {
        Ok(u) => u,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    if let Err(e) = check_csrf(&v, &csrf) {
        return error_page(&state, &v, &e).await;
    }
    let node = state.node();
    let report = match kampung_csv::read_file_for(&bytes, node.this_year(), node.role().village()) {
        Ok(r) => r,
        Err(e) => {
            let mut page = ImportPage::blank(&state, &v).await;
            page.uploaded = true;
            page.file = name;
            page.file_error = Some(format!(
                "{} {}",
                kampung_i18n::t(v.lang, "impor-file-error"),
                e.message(v.lang)
            ));
            return render(&page);
        }
    };
    let pending = PendingImport {
        login: v.login.clone(),
        file: name,
        lines: report.rows.iter().map(|r| r.line).collect(),
        ignored: report.ignored,
        records: report.rows.into_iter().map(|r| r.resident).collect(),
        file_errors: report
            .errors
            .iter()
            .map(|e| ImportError {
                line: e.line,
                field: e.field.unwrap_or("").to_string(),
                reason: e.reason.message(v.lang),
            })
            .collect(),
        confirmed: Confirmed::new(),
        made_ms: node.now_ms(),
    };
    preview_page(&state, &v, crate::random_token(), pending).await
}

/// The preview of a pending import (kept under `token` for the clerk to
/// confirm, or to confirm identity changes and check again).
async fn preview_page(
    state: &WebState,
    v: &Viewer,
    token: String,
    pending: PendingImport,
) -> Response {
    let node = state.node();
    let mut page = ImportPage::blank(state, v).await;
    page.uploaded = true;
    page.file = pending.file.clone();
    page.errors = pending.file_errors.clone();
    page.ignored = pending.ignored.join(", ");
    let preview = match node
        .preview_import(&v.actor, pending.records.clone(), &pending.confirmed)
        .await
    {
        Ok(p) => p,
        Err(e) => return error_page(state, v, &e).await,
    };
    let line = |i: usize| pending.lines.get(i).copied().unwrap_or(0);
    for r in &preview.refused {
        if matches!(
            r.code,
            RefusalCode::IdentityChange | RefusalCode::OlderState
        ) {
            if let Some(rec) = pending.records.get(r.index) {
                page.confirmable.push(ConfirmRow {
                    line: line(r.index),
                    nik: rec.nik.to_string(),
                    reason: r.message_in(v.lang),
                });
            }
        } else {
            page.errors.push(ImportError {
                line: line(r.index),
                field: r.field.clone(),
                reason: r.message_in(v.lang),
            });
        }
    }
    page.errors.sort_by_key(|e| e.line);
    page.confirmed = pending.confirmed.iter().map(ToString::to_string).collect();
    page.added_total = preview.added.len();
    page.added = preview
        .added
        .iter()
        .take(PREVIEW_ROWS)
        .map(|r| row(v.lang, r))
        .collect();
    page.changed_total = preview.changed.len();
    page.changed = preview
        .changed
        .iter()
        .take(PREVIEW_ROWS)
        .map(|c| ChangedRow {
            nik: c.new.nik.to_string(),
            name: c.old.full_name.clone(),
            fields: field_rows(v.lang, &c.old, &c.new),
        })
        .collect();
    page.unchanged = preview.unchanged;
    let writable = page.errors.is_empty()
        && page.confirmable.is_empty()
        && page.added_total + page.changed_total > 0;
    if writable || (page.errors.is_empty() && !page.confirmable.is_empty()) {
        keep_pending(state, token.clone(), pending);
        if writable {
            page.token = Some(token);
        } else {
            page.recheck = Some(token);
        }
    }
    render(&page)
}

/// Keep a preview for its clerk (a bounded number, none older than 30 minutes).
fn keep_pending(state: &WebState, token: String, pending: PendingImport) {
    let mut kept = state
        .imports
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let now = pending.made_ms;
    kept.retain(|_, p| now - p.made_ms < PENDING_MS);
    while kept.len() >= PENDING_IMPORTS {
        let oldest = kept
            .iter()
            .min_by_key(|(_, p)| p.made_ms)
            .map(|(k, _)| k.clone());
        match oldest {
            Some(k) => kept.remove(&k),
            None => break,
        };
    }
    kept.insert(token, pending);
}

/// The preview a clerk's form names, if it is still kept and theirs.
fn take_pending(state: &WebState, v: &Viewer, token: &str) -> Result<PendingImport, NodeError> {
    state
        .imports
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(token)
        .filter(|p| p.login == v.login)
        .ok_or_else(|| {
            NodeError::new(
                ErrorCode::NotFound,
                "this preview is no longer kept (older than 30 minutes, or already imported): upload the file again",
            )
        })
}

/// `POST /desa/impor/periksa`: the clerk ticked the NIKs whose identity
/// change (or return from a move out or death) is right; preview again with
/// them confirmed. Form fields: `csrf`, `token`, and `nik` once per NIK.
pub async fn import_recheck(
    State(state): State<WebState>,
    v: Viewer,
    body: axum::body::Bytes,
) -> Response {
    let mut csrf = String::new();
    let mut token = String::new();
    let mut niks = Vec::new();
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    for (k, val) in fields {
        match k.as_str() {
            "csrf" => csrf = val,
            "token" => token = val,
            "nik" => niks.push(val),
            _ => {}
        }
    }
    if let Err(e) = check_csrf(&v, &csrf) {
        return error_page(&state, &v, &e).await;
    }
    let mut pending = match take_pending(&state, &v, &token) {
        Ok(p) => p,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let node = state.node();
    pending.confirmed = match niks
        .iter()
        .map(|n| node.parse_nik(n))
        .collect::<Result<Confirmed, _>>()
    {
        Ok(c) => c,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    pending.made_ms = node.now_ms();
    preview_page(&state, &v, crate::random_token(), pending).await
}

#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    csrf: String,
    token: String,
}

/// `POST /desa/impor/konfirmasi`: write the previewed file, exactly as it
/// was previewed, with the confirmations the clerk gave (the write checks
/// again: a record changed meanwhile into something refused stops it).
pub async fn import_confirm(
    State(state): State<WebState>,
    v: Viewer,
    Form(f): Form<ConfirmForm>,
) -> Response {
    if let Err(e) = check_csrf(&v, &f.csrf) {
        return error_page(&state, &v, &e).await;
    }
    let pending = match take_pending(&state, &v, &f.token) {
        Ok(p) => p,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    tracing::info!(file = %pending.file, records = pending.records.len(), confirmed = pending.confirmed.len(), by = %v.login, "import confirmed");
    match state
        .node()
        .write_residents(&v.actor, pending.records, &pending.confirmed, None)
        .await
    {
        Ok(w) => Redirect::to(&format!(
            "/desa/impor?ditulis={}&diubah={}",
            w.report.added, w.report.changed
        ))
        .into_response(),
        Err(e) => error_page(&state, &v, &e).await,
    }
}

/// `/desa/ekspor.csv`: every resident of the village, in the import's columns.
pub async fn export(State(state): State<WebState>, v: Viewer) -> Response {
    export_as(state, v, false).await
}

/// `/desa/ekspor.xlsx`: the same as an Excel workbook (NIK and KK as text).
pub async fn export_xlsx(State(state): State<WebState>, v: Viewer) -> Response {
    export_as(state, v, true).await
}

async fn export_as(state: WebState, v: Viewer, xlsx: bool) -> Response {
    let village = match own_village(&state) {
        Ok(village) => village,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    const BATCH: usize = 1000;
    let mut all: Vec<Resident> = Vec::new();
    loop {
        let mut q = ResidentQuery::new(village, BATCH);
        q.offset = all.len();
        match state.node().residents_page(&v.actor, q).await {
            Ok(p) if p.items.is_empty() => break,
            Ok(p) => all.extend(p.items),
            Err(e) => return error_page(&state, &v, &e).await,
        }
    }
    let written = if xlsx {
        kampung_csv::write_xlsx(&all).map_err(NodeError::store)
    } else {
        let mut out = Vec::new();
        kampung_csv::write(&mut out, &all)
            .map(|()| out)
            .map_err(NodeError::store)
    };
    let out = match written {
        Ok(out) => out,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let (mime, ext) = if xlsx {
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        )
    } else {
        ("text/csv; charset=utf-8", "csv")
    };
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"warga-{village}.{ext}\""),
            ),
        ],
        out,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correction_form_reads_every_field_and_names_the_bad_one() {
        let f = RecordForm {
            aksi: "koreksi".into(),
            nama: " Sri Wahyuni ".into(),
            jk: "P".into(),
            lahir: "1985-03-12".into(),
            kk: "3510150101100001".into(),
            dusun: "Krajan".into(),
            rt: "1".into(),
            rw: "2".into(),
            ..RecordForm::default()
        };
        let RecordChange::Correct(c) = change_of(&f).unwrap() else {
            panic!("not a correction");
        };
        assert_eq!(c.full_name.as_deref(), Some("Sri Wahyuni"));
        assert_eq!(c.rt, Some(1));
        let e = change_of(&RecordForm {
            rt: "satu".into(),
            ..f.clone()
        })
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("rt"));
        let e = change_of(&RecordForm {
            lahir: "1985-02-30".into(),
            ..f
        })
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("lahir"));
    }
}
