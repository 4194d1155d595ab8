//! What every page shares: the person viewing it (signed in by session),
//! their language, the form token, the page's frame (title, navigation,
//! banners) and the translation helper templates call.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use kampung_api::auth::{cookie, SESSION_COOKIE};
use kampung_i18n::{Arg, Lang};
use kampung_node::{Actor, Node, PersonRole};

use crate::WebState;

/// The cookie holding the language chosen before signing in.
pub const LANG_COOKIE: &str = "kampung_lang";

/// Translations for a template: `{{ tr.t("key") }}`.
#[derive(Debug, Clone, Copy)]
pub struct Tr(pub Lang);

impl Tr {
    pub fn t(&self, key: &str) -> String {
        kampung_i18n::t(self.0, key)
    }

    /// A message with one argument.
    pub fn a(&self, key: &str, name: &str, value: impl std::fmt::Display) -> String {
        kampung_i18n::tr(self.0, key, &[(name, Arg::from(value.to_string()))])
    }

    /// A message with two arguments.
    pub fn a2(
        &self,
        key: &str,
        n1: &str,
        v1: impl std::fmt::Display,
        n2: &str,
        v2: impl std::fmt::Display,
    ) -> String {
        kampung_i18n::tr(
            self.0,
            key,
            &[(n1, v1.to_string().into()), (n2, v2.to_string().into())],
        )
    }

    /// `1 Desember 2026, 21.05 WIB`.
    pub fn when(&self, unix_ms: impl std::borrow::Borrow<i64>) -> String {
        kampung_i18n::date_time(self.0, *unix_ms.borrow())
    }

    /// `1.695.102`.
    pub fn num(&self, n: impl std::borrow::Borrow<usize>) -> String {
        kampung_i18n::number(*n.borrow() as u64)
    }

    pub fn code(&self) -> &'static str {
        self.0.code()
    }
}

/// The language of a page: the account's choice, else the language cookie,
/// else the browser's `Accept-Language`, else Bahasa Indonesia.
pub fn page_lang(account: Option<&str>, headers: &HeaderMap) -> Lang {
    account
        .and_then(Lang::parse)
        .or_else(|| cookie(headers, LANG_COOKIE).and_then(Lang::parse))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::Id)
}

/// A person signed in to this node's pages.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub actor: Actor,
    pub login: String,
    pub name: String,
    pub role: PersonRole,
    /// The session's form token: every form carries it.
    pub csrf: String,
    pub lang: Lang,
    /// The path asked for (to come back to after a form).
    pub path: String,
}

impl Viewer {
    pub fn tr(&self) -> Tr {
        Tr(self.lang)
    }
}

/// Not signed in: to the sign-in page, and back here afterwards.
fn to_sign_in(path: &str) -> Response {
    let next: String = path
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    Redirect::to(&format!("/masuk?lanjut={next}")).into_response()
}

impl FromRequestParts<WebState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path().to_string(), |u| u.0.path().to_string());
        let Some(value) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_sign_in(&path));
        };
        let node = state.node();
        let Some(session) = node.people().session(value, node.now_ms()) else {
            return Err(to_sign_in(&path));
        };
        let Actor::Person {
            login, name, role, ..
        } = &session.actor
        else {
            return Err(to_sign_in(&path));
        };
        Ok(Viewer {
            login: login.clone(),
            name: name.clone(),
            role: *role,
            lang: page_lang(session.language.as_deref(), &parts.headers),
            csrf: session.csrf.clone(),
            actor: session.actor.clone(),
            path,
        })
    }
}

/// One link of the navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: String,
    pub current: bool,
}

/// A message shown once at the top of a page (after a form was sent).
#[derive(Debug, Clone)]
pub struct Flash {
    /// `ok` or `error`.
    pub kind: &'static str,
    pub text: String,
}

/// The frame of every signed-in page.
#[derive(Debug, Clone)]
pub struct Shell {
    pub tr: Tr,
    pub title: String,
    /// `Bripka Made Suarta · petugas pos`.
    pub who: String,
    /// What this node is: `Pos Pelabuhan Ketapang (checkpoint:ketapang)`.
    pub node: String,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    /// The mesh is cut, or similar: shown on every page.
    pub banner: Option<String>,
    pub flash: Option<Flash>,
    /// The other language: its code and its name in itself.
    pub other_lang: (&'static str, &'static str),
    /// Where the language switch comes back to.
    pub back: String,
}

