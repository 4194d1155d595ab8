//! Who is calling, and the browser-safety rules every request passes.
//!
//! - [`Caller`]: the actor of a request, from `Authorization: Bearer` (a
//!   program's token, or the local credential of the node's own machine) or
//!   the `kampung_session` cookie of a signed-in browser. No credentials:
//!   [`Actor::Nobody`], which every workflow refuses with 401.
//! - [`guard`]: a `Host` allow-list (a page that rebinds its name to this
//!   node's address is answered 421), a same-origin check of every unsafe
//!   request that a cookie signs (403 `cross_site`), and security headers on
//!   every answer (CSP without inline script, no framing, no referrer to other sites, no sniffing).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kampung_node::{Actor, ErrorCode};

use crate::error::ApiError;
use crate::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "kampung_session";

/// The Content-Security-Policy of a page: nothing from another origin, no
/// inline script, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The Content-Security-Policy of every other answer (JSON, metrics, the
/// pages' styles and scripts): nothing at all may load or frame it, as
/// OWASP's REST cheat sheet advises for an API. Also 170 bytes shorter on
/// each of the tens of thousands of verdicts a second a checkpoint answers.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Which `Host` names this node answers to.
#[derive(Debug, Clone, Default)]
pub struct HostAllowList {
    /// Host names (lowercase, without port) besides the loopback names.
    pub names: Vec<String>,
    /// The port the API listens on (`None`: any, for tests).
    pub port: Option<u16>,
}

impl HostAllowList {
    /// Is `host` (a `Host` header: `name[:port]`) one of ours?
    pub fn allows(&self, host: &str) -> bool {
        // On every request: compared in place, without allocating.
        let host = host.trim();
        let (name, port) = match host.rsplit_once(':') {
            // An IPv6 literal is bracketed: `[::1]:7480`.
            Some((n, p)) if !n.ends_with(':') && p.bytes().all(|b| b.is_ascii_digit()) => {
                (n, p.parse::<u16>().ok())
            }
            _ => (host, None),
        };
        let name = name.trim_start_matches('[').trim_end_matches(']');
        let port_ok = match (self.port, port) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => true,
        };
        let loopback = name.eq_ignore_ascii_case("localhost")
            || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        port_ok && (loopback || self.names.iter().any(|n| n.eq_ignore_ascii_case(name)))
    }
}

/// The actor of a request, and for a browser its session's form token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    /// The session's form token (pages put it in every form).
    pub csrf: Option<String>,
    /// The account's chosen language, if any.
    pub language: Option<String>,
    /// Signed in by a session cookie (a browser).
    pub by_cookie: bool,
}

/// The language the client reads, from `Accept-Language` (`id` or `en`);
/// English when it asks for neither.
#[derive(Debug, Clone, Copy)]
pub struct ReaderLang(pub kampung_i18n::Lang);

impl<S: Send + Sync> FromRequestParts<S> for ReaderLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ReaderLang(reader_lang(&parts.headers)))
    }
}

/// The language of `Accept-Language`, English by default.
pub fn reader_lang(headers: &HeaderMap) -> kampung_i18n::Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(kampung_i18n::Lang::from_accept_language)
        .unwrap_or(kampung_i18n::Lang::En)
}

/// The value of cookie `name`, if the request sends it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The client's address (for counting failed sign-ins); unspecified if unknown.
pub fn client_ip(parts_ext: &axum::http::Extensions) -> IpAddr {
    parts_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let now = state.now_ms();
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let credential = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .unwrap_or_default();
            return match state.people().bearer(credential, now) {
                Some(actor) => Ok(Caller {
                    actor,
                    csrf: None,
                    language: None,
                    by_cookie: false,
                }),
                None => Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::Unauthenticated,
                    "the token is unknown, revoked or expired: ask the node's operator for a new one (`kampung token create`)",
                )),
            };
        }
        if let Some(value) = cookie(&parts.headers, SESSION_COOKIE) {
            if let Some(s) = state.people().session(value, now) {
                return Ok(Caller {
                    actor: s.actor,
                    csrf: Some(s.csrf),
                    language: s.language,
                    by_cookie: true,
                });
            }
        }
        // A route that takes a caller needs one: refused before its body is read.
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "sign in first (POST /v1/session, or the pages), or send Authorization: Bearer with a token",
        ))
    }
}

fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    // `Origin: null` (a privacy-sensitive context) says nothing: fall back
    // to what the browser says of the request's site.
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| *o != "null");
    if let Some(origin) = origin {
        let origin = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .unwrap_or("");
        return !host.is_empty() && origin.eq_ignore_ascii_case(host);
    }
    // No Origin: a browser says where the request came from instead, or it
    // is not a browser (no cookie is sent cross-site with SameSite=Strict).
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => matches!(site, "same-origin" | "none"),
        None => true,
    }
}

/// Every request: the `Host` allow-list, the same-origin rule for unsafe
/// requests from a browser; on the answer, an API error in the reader's
/// language ([`crate::error::localize`]) and the security headers.
/// The security headers of every answer (made at compile time: parsing
/// their names on every answer showed in the verdict's profile).
static SECURITY_HEADERS: [(HeaderName, HeaderValue); 3] = [
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    // Same-origin: nothing leaves for another site, and the browser's own
    // form posts keep their Origin (`no-referrer` makes it `null`).
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
];

/// A page's own: its [`CSP`], and the opener policy, which only a document has.
static PAGE_HEADERS: [(HeaderName, HeaderValue); 2] = [
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    ),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ),
];

/// Every other answer's own: the stricter [`API_CSP`].
static API_HEADERS: [(HeaderName, HeaderValue); 1] = [(
    header::CONTENT_SECURITY_POLICY,
    HeaderValue::from_static(API_CSP),
)];

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host_ok = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_none_or(|h| state.web().hosts.allows(h));
    let mut response = if !host_ok {
        ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            ErrorCode::MisdirectedHost,
            "this node does not answer for that host name: use the address its operator gave you",
        )
        .into_response()
    } else {
        let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let from_browser = cookie(req.headers(), SESSION_COOKIE).is_some()
            || req.headers().contains_key(header::ORIGIN);
        let lang = reader_lang(req.headers());
        let response = if unsafe_method && from_browser && !same_origin(req.headers()) {
            ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::CrossSite,
                "a request from another site is refused: use this node's own pages",
            )
            .into_response()
        } else {
            next.run(req).await
        };
        crate::error::localize(lang, response).await
    };
    let h = response.headers_mut();
    let page = h
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    let own: &[(HeaderName, HeaderValue)] = if page { &PAGE_HEADERS } else { &API_HEADERS };
    for (name, value) in SECURITY_HEADERS.iter().chain(own) {
        h.insert(name.clone(), value.clone());
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The `Set-Cookie` value of a new session (`Secure` over TLS).
pub fn session_cookie(value: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_loopback_and_configured_names_only() {
        let list = HostAllowList {
            names: vec!["pos-ketapang.lan".into(), "192.168.10.5".into()],
            port: Some(7480),
        };
        for ok in [
            "localhost:7480",
            "127.0.0.1:7480",
            "[::1]:7480",
            "pos-ketapang.lan:7480",
            "POS-KETAPANG.LAN:7480",
            "192.168.10.5:7480",
            "localhost",
        ] {
            assert!(list.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example:7480",
            "localhost:8080",
            "pos-ketapang.lan.evil.example:7480",
            "192.168.10.6:7480",
        ] {
            assert!(!list.allows(bad), "{bad}");
        }
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; kampung_session=ks_x; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("ks_x"));
        assert_eq!(cookie(&h, "c"), None);
        assert!(session_cookie("v", true).contains("Secure"));
        assert!(session_cookie("v", false).contains("HttpOnly; SameSite=Strict"));
    }
}
