//! The evidence endpoints, over the same library functions as `optout log`:
//! `GET /v1/evidence` streams [`export::jsonl`] or [`export::csv`] with the CLI's filters,
//! `GET /v1/evidence/{seq}` is [`show::show`], `GET /v1/checkpoint` verifies the log up to
//! its head ([`verify_store_until`]) and answers the checkpoint line.
//!
//! Each first syncs the log, so every decision already answered is in what they read. An
//! export streams from a blocking thread through a small channel: memory stays at one block
//! and a few chunks however long the log, and a client that stops reading stops the export.

use super::AppState;
use super::errors::{ApiError, ErrorCode};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use optout_evidence::export::{self, Filter};
use optout_evidence::show;
use optout_evidence::verify::{VerifyError, verify_store_until};
use optout_evidence::{EvidenceLog, Head};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::sync::Arc;

/// Filters and format of an export.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Records at or after this time (RFC 3339 date-time).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Records before this time (RFC 3339 date-time).
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// Records for this host or its subdomains.
    pub host: Option<String>,
    /// Records with this verdict (allowed, refused, discarded; any other matches none).
    pub verdict: Option<String>,
    /// `jsonl` (default: each record as stored, with `hash` and `prev_hash`) or `csv`.
    #[param(value_type = Option<ExportFormat>)]
    pub format: Option<ExportFormat>,
}

/// An export format.
#[derive(Clone, Copy, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One record per line.
    Jsonl,
    /// RFC 4180 CSV.
    Csv,
}

/// The log of the engine (serve always records).
fn log(state: &AppState) -> Result<Arc<EvidenceLog>, ApiError> {
    state
        .engine
        .log()
        .cloned()
        .ok_or_else(|| ApiError::internal("the service runs without an evidence log"))
}

/// Runs blocking work on the log off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// `GET /v1/evidence`: the records, streamed.
#[utoipa::path(get, path = "/v1/evidence", tag = "evidence", params(ExportQuery),
    responses(
        (status = 200, description = "One record per line (JSONL), or CSV", content(
            (String = "application/x-ndjson"), (String = "text/csv"))),
        (status = 401, description = "No or wrong bearer token", body = super::errors::ErrorBody),
        (status = 400, description = "Bad query parameters", body = super::errors::ErrorBody),
        (status = 422, description = "A bad time or format", body = super::errors::ErrorBody),
        (status = 429, description = "Too many requests in flight", body = super::errors::ErrorBody),
        (status = 503, description = "Timed out", body = super::errors::ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn export(
    State(state): State<Arc<AppState>>,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let time = |name: &str, t: &Option<String>| {
        t.as_deref()
            .map(|t| export::time_bound(t).map_err(|e| ApiError::invalid(format!("{name}: {e}"))))
            .transpose()
    };
    let filter = Filter {
        since: time("since", &query.since)?,
        until: time("until", &query.until)?,
        host: query.host,
        verdict: query.verdict,
    };
    let csv = matches!(query.format, Some(ExportFormat::Csv));
    let log = log(&state)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = log.sync() {
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            return;
        }
        let mut out = std::io::BufWriter::with_capacity(64 << 10, Chunks(tx.clone()));
        let written = match csv {
            true => export::csv(log.store(), &filter, &mut out),
            false => export::jsonl(log.store(), &filter, &mut out),
        };
        let written = written.and_then(|_| out.flush().map_err(export::ExportError::Io));
        // A failure mid-way ends the stream with an error: the client sees it cut, never a
        // shorter export that looks whole.
        if let Err(e) = written {
            tracing::warn!("serve: export: {e}");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let mut response = Body::from_stream(stream).into_response();
    let kind = if csv {
        "text/csv"
    } else {
        "application/x-ndjson"
    };
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    Ok(response)
}

/// A writer that sends what it is given down a channel; fails once the receiver is gone.
struct Chunks(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>);

impl Write for Chunks {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `GET /v1/evidence/{seq}`: a record and the snapshot lines that decided it.
#[utoipa::path(get, path = "/v1/evidence/{seq}", tag = "evidence",
    params(("seq" = u64, Path, description = "The record's sequence number", minimum = 1)),
    responses(
        (status = 200, description = "The record and its deciding lines", body = super::openapi::ShownSchema),
        (status = 400, description = "Not a sequence number", body = super::errors::ErrorBody),
        (status = 401, description = "No or wrong bearer token", body = super::errors::ErrorBody),
        (status = 404, description = "No such record", body = super::errors::ErrorBody),
        (status = 429, description = "Too many requests in flight", body = super::errors::ErrorBody),
        (status = 503, description = "Timed out", body = super::errors::ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn show(
    State(state): State<Arc<AppState>>,
    seq: Result<Path<u64>, axum::extract::rejection::PathRejection>,
) -> Result<Response, ApiError> {
    let Path(seq) = seq.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let log = log(&state)?;
    let shown = blocking(move || {
        log.sync().map_err(ApiError::internal)?;
        show::show(log.store(), seq).map_err(ApiError::internal)
    })
    .await?;
    let Some(shown) = shown else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no record {seq} in the log"),
        ));
    };
    let mut bytes = Vec::new();
    optout_engine::output::write_json_line(&mut bytes, &shown).map_err(ApiError::internal)?;
    bytes.pop();
    Ok(super::check::json(bytes))
}

/// The answer of `GET /v1/checkpoint`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Checkpoint {
    /// The last record verified.
    pub seq: u64,
    /// Its hash (hex), the head of the chain.
    pub hash: String,
    /// The line `optout log checkpoint` prints, to publish or timestamp elsewhere.
    pub line: String,
}

/// `GET /v1/checkpoint`: verifies the log up to its head, then answers the head.
#[utoipa::path(get, path = "/v1/checkpoint", tag = "evidence",
    responses(
        (status = 200, description = "The log is intact up to this head", body = Checkpoint),
        (status = 401, description = "No or wrong bearer token", body = super::errors::ErrorBody),
        (status = 429, description = "Too many requests in flight", body = super::errors::ErrorBody),
        (status = 503, description = "Timed out", body = super::errors::ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn checkpoint(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let log = log(&state)?;
    let head = blocking(move || {
        log.sync().map_err(ApiError::internal)?;
        let store = log.store();
        let head = Head::read(store).map_err(ApiError::internal)?;
        // A checkpoint says the log up to its head is intact: never one for a log that is not.
        verify_store_until(store, &head).map_err(|e| match e {
            VerifyError::Broken(broken) => ApiError::internal(format!(
                "{broken}; no checkpoint given (run `optout log verify`)"
            )),
            other => ApiError::internal(other),
        })?;
        Ok(head)
    })
    .await?;
    // The one checkpoint type writes the line; this answer adds its parts for clients.
    let checkpoint = optout_evidence::Checkpoint::of(&head);
    let body = Checkpoint {
        seq: checkpoint.seq,
        line: checkpoint.to_string(),
        hash: checkpoint.hash,
    };
    Ok(super::check::json(
        serde_json::to_vec(&body).map_err(ApiError::internal)?,
    ))
}
