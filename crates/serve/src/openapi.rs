//! The OpenAPI 3.1 description of the service, generated from the handlers' annotations and
//! the request types (`utoipa`), served at `GET /openapi.json` and kept in the repository as
//! `docs/openapi.json` (a test keeps the two equal). No UI is bundled: nothing is downloaded
//! at build time.
//!
//! The response types below describe JSON that is written by hand for speed (a decision is
//! [`optout_engine::json_line`]'s line); they exist only to be described.

#![allow(dead_code)]

use serde::Serialize;
use serde_json::json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// One reason of a decision: `code`, then each field that is set.
#[derive(Serialize, ToSchema)]
pub struct ReasonSchema {
    /// The stable reason code (`docs/decisions.md`).
    code: String,
    /// The line of the source that decided.
    #[schema(minimum = 0)]
    line: Option<u64>,
    /// The rule matched.
    rule: Option<String>,
    /// The user-agents of the group matched.
    agents: Option<Vec<String>>,
    /// The source (`robots.txt`, `tdmrep.json`, `headers`, ...).
    source: Option<String>,
    /// The entry of the source (a tdmrep.json entry).
    #[schema(minimum = 0)]
    entry: Option<u64>,
    /// A policy URL.
    policy: Option<String>,
    /// More words.
    detail: Option<String>,
}

/// The verdict of a decision; `error` for an input that is not a URL optout can judge.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum VerdictSchema {
    /// May be fetched.
    Allowed,
    /// Must not be fetched.
    Refused,
    /// Fetched, but reserved: dropped.
    Discarded,
    /// Not a URL.
    Error,
}

/// One decision: exactly the line `optout check --json` prints.
#[derive(Serialize, ToSchema)]
#[schema(title = "Decision")]
pub struct DecisionLine {
    /// The input as given (trimmed, credentials redacted).
    url: String,
    /// The product token decided for.
    agent: String,
    /// `train-ai`, `ai-input` or `search`.
    purpose: String,
    /// The verdict.
    verdict: VerdictSchema,
    /// Why, the deciding reason first.
    reasons: Vec<ReasonSchema>,
    /// The evidence record (absent for an input that is not a URL).
    #[schema(minimum = 1)]
    seq: Option<u64>,
}

/// The decisions of a batch, in input order.
#[derive(Serialize, ToSchema)]
pub struct Results {
    /// One per URL.
    results: Vec<DecisionLine>,
}

/// One fetch outcome: the line `optout fetch --json` prints.
#[derive(Serialize, ToSchema)]
pub struct FetchLine {
    /// The input as given (trimmed, credentials redacted).
    url: String,
    /// `allowed`, `refused`, `discarded`, `failed` or `error`.
    verdict: String,
    /// The site's status, if it answered.
    status: Option<u16>,
    /// The body's length, for a page handed out.
    bytes: Option<u64>,
    /// Why.
    reasons: Vec<ReasonSchema>,
    /// The evidence record.
    seq: Option<u64>,
    /// In a batch with `bodies: true`: the allowed body.
    body_base64: Option<String>,
}

/// One line of a snapshot, as `optout log show` marks it.
#[derive(Serialize, ToSchema)]
pub struct ShownLineSchema {
    /// Its number, from 1.
    line: u64,
    /// Its text.
    text: String,
    /// A reason of the record cites it.
    deciding: bool,
    /// Lines before it were left out.
    after_gap: bool,
}

/// A source of a record and its lines.
#[derive(Serialize, ToSchema)]
pub struct ShownSourceSchema {
    /// `robots.txt`, `tdmrep.json`, `ai.txt`, `headers`, `html`.
    kind: String,
    /// Where it came from.
    url: String,
    /// The status of its fetch.
    status: Option<u16>,
    /// When it was fetched.
    fetched_at: Option<String>,
    /// SHA-256 (hex) of its bytes.
    sha256: String,
    /// Whether the snapshot is in the store.
    present: bool,
    /// The lines shown.
    lines: Vec<ShownLineSchema>,
}

/// A record and the lines that decided it.
#[derive(Serialize, ToSchema)]
#[schema(title = "Shown")]
pub struct ShownSchema {
    /// The record as stored (`docs/evidence.md`).
    record: serde_json::Map<String, serde_json::Value>,
    /// Its sources.
    sources: Vec<ShownSourceSchema>,
}

/// A purpose.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PurposeName {
    /// Training AI models.
    TrainAi,
    /// Input to an AI model at inference time.
    AiInput,
    /// A search index.
    Search,
}

/// What the types alone cannot say, added to their schemas: `/v1/evaluate` needs at least
/// one input (`422` otherwise), `/v1/fetch` exactly one of `url` and `urls`.
struct Alternatives;

impl Modify for Alternatives {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let text = |name: &str| json!({"type": "object", "required": [name], "properties": {name: {"type": "string"}}});
        let evaluate = json!({"anyOf": [
            text("robots"), text("tdmrep"), text("aitxt"), text("html"),
            {"type": "object", "required": ["headers"],
             "properties": {"headers": {"type": "array", "minItems": 1,
                 "items": {"$ref": "#/components/schemas/HeaderField"}}}},
        ]});
        let fetch = json!({"oneOf": [
            {"type": "object", "required": ["url"],
             "properties": {"url": {"type": "string"}, "urls": {"type": "null"}}},
            {"type": "object", "required": ["urls"],
             "properties": {"urls": {"type": "array"}, "url": {"type": "null"}}},
        ]});
        for (name, extra) in [("EvaluateRequest", evaluate), ("FetchRequest", fetch)] {
            let Some(schema) = components.schemas.get(name) else {
                continue;
            };
            let Ok(original) = serde_json::to_value(schema) else {
                continue;
            };
            let both = json!({"allOf": [original, extra]});
            match serde_json::from_value(both) {
                Ok(schema) => {
                    components.schemas.insert(name.to_owned(), schema);
                }
                // A test compares the description with docs/openapi.json: a change that
                // lost the alternatives shows there.
                Err(e) => tracing::error!("openapi: {name}: {e}"),
            }
        }
    }
}

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The description.
#[derive(OpenApi)]
#[openapi(
    info(title = "optout serve", description = "May this agent fetch this URL, for this purpose? The optout engine as an HTTP service. See docs/serve.md."),
    paths(
        super::check::check_batch,
        super::check::check_one,
        super::check::evaluate,
        super::fetch::fetch,
        super::evidence::export,
        super::evidence::show,
        super::evidence::checkpoint,
        super::healthz,
        super::metrics::metrics,
        serve,
    ),
    components(schemas(super::errors::ErrorBody, super::errors::ErrorDetail, super::errors::ErrorCode, super::evidence::ExportFormat, PurposeName)),
    modifiers(&Bearer, &Alternatives),
)]
pub struct ApiDoc;

/// The description as pretty JSON, as `docs/openapi.json` holds it.
pub fn json() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// `GET /openapi.json`. Open without a token.
#[utoipa::path(get, path = "/openapi.json", tag = "service",
    responses((status = 200, description = "This description", body = Object)))]
pub async fn serve() -> axum::response::Response {
    super::check::json(json().into_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn alternatives_are_in_the_description() {
        let api: serde_json::Value = serde_json::from_str(&super::json()).unwrap();
        let schemas = &api["components"]["schemas"];
        let inputs = &schemas["EvaluateRequest"]["allOf"][1]["anyOf"];
        assert_eq!(inputs[4]["properties"]["headers"]["minItems"], 1);
        assert!(schemas["FetchRequest"]["allOf"][1]["oneOf"].is_array());
    }
}
