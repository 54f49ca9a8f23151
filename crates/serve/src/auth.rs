//! Bearer tokens (RFC 6750): when a token is configured, every endpoint but `/healthz` and
//! `/openapi.json` wants `Authorization: Bearer TOKEN`, and anything else is `401` with
//! `WWW-Authenticate: Bearer`.
//!
//! The token is never a command-line value (it would show in `ps`): it comes from a file
//! (`--token-file`) or the environment (`OPTOUT_SERVE_TOKEN`). Tokens are compared in
//! constant time, over their SHA-256 digests so that not even the length leaks through the
//! time a comparison takes.

use super::AppState;
use super::errors::{ApiError, ErrorCode};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The shortest token accepted: a guessable token guards nothing.
pub const MIN_TOKEN_LEN: usize = 16;

/// A configured bearer token, kept as its digest.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// Why a token cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Too short, or with characters a header cannot carry.
    #[error(
        "the token must be at least {MIN_TOKEN_LEN} visible ASCII characters, without spaces (RFC 6750 §2.1 b64token)"
    )]
    Weak,
}

impl Token {
    /// The token `text`, trimmed of surrounding whitespace (a file ends with a newline).
    pub fn new(text: &str) -> Result<Token, TokenError> {
        let text = text.trim();
        if text.len() < MIN_TOKEN_LEN || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::Weak);
        }
        Ok(Token {
            digest: Sha256::digest(text.as_bytes()).into(),
        })
    }

    /// True when `offered` is this token, compared in constant time.
    pub fn matches(&self, offered: &[u8]) -> bool {
        let offered: [u8; 32] = Sha256::digest(offered).into();
        self.digest.ct_eq(&offered).into()
    }
}

/// Paths open without a token: a load balancer's health check, and the API description.
fn is_open(path: &str) -> bool {
    matches!(path, "/healthz" | "/openapi.json")
}

/// Lets a request through when no token is configured, its path is open, or it carries the
/// token; answers `401` otherwise.
pub async fn require_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.token else {
        return next.run(request).await;
    };
    if is_open(request.uri().path()) {
        return next.run(request).await;
    }
    let offered = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .and_then(|v| {
            // The scheme is case-insensitive (RFC 9110 §11.1).
            let (scheme, rest) = v.split_at_checked(7)?;
            scheme.eq_ignore_ascii_case(b"bearer ").then_some(rest)
        });
    match offered {
        Some(offered) if token.matches(offered) => next.run(request).await,
        Some(_) => ApiError::new(
            ErrorCode::Unauthorized,
            "the bearer token is not the configured one",
        )
        .into_response(),
        None => ApiError::new(
            ErrorCode::Unauthorized,
            "a bearer token is needed: Authorization: Bearer TOKEN",
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_themselves() {
        let token = Token::new("0123456789abcdef-secret\n").unwrap();
        assert!(token.matches(b"0123456789abcdef-secret"));
        assert!(!token.matches(b"0123456789abcdef-secreT"));
        assert!(!token.matches(b"0123456789abcdef-secret "));
        assert!(!token.matches(b""));
        assert!(Token::new("short").is_err());
        assert!(Token::new("has a space in the middle").is_err());
        assert_eq!(format!("{token:?}"), "Token(..)");
    }
}
