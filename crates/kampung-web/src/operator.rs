//! The operator: this node's status and peers, how fresh its copy of every
//! village is (the 217 villages, stale ones first), the certificates the
//! root signed and when they expire, and the node's people and tokens.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use kampung_core::DocId;
use kampung_i18n::Lang;
use kampung_node::people::AccountChange;
use kampung_node::{ErrorCode, HealthProblem, NodeError, PersonRole};
use serde::Deserialize;

use crate::ctx::{node_label, Flash, Shell, Viewer};
use crate::isolasi::short_peer;
use crate::{check_csrf, error_page, render, WebState};

/// A certificate expiring within this many days is flagged.
const EXPIRY_WARNING_DAYS: i64 = 30;

pub struct PeerRow {
    pub name: String,
    pub peer: String,
    pub role: String,
    pub admitted: bool,
    pub connected: String,
    pub last_sync: String,
    pub in_sync: String,
    pub software: String,
}

pub struct RefusedRow {
    pub peer: String,
    pub when: String,
    /// As the mesh logged it (English: the peer's operator reads it in
    /// their log too, and it names versions and certificates).
    pub reason: String,
}

pub struct VillageRow {
    pub district: &'static str,
    pub name: &'static str,
    pub code: String,
    pub age: String,
    pub stale: bool,
}

pub struct DistrictRow {
    pub name: &'static str,
    pub stale: usize,
    pub total: usize,
}

pub struct CertRow {
    pub label: String,
    pub peer: String,
    pub role: String,
    pub village: String,
    pub from: String,
    pub until: String,
    pub state: String,
    /// `ok`, `soon` (expires within 30 days) or `bad` (expired or revoked).
    pub level: &'static str,
}

pub struct PersonRow {
    pub login: String,
    pub name: String,
    pub role: String,
    pub state: String,
    pub disabled: bool,
    pub locked: bool,
}

pub struct TokenRow {
    pub id: String,
    pub label: String,
    pub role: String,
    pub expires: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "operator.html")]
