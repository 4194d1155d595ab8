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
use kampung_node::NodeError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;

pub use kampung_node::ErrorCode;

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
    /// When the client asked for another language than English
    /// (`Accept-Language: id`): the English message with its particulars
    /// (which field, which record), `message` being the catalogue's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
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

    /// The same error with another status (a route whose input error is
    /// 400 where the workflow's default is 422).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

/// A workflow's error as an HTTP answer: the status follows from its code.
impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        let status = match e.code {
            ErrorCode::InvalidVillage
            | ErrorCode::InvalidParameter
            | ErrorCode::InvalidStatement => StatusCode::BAD_REQUEST,
            ErrorCode::NotAVillageNode | ErrorCode::RoleNotAllowed | ErrorCode::NotSignedByRoot => {
                StatusCode::FORBIDDEN
            }
            ErrorCode::NotFound
            | ErrorCode::NotRegistered
            | ErrorCode::CaseNotFound
            | ErrorCode::NoSuchAccount
            | ErrorCode::NoSuchToken => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Timeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::CaseOpen | ErrorCode::CaseExists | ErrorCode::NoRoot => StatusCode::CONFLICT,
            ErrorCode::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::Store => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unauthenticated | ErrorCode::WrongCredentials => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden | ErrorCode::AccountLocked | ErrorCode::CrossSite => {
                StatusCode::FORBIDDEN
            }
            ErrorCode::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::MisdirectedHost => StatusCode::MISDIRECTED_REQUEST,
            ErrorCode::ShuttingDown | ErrorCode::ClockOff => StatusCode::SERVICE_UNAVAILABLE,
            // invalid_nik, invalid_body, refused, and codes added later.
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        let parameter = match e.code {
            ErrorCode::InvalidParameter => e.field,
            _ => None,
        };
        ApiError {
            status,
            code: e.code,
            message: e.message,
            parameter,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                parameter: self.parameter,
                detail: None,
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

/// Errors in the reader's language: when `Accept-Language` asks for
/// Bahasa Indonesia, an error's `message` is the catalogue's sentence for
/// its code, and the English message (with its particulars) moves to `detail`.
/// (Applied by [`crate::auth::guard`] to every answer: one layer less on
/// the verdict's path.)
pub async fn localize(lang: kampung_i18n::Lang, response: Response) -> Response {
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if lang == kampung_i18n::Lang::En || response.status().as_u16() < 400 || !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return (parts, axum::body::Body::empty()).into_response();
    };
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return (parts, axum::body::Body::from(bytes)).into_response();
    };
    let code = v["error"]["code"].as_str().map(str::to_string);
    if let (Some(code), Some(err)) = (code, v["error"].as_object_mut()) {
        let english = err.get("message").cloned().unwrap_or_default();
        err.insert("detail".into(), english);
        err.insert("message".into(), kampung_i18n::error(lang, &code).into());
    }
    let body = serde_json::to_vec(&v).unwrap_or_else(|_| bytes.to_vec());
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    (parts, axum::body::Body::from(body)).into_response()
}

/// A JSON body of at most `limit` bytes (a sign-in is small: refuse more
/// before reading it).
pub async fn json_limited<T: DeserializeOwned>(req: Request, limit: usize) -> Result<T, ApiError> {
    let is_json = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim() == "application/json")
        });
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send the body as JSON with the header Content-Type: application/json",
        ));
    }
    let bytes = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::BodyTooLarge,
                format!("the request body is over {limit} bytes"),
            )
        })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidBody,
            format!("the body is not the JSON this route takes: {e}"),
        )
    })
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
