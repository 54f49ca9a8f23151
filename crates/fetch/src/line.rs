//! One fetch outcome as a line of JSON: what `optout fetch --json` prints and what
//! `POST /v1/fetch` streams for a batch, so the two never drift apart.

use super::Outcome;
use optout_policy::{Code, Reason, Verdict};
use serde::Serialize;

/// One line: `{url, verdict, status?, bytes?, reasons, seq?, file?}`.
#[derive(Debug, Serialize)]
pub struct OutcomeLine<'a> {
    /// The input as given, trimmed, credentials redacted.
    pub url: &'a str,
    /// `allowed`, `refused`, `discarded`, `failed` or `error` ([`label`]).
    pub verdict: &'static str,
    /// The response status, if there was a response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The body's length, for a page handed out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The reasons, refusing ones first.
    pub reasons: &'a [Reason],
    /// The evidence record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Where the body was stored (`optout fetch -o`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl<'a> OutcomeLine<'a> {
    /// The line for `outcome` of fetching `input` (already redacted and trimmed).
    pub fn new(input: &'a str, outcome: &'a Outcome) -> OutcomeLine<'a> {
        match outcome {
            Outcome::Fetched(page) => OutcomeLine {
                url: input,
                verdict: "allowed",
                status: Some(page.status),
                bytes: Some(page.body.len() as u64),
                reasons: &page.reasons,
                seq: Some(page.seq),
                file: None,
            },
            Outcome::NotFetched(r) => OutcomeLine {
                url: input,
                verdict: label(r.verdict, &r.reasons),
                status: r.status,
                bytes: None,
                reasons: &r.reasons,
                seq: r.seq,
                file: None,
            },
        }
    }
}

/// The word for an outcome: a request that was allowed but brought no content
/// (`fetch.failed`, `fetch.bad-redirect`, `fetch.server-error`, ...) is `failed`, not
/// `allowed`; an input that is not a URL is `error`.
pub fn label(verdict: Verdict, reasons: &[Reason]) -> &'static str {
    if verdict == Verdict::Allowed {
        "failed"
    } else if reasons.first().is_some_and(|r| {
        matches!(
            r.code,
            Code::UrlInvalid | Code::UrlUnsupportedScheme | Code::UrlUserinfo
        )
    }) {
        "error"
    } else {
        verdict.as_str()
    }
}
