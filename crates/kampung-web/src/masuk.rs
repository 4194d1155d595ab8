//! Signing in and out, the language switch, and the way home.

use askama::Template;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use kampung_api::auth::{clear_cookie, client_ip, cookie, session_cookie, SESSION_COOKIE};
use kampung_i18n::Lang;
use kampung_node::{Actor, PersonRole};
use serde::Deserialize;

use crate::ctx::{node_label, page_lang, Tr, LANG_COOKIE};
use crate::{render, WebState};

/// Largest sign-in form accepted.
const SIGN_IN_FORM: usize = 4096;

#[derive(Template)]
#[template(path = "masuk.html")]
struct SignInPage {
    tr: Tr,
    node: String,
    next: String,
    login: String,
    error: Option<String>,
    other_lang: (&'static str, &'static str),
}

#[derive(Debug, Default, Deserialize)]
pub struct Next {
    #[serde(default)]
    lanjut: String,
}

/// A path on this node to come back to; anything else goes home.
fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if ok {
        next.to_string()
    } else {
        "/".to_string()
    }
}

fn other(lang: Lang) -> (&'static str, &'static str) {
    match lang {
        Lang::Id => ("en", "English"),
        Lang::En => ("id", "Bahasa Indonesia"),
    }
}

/// The page each role starts on.
pub fn home_of(role: PersonRole) -> &'static str {
    match role {
        PersonRole::Officer => "/pos",
        PersonRole::Clerk => "/desa",
        PersonRole::Facility => "/isolasi",
        PersonRole::Auditor => "/audit",
        PersonRole::Operator => "/operator",
    }
}

/// `/`: the viewer's own page, or the sign-in page.
pub async fn home(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let node = state.node();
    let who =
        cookie(&headers, SESSION_COOKIE).and_then(|c| node.people().session(c, node.now_ms()));
    match who.and_then(|s| s.actor.role()) {
        Some(role) => Redirect::to(home_of(role)).into_response(),
        None => Redirect::to("/masuk").into_response(),
    }
}

pub async fn form(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Response {
    let lang = page_lang(None, &headers);
    render(&SignInPage {
        tr: Tr(lang),
        node: node_label(state.node(), Tr(lang)),
        next: safe_next(&q.lanjut),
        login: String::new(),
        error: None,
        other_lang: other(lang),
    })
}

#[derive(Debug, Deserialize)]
struct SignInForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    lanjut: String,
}

pub async fn sign_in(State(state): State<WebState>, req: Request) -> Response {
    let lang = page_lang(None, req.headers());
    let ip = client_ip(req.extensions());
    let tr = Tr(lang);
    let page = |login: String, next: String, error: String| SignInPage {
        tr,
        node: node_label(state.node(), tr),
        next,
        login,
        error: Some(error),
        other_lang: other(lang),
    };
    let body = match axum::body::to_bytes(req.into_body(), SIGN_IN_FORM).await {
        Ok(b) => b,
        Err(_) => {
            return (
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                render(&page(
                    String::new(),
                    "/".into(),
                    kampung_i18n::error(lang, "body_too_large"),
                )),
            )
                .into_response()
        }
    };
    let Ok(f) = serde_urlencoded_form::<SignInForm>(&body) else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            render(&page(
                String::new(),
                "/".into(),
                kampung_i18n::error(lang, "invalid_body"),
            )),
        )
            .into_response();
    };
    let next = safe_next(&f.lanjut);
    let node = state.node();
    match node
        .people()
        .sign_in(f.login.trim(), &f.password, ip, node.now_ms())
        .await
    {
        Ok(signed) => {
            let to = match (&signed.actor, next.as_str()) {
                (Actor::Person { role, .. }, "/") => home_of(*role).to_string(),
                _ => next,
            };
            (
                [(
                    header::SET_COOKIE,
                    session_cookie(&signed.cookie, state.app.web().tls),
                )],
                Redirect::to(&to),
            )
                .into_response()
        }
        Err(e) => {
            let status = match e.code {
                kampung_node::ErrorCode::TooManyAttempts => {
                    axum::http::StatusCode::TOO_MANY_REQUESTS
                }
                kampung_node::ErrorCode::AccountLocked => axum::http::StatusCode::FORBIDDEN,
                _ => axum::http::StatusCode::UNAUTHORIZED,
            };
            (
                status,
                render(&page(
                    f.login,
                    next,
                    kampung_i18n::error(lang, e.code.as_str()),
                )),
            )
                .into_response()
        }
    }
}

/// A form body (`application/x-www-form-urlencoded`).
pub(crate) fn serde_urlencoded_form<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, serde_urlencoded::de::Error> {
    serde_urlencoded::from_bytes(body)
}

pub async fn sign_out(State(state): State<WebState>, headers: HeaderMap) -> Response {
    if let Some(value) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = state.node().people().sign_out(value) {
            tracing::warn!(error = %e, "could not end a session");
        }
    }
    (
        [(header::SET_COOKIE, clear_cookie(state.app.web().tls))],
        Redirect::to("/masuk"),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct LangForm {
    bahasa: String,
    #[serde(default)]
    kembali: String,
}

/// Switch the language: the account's, if signed in, and the browser's cookie.
pub async fn language(
    State(state): State<WebState>,
    headers: HeaderMap,
    Form(f): Form<LangForm>,
) -> Response {
    let Some(lang) = Lang::parse(&f.bahasa) else {
        return Redirect::to(&safe_next(&f.kembali)).into_response();
    };
    let node = state.node();
    if let Some(s) =
        cookie(&headers, SESSION_COOKIE).and_then(|c| node.people().session(c, node.now_ms()))
    {
        if let Actor::Person { login, .. } = &s.actor {
            if let Err(e) = node.people().set_language(login, lang.code()) {
                tracing::warn!(error = %e, "could not keep the language of an account");
            }
        }
    }
    (
        [(
            header::SET_COOKIE,
            format!(
                "{LANG_COOKIE}={}; Path=/; SameSite=Strict; Max-Age=31536000",
                lang.code()
            ),
        )],
        Redirect::to(&safe_next(&f.kembali)),
    )
        .into_response()
}
