//! The OpenAPI 3.1 description of the API (utoipa), served at
//! `GET /v1/openapi.json`.
//!
//! Handlers carry `#[utoipa::path]`; the response types of this crate derive
//! `ToSchema`. Types of other crates (records, verdicts, mesh status) are
//! described by mirrors in [`schemas`]; the tests check real values against
//! the description, so a field added there and not here fails them, as does
//! a route in the router missing from [`ApiDoc`].

pub mod schemas;

use std::sync::OnceLock;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;

use crate::auth::Caller;
use crate::error::{ErrorBody, ErrorCode, ErrorDetail};
use crate::{metrics, routes};
use kampung_node::Permission;

/// Every route of the API.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "kampung node API",
        description = "The HTTP JSON API of a Banyuwangi village mesh node (village office, checkpoint or auditor). \
It listens on loopback unless configured otherwise.\n\n\
Every error is JSON `{\"error\": {\"code\", \"message\"}}` (see `ErrorBody`): `code` is stable \
(see `ErrorCode`), `message` is for people. Any route may also answer 408 `timeout` (over 30 s) \
and 503 `shutting_down`; an unknown path answers 404 `not_found`, a known path with another \
method 405 `method_not_allowed`. Request bodies are limited to 16 MiB (413 `body_too_large`).\n\n\
Dates in resident records are `[year, day of the year]`; dates of isolation cases are \
`YYYY-MM-DD`, days in Banyuwangi (WIB)."
    ),
    paths(
        routes::node::healthz,
        metrics::handler,
        handler,
        routes::verdict::lookup,
        routes::verdict::lookup_empty,
        routes::residents::list,
        routes::residents::write,
        routes::residents::check,
        routes::residents::preview,
        routes::residents::get,
        routes::residents::register,
        routes::residents::correct,
        routes::residents::move_out,
        routes::residents::deceased,
        routes::residents::withdraw,
        routes::verdict::verdict,
        routes::verdict::verdict_empty,
        routes::crossings::record,
        routes::crossings::list,
        routes::cases::open,
        routes::cases::list,
        routes::cases::get,
        routes::cases::history,
        routes::cases::placement,
        routes::cases::pickup,
        routes::cases::follow_up,
        routes::cases::note,
        routes::cases::release,
        routes::cases::due_today,
        routes::node::status,
        routes::node::peers,
        routes::node::backup,
        routes::documents::get_document,
        routes::documents::verify_file,
        routes::trust::add,
        routes::session::sign_in,
        routes::session::who_am_i,
        routes::session::sign_out,
        routes::people::list_users,
        routes::people::add_user,
        routes::people::change_user,
        routes::people::list_tokens,
        routes::people::create_token,
        routes::people::revoke_token,
        routes::audit::access_log,
        routes::audit::record_history,
        routes::audit::village_as_of,
        routes::audit::village_changes,
        routes::audit::verify,
        routes::audit::replay,
    ),
    components(schemas(ErrorBody, ErrorDetail, ErrorCode, schemas::StatusKind)),
    modifiers(&SecuritySchemes, &UniqueOperationIds),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "lookup", description = "Verdicts on NIKs"),
        (name = "residents", description = "Resident records of the villages"),
        (name = "checkpoint", description = "Checkpoint verdicts under the policy, and the crossing logs"),
        (name = "cases", description = "Isolation cases: placement, family pick-up, daily follow-up, release"),
        (name = "node", description = "This node and the mesh"),
        (name = "session", description = "Signing in and out"),
        (name = "people", description = "This node's accounts and tokens (its operator)"),
        (name = "audit", description = "The access log and the history of records (auditors)"),
    )
)]
pub struct ApiDoc;

/// Operation ids made from the method and the path (`get_v1_crossings`):
/// unique by construction, as the specification requires (the handlers'
/// own names repeat across modules: `list`, `get`). Also the answers every
/// route shares: 415 where a body is taken, 401 and 403 where credentials are.
#[derive(Debug)]
struct UniqueOperationIds;

impl utoipa::Modify for UniqueOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let slug: String = path
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
                .split('_')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("_");
            for (method, op) in [
                ("get", item.get.as_mut()),
                ("post", item.post.as_mut()),
                ("put", item.put.as_mut()),
                ("patch", item.patch.as_mut()),
                ("delete", item.delete.as_mut()),
            ] {
                if let Some(op) = op {
                    op.operation_id = Some(format!("{method}_{slug}"));
                    let responses = &mut op.responses.responses;
                    // A route that takes a body refuses another content type.
                    if op.request_body.is_some() && !responses.contains_key("415") {
                        responses.insert(
                            "415".into(),
                            error("`unsupported_media_type`: the body is not declared as JSON")
                                .into(),
                        );
                    }
                    // Every route but the open ones needs a session or a token.
                    let open = op
                        .security
                        .as_ref()
                        .is_some_and(|s| s.iter().all(|r| r == &Default::default()));
                    if !open {
                        for (code, what) in [
                            ("401", "`unauthenticated`: no session or token, or an unknown, revoked or expired one"),
                            ("403", "`forbidden`: the role signed in may not do this (or `cross_site`, `role_not_allowed`)"),
                        ] {
                            if !responses.contains_key(code) {
                                responses.insert(code.into(), error(what).into());
                            }
                        }
                    }
                }
            }
        }
    }
}

/// How a caller shows who it is: a program's token (`Authorization:
/// Bearer`), or a browser's session cookie after `POST /v1/session`.
#[derive(Debug)]
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `kampung token create`, or the node's local credential",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "Set by POST /v1/session",
            ))),
        );
    }
}

/// The description as JSON (built once).
pub fn json() -> &'static str {
    static SPEC: OnceLock<String> = OnceLock::new();
    SPEC.get_or_init(|| {
        ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot serialise the OpenAPI description");
            String::from("{}")
        })
    })
}

/// The OpenAPI description of this API.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "node",
    responses(
        (status = 200, description = "This document", content_type = "application/json", body = Object),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    )
)]
pub async fn handler(caller: Caller) -> Response {
    if let Err(e) = caller
        .actor
        .require(Permission::ReadNode, "read the API description")
    {
        return crate::error::ApiError::from(e).into_response();
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json(),
    )
        .into_response()
}
