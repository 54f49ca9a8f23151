//! `optout serve`: the engine as an HTTP service, so that many scraper processes, in any
//! language, share one policy cache, one politeness state per host and one evidence log
//! (a sled store belongs to one process).
//!
//! Every answer comes from the library entry points the CLI uses: checks from
//! [`Engine::check_many`] and [`Engine::evaluate`], fetches from [`Engine::fetcher`],
//! evidence from [`optout_evidence::export`] and [`optout_evidence::show`]. A check result
//! is byte for byte the line `optout check --json` prints, a fetch outcome the line of
//! `optout fetch --json`. `docs/serve.md` describes the endpoints, the limits and the error
//! codes; `docs/openapi.json` is generated from this code ([`openapi`]).
//!
//! Connections are taken by [`connections::run`] (open connections per client and in all,
//! the time for a request head; hyper's own error answers in the error shape, `wire`).
//! Layers, outermost first: the error shape ([`errors::normalize`]), the bearer token
//! ([`auth`]), requests in flight per client ([`limits::per_client`]), the time per request
//! and the body limit (`tower-http`), then the endpoints.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
mod check;
pub mod connections;
pub mod errors;
mod evidence;
mod fetch;
pub mod limits;
pub mod metrics;
pub mod openapi;
mod wire;

use auth::Token;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use errors::ApiError;
use optout_engine::{Ask, Engine};
use optout_policy::Purpose;
use std::sync::Arc;
use std::time::Duration;

/// How the service runs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The longest request body read, in bytes.
    pub max_body_bytes: usize,
    /// Requests in flight per client address; more are `429`.
    pub max_in_flight: usize,
    /// The longest a request may take before its answer starts (`503`); a streamed answer
    /// may stream for longer.
    pub request_timeout: Duration,
    /// Open connections and the time a request head may take ([`connections`]).
    pub connections: connections::ConnectionLimits,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            // 10,000 URLs of up to 2 KB each, with room for JSON.
            max_body_bytes: 32 << 20,
            max_in_flight: 64,
            request_timeout: Duration::from_secs(60),
            connections: connections::ConnectionLimits::default(),
        }
    }
}

/// What every request handler shares.
pub struct AppState {
    /// The one engine of the process.
    pub engine: Arc<Engine>,
    /// The bearer token, when one is configured.
    pub token: Option<Token>,
    /// The limits.
    pub options: ServeOptions,
    /// Requests in flight per client.
    pub in_flight: Arc<limits::InFlight>,
    /// The counters of `/metrics`.
    pub metrics: metrics::Metrics,
}

impl AppState {
    /// State for `engine`.
    pub fn new(engine: Arc<Engine>, token: Option<Token>, options: ServeOptions) -> AppState {
        AppState {
            metrics: metrics::Metrics::new(&engine),
            engine,
            token,
            options,
            in_flight: Default::default(),
        }
    }

    /// Who asks and for what, from a request's `agent` and `purpose` (`422` when either
    /// cannot be used).
    fn ask(&self, agent: Option<&str>, purpose: Option<&str>) -> Result<Ask, ApiError> {
        let purpose = purpose
            .map(str::parse::<Purpose>)
            .transpose()
            .map_err(|e| ApiError::invalid(e.to_string()))?;
        Ok(self.engine.ask(agent, purpose)?)
    }
}

/// The service: every endpoint behind its layers.
pub fn router(state: Arc<AppState>) -> Router {
    use axum::middleware::from_fn;
    use axum::middleware::from_fn_with_state;
    use axum::routing::post;
    let timeout = tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        state.options.request_timeout,
    );
    // A backstop under our own reading limit: a body past it is cut off wherever it is read.
    let body_limit = tower_http::limit::RequestBodyLimitLayer::new(
        state.options.max_body_bytes.saturating_add(1),
    );
    Router::new()
        .route("/v1/check", post(check::check_batch).get(check::check_one))
        .route("/v1/evaluate", post(check::evaluate))
        .route("/v1/fetch", post(fetch::fetch))
        .route("/v1/evidence", get(evidence::export))
        .route("/v1/evidence/{seq}", get(evidence::show))
        .route("/v1/checkpoint", get(evidence::checkpoint))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(openapi::serve))
        .layer(body_limit)
        .layer(timeout)
        .layer(from_fn_with_state(Arc::clone(&state), limits::per_client))
        .layer(from_fn_with_state(Arc::clone(&state), auth::require_token))
        .layer(from_fn(errors::normalize))
        .with_state(state)
}

/// `GET /healthz`: the service is up. Open without a token.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "The service is up", body = String, content_type = "text/plain")))]
pub async fn healthz() -> &'static str {
    "ok\n"
}
