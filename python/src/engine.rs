//! `optout.Engine`: the engine ([`optout::engine::Engine`]) with its own tokio runtime,
//! for Python. Synchronous methods release the GIL while the engine works (threads run in
//! parallel); the `_start_*` methods run the same work on the runtime and hand the result to
//! a callback, which `optout/__init__.py` turns into asyncio awaitables (`acheck_many`, ...).

use crate::decision::{Decision, FetchResult};
use crate::errors::{OptoutError, engine_error, store_error};
use crate::input;
use futures_util::StreamExt;
use optout::config::{Config, validate_product_token};
use optout::engine::fetch_many::{Order, Stop};
use optout::engine::{Ask, EngineOptions, OpenEngine};
use optout::fetcher::{FetcherError, Outcome};
use optout::policy::{Purpose, parse_url};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use tokio::runtime::Runtime;

/// An open engine: the library's engine, the runtime its futures run on, and who asks.
struct Core {
    engine: Arc<optout::engine::Engine>,
    runtime: Option<Runtime>,
    ask: Arc<Ask>,
    store: PathBuf,
}

impl Core {
    fn runtime(&self) -> &Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the core")
    }

    /// Who asks, for `purpose` (the engine's when `None`).
    fn ask(&self, purpose: Option<&str>) -> PyResult<Arc<Ask>> {
        match purpose {
            None => Ok(Arc::clone(&self.ask)),
            Some(name) => Ok(Arc::new(
                self.engine
                    .ask(Some(&self.ask.agent), Some(input::purpose(name)?))
                    .map_err(engine_error)?,
            )),
        }
    }
}

