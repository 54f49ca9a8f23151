//! Limits that keep one client from taking the service from the others: requests in flight
//! per client address (`429`), the body's length (`413`), its media type (`415`) and a
//! batch's length (`422`). The time per request is `tower-http`'s timeout (`503`), set up in
//! [`super::router`].
//!
//! A request in flight holds its client's count until its answer is sent, body and all: a
//! streamed export or fetch batch counts for as long as it streams.

use super::AppState;
use super::errors::{ApiError, ErrorCode};
use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

/// The most URLs in one batch (as Spawning's API takes).
pub const MAX_BATCH: usize = 10_000;

/// Requests in flight, per client address.
#[derive(Default)]
pub struct InFlight {
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One request's place in its client's count; gives it back when dropped.
pub struct Held {
    in_flight: Arc<InFlight>,
    client: IpAddr,
}

impl InFlight {
    /// Takes a place for `client` unless it already has `max`.
    pub fn try_hold(self: &Arc<Self>, client: IpAddr, max: usize) -> Option<Held> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(client).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Held {
            in_flight: Arc::clone(self),
            client,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut counts = self
            .in_flight
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

/// Answers `429` when the client has `--max-in-flight` requests running already.
pub async fn per_client(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let Some(held) = state
        .in_flight
        .try_hold(client, state.options.max_in_flight)
    else {
        let mut response = ApiError::new(
            ErrorCode::TooManyRequests,
            format!(
                "this client has {} requests in flight already; wait for one to finish",
                state.options.max_in_flight
            ),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return response;
    };
    let response = next.run(request).await;
    // A body known whole is sent at once; a streamed one keeps the place until it ends.
    if response.body().size_hint().exact().is_some() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let stream = body.into_data_stream().map(move |chunk| {
        let _ = &held;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

/// The body of `request` as JSON of type `T`: `415` unless it is `application/json`, `413`
/// past `max` bytes (read no further), `400` when it is not the JSON `T` is.
pub async fn json_body<T: DeserializeOwned>(request: Request, max: usize) -> Result<T, ApiError> {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "the body must be JSON: Content-Type: application/json",
        ));
    }
    let too_large = || {
        ApiError::new(
            ErrorCode::BodyTooLarge,
            format!("the body is longer than --max-body-bytes ({max})"),
        )
    };
    let mut bytes = Vec::new();
    let mut stream = request.into_body().into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            // tower-http's limit ends the body with an error when it runs past it.
            if std::error::Error::source(&e).is_some_and(|s| s.to_string().contains("length limit"))
                || e.to_string().contains("length limit")
            {
                too_large()
            } else {
                ApiError::bad_request(format!("cannot read the body: {e}"))
            }
        })?;
        if bytes.len() + chunk.len() > max {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("the body: {e}")))
}

/// `422` for a batch of more than [`MAX_BATCH`] URLs or none at all.
pub fn batch_length(n: usize) -> Result<(), ApiError> {
    if n > MAX_BATCH {
        return Err(ApiError::invalid(format!(
            "{n} URLs: a batch has at most {MAX_BATCH}"
        )));
    }
    if n == 0 {
        return Err(ApiError::invalid("no URLs given"));
    }
    Ok(())
}
