//! The pages a node serves beside its API, for the people at it: the
//! checkpoint officer (`/pos`), the village clerk (`/desa`), isolation
//! facility staff (`/isolasi`), the auditor (`/audit`) and the operator
//! (`/operator`), in Bahasa Indonesia first (English on request).
//!
//! Every page is rendered on the node from its own replica (so it keeps
//! working when the regency network is cut, and says so), by askama
//! templates (`templates/`) with every word from the message catalogues
//! (`kampung-i18n`). Assets are embedded; nothing is fetched from another
//! origin; no inline script (the CSP forbids it). Pages call the node
//! library's workflows, exactly as the API does; a form carries the
//! session's token, and the API's guard (host allow-list, same-origin
//! posts, security headers) covers the pages too.

mod assets;
mod audit;
mod ctx;
mod desa;
mod isolasi;
mod masuk;
mod operator;
mod pos;
mod putar;
pub mod report;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use kampung_api::AppState;
use kampung_core::Resident;
use kampung_node::{Node, NodeError};

pub use ctx::{Shell, Tr, Viewer};

/// What the pages share: the API's state (the node and how it is served)
/// and the imports a clerk has previewed but not yet confirmed.
#[derive(Debug, Clone)]
pub struct WebState {
    app: AppState,
    imports: Arc<Mutex<HashMap<String, PendingImport>>>,
}

/// A file a clerk uploaded and saw previewed: written only once confirmed.
#[derive(Debug, Clone)]
pub struct PendingImport {
    login: String,
    file: String,
    records: Vec<Resident>,
    /// The file's row of each record.
    lines: Vec<u64>,
    /// Rows the file itself got wrong (they block the import).
    file_errors: Vec<desa::ImportError>,
    /// Columns of the file this node does not keep, left out.
    ignored: Vec<String>,
    /// NIKs the clerk confirmed an identity change or a return for.
    confirmed: kampung_node::Confirmed,
    made_ms: i64,
}

/// Previews kept at once (the oldest go first): a clerk's upload is small.
pub(crate) const PENDING_IMPORTS: usize = 16;
/// A copy of a village not heard from its owner for longer than this is
/// called stale (on the verdict and the operator's page). Owners announce
/// themselves every `heartbeat_secs` (5 minutes by default), well within it.
pub(crate) const STALE: std::time::Duration = std::time::Duration::from_secs(3600);

impl WebState {
    pub fn new(app: AppState) -> Self {
        WebState {
            app,
            imports: Arc::default(),
        }
    }

    pub fn node(&self) -> &Node {
        &self.app
    }
}

/// Every page and asset, and the API beside them.
pub fn router(app: AppState) -> Router {
    let api = kampung_api::router(app.clone());
    let state = WebState::new(app.clone());
    let pages = Router::new()
        .route("/", get(masuk::home))
        .route("/masuk", get(masuk::form).post(masuk::sign_in))
        .route("/keluar", post(masuk::sign_out))
        .route("/bahasa", post(masuk::language))
        .route("/assets/{name}", get(assets::serve))
        .route("/pos", get(pos::page))
        .route("/pos/putusan", get(pos::fragment))
        .route("/pos/cek", get(pos::check))
        .route("/pos/catat", post(pos::record))
        .route("/desa", get(desa::page))
        .route("/desa/warga/{nik}", get(desa::resident))
        .route("/desa/warga/{nik}/ubah", post(desa::change))
        .route("/desa/warga/{nik}/tarik", post(desa::withdraw))
        .route("/desa/baru", get(desa::new_form).post(desa::register))
        .route(
            "/desa/impor",
            get(desa::import_form)
                .post(desa::import_upload)
                .layer(axum::extract::DefaultBodyLimit::max(desa::MAX_UPLOAD)),
        )
        .route("/desa/impor/konfirmasi", post(desa::import_confirm))
        .route("/desa/impor/periksa", post(desa::import_recheck))
        .route("/desa/ekspor.csv", get(desa::export))
        .route("/desa/ekspor.xlsx", get(desa::export_xlsx))
        .route("/isolasi", get(isolasi::page))
        .route("/isolasi/kasus/{id}", get(isolasi::case))
        .route("/isolasi/kasus/{id}/{action}", post(isolasi::update))
        .route("/audit", get(audit::crossings))
        .route("/audit/lintas.csv", get(audit::crossings_csv))
        .route("/audit/nik", get(audit::person))
        .route("/audit/akses", get(audit::access))
        .route("/audit/akses.csv", get(audit::access_csv))
        .route("/audit/periksa", get(audit::verify))
        .route("/audit/periksa/laporan.html", get(audit::verify_file))
        .route("/audit/putar-ulang", get(putar::replay))
        .route("/operator", get(operator::page))
        .route("/operator/pengguna", post(operator::add_person))
        .route(
            "/operator/pengguna/{login}/{action}",
            post(operator::change_person),
        )
        .route("/operator/token", post(operator::create_token))
        .route("/operator/token/{id}/cabut", post(operator::revoke_token))
        .layer(axum::extract::DefaultBodyLimit::max(kampung_api::MAX_BODY))
        .with_state(state);
    let guarded = pages.layer(axum::middleware::from_fn_with_state(
        app,
        kampung_api::auth::guard,
    ));
    api.merge(guarded)
}

/// A page, rendered; a template that fails to render is a defect, shown as one.
pub(crate) fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "page error").into_response()
        }
    }
}

/// The page of an error: what went wrong, in the viewer's language.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    shell: Shell,
    message: String,
    detail: String,
}

/// A workflow's refusal as a page, in the viewer's language (the English
/// particulars below it).
pub(crate) async fn error_page(state: &WebState, v: &Viewer, e: &NodeError) -> Response {
    let shell = Shell::new(state, v, "error-title", "").await;
    let status = match e.code {
        kampung_node::ErrorCode::Forbidden
        | kampung_node::ErrorCode::RoleNotAllowed
        | kampung_node::ErrorCode::CrossSite => StatusCode::FORBIDDEN,
        kampung_node::ErrorCode::NotFound
        | kampung_node::ErrorCode::NotRegistered
        | kampung_node::ErrorCode::CaseNotFound => StatusCode::NOT_FOUND,
        kampung_node::ErrorCode::Store | kampung_node::ErrorCode::ShuttingDown => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let page = ErrorPage {
        message: kampung_i18n::error(v.lang, e.code.as_str()),
        detail: e.message.clone(),
        shell,
    };
    (status, render(&page)).into_response()
}

/// A random token (a preview to confirm), 128 bits as hex.
pub(crate) fn random_token() -> String {
    rand::random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A form's token must be the session's: a form posted from elsewhere is refused.
pub(crate) fn check_csrf(v: &Viewer, sent: &str) -> Result<(), NodeError> {
    if !sent.is_empty() && sent == v.csrf {
        Ok(())
    } else {
        Err(NodeError::new(
            kampung_node::ErrorCode::CrossSite,
            "the form's token is missing or stale: open the page again and send it from there",
        ))
    }
}
