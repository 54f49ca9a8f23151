//! `POST /v1/check`, `GET /v1/check` and `POST /v1/evaluate`: decisions, each exactly the
//! line `optout check --json` prints for the same input ([`Checked::json_line`]), through
//! [`Engine::check_many`](optout_engine::Engine::check_many) (online) and
//! [`Engine::evaluate`](optout_engine::Engine::evaluate) (given inputs). Answers come once
//! every record of the batch is durable.

use super::AppState;
use super::errors::ApiError;
use super::limits::{batch_length, json_body};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use optout_engine::{Ask, Checked, Given, GivenFile};
use serde::Deserialize;
use std::sync::Arc;

/// A batch to check online.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The URLs, at most 10,000; answered in this order.
    #[schema(min_items = 1, max_items = 10000)]
    pub urls: Vec<String>,
    /// `train-ai`, `ai-input` or `search` (default: `crawler.purpose` of the config).
    #[schema(value_type = Option<super::openapi::PurposeName>)]
    pub purpose: Option<String>,
    /// The product token to decide for (default: `crawler.product_token`).
    #[schema(pattern = "^[A-Za-z_-]+$")]
    pub agent: Option<String>,
}

/// One URL to check online.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckQuery {
    /// The URL.
    pub url: String,
    /// `train-ai`, `ai-input` or `search`.
    #[param(value_type = Option<super::openapi::PurposeName>)]
    pub purpose: Option<String>,
    /// The product token to decide for.
    #[param(pattern = "^[A-Za-z_-]+$")]
    pub agent: Option<String>,
}

/// A response header given to `/v1/evaluate`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderField {
    /// The field name (an HTTP token, RFC 9110 §5.6.2).
    #[schema(pattern = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")]
    pub name: String,
    /// The value (no control characters but HTAB, RFC 9110 §5.5).
    #[schema(pattern = "^[^\\x00-\\x08\\x0A-\\x1F\\x7F]*$")]
    pub value: String,
}

/// Inputs to judge URLs against, as `optout check --robots F --header H --html F` does;
/// nothing is fetched.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// The URLs, at most 10,000.
    #[schema(min_items = 1, max_items = 10000)]
    pub urls: Vec<String>,
    /// `train-ai`, `ai-input` or `search`.
    #[schema(value_type = Option<super::openapi::PurposeName>)]
    pub purpose: Option<String>,
    /// The product token to decide for.
    #[schema(pattern = "^[A-Za-z_-]+$")]
    pub agent: Option<String>,
    /// The site's robots.txt.
    pub robots: Option<String>,
    /// The site's /.well-known/tdmrep.json.
    pub tdmrep: Option<String>,
    /// The site's /ai.txt.
    pub aitxt: Option<String>,
    /// The page, whose meta tags are judged.
    pub html: Option<String>,
    /// Response headers to judge.
    #[serde(default)]
    pub headers: Vec<HeaderField>,
}

/// `{"results": [Decision, ...]}`, the decisions written as `optout check --json` lines.
fn results(ask: &Ask, checked: &[Checked]) -> Response {
    let mut out = Vec::with_capacity(32 + checked.len() * 256);
    out.extend_from_slice(b"{\"results\":[");
    let mut line = Vec::with_capacity(256);
    for (i, c) in checked.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        line.clear();
        c.json_line(ask, &mut line);
        // As the CLI writes it: C1 controls and DEL escaped too (`cli::output::JsonSafe`).
        let _ = optout_engine::output::write_json_bytes(&mut out, &line);
    }
    out.extend_from_slice(b"]}");
    json(out)
}