impl Drop for Core {
    /// Stops the runtime without waiting for tasks still running (an abandoned async call);
    /// every decision handed out was recorded before it was.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A fetch failure of optout itself (the evidence could not be written).
fn fetcher_error(e: FetcherError) -> PyErr {
    match e {
        FetcherError::Client(_) => OptoutError::new_err(e.to_string()),
        FetcherError::Store(_) | FetcherError::Append(_) => {
            crate::errors::StoreError::new_err(e.to_string())
        }
    }
}

/// Decides on every input online, in input order; records durable on return.
async fn check_many(
    engine: Arc<optout::engine::Engine>,
    ask: Arc<Ask>,
    urls: Vec<String>,
) -> PyResult<Vec<Decision>> {
    let checked = engine.check_many(&ask, urls).await.map_err(engine_error)?;
    Ok(checked
        .into_iter()
        .map(|c| Decision::of_checked(c, &ask))
        .collect())
}

/// One fetch outcome, or an input that is not a URL (its redacted text and why).
type Fetched = Result<Outcome, (String, optout::policy::Reason)>;

/// Fetches every input through the engine's `fetch_many`, `net.check_concurrency` at once
/// (each host paced by the fetcher's politeness), in input order. Returns once every record
/// is durable, so that no body reaches the caller before its record is on disk
/// (`Page::seq`). An input that is not a URL is an `error` result, never requested or
/// recorded, as `fetch` gives it.
async fn fetch_many(
    engine: Arc<optout::engine::Engine>,
    purpose: Purpose,
    urls: Vec<String>,
) -> PyResult<Vec<Fetched>> {
    let mut unparsed = Vec::with_capacity(urls.len());
    let mut valid = Vec::with_capacity(urls.len());
    for input in urls {
        match parse_url(&input) {
            Ok(_) => {
                unparsed.push(None);
                valid.push(input);
            }
            Err(reason) => unparsed.push(Some((
                optout::evidence::record::redact_input(input.trim()).into_owned(),
                reason,
            ))),
        }
    }
    let order = Order::Input {
        concurrency: engine.config().net.check_concurrency.max(1),
    };
    let inputs = futures_util::stream::iter(valid);
    let fetched: Vec<_> = engine
        .fetch_many(inputs, purpose, order, Stop::never())
        .map_err(engine_error)?
        .collect()
        .await;
    let mut fetched = fetched.into_iter();
    let mut outcomes = Vec::with_capacity(unparsed.len());
    for not_a_url in unparsed {
        outcomes.push(match not_a_url {
            Some(error) => Err(error),
            None => match fetched.next() {
                Some(one) => Ok(one.outcome.map_err(fetcher_error)?),
                None => return Err(OptoutError::new_err("a fetch ended without an outcome")),
            },
        });
    }
    engine.sync().map_err(store_error)?;
    Ok(outcomes)
}

/// Converts fetch outcomes to Python.
fn fetch_results(
    py: Python<'_>,
    fetched: Vec<Fetched>,
    ask: &Arc<Ask>,
) -> PyResult<Vec<FetchResult>> {
    fetched
        .into_iter()
        .map(|f| FetchResult::of(py, f, ask))
        .collect()
}

/// Decides on a response fetched by the caller; durable on return.
async fn check_response(
    engine: Arc<optout::engine::Engine>,
    ask: Arc<Ask>,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> PyResult<Decision> {
    let checked = engine
        .check_response(&ask, &url, headers, &body)
        .await
        .map_err(engine_error)?;
    engine.sync().map_err(store_error)?;
    Ok(Decision::of_checked(checked, &ask))
}

/// Decides whether URLs may be fetched, fetches them politely, and records every decision
/// in the hash-chained evidence log of its store.
///
/// `Engine(config=None, store=None, agent=None, purpose="train-ai",
/// allow_private_addresses=False)`:
///
/// - `config`: a TOML file (as `optout --config`); the built-in defaults when `None`.
/// - `store`: the store directory (evidence log, policy snapshots, policy cache). `None` is
///   the CLI's default store (`$XDG_DATA_HOME/optout/store`, else
///   `~/.local/share/optout/store`), so `optout log verify` without `--store` verifies what
///   Python recorded: a compliance tool that silently kept no evidence would be a trap. One
///   process holds a store at a time (sled's lock): give each worker process its own store,
///   or share one through `optout serve`.
/// - `agent`: the product token decided for and sent (RFC 9309 §2.2.1); the config's
///   `crawler.product_token` when `None`.
/// - `purpose`: `train-ai`, `ai-input` or `search`.
/// - `allow_private_addresses`: connect to loopback and private addresses (tests, intranets).
///
/// Raises `StoreError` (damaged, or held by another process), `ConfigError`, `ValueError`.
#[pyclass(module = "optout", subclass, frozen)]
pub struct Engine {
    core: RwLock<Option<Arc<Core>>>,
}

impl Engine {
    fn core(&self) -> PyResult<Arc<Core>> {
        self.core
            .read()
            .map_err(|_| OptoutError::new_err("engine lock poisoned"))?
            .clone()
            .ok_or_else(|| OptoutError::new_err("the engine is closed"))
    }

    /// Runs `work` on the engine's runtime with the GIL released.
    fn block_on<T: Send>(
        py: Python<'_>,
        core: &Core,
        work: impl Future<Output = PyResult<T>> + Send,
    ) -> PyResult<T> {
        py.detach(|| core.runtime().block_on(work))
    }

    /// Runs `work` on the engine's runtime and calls `callback(ok, value)` with its result
    /// converted by `convert` (or the exception), from a runtime thread.
    fn spawn<T, F, C>(core: &Core, callback: Py<PyAny>, work: F, convert: C)
    where
        T: Send + 'static,
        F: Future<Output = PyResult<T>> + Send + 'static,
        C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        core.runtime().spawn(async move {
            let result = work.await;
            Python::attach(|py| {
                let (ok, value) = match result.and_then(|t| convert(py, t)) {
                    Ok(value) => (true, value),
                    Err(e) => (false, e.into_value(py).into_any()),
                };
                if let Err(e) = callback.call1(py, (ok, value)) {
                    e.write_unraisable(py, None);
                }
            });
        });
    }
}

#[pymethods]
impl Engine {
    #[new]
    #[pyo3(signature = (config=None, store=None, agent=None, purpose="train-ai", allow_private_addresses=false))]
    fn new(
        py: Python<'_>,
        config: Option<PathBuf>,
        store: Option<PathBuf>,
        agent: Option<String>,
        purpose: &str,
        allow_private_addresses: bool,
    ) -> PyResult<Engine> {
        let mut cfg = Config::load(config.as_deref())
            .map_err(|e| crate::errors::ConfigError::new_err(e.to_string()))?;
        cfg.crawler.purpose = input::purpose(purpose)?;
        if let Some(agent) = agent {
            validate_product_token(&agent)
                .map_err(|e| PyValueError::new_err(format!("agent: {e}")))?;
            // The fetcher sends and decides for the configured token: one agent throughout.
            cfg.crawler.product_token = agent;
        }
        if allow_private_addresses {
            cfg.net.allow_private_addresses = true;
        }
        let store = store.unwrap_or_else(optout::store::default_path);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("optout")
            .build()
            .map_err(|e| OptoutError::new_err(format!("cannot start the runtime: {e}")))?;
        let engine = py
            .detach(|| {
                let _entered = runtime.enter();
                optout::engine::Engine::open(&cfg, Some(&store), EngineOptions::default())
            })
            .map_err(engine_error)?;
        let ask = engine.ask(None, None).map_err(engine_error)?;
        Ok(Engine {
            core: RwLock::new(Some(Arc::new(Core {
                engine: Arc::new(engine),
                runtime: Some(runtime),
                ask: Arc::new(ask),
                store,
            }))),
        })
    }