struct OperatorPage {
    shell: Shell,
    node: String,
    peer_id: String,
    role: String,
    niks: usize,
    documents: usize,
    /// No root key: the node accepts anything (loopback only).
    development: bool,
    /// What keeps the node from doing its job: (title, particulars).
    problems: Vec<(String, String)>,
    /// What will stop the node soon (a certificate about to end).
    warnings: Vec<(String, String)>,
    fingerprint: String,
    listen: Vec<String>,
    /// A village node's: the villages keeping a copy of its details, and
    /// those whose details it keeps ("Kampunganyar (35.10.15.2012)").
    details_kept_by: Vec<String>,
    keeps_details_of: Vec<String>,
    peers: Vec<PeerRow>,
    refused: Vec<RefusedRow>,
    districts: Vec<DistrictRow>,
    villages: Vec<VillageRow>,
    stale: usize,
    certs: Vec<CertRow>,
    certs_note: Option<String>,
    people: Vec<PersonRow>,
    tokens: Vec<TokenRow>,
    roles: Vec<(&'static str, String)>,
}

/// Health problems or warnings as (title in the reader's language, particulars).
fn problem_rows(lang: Lang, problems: Vec<HealthProblem>) -> Vec<(String, String)> {
    problems
        .into_iter()
        .map(|p| {
            (
                kampung_i18n::t(lang, &format!("health-{}", p.code)),
                p.detail,
            )
        })
        .collect()
}

/// `Bakungan (35.10.15.1002)`.
fn village_label(code: kampung_core::VillageCode) -> String {
    match kampung_core::banyuwangi::village(code) {
        Some(v) => format!("{} ({code})", v.name),
        None => code.to_string(),
    }
}

fn age_text(lang: Lang, age: Option<Duration>) -> String {
    match age {
        Some(Duration::ZERO) => kampung_i18n::t(lang, "fresh-own"),
        other => kampung_i18n::ago(lang, other),
    }
}

async fn operator_page(state: &WebState, v: &Viewer, flash: Option<Flash>) -> Response {
    let node = state.node();
    let lang = v.lang;
    let tr = v.tr();
    let status = match node.status(&v.actor).await {
        Ok(s) => s,
        Err(e) => return error_page(state, v, &e).await,
    };
    let peers = match node.peers(&v.actor).await {
        Ok(p) => p,
        Err(e) => return error_page(state, v, &e).await,
    };
    let held: HashSet<DocId> = status.documents.iter().map(|d| d.doc.clone()).collect();
    let mut villages: Vec<VillageRow> = kampung_core::banyuwangi::villages()
        .iter()
        .map(|vil| {
            let doc = DocId::card(vil.code);
            let is_held = held.contains(&doc);
            let age = if is_held { node.copy_age(&doc) } else { None };
            VillageRow {
                district: vil.district_name,
                name: vil.name,
                code: vil.code.to_string(),
                age: if is_held {
                    age_text(lang, age)
                } else {
                    tr.t("fresh-none")
                },
                stale: age.is_none_or(|a| a > crate::STALE),
            }
        })
        .collect();
    villages.sort_by(|a, b| {
        b.stale
            .cmp(&a.stale)
            .then(a.district.cmp(b.district))
            .then(a.name.cmp(b.name))
    });
    let mut by_district: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    for r in &villages {
        let e = by_district.entry(r.district).or_default();
        e.1 += 1;
        if r.stale {
            e.0 += 1;
        }
    }
    let mut districts: Vec<DistrictRow> = by_district
        .into_iter()
        .map(|(name, (stale, total))| DistrictRow { name, stale, total })
        .collect();
    districts.sort_by(|a, b| b.stale.cmp(&a.stale).then(a.name.cmp(b.name)));
    let now = node.now_ms();
    let (certs, certs_note) = match node.certificates(&v.actor) {
        Ok(list) => (
            list.into_iter()
                .map(|c| {
                    let days_left = (c.until_ms - now) / 86_400_000;
                    let (state, level) = if let Some(from) = c.revoked_from_ms {
                        (
                            tr.a("cert-revoked", "date", kampung_i18n::date_time(lang, from)),
                            "bad",
                        )
                    } else if !c.in_force {
                        (tr.t("cert-not-in-force"), "bad")
                    } else if days_left < EXPIRY_WARNING_DAYS {
                        (tr.a("cert-expires-in", "days", days_left), "soon")
                    } else {
                        (tr.t("cert-ok"), "ok")
                    };
                    CertRow {
                        label: c.label,
                        peer: short_peer(&c.peer),
                        role: tr.t(&format!("node-kind-{}", c.role)),
                        village: c.village.map(|v| v.to_string()).unwrap_or_default(),
                        from: kampung_i18n::date_time(lang, c.not_before_ms),
                        until: kampung_i18n::date_time(lang, c.until_ms),
                        state,
                        level,
                    }
                })
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(kampung_i18n::error(lang, e.code.as_str()))),
    };
    let people = match node.list_people(&v.actor) {
        Ok(p) => p,
        Err(e) => return error_page(state, v, &e).await,
    };
    let tokens = match node.list_tokens(&v.actor) {
        Ok(t) => t,
        Err(e) => return error_page(state, v, &e).await,
    };
    let mut shell = Shell::new(state, v, "operator-title", "/operator").await;
    shell.flash = flash;
    let stale = villages.iter().filter(|r| r.stale).count();
    let page = OperatorPage {
        node: node_label(node, tr),
        peer_id: status.peer_id,
        role: status.role,
        niks: status.niks,
        documents: status.documents.len(),
        development: status.development,
        warnings: problem_rows(lang, node.warnings()),
        problems: problem_rows(lang, node.health().await),
        fingerprint: state.app.web().tls_fingerprint.clone().unwrap_or_default(),
        listen: peers.listen,
        details_kept_by: status
            .details_kept_by
            .iter()
            .map(|c| village_label(*c))
            .collect(),
        keeps_details_of: status
            .keeps_details_of
            .iter()
            .map(|c| village_label(*c))
            .collect(),
        peers: peers
            .peers
            .iter()
            .map(|p| PeerRow {
                name: node
                    .label_of(&p.peer_id)
                    .unwrap_or_else(|| short_peer(&p.peer_id)),
                peer: p.peer_id.clone(),
                role: p.role.clone().unwrap_or_default(),
                admitted: p.admitted,
                connected: kampung_i18n::age(lang, Duration::from_secs(p.connected_for_secs)),
                last_sync: p
                    .last_sync_ms
                    .map(|t| kampung_i18n::date_time(lang, t))
                    .unwrap_or_else(|| tr.t("never")),
                in_sync: match p.in_sync {
                    Some(true) => tr.t("yes"),
                    Some(false) => tr.t("no"),
                    None => "—".into(),
                },
                software: p.software.clone().unwrap_or_else(|| "—".into()),
            })
            .collect(),
        refused: peers
            .refused
            .into_iter()
            .map(|r| RefusedRow {
                when: kampung_i18n::date_time(lang, r.at_ms),
                peer: r.peer_id,
                reason: r.reason,
            })
            .collect(),
        districts,
        villages,
        stale,
        certs,
        certs_note,
        people: people
            .iter()
            .map(|a| PersonRow {
                login: a.login.clone(),
                name: a.name.clone(),
                role: tr.t(&format!("role-{}", a.role)),
                state: if a.disabled {
                    tr.t("account-disabled")
                } else if a.locked {
                    tr.t("account-locked")
                } else {
                    tr.t("account-active")
                },
                disabled: a.disabled,
                locked: a.locked,
            })
            .collect(),
        tokens: tokens
            .iter()
            .map(|t| TokenRow {
                id: t.id.clone(),
                label: t.label.clone(),
                role: tr.t(&format!("role-{}", t.role)),
                expires: t
                    .expires_ms
                    .map(|e| kampung_i18n::date_time(lang, e))
                    .unwrap_or_else(|| tr.t("never")),
                revoked: t.revoked,
            })
            .collect(),
        roles: PersonRole::ALL
            .iter()
            .filter(|r| r.allowed_on(node.role()))
            .map(|r| (r.as_str(), tr.t(&format!("role-{r}"))))
            .collect(),
        shell,
    };
    render(&page)
}

/// `/operator`.
pub async fn page(State(state): State<WebState>, v: Viewer) -> Response {
    operator_page(&state, &v, None).await
}

#[derive(Debug, Default, Deserialize)]
pub struct PersonForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    nama: String,
    #[serde(default)]
    peran: String,
}

