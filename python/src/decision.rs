//! What Python gets back: [`Decision`] (one per input, as a line of `optout check --json`),
//! its [`Reason`]s, and [`FetchResult`] (a fetch through the pipeline).

use optout::engine::{Ask, Checked};
use optout::fetcher::{Outcome, Page, Refusal};
use optout::policy::Verdict;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use std::sync::Arc;

/// Why a decision went as it did: one reason, with the fields of the CLI's JSON
/// (`docs/decisions.md` lists the codes). Absent fields are `None`.
#[pyclass(module = "optout", frozen, get_all)]
#[derive(Clone, Debug)]
pub struct Reason {
    /// The stable reason code, e.g. `robots.disallowed`.
    pub code: &'static str,
    /// Where the signal came from: `robots.txt`, `tdmrep.json`, `ai.txt`, `header <Name>`,
    /// `meta <name>`, `excluded-domains`.
    pub source: Option<String>,
    /// The 1-based line of the policy file that decided.
    pub line: Option<u32>,
    /// The rule exactly as written in the file.
    pub rule: Option<String>,
    /// A human-readable explanation.
    pub detail: Option<String>,
    /// The product tokens of the robots.txt group the rule belongs to.
    pub agents: Option<Vec<String>>,
    /// The 0-based index of the deciding entry (`tdmrep.json`).
    pub entry: Option<u32>,
    /// A policy or licence URL the source names.
    pub policy: Option<String>,
}

impl From<&optout::policy::Reason> for Reason {
    fn from(r: &optout::policy::Reason) -> Reason {
        Reason {
            code: r.code.as_str(),
            source: r.source.as_deref().map(str::to_owned),
            line: r.line,
            rule: r.rule.as_deref().map(str::to_owned),
            detail: r.detail.as_deref().map(str::to_owned),
            agents: r
                .agents
                .as_deref()
                .map(|a| a.iter().map(|s| s.to_string()).collect()),
            entry: r.entry,
            policy: r.policy.as_deref().map(str::to_owned),
        }
    }
}

#[pymethods]
impl Reason {
    /// The reason as the CLI's JSON writes it: only the fields present.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("code", self.code)?;
        if let Some(v) = self.line {
            d.set_item("line", v)?;
        }
        if let Some(v) = &self.rule {
            d.set_item("rule", v)?;
        }
        if let Some(v) = &self.agents {
            d.set_item("agents", v)?;
        }
        if let Some(v) = &self.source {
            d.set_item("source", v)?;
        }
        if let Some(v) = self.entry {
            d.set_item("entry", v)?;
        }
        if let Some(v) = &self.policy {
            d.set_item("policy", v)?;
        }
        if let Some(v) = &self.detail {
            d.set_item("detail", v)?;
        }
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let mut s = format!("Reason(code={:?}", self.code);
        if let Some(v) = &self.source {
            s.push_str(&format!(", source={v:?}"));
        }
        if let Some(v) = self.line {
            s.push_str(&format!(", line={v}"));
        }
        if let Some(v) = &self.rule {
            s.push_str(&format!(", rule={v:?}"));
        }
        if let Some(v) = &self.detail {
            s.push_str(&format!(", detail={v:?}"));
        }
        s.push(')');
        s
    }
}

/// The decision on one input. `verdict` is `allowed`, `refused`, `discarded` (a response
/// that reserved itself), `error` (not a URL optout can judge), or for a fetch `failed` (the
/// request was allowed but brought no content: a network error, a server error, ...).
#[pyclass(module = "optout", frozen)]
#[derive(Clone, Debug)]
pub struct Decision {
    /// The input as given (trimmed, credentials redacted), or a fetch's final URL.
    #[pyo3(get)]
    pub url: String,
    /// `allowed`, `refused`, `discarded`, `error` or `failed`.
    #[pyo3(get)]
    pub verdict: &'static str,
    /// The evidence record's sequence number; `None` when nothing was recorded.
    #[pyo3(get)]
    pub seq: Option<u64>,
    /// The library's reasons, converted to [`Reason`] objects only when asked for (a
    /// batch of decisions whose reasons are never read costs no conversions).
    pub reasons: Vec<optout::policy::Reason>,
    pub ask: Arc<Ask>,
}

impl Decision {
    /// The outcome of a check.
    pub fn of_checked(checked: Checked, ask: &Arc<Ask>) -> Decision {
        Decision {
            verdict: checked.verdict_str(),
            reasons: checked.reasons,
            url: checked.input,
            seq: checked.seq,
            ask: Arc::clone(ask),
        }
    }

    /// The decision of a fetch: `failed` for a request allowed that brought no content.
    fn of_fetch(
        url: String,
        verdict: &'static str,
        reasons: &[optout::policy::Reason],
        seq: Option<u64>,
        ask: &Arc<Ask>,
    ) -> Decision {
        Decision {
            url,
            verdict,
            reasons: reasons.to_vec(),
            seq,
            ask: Arc::clone(ask),
        }
    }
}

#[pymethods]
impl Decision {
    /// True when the verdict is `allowed`.
    #[getter]
    fn allowed(&self) -> bool {
        self.verdict == "allowed"
    }