/// A JSON answer from bytes.
pub(super) fn json(bytes: Vec<u8>) -> Response {
    let mut response = bytes.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `POST /v1/check`: decides on every URL against its origin's live policy files.
#[utoipa::path(post, path = "/v1/check", tag = "check", request_body = CheckRequest,
    responses(
        (status = 200, description = "The decisions, in input order", body = super::openapi::Results),
        (status = 400, description = "Not the JSON this endpoint takes", body = super::errors::ErrorBody),
        (status = 401, description = "No or wrong bearer token", body = super::errors::ErrorBody),
        (status = 413, description = "Body too large", body = super::errors::ErrorBody),
        (status = 415, description = "Not application/json", body = super::errors::ErrorBody),
        (status = 422, description = "Bad purpose or agent, or a batch of 0 or more than 10,000 URLs", body = super::errors::ErrorBody),
        (status = 429, description = "Too many requests in flight", body = super::errors::ErrorBody),
        (status = 503, description = "Timed out", body = super::errors::ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn check_batch(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    let body: CheckRequest = json_body(request, state.options.max_body_bytes).await?;
    batch_length(body.urls.len())?;
    let ask = state.ask(body.agent.as_deref(), body.purpose.as_deref())?;
    let checked = state.engine.check_many(&ask, body.urls).await?;
    state.metrics.decided(&checked);
    Ok(results(&ask, &checked))
}

/// `GET /v1/check?url=...`: one URL, answered with its decision alone.
#[utoipa::path(get, path = "/v1/check", tag = "check", params(CheckQuery),
    responses(
        (status = 200, description = "The decision", body = super::openapi::DecisionLine),
        (status = 400, description = "No url parameter", body = super::errors::ErrorBody),
        (status = 401, description = "No or wrong bearer token", body = super::errors::ErrorBody),
        (status = 422, description = "Bad purpose or agent", body = super::errors::ErrorBody),
        (status = 429, description = "Too many requests in flight", body = super::errors::ErrorBody),
        (status = 503, description = "Timed out", body = super::errors::ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn check_one(
    State(state): State<Arc<AppState>>,
    query: Result<Query<CheckQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let ask = state.ask(query.agent.as_deref(), query.purpose.as_deref())?;
    let checked = state.engine.check_many(&ask, [query.url]).await?;
    state.metrics.decided(&checked);
    let mut line = Vec::with_capacity(256);
    checked[0].json_line(&ask, &mut line);
    let mut out = Vec::with_capacity(line.len());
    let _ = optout_engine::output::write_json_bytes(&mut out, &line);
    Ok(json(out))
}

/// `POST /v1/evaluate`: judges every URL against the inputs given, without the network.
#[utoipa::path(post, path = "/v1/evaluate", tag = "check", request_body = EvaluateRequest,
    responses(
        (status = 200, description = "The decisions, in input order", body = super::openapi::Results),
        (status = 400, description = "Not the JSON this endpoint takes", body = super::errors::ErrorBody),
        (status = 401, description = "No or wrong bearer token", body = super::errors::ErrorBody),
        (status = 413, description = "Body too large", body = super::errors::ErrorBody),
        (status = 415, description = "Not application/json", body = super::errors::ErrorBody),
        (status = 422, description = "Bad purpose, agent or header; no input given; a batch of 0 or more than 10,000 URLs", body = super::errors::ErrorBody),
        (status = 429, description = "Too many requests in flight", body = super::errors::ErrorBody),
        (status = 503, description = "Timed out", body = super::errors::ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn evaluate(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    let body: EvaluateRequest = json_body(request, state.options.max_body_bytes).await?;
    batch_length(body.urls.len())?;
    let ask = state.ask(body.agent.as_deref(), body.purpose.as_deref())?;
    let file = |text: Option<String>, name: &str| {
        text.map(|t| GivenFile {
            name: format!("request:{name}"),
            bytes: t.into_bytes(),
        })
    };
    let given = Given {
        robots: file(body.robots, "robots"),
        tdmrep: file(body.tdmrep, "tdmrep"),
        aitxt: file(body.aitxt, "aitxt"),
        html: file(body.html, "html"),
        headers: body
            .headers
            .into_iter()
            .map(|h| (h.name, h.value))
            .collect(),
        headers_name: "request:headers".into(),
    };
    if given.is_empty() {
        return Err(ApiError::invalid(
            "nothing to judge against: give robots, tdmrep, aitxt, html or headers (POST /v1/check fetches them)",
        ));
    }
    let engine = Arc::clone(&state.engine);
    let urls = body.urls;
    // Judging 10,000 URLs and syncing the log is blocking work: off the async workers.
    let (ask, checked) = tokio::task::spawn_blocking(move || {
        let checked = engine.evaluate(&ask, given, urls.iter().map(String::as_str));
        (ask, checked)
    })
    .await
    .map_err(ApiError::internal)?;
    let checked = checked?;
    state.metrics.decided(&checked);
    Ok(results(&ask, &checked))
}
