//! The one error shape of `optout serve`: every answer with a status of 400 or more is
//! `{"error": {"code": "...", "message": "..."}}` with `Content-Type: application/json`.
//! Codes are stable strings, documented in `docs/serve.md`; a client branches on the code,
//! a person reads the message (one line).
//!
//! Errors made by layers that are not ours (axum's 404 and 405, `tower-http`'s 413 and its
//! time limit) are rewritten into this shape by [`normalize`], so no client ever has to
//! parse a second shape.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A stable error code (`docs/serve.md`, "Errors").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// 400: the body is not the JSON the endpoint takes, or a query parameter is missing.
    BadRequest,
    /// 401: no bearer token, or not the configured one.
    Unauthorized,
    /// 404: no such endpoint, or no such evidence record.
    NotFound,
    /// 405: the endpoint does not take this method.
    MethodNotAllowed,
    /// 413: the body is longer than `--max-body-bytes`.
    BodyTooLarge,
    /// 415: a body that is not `application/json`.
    UnsupportedMediaType,
    /// 422: well-formed JSON with a value that cannot be used (an unknown purpose, an agent
    /// that is not a product token, more than 10,000 URLs, a header a server could not send).
    Invalid,
    /// 429: the client already has `--max-in-flight` requests running.
    TooManyRequests,
    /// 503: the request did not finish within `--request-timeout`, or the service is
    /// stopping.
    Timeout,
    /// 500: the engine failed (a store error, a record that could not be written); nothing
    /// was handed out that is not on record.
    Internal,
}

impl ErrorCode {
    /// The HTTP status of this code.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code for an error status made by a layer that is not ours.
    fn of_status(status: StatusCode) -> ErrorCode {
        match status {
            StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::BodyTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::Invalid,
            StatusCode::TOO_MANY_REQUESTS => ErrorCode::TooManyRequests,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT => ErrorCode::Timeout,
            s if s.is_client_error() => ErrorCode::BadRequest,
            _ => ErrorCode::Internal,
        }
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// What went wrong, as a stable code.
    pub code: ErrorCode,
    /// One line for a person.
    pub message: String,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::BadRequest, message)
    }

    /// 422.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Invalid, message)
    }

    /// 500, logged: an engine failure is the operator's to see.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!("serve: {error}");
        ApiError::new(ErrorCode::Internal, error.to_string())
    }
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable code (`docs/serve.md`).
    pub code: ErrorCode,
    /// One line for a person.
    pub message: String,
}

/// The bytes of the error body for `code` and `message`.
pub fn error_body(code: ErrorCode, message: &str) -> Vec<u8> {
    // One line: a message never carries a line break into a client's log.
    let message = message.replace(['\r', '\n'], " ");
    let body = ErrorBody {
        error: ErrorDetail { code, message },
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let bytes = error_body(self.code, &self.message);
        let mut response = (self.code.status(), bytes).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.code == ErrorCode::Unauthorized {
            // RFC 6750 §3: the scheme the client must use.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"optout\""),
            );
        }
        response
    }
}

impl From<optout_engine::EngineError> for ApiError {
    fn from(error: optout_engine::EngineError) -> ApiError {
        use optout_engine::EngineError;
        match error {
            EngineError::BadAgent(why) => ApiError::invalid(format!("agent: {why}")),
            EngineError::BadHeader(bad) => ApiError::invalid(bad.to_string()),
            other => ApiError::internal(other),
        }
    }
}

/// Rewrites an error answer that is not in the one shape (it has no JSON body) into it,
/// keeping its status; leaves every other answer alone.
pub async fn normalize(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let code = ErrorCode::of_status(status);
    let message = match code {
        ErrorCode::NotFound => "no such endpoint (see /openapi.json)".to_owned(),
        ErrorCode::MethodNotAllowed => "the endpoint does not take this method".to_owned(),
        ErrorCode::BodyTooLarge => "the body is longer than --max-body-bytes".to_owned(),
        ErrorCode::Timeout => "the request did not finish within --request-timeout".to_owned(),
        _ => status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase(),
    };
    let mut fixed = ApiError::new(code, message).into_response();
    *fixed.status_mut() = status;
    if let Some(allow) = response.headers().get(header::ALLOW) {
        fixed.headers_mut().insert(header::ALLOW, allow.clone());
    }
    drop(response);
    fixed
}
