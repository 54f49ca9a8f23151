//! `POST /v1/fetch`: fetches through the whole pipeline ([`optout_fetch`], the engine's
//! one [`Fetcher`]), so every worker that asks shares one politeness state per host and one
//! evidence log.
//!
//! - One URL (`{"url": ...}`): an allowed page is the answer's body, with `Optout-Verdict`,
//!   `Optout-Status` (the site's status), `Optout-Seq` and `Optout-Url` (the final URL) in
//!   headers and the page's `Content-Type`; anything else is the outcome line as JSON
//!   (`optout fetch --json`'s line) with `Optout-Verdict`. Both are `200`: a refusal is an
//!   answer, not an error of the request.
//! - A batch (`{"urls": [...]}`) streams NDJSON, one outcome line per URL in input order;
//!   with `"bodies": true` each allowed line carries its body as `body_base64`.
//!
//! Nothing is handed out before its record is durable (the log is synced first, as
//! `optout fetch` does before it prints a body).

use super::AppState;
use super::errors::ApiError;
use super::limits::{batch_length, json_body};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use optout_engine::fetch_many::{Fetched, Order, Stop};
use optout_fetch::{Fetcher, Outcome, OutcomeLine};
use optout_policy::Purpose;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

/// What to fetch: `url` for one (the body is the answer), or `urls` for a batch.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchRequest {
    /// One URL: the answer is its body, or its refusal.
    pub url: Option<String>,
    /// A batch of at most 10,000 URLs: the answer is NDJSON, one line per URL.
    #[schema(min_items = 1, max_items = 10000)]
    pub urls: Option<Vec<String>>,
    /// `train-ai`, `ai-input` or `search`.
    #[schema(value_type = Option<super::openapi::PurposeName>)]
    pub purpose: Option<String>,
    /// In a batch, each allowed body as `body_base64` on its line.
    #[serde(default)]
    pub bodies: bool,
}

/// A line of a batch: the `optout fetch --json` line, with the body when asked for.
#[derive(Serialize)]
struct BatchLine<'a> {
    #[serde(flatten)]
    line: OutcomeLine<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
}

/// Fetches at once in a batch, at most: each holds a body in memory until its line is sent.
const BATCH_CONCURRENCY: usize = 32;

