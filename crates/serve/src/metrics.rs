//! `GET /metrics`: what an operator watches, in the Prometheus/OpenMetrics text format
//! (encoded by `prometheus-client`):
//!
//! - `optout_decisions_total{verdict}` and `optout_decision_reasons_total{code}`: every
//!   decision answered by `/v1/check` and `/v1/evaluate`, by verdict and by reason code;
//! - `optout_policy_cache_hits_total`, `optout_policy_cache_misses_total`: origin lookups
//!   answered from memory, and those that loaded from the store or fetched;
//! - `optout_fetch_duration_seconds`: the time of each `/v1/fetch`, waiting for the host's
//!   slot included;
//! - `optout_hosts_waiting`: hosts with a fetch waiting for its slot now;
//! - `optout_evidence_records_queued`, `optout_evidence_records_flushed_total`: records
//!   appended but not yet durable, and the last durable sequence number.

use super::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use optout_engine::{Checked, Engine};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

type Labels = Vec<(&'static str, &'static str)>;

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    decisions: Family<Labels, Counter>,
    reasons: Family<Labels, Counter>,
    fetch_seconds: Histogram,
}

impl Metrics {
    /// Metrics of a service over `engine`.
    pub fn new(engine: &Arc<Engine>) -> Metrics {
        let mut registry = Registry::default();
        let decisions = Family::<Labels, Counter>::default();
        let reasons = Family::<Labels, Counter>::default();
        // 1 ms to about 65 s: a polite fetch can wait seconds for its host's slot.
        let fetch_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        registry.register(
            "optout_decisions",
            "Decisions answered, by verdict",
            decisions.clone(),
        );
        registry.register(
            "optout_decision_reasons",
            "Reasons of the decisions answered, by code",
            reasons.clone(),
        );
        registry.register(
            "optout_fetch_duration_seconds",
            "Time of each fetch, waiting for the host's slot included",
            fetch_seconds.clone(),
        );
        registry.register_collector(Box::new(Live(Arc::clone(engine))));
        Metrics {
            registry,
            decisions,
            reasons,
            fetch_seconds,
        }
    }

    /// Counts a batch of decisions, adding each label's count once per batch.
    pub fn decided(&self, checked: &[Checked]) {
        let mut verdicts: HashMap<&'static str, u64> = HashMap::new();
        let mut codes: HashMap<&'static str, u64> = HashMap::new();
        for c in checked {
            *verdicts.entry(c.verdict_str()).or_default() += 1;
            for reason in &c.reasons {
                *codes.entry(reason.code.as_str()).or_default() += 1;
            }
        }
        for (verdict, n) in verdicts {
            self.decisions
                .get_or_create(&vec![("verdict", verdict)])
                .inc_by(n);
        }
        for (code, n) in codes {
            self.reasons.get_or_create(&vec![("code", code)]).inc_by(n);
        }
    }

    /// Notes one fetch's time.
    pub fn fetched(&self, took: Duration) {
        self.fetch_seconds.observe(took.as_secs_f64());
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Values read from the engine at each scrape.
struct Live(Arc<Engine>);

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Live")
    }
}

impl Collector for Live {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let engine = &self.0;
        let (hits, misses) = engine.sources().cache_counts();
        let counter = |encoder: &mut DescriptorEncoder, name, help, value: u64| {
            let metric = ConstCounter::new(value);
            let e = encoder.encode_descriptor(name, help, None, metric.metric_type())?;
            metric.encode(e)
        };
        let gauge = |encoder: &mut DescriptorEncoder, name, help, value: i64| {
            let metric = ConstGauge::new(value);
            let e = encoder.encode_descriptor(name, help, None, metric.metric_type())?;
            metric.encode(e)
        };
        counter(
            &mut encoder,
            "optout_policy_cache_hits",
            "Origin policy lookups answered from memory",
            hits,
        )?;
        counter(
            &mut encoder,
            "optout_policy_cache_misses",
            "Origin policy lookups that loaded from the store or fetched",
            misses,
        )?;
        let waiting = engine
            .fetcher()
            .map_or(0, |f| f.politeness().waiting_hosts());
        gauge(
            &mut encoder,
            "optout_hosts_waiting",
            "Hosts with a fetch waiting for its politeness slot",
            i64::try_from(waiting).unwrap_or(i64::MAX),
        )?;
        if let Some(log) = engine.log() {
            let durable = log.durable_seq();
            let queued = log.head().seq.saturating_sub(durable);
            gauge(
                &mut encoder,
                "optout_evidence_records_queued",
                "Evidence records appended but not yet durable",
                i64::try_from(queued).unwrap_or(i64::MAX),
            )?;
            counter(
                &mut encoder,
                "optout_evidence_records_flushed",
                "The last evidence record durable on disk (records flushed, in all)",
                durable,
            )?;
        }
        Ok(())
    }
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses(
        (status = 200, description = "OpenMetrics text", body = String,
            content_type = "application/openmetrics-text"),
        (status = 401, description = "No or wrong bearer token", body = super::errors::ErrorBody),
        (status = 429, description = "Too many requests in flight", body = super::errors::ErrorBody),
        (status = 503, description = "Timed out", body = super::errors::ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut response = state.metrics.encode().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