    /// Why: the refusing reasons first, then notes.
    #[getter]
    fn reasons(&self) -> Vec<Reason> {
        self.reasons.iter().map(Reason::from).collect()
    }

    /// The product token decided for.
    #[getter]
    fn agent(&self) -> &str {
        &self.ask.agent
    }

    /// The purpose decided for.
    #[getter]
    fn purpose(&self) -> &'static str {
        self.ask.purpose.as_str()
    }

    /// The decision as one line of `optout check --json`: `url`, `agent`, `purpose`,
    /// `verdict`, `reasons`, `seq`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("url", &self.url)?;
        d.set_item("agent", &self.ask.agent)?;
        d.set_item("purpose", self.ask.purpose.as_str())?;
        d.set_item("verdict", self.verdict)?;
        let reasons = PyList::empty(py);
        for r in &self.reasons {
            reasons.append(Reason::from(r).to_dict(py)?)?;
        }
        d.set_item("reasons", reasons)?;
        d.set_item("seq", self.seq)?;
        Ok(d)
    }

    fn __bool__(&self) -> bool {
        self.allowed()
    }

    fn __repr__(&self) -> String {
        let codes: Vec<&str> = self.reasons.iter().map(|r| r.code.as_str()).collect();
        format!(
            "Decision(url={:?}, verdict={:?}, reasons={codes:?}, seq={})",
            self.url,
            self.verdict,
            self.seq
                .map_or_else(|| "None".to_owned(), |s| s.to_string())
        )
    }
}

/// What became of a fetch. `body` is `None` unless the decision is `allowed`; it is handed
/// out only once the evidence record of the response is durable.
#[pyclass(module = "optout", frozen)]
pub struct FetchResult {
    /// The final URL (after redirects), or the input when nothing was requested.
    #[pyo3(get)]
    pub url: String,
    /// The HTTP status, when there was a response.
    #[pyo3(get)]
    pub status: Option<u16>,
    /// The response headers (lower-case names; repeated fields joined with `, `, RFC 9110
    /// §5.3); empty when the body is withheld.
    #[pyo3(get)]
    pub headers: Py<PyDict>,
    /// The body, for an allowed response only.
    #[pyo3(get)]
    pub body: Option<Py<PyBytes>>,
    /// The decision, with its reasons and evidence record.
    #[pyo3(get)]
    pub decision: Py<Decision>,
}

impl FetchResult {
    /// The Python result of a fetch outcome (an input that is not a URL is passed as
    /// `Err((input, why))`: an `error` decision, nothing requested or recorded).
    pub fn of(
        py: Python<'_>,
        outcome: Result<Outcome, (String, optout::policy::Reason)>,
        ask: &Arc<Ask>,
    ) -> PyResult<FetchResult> {
        match outcome {
            Err((input, reason)) => {
                let decision = Decision::of_fetch(input.clone(), "error", &[reason], None, ask);
                FetchResult::without_body(py, input, None, decision)
            }
            Ok(Outcome::NotFetched(Refusal {
                url,
                verdict,
                status,
                reasons,
                seq,
            })) => {
                let word = match verdict {
                    Verdict::Allowed => "failed",
                    other => other.as_str(),
                };
                let decision = Decision::of_fetch(url.clone(), word, &reasons, seq, ask);
                FetchResult::without_body(py, url, status, decision)
            }
            Ok(Outcome::Fetched(page)) => FetchResult::page(py, page, ask),
        }
    }

    fn without_body(
        py: Python<'_>,
        url: String,
        status: Option<u16>,
        decision: Decision,
    ) -> PyResult<FetchResult> {
        Ok(FetchResult {
            url,
            status,
            headers: PyDict::new(py).unbind(),
            body: None,
            decision: Py::new(py, decision)?,
        })
    }

    fn page(py: Python<'_>, page: Page, ask: &Arc<Ask>) -> PyResult<FetchResult> {
        let headers = PyDict::new(py);
        for name in page.headers.keys() {
            let joined: Vec<String> = page
                .headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            headers.set_item(name.as_str(), joined.join(", "))?;
        }
        let url = optout::evidence::record::redact_url(&page.url).into_owned();
        let decision =
            Decision::of_fetch(url.clone(), "allowed", &page.reasons, Some(page.seq), ask);
        Ok(FetchResult {
            url,
            status: Some(page.status),
            headers: headers.unbind(),
            body: Some(PyBytes::new(py, &page.body).unbind()),
            decision: Py::new(py, decision)?,
        })
    }
}

#[pymethods]
impl FetchResult {
    /// True when the body was fetched and may be kept.
    #[getter]
    fn allowed(&self) -> bool {
        self.decision.get().allowed() && self.body.is_some()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let d = self.decision.get();
        format!(
            "FetchResult(url={:?}, status={}, verdict={:?}, body={})",
            self.url,
            self.status
                .map_or_else(|| "None".to_owned(), |s| s.to_string()),
            d.verdict,
            self.body.as_ref().map_or_else(
                || "None".to_owned(),
                |b| format!("<{} bytes>", b.bind(py).as_bytes().len())
            )
        )
    }
}
