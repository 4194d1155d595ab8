//! Every error the API returns: JSON `{"error": {"code", "message"}}` with a
//! stable machine `code` (clients branch on it) and a message a clerk can act
//! on. Extractor rejections (bad JSON, bad query strings, bodies over the
//! limit) go through the same shape, never axum's plain-text bodies.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;

/// The stable machine codes of errors. New codes may be added; existing ones
/// keep their meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The NIK in the path or the body breaks a rule (the message names it).
    InvalidNik,
    /// The `village` query parameter is not one of Banyuwangi's villages.
    InvalidVillage,
    /// A query parameter is malformed, out of range or unknown (`parameter` names it).
    InvalidParameter,
    /// The request body is not the JSON this route takes.
    InvalidBody,
    /// The request body is larger than the node accepts.
    BodyTooLarge,
    /// The request body is not declared as `application/json`.
    UnsupportedMediaType,
    /// No such route.
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The NIK has no record in the registry (or in that village).
    NotRegistered,
    /// Only a village node writes residents.
    NotAVillageNode,
    /// This node's role may not do this (e.g. an auditor writing a case, a
    /// village logging a crossing); the message says which role may.
    RoleNotAllowed,
    /// No isolation case with this id is held here.
    CaseNotFound,
    /// The person already has an open isolation case (the message names it).
    CaseOpen,
    /// A case with this id exists already.
    CaseExists,
    /// The body is not a signed statement file from `kampung admin`.
    InvalidStatement,
    /// The statement is not signed by this mesh's root key.
    NotSignedByRoot,
    /// This node has no root key configured, so it cannot verify statements.
    NoRoot,
    /// The store refused the write (the message says which record and why).
    Refused,
    /// The node's store failed.
    Store,
    /// The request took longer than the node allows.
    Timeout,
    /// The node is shutting down.
    ShuttingDown,
}

/// An API error: its HTTP status, stable code and message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    parameter: Option<String>,
}

/// The JSON body of every error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// For people: what was wrong and what to do.
    pub message: String,
    /// The query parameter at fault, for `invalid_parameter`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            parameter: None,
        }
    }

    /// A bad query parameter: 400, and the message starts with its name.
    pub fn parameter(name: &'static str, message: impl std::fmt::Display) -> Self {
        ApiError {
            parameter: Some(name.to_string()),
            ..Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidParameter,
                format!("{name}: {message}"),
            )
        }
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ShuttingDown,
            "the node is shutting down",
        )
    }

    pub fn store(e: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Store,
            e.to_string(),
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                parameter: self.parameter,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// `Json<T>` whose rejections are [`ApiError`]s.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(r: &JsonRejection) -> ApiError {
    let status = r.status();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::BodyTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        _ => ErrorCode::InvalidBody,
    };
    let message = match code {
        ErrorCode::BodyTooLarge => format!(
            "the request body is over {} MiB: send the records in smaller batches",
            crate::MAX_BODY >> 20
        ),
        ErrorCode::UnsupportedMediaType => {
            "send the body as JSON with the header Content-Type: application/json".to_string()
        }
        _ => r.body_text(),
    };
    ApiError::new(status, code, message)
}

/// `Query<T>` whose rejections are [`ApiError`]s (`invalid_parameter`).
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

fn query_rejection(r: &QueryRejection) -> ApiError {
    // serde names the field at fault: "unknown field `stauts`, expected one of ...".
    let text = r.body_text();
    let detail = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text)
        .replace("field", "parameter");
    // The parameter is between the first pair of backticks, when serde names one.
    let parameter = detail.split('`').nth(1).map(str::to_string);
    ApiError {
        parameter,
        ..ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidParameter,
            format!("query string: {detail}"),
        )
    }
}
