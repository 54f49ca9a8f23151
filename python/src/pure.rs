//! The pure functions: judgements on given policy files, with the default configuration and
//! its built-in lists, no store, no network; `optout check --robots FILE ...` decides the
//! same ([`optout::engine::Given`], [`optout::engine::Evaluation::check`]).

use crate::decision::Decision;
use crate::input;
use optout::config::{Config, Lists, validate_product_token};
use optout::engine::{Ask, Given, GivenFile};
use optout::policy::judge::Judge;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::{Arc, OnceLock};

/// The default configuration and its lists, built on first use (the built-in lists: no
/// file is read).
fn defaults() -> PyResult<&'static (Config, Lists)> {
    static DEFAULTS: OnceLock<Result<(Config, Lists), String>> = OnceLock::new();
    DEFAULTS
        .get_or_init(|| {
            let config = Config::default();
            let lists = config.signals.load_lists(None).map_err(|e| e.to_string())?;
            Ok((config, lists))
        })
        .as_ref()
        .map_err(|e| crate::errors::ConfigError::new_err(e.clone()))
}

/// Who asks: `agent` (the default `crawler.product_token` when `None`) and `purpose`.
fn ask(agent: Option<&str>, purpose: &str) -> PyResult<Arc<Ask>> {
    let (config, _) = defaults()?;
    let agent = agent.unwrap_or(&config.crawler.product_token);
    validate_product_token(agent).map_err(|e| PyValueError::new_err(format!("agent: {e}")))?;
    Ok(Arc::new(Ask {
        agent: agent.to_owned(),
        purpose: input::purpose(purpose)?,
    }))
}

/// Judges `urls` against `given` with the GIL released; one decision per URL, in order.
fn judge_all(
    py: Python<'_>,
    given: Given,
    urls: Vec<String>,
    ask: Arc<Ask>,
) -> PyResult<Vec<Decision>> {
    let (config, lists) = defaults()?;
    py.detach(|| {
        let evaluation = given
            .evaluate(config, &lists.ai_crawlers)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let judge = Judge {
            agent: &ask.agent,
            purpose: ask.purpose,
            excluded: &lists.excluded,
            ai_crawler_blocks: config.signals.ai_crawler_blocks,
        };
        Ok(urls
            .iter()
            .map(|url| Decision::of_checked(evaluation.check(&judge, url), &ask))
            .collect())
    })
}

/// Decides whether `agent` may fetch each of `urls` for `purpose` under the robots.txt
/// `robots` (bytes; RFC 9309, longest match, read up to `limits.robots_parse_limit` as
/// the CLI reads it). Pure: no store, no network, nothing recorded (`seq` is `None`).
/// Returns one `Decision` per URL in input order; a string that is not a URL is an `error`
/// decision in its place. The same judge as `optout check --robots FILE URL...`.
#[pyfunction]
#[pyo3(signature = (robots, urls, agent, purpose="train-ai"))]
pub fn evaluate_robots(
    py: Python<'_>,
    robots: &Bound<'_, PyAny>,
    urls: &Bound<'_, PyAny>,
    agent: &str,
    purpose: &str,
) -> PyResult<Vec<Decision>> {
    let ask = ask(Some(agent), purpose)?;
    let given = Given {
        robots: Some(GivenFile {
            name: "robots.txt".into(),
            bytes: input::bytes("robots", robots)?,
        }),
        ..Given::default()
    };
    judge_all(py, given, input::urls(urls)?, ask)
}

/// Decides on one URL from the inputs given, as `optout check --robots F --tdmrep F
/// --aitxt F --html F --header H URL` does: `robots`, `tdmrep` (`tdmrep.json`), `aitxt`,
/// `html` (the page; its meta tags) as bytes or str, `headers` (the response's, a mapping or
/// `(name, value)` pairs). Inputs not given are absent (not unreachable). Pure: nothing is
/// fetched or recorded.
#[pyfunction]
#[pyo3(signature = (url, *, robots=None, headers=None, html=None, tdmrep=None, aitxt=None, purpose="train-ai", agent=None))]
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    py: Python<'_>,
    url: &Bound<'_, PyAny>,
    robots: Option<&Bound<'_, PyAny>>,
    headers: Option<&Bound<'_, PyAny>>,
    html: Option<&Bound<'_, PyAny>>,
    tdmrep: Option<&Bound<'_, PyAny>>,
    aitxt: Option<&Bound<'_, PyAny>>,
    purpose: &str,
    agent: Option<&str>,
) -> PyResult<Decision> {
    let ask = ask(agent, purpose)?;
    let file = |name: &str, value: Option<&Bound<'_, PyAny>>| -> PyResult<Option<GivenFile>> {
        value
            .map(|v| {
                Ok(GivenFile {
                    name: name.to_owned(),
                    bytes: input::bytes(name, v)?,
                })
            })
            .transpose()
    };
    let given = Given {
        robots: file("robots", robots)?,
        tdmrep: file("tdmrep", tdmrep)?,
        aitxt: file("aitxt", aitxt)?,
        html: file("html", html)?,
        headers: headers.map(input::headers).transpose()?.unwrap_or_default(),
        headers_name: String::new(),
    };
    let mut decisions = judge_all(py, given, vec![input::url(url)?], ask)?;
    Ok(decisions.remove(0))
}