fn role_of(s: &str) -> Result<PersonRole, NodeError> {
    s.parse()
        .map_err(|e: String| NodeError::field(ErrorCode::InvalidBody, "role", e))
}

/// A one-time password, shown once on the page (never in an address).
fn password_flash(v: &Viewer, login: &str, password: &str) -> Flash {
    Flash {
        kind: "ok",
        text: v
            .tr()
            .a2("person-password", "login", login, "password", password),
    }
}

/// `POST /operator/pengguna`: add a person; their first password shown once.
pub async fn add_person(
    State(state): State<WebState>,
    v: Viewer,
    Form(f): Form<PersonForm>,
) -> Response {
    if let Err(e) = check_csrf(&v, &f.csrf) {
        return error_page(&state, &v, &e).await;
    }
    let added = role_of(&f.peran).and_then(|role| {
        state
            .node()
            .add_person(&v.actor, f.login.trim(), f.nama.trim(), role)
    });
    match added {
        Ok((a, password)) => {
            let flash = password_flash(&v, &a.login, &password);
            operator_page(&state, &v, Some(flash)).await
        }
        Err(e) => error_page(&state, &v, &e).await,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /operator/pengguna/{login}/{action}`: `nonaktif`, `aktif`,
/// `reset` (a new one-time password, shown once) or `buka` (unlock).
pub async fn change_person(
    State(state): State<WebState>,
    v: Viewer,
    Path((login, action)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(e) = check_csrf(&v, &f.csrf) {
        return error_page(&state, &v, &e).await;
    }
    let change = match action.as_str() {
        "nonaktif" => AccountChange::Disable,
        "aktif" => AccountChange::Enable,
        "reset" => AccountChange::Reset,
        "buka" => AccountChange::Unlock,
        other => {
            let e = NodeError::new(
                ErrorCode::NotFound,
                format!("'{other}' is not an action on an account"),
            );
            return error_page(&state, &v, &e).await;
        }
    };
    match state.node().change_person(&v.actor, &login, change) {
        Ok((a, Some(password))) => {
            let flash = password_flash(&v, &a.login, &password);
            operator_page(&state, &v, Some(flash)).await
        }
        Ok(_) => Redirect::to("/operator#orang").into_response(),
        Err(e) => error_page(&state, &v, &e).await,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    peran: String,
    /// Days until it expires; empty: never.
    #[serde(default)]
    hari: String,
}

/// `POST /operator/token`: a token for a program; its secret shown once.
pub async fn create_token(
    State(state): State<WebState>,
    v: Viewer,
    Form(f): Form<TokenForm>,
) -> Response {
    if let Err(e) = check_csrf(&v, &f.csrf) {
        return error_page(&state, &v, &e).await;
    }
    let node = state.node();
    let expires = match f.hari.trim() {
        "" => Ok(None),
        d => d
            .parse::<u16>()
            .ok()
            .filter(|d| *d > 0)
            .map(|d| Some(node.now_ms() + i64::from(d) * 86_400_000))
            .ok_or_else(|| {
                NodeError::field(
                    ErrorCode::InvalidBody,
                    "hari",
                    format!("'{d}' is not a number of days (1 to 65535)"),
                )
            }),
    };
    let made = expires.and_then(|expires| {
        role_of(&f.peran)
            .and_then(|role| node.create_token(&v.actor, f.label.trim(), role, expires))
    });
    match made {
        Ok((t, secret)) => {
            let flash = Flash {
                kind: "ok",
                text: v.tr().a2("token-secret", "id", &t.id, "secret", &secret),
            };
            operator_page(&state, &v, Some(flash)).await
        }
        Err(e) => error_page(&state, &v, &e).await,
    }
}

/// `POST /operator/token/{id}/cabut`.
pub async fn revoke_token(
    State(state): State<WebState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(e) = check_csrf(&v, &f.csrf) {
        return error_page(&state, &v, &e).await;
    }
    match state.node().revoke_token(&v.actor, &id) {
        Ok(_) => Redirect::to("/operator#token").into_response(),
        Err(e) => error_page(&state, &v, &e).await,
    }
}
