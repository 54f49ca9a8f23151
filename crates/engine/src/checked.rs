//! Who asks ([`Ask`]) and what they get back ([`Checked`]).

use optout_evidence::record::redact_input;
use optout_policy::{Decision, Purpose, Reason, Verdict};
use url::Url;

/// Who asks, for what: the product token decided for and the purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ask {
    /// The product token (RFC 9309 §2.2.1), checked by [`super::Engine::ask`].
    pub agent: String,
    /// What the content is for.
    pub purpose: Purpose,
}

/// The outcome for one input: a decision, or an input that is not a URL optout can judge.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The input as given, trimmed, with any credentials redacted (it is printed and sent
    /// back; a URL with credentials is refused anyway).
    pub input: String,
    /// The URL decided on; `None` for an input error.
    pub url: Option<Url>,
    /// The verdict; `None` for an input error (printed `error`).
    pub verdict: Option<Verdict>,
    /// Why: the refusing reasons first, then notes; for an input error, what is wrong.
    pub reasons: Vec<Reason>,
    /// The evidence record, when the engine records.
    pub seq: Option<u64>,
}

impl Checked {
    pub(super) fn decided(input: &str, url: Url, decision: Decision, seq: Option<u64>) -> Checked {
        Checked {
            input: redact_input(input.trim()).into_owned(),
            url: Some(url),
            verdict: Some(decision.verdict),
            reasons: decision.reasons,
            seq,
        }
    }

    pub(super) fn error(input: &str, reason: Reason) -> Checked {
        Checked {
            input: redact_input(input.trim()).into_owned(),
            url: None,
            verdict: None,
            reasons: vec![reason],
            seq: None,
        }
    }

    /// `allowed`, `refused`, `discarded`, or `error` for an input that is not a URL.
    pub fn verdict_str(&self) -> &'static str {
        self.verdict.map_or("error", Verdict::as_str)
    }

    /// True when the verdict is `allowed`.
    pub fn is_allowed(&self) -> bool {
        self.verdict == Some(Verdict::Allowed)
    }

    /// Appends this outcome as one `optout check --json` line (without the newline) to
    /// `out`: `{url, agent, purpose, verdict, reasons, seq}`.
    pub fn json_line(&self, ask: &super::Ask, out: &mut Vec<u8>) {
        super::json_line::json_line(
            out,
            &self.input,
            &ask.agent,
            ask.purpose,
            self.verdict_str(),
            &self.reasons,
            self.seq,
        );
    }
}