    /// The store directory.
    #[getter]
    fn store(&self) -> PyResult<PathBuf> {
        Ok(self.core()?.store.clone())
    }

    /// The product token decided for.
    #[getter]
    fn agent(&self) -> PyResult<String> {
        Ok(self.core()?.ask.agent.clone())
    }

    /// The default purpose.
    #[getter]
    fn purpose(&self) -> PyResult<&'static str> {
        Ok(self.core()?.ask.purpose.as_str())
    }

    /// The evidence log of this engine's store.
    #[getter]
    fn log(slf: &Bound<'_, Self>) -> crate::log::Log {
        crate::log::Log::new(slf.clone().unbind())
    }

    /// Decides on one URL against its origin's live robots.txt, tdmrep.json and ai.txt
    /// (fetched once per origin, cached as the CLI does), and records the decision (durable
    /// on return). A string that is not a URL optout can judge is an `error` decision.
    #[pyo3(signature = (url, *, purpose=None))]
    fn check(
        &self,
        py: Python<'_>,
        url: &Bound<'_, PyAny>,
        purpose: Option<&str>,
    ) -> PyResult<Decision> {
        let urls = vec![input::url(url)?];
        let mut out = self.check_many_inner(py, urls, purpose)?;
        Ok(out.remove(0))
    }

    /// Decides on every URL of an iterable, `net.check_concurrency` at once, and returns one
    /// decision per input in input order, once every record is durable. An input that is not
    /// a URL is an `error` decision in its place.
    #[pyo3(signature = (urls, *, purpose=None))]
    fn check_many(
        &self,
        py: Python<'_>,
        urls: &Bound<'_, PyAny>,
        purpose: Option<&str>,
    ) -> PyResult<Vec<Decision>> {
        let urls = input::urls(urls)?;
        self.check_many_inner(py, urls, purpose)
    }

    /// Fetches one URL through the whole pipeline (pre-check, politeness, fetch, re-check of
    /// headers and meta tags, record). The body is present only when allowed.
    #[pyo3(signature = (url, *, purpose=None))]
    fn fetch(
        &self,
        py: Python<'_>,
        url: &Bound<'_, PyAny>,
        purpose: Option<&str>,
    ) -> PyResult<FetchResult> {
        let urls = vec![input::url(url)?];
        let mut out = self.fetch_many_inner(py, urls, purpose)?;
        Ok(out.remove(0))
    }

    /// Fetches every URL concurrently through the pipeline (each host paced politely), one
    /// result per input in input order, once every record is durable.
    #[pyo3(signature = (urls, *, purpose=None))]
    fn fetch_many(
        &self,
        py: Python<'_>,
        urls: &Bound<'_, PyAny>,
        purpose: Option<&str>,
    ) -> PyResult<Vec<FetchResult>> {
        let urls = input::urls(urls)?;
        self.fetch_many_inner(py, urls, purpose)
    }

    /// Decides on a response the caller fetched itself (a Scrapy download): the origin's live
    /// policy with the response's `headers` (a mapping or `(name, value)` pairs) and, for
    /// markup, the meta tags of `body`. Recorded; `discarded` means the body must not be kept.
    #[pyo3(signature = (url, headers, body, *, purpose=None))]
    fn check_response(
        &self,
        py: Python<'_>,
        url: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        body: &Bound<'_, PyAny>,
        purpose: Option<&str>,
    ) -> PyResult<Decision> {
        let core = self.core()?;
        let (url, headers, body) = (
            input::url(url)?,
            input::headers(headers)?,
            input::bytes("body", body)?,
        );
        let ask = core.ask(purpose)?;
        let engine = Arc::clone(&core.engine);
        Engine::block_on(py, &core, check_response(engine, ask, url, headers, body))
    }

    /// The `Crawl-delay` in seconds the origin's robots.txt asks of this agent, or `None`.
    fn crawl_delay(&self, py: Python<'_>, url: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
        let core = self.core()?;
        let url = input::url(url)?;
        let (engine, ask) = (Arc::clone(&core.engine), Arc::clone(&core.ask));
        Engine::block_on(py, &core, async move {
            engine.crawl_delay(&ask, &url).await.map_err(engine_error)
        })
    }