/// The pages of each role, in the navigation.
fn nav(role: PersonRole, tr: Tr, current: &str) -> Vec<NavItem> {
    let items: &[(&'static str, &str)] = match role {
        PersonRole::Officer => &[("/pos", "nav-pos"), ("/isolasi", "nav-isolasi")],
        PersonRole::Clerk => &[
            ("/desa", "nav-desa"),
            ("/desa/impor", "nav-impor"),
            ("/isolasi", "nav-isolasi"),
        ],
        PersonRole::Facility => &[("/isolasi", "nav-isolasi")],
        PersonRole::Auditor => &[
            ("/audit", "nav-audit"),
            ("/audit/nik", "nav-riwayat"),
            ("/audit/akses", "nav-akses"),
            ("/audit/periksa", "nav-periksa"),
            ("/audit/putar-ulang", "nav-putar"),
            ("/isolasi", "nav-isolasi"),
        ],
        PersonRole::Operator => &[("/operator", "nav-operator")],
    };
    items
        .iter()
        .map(|(href, key)| NavItem {
            href,
            label: tr.t(key),
            current: *href == current,
        })
        .collect()
}

/// The banner every page of a node cut off from the mesh shows.
pub fn mesh_banner(node: &Node, tr: Tr, peers: Option<usize>) -> Option<String> {
    match peers {
        Some(0) => {
            let last = node
                .copy_ages()
                .into_iter()
                .filter(|(d, _)| !node.owns(d))
                .map(|(_, a)| a)
                .min();
            Some(match last {
                Some(age) => tr.a(
                    "banner-mesh-cut",
                    "since",
                    kampung_i18n::date_time(
                        tr.0,
                        node.now_ms() - i64::try_from(age.as_millis()).unwrap_or(0),
                    ),
                ),
                None => tr.t("banner-mesh-alone"),
            })
        }
        _ => None,
    }
}

/// The node's clock is known to be wrong: it saves nothing until it is set
/// right (above every other banner: every write is refused).
pub fn clock_banner(node: &Node, tr: Tr) -> Option<String> {
    Some(match node.clock_check().problem? {
        kampung_node::ClockProblem::BeforeCertificate { .. } => {
            tr.t("health-clock_before_certificate")
        }
        _ => tr.t("health-clock_off"),
    })
}

impl Shell {
    pub async fn new(state: &WebState, v: &Viewer, title_key: &str, current: &str) -> Shell {
        let tr = v.tr();
        let node = state.node();
        let peers = match node.mesh() {
            Some(m) => m.status().await.ok().map(|s| s.peers.len()),
            None => Some(0),
        };
        let other_lang = match v.lang {
            Lang::Id => ("en", "English"),
            Lang::En => ("id", "Bahasa Indonesia"),
        };
        Shell {
            title: tr.t(title_key),
            who: format!("{} · {}", v.name, tr.t(&format!("role-{}", v.role))),
            node: node_label(node, tr),
            csrf: v.csrf.clone(),
            nav: nav(v.role, tr, current),
            banner: clock_banner(node, tr).or_else(|| mesh_banner(node, tr, peers)),
            flash: None,
            other_lang,
            back: v.path.clone(),
            tr,
        }
    }

    pub fn with_flash(mut self, kind: &'static str, text: String) -> Shell {
        self.flash = Some(Flash { kind, text });
        self
    }
}

/// What this node is, for people.
pub fn node_label(node: &Node, tr: Tr) -> String {
    use kampung_core::Role;
    // The name the root's certificate gives this node, where it has one.
    if let Some(label) = node.label_of(node.peer_id()) {
        return label;
    }
    match node.role() {
        Role::Village { village } => {
            let v = kampung_core::banyuwangi::village(*village);
            let kind = v.map_or("desa", |v| match v.kind {
                kampung_core::VillageKind::Kelurahan => "kelurahan",
                _ => "desa",
            });
            tr.a2(
                &format!("node-{kind}"),
                "name",
                v.map_or("?", |v| v.name),
                "district",
                v.map_or("?", |v| v.district_name),
            )
        }
        Role::Checkpoint { name } => tr.a("node-checkpoint", "name", name),
        Role::Facility { name } => tr.a("node-facility", "name", name),
        Role::Auditor => tr.t("node-auditor"),
    }
}