/// `POST /v1/fetch`.
#[utoipa::path(post, path = "/v1/fetch", tag = "fetch", request_body = FetchRequest,
    responses(
        (status = 200, description = "One URL: the page's body (Optout-Verdict: allowed), or the outcome line as JSON. A batch: NDJSON outcome lines in input order", content(
            (super::openapi::FetchLine = "application/json"),
            (String = "application/x-ndjson"),
            (String = "application/octet-stream"),
        ), headers(
            ("Optout-Verdict" = String, description = "allowed, refused, discarded, failed or error"),
            ("Optout-Seq" = u64, description = "The evidence record"),
        )),
        (status = 400, description = "Not the JSON this endpoint takes", body = super::errors::ErrorBody),
        (status = 401, description = "No or wrong bearer token", body = super::errors::ErrorBody),
        (status = 413, description = "Body too large", body = super::errors::ErrorBody),
        (status = 415, description = "Not application/json", body = super::errors::ErrorBody),
        (status = 422, description = "Bad purpose; neither or both of url and urls; a batch of 0 or more than 10,000 URLs", body = super::errors::ErrorBody),
        (status = 429, description = "Too many requests in flight", body = super::errors::ErrorBody),
        (status = 503, description = "Timed out", body = super::errors::ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn fetch(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    let body: FetchRequest = json_body(request, state.options.max_body_bytes).await?;
    let purpose = match body.purpose.as_deref() {
        Some(p) => p
            .parse::<Purpose>()
            .map_err(|e| ApiError::invalid(e.to_string()))?,
        None => state.engine.config().crawler.purpose,
    };
    let fetcher = state.engine.fetcher()?;
    match (body.url, body.urls) {
        (Some(url), None) => one(&state, fetcher, url, purpose).await,
        (None, Some(urls)) => {
            batch_length(urls.len())?;
            batch(Arc::clone(&state), urls, purpose, body.bodies)
        }
        _ => Err(ApiError::invalid("give either url (one) or urls (a batch)")),
    }
}

/// Fetches `input`, timing it for `/metrics`. An error means the pipeline could not record
/// (the store failed): no outcome is handed out then.
async fn timed(
    state: &AppState,
    fetcher: &Fetcher,
    input: &str,
    purpose: Purpose,
) -> Result<Outcome, ApiError> {
    let started = Instant::now();
    let outcome = fetcher.fetch(input, purpose).await;
    state.metrics.fetched(started.elapsed());
    outcome.map_err(ApiError::internal)
}

/// Syncs the log until `seq` is durable, off the async workers.
async fn durable(fetcher: &Arc<Fetcher>, seq: Option<u64>) -> Result<(), ApiError> {
    if seq.is_none_or(|seq| fetcher.log().durable_seq() >= seq) {
        return Ok(());
    }
    let fetcher = Arc::clone(fetcher);
    tokio::task::spawn_blocking(move || fetcher.log().sync())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(())
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

async fn one(
    state: &AppState,
    fetcher: &Arc<Fetcher>,
    input: String,
    purpose: Purpose,
) -> Result<Response, ApiError> {
    let outcome = timed(state, fetcher, &input, purpose).await?;
    let seq = match &outcome {
        Outcome::Fetched(page) => Some(page.seq),
        Outcome::NotFetched(r) => r.seq,
    };
    durable(fetcher, seq).await?;
    let redacted = optout_evidence::record::redact_input(input.trim()).into_owned();
    let line = OutcomeLine::new(&redacted, &outcome);
    let verdict = line.verdict;
    let mut response = match &outcome {
        Outcome::Fetched(page) => {
            let mut response = page.body.clone().into_response();
            let headers = response.headers_mut();
            let kind = page.headers.get(header::CONTENT_TYPE).cloned();
            headers.insert(
                header::CONTENT_TYPE,
                kind.unwrap_or(HeaderValue::from_static("application/octet-stream")),
            );
            headers.insert(
                HeaderName::from_static("optout-status"),
                HeaderValue::from(page.status),
            );
            headers.insert(
                HeaderName::from_static("optout-url"),
                header_value(page.url.as_str()),
            );
            response
        }
        Outcome::NotFetched(_) => {
            let mut bytes = Vec::new();
            optout_engine::output::write_json_line(&mut bytes, &line)
                .map_err(ApiError::internal)?;
            bytes.pop();
            super::check::json(bytes)
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("optout-verdict"),
        HeaderValue::from_static(verdict),
    );
    if let Some(seq) = seq {
        headers.insert(
            HeaderName::from_static("optout-seq"),
            HeaderValue::from(seq),
        );
    }
    Ok(response)
}

fn batch(
    state: Arc<AppState>,
    urls: Vec<String>,
    purpose: Purpose,
    bodies: bool,
) -> Result<Response, ApiError> {
    let order = Order::Input {
        concurrency: BATCH_CONCURRENCY,
    };
    let inputs = futures_util::stream::iter(urls);
    let outcomes = state
        .engine
        .fetch_many(inputs, purpose, order, Stop::never())?;
    let metrics = Arc::clone(&state);
    let lines = outcomes.map(
        move |Fetched {
                  input,
                  outcome,
                  took,
              }| {
            metrics.metrics.fetched(took);
            // A line that cannot be on record ends the stream: the client sees it cut.
            let outcome =
                outcome.map_err(|e| std::io::Error::other(ApiError::internal(e).message))?;
            let redacted = optout_evidence::record::redact_input(input.trim()).into_owned();
            let body_base64 = match (&outcome, bodies) {
                (Outcome::Fetched(page), true) => Some(data_encoding::BASE64.encode(&page.body)),
                _ => None,
            };
            let line = BatchLine {
                line: OutcomeLine::new(&redacted, &outcome),
                body_base64,
            };
            let mut bytes = Vec::new();
            optout_engine::output::write_json_line(&mut bytes, &line)?;
            Ok::<_, std::io::Error>(bytes)
        },
    );
    let mut response = Body::from_stream(lines).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(response)
}