    /// Makes every record appended so far durable.
    fn sync(&self, py: Python<'_>) -> PyResult<()> {
        let core = self.core()?;
        py.detach(|| core.engine.sync()).map_err(store_error)
    }

    /// Makes the log durable and releases the store (another process may open it once the
    /// last call in flight has returned). Further calls raise `OptoutError`.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let core = self
            .core
            .write()
            .map_err(|_| OptoutError::new_err("engine lock poisoned"))?
            .take();
        if let Some(core) = core {
            py.detach(move || {
                let synced = core.engine.sync();
                drop(core);
                synced
            })
            .map_err(store_error)?;
        }
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        match self.core() {
            Ok(core) => format!(
                "Engine(store={:?}, agent={:?}, purpose={:?})",
                core.store.display().to_string(),
                core.ask.agent,
                core.ask.purpose.as_str()
            ),
            Err(_) => "Engine(closed)".to_owned(),
        }
    }

    // The async bridge: `optout/__init__.py` wraps these into coroutines.

    #[pyo3(signature = (urls, purpose, callback))]
    fn _start_check_many(
        &self,
        urls: &Bound<'_, PyAny>,
        purpose: Option<&str>,
        callback: Py<PyAny>,
    ) -> PyResult<()> {
        let core = self.core()?;
        let urls = input::urls(urls)?;
        let ask = core.ask(purpose)?;
        let work = check_many(Arc::clone(&core.engine), Arc::clone(&ask), urls);
        Engine::spawn(&core, callback, work, |py, decisions| {
            Ok(decisions.into_pyobject(py)?.into_any().unbind())
        });
        Ok(())
    }

    #[pyo3(signature = (urls, purpose, callback))]
    fn _start_fetch_many(
        &self,
        urls: &Bound<'_, PyAny>,
        purpose: Option<&str>,
        callback: Py<PyAny>,
    ) -> PyResult<()> {
        let core = self.core()?;
        let urls = input::urls(urls)?;
        let ask = core.ask(purpose)?;
        let work = fetch_many(Arc::clone(&core.engine), ask.purpose, urls);
        Engine::spawn(&core, callback, work, move |py, fetched| {
            Ok(fetch_results(py, fetched, &ask)?
                .into_pyobject(py)?
                .into_any()
                .unbind())
        });
        Ok(())
    }

    #[pyo3(signature = (url, headers, body, purpose, callback))]
    fn _start_check_response(
        &self,
        url: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        body: &Bound<'_, PyAny>,
        purpose: Option<&str>,
        callback: Py<PyAny>,
    ) -> PyResult<()> {
        let core = self.core()?;
        let (url, headers, body) = (
            input::url(url)?,
            input::headers(headers)?,
            input::bytes("body", body)?,
        );
        let ask = core.ask(purpose)?;
        let work = check_response(Arc::clone(&core.engine), ask, url, headers, body);
        Engine::spawn(&core, callback, work, |py, decision| {
            Ok(decision.into_pyobject(py)?.into_any().unbind())
        });
        Ok(())
    }

    fn _start_crawl_delay(&self, url: &Bound<'_, PyAny>, callback: Py<PyAny>) -> PyResult<()> {
        let core = self.core()?;
        let url = input::url(url)?;
        let (engine, ask) = (Arc::clone(&core.engine), Arc::clone(&core.ask));
        let work = async move { engine.crawl_delay(&ask, &url).await.map_err(engine_error) };
        Engine::spawn(&core, callback, work, |py, delay| {
            Ok(delay.into_pyobject(py)?.into_any().unbind())
        });
        Ok(())
    }
}

impl Engine {
    fn check_many_inner(
        &self,
        py: Python<'_>,
        urls: Vec<String>,
        purpose: Option<&str>,
    ) -> PyResult<Vec<Decision>> {
        let core = self.core()?;
        let ask = core.ask(purpose)?;
        Engine::block_on(py, &core, check_many(Arc::clone(&core.engine), ask, urls))
    }

    fn fetch_many_inner(
        &self,
        py: Python<'_>,
        urls: Vec<String>,
        purpose: Option<&str>,
    ) -> PyResult<Vec<FetchResult>> {
        let core = self.core()?;
        let ask = core.ask(purpose)?;
        let fetched = Engine::block_on(
            py,
            &core,
            fetch_many(Arc::clone(&core.engine), ask.purpose, urls),
        )?;
        fetch_results(py, fetched, &ask)
    }

    /// The open engine, for the log.
    pub(crate) fn library(&self) -> PyResult<Arc<optout::engine::Engine>> {
        Ok(Arc::clone(&self.core()?.engine))
    }
}
