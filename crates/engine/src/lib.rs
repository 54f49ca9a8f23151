//! The engine: the one library entry point for deciding on many URLs. `optout check`, the
//! Python package and `optout serve` all decide through it, so concurrency, the policy
//! cache with its single flight, and the evidence are the same whoever asks.
//!
//! - **online**: [`Engine::check`], [`Engine::check_stream`], [`Engine::check_many`]: each
//!   origin's robots.txt, tdmrep.json and ai.txt come from the live site through one
//!   [`PolicySources`] (fetched once per origin however many URLs wait for it, cached in
//!   memory and in the store, refetched when they expire);
//! - **given**: [`Engine::evaluate`] judges inputs handed over ([`Given`]) without touching
//!   the network, as `optout check --robots FILE` does; [`Evaluation::decide`] is the same
//!   judgement with no store at all;
//! - **fetch**: [`Engine::fetcher`] is the whole pipeline ([`optout_fetch`]) over the same
//!   policy cache and log.
//!
//! Every decision is appended to the evidence log when the engine records
//! ([`EngineOptions::record`]); [`Engine::check_many`] and [`Engine::evaluate`] return only
//! once their records are durable.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod checked;
pub mod fetch_many;
mod given;
pub mod json_line;
pub mod output;
mod response;

pub use checked::{Ask, Checked};
pub use given::{BadHeader, Evaluation, Given, GivenFile, GivenKind, check_header};

use futures_util::{Stream, StreamExt};
use optout_config::{Config, ConfigError, Lists, validate_product_token};
use optout_evidence::log::AppendError;
use optout_evidence::{EvidenceLog, SourceRef};
use optout_evidence::{Store, StoreError};
use optout_fetch::Fetcher;
use optout_net::client::ClientError;
use optout_net::compile::OriginPolicy;
use optout_net::{HttpClient, PolicySources};
use optout_policy::judge::Judge;
use optout_policy::site::SitePolicy;
use optout_policy::{Decision, Purpose, Reason, parse_url};
use std::path::PathBuf;
use std::sync::Arc;

/// Why the engine could not decide. Each is one line a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The configuration or a list it names is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened or read (damaged, or held by another process).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A decision could not be recorded, so it is not handed out.
    #[error(transparent)]
    Append(#[from] AppendError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The agent is not a product token (RFC 9309 §2.2.1).
    #[error("agent: {0}")]
    BadAgent(String),
    /// A given header is not one a server could send.
    #[error(transparent)]
    BadHeader(#[from] BadHeader),
    /// A fetch was asked of an engine that does not record: nothing is fetched off the
    /// record.
    #[error("fetching needs the evidence log: open the engine with recording on")]
    NotRecording,
}

/// How an engine is opened.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Append every decision to the evidence log (`optout check --no-log` turns it off; the
    /// store still holds the policy cache).
    pub record: bool,
    /// Domains always refused, one per line (replaces `signals.excluded_domains_file`).
    pub excluded_domains: Option<PathBuf>,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            record: true,
            excluded_domains: None,
        }
    }
}

/// A decision made, before it is recorded.
enum Decided<'a> {
    /// Not a URL optout can judge.
    Error(String, Reason),
    /// Decided online, from the origin's policy (none for an excluded domain).
    Online(String, url::Url, Decision, Option<Arc<OriginPolicy>>),
    /// Decided on given inputs.
    Given(&'a str, url::Url, Decision, &'a [SourceRef]),
}

/// Decides on URLs for many callers at once; one per store and process (`Arc` it).
pub struct Engine {
    config: Config,
    lists: Arc<Lists>,
    sources: Arc<PolicySources>,
    log: Option<Arc<EvidenceLog>>,
    fetcher: Option<Arc<Fetcher>>,
}

impl Engine {
    /// Loads the lists, then opens the store with `open_store` (taking its lock; opening a
    /// store is its backend's business: `optout::engine::OpenEngine` opens a directory) and
    /// builds the client, the policy cache and, when recording, the evidence log and the
    /// fetcher. Without a store nothing is recorded and the policy cache is in memory only.
    /// Nothing is fetched yet; an async runtime is needed only to check and fetch.
    pub fn open_with(
        config: &Config,
        options: EngineOptions,
        open_store: impl FnOnce() -> Result<Option<Store>, StoreError>,
    ) -> Result<Engine, EngineError> {
        let lists = Arc::new(
            config
                .signals
                .load_lists(options.excluded_domains.as_deref())?,
        );
        let store = open_store()?;
        let log = match &store {
            Some(store) if options.record => {
                Some(Arc::new(EvidenceLog::open(store.clone(), config.evidence)?))
            }
            _ => None,
        };
        let client = HttpClient::new(config)?;
        let ai_crawlers = Arc::new(lists.ai_crawlers.clone());
        let sources = Arc::new(PolicySources::new(
            config,
            client.clone(),
            store,
            ai_crawlers,
        ));
        let fetcher = log.as_ref().map(|log| {
            Arc::new(Fetcher::from_parts(
                config,
                client,
                Arc::clone(&sources),
                Arc::clone(log),
                Arc::clone(&lists),
            ))
        });
        Ok(Engine {
            config: config.clone(),
            lists,
            sources,
            log,
            fetcher,
        })
    }

    /// Who asks and for what: `agent` (a product token, default `crawler.product_token`)
    /// and `purpose` (default `crawler.purpose`).
    pub fn ask(&self, agent: Option<&str>, purpose: Option<Purpose>) -> Result<Ask, EngineError> {
        let agent = agent.unwrap_or(&self.config.crawler.product_token);
        validate_product_token(agent).map_err(|e| EngineError::BadAgent(e.to_string()))?;
        Ok(Ask {
            agent: agent.to_owned(),
            purpose: purpose.unwrap_or(self.config.crawler.purpose),
        })
    }

    /// The judge for `ask`, with the configured lists.
    pub fn judge<'a>(&'a self, ask: &'a Ask) -> Judge<'a> {
        Judge {
            agent: &ask.agent,
            purpose: ask.purpose,
            excluded: &self.lists.excluded,
            ai_crawler_blocks: self.config.signals.ai_crawler_blocks,
        }
    }

    /// Decides on one input against its origin's live policy files, and records the
    /// decision. An input that is not a URL optout can judge is an `error` [`Checked`], not
    /// an `Err`: one bad line never costs the rest of a batch.
    pub async fn check(&self, ask: &Ask, input: &str) -> Result<Checked, EngineError> {
        let decided = self.decide_online(ask, input).await?;
        self.record(ask, decided)
    }

    /// Decides on every input of a stream, `net.check_concurrency` at once, in input order;
    /// the records are appended in input order too. Errors of the input stream pass through
    /// in their place.
    pub fn check_stream<'a, S, E>(
        &'a self,
        ask: &'a Ask,
        inputs: S,
    ) -> impl Stream<Item = Result<Checked, E>> + 'a
    where
        S: Stream<Item = Result<String, E>> + 'a,
        E: From<EngineError> + 'a,
    {
        inputs
            .map(move |input| async move { Ok(self.decide_online(ask, &input?).await?) })
            .buffered(self.config.net.check_concurrency)
            .map(move |decided: Result<Decided<'static>, E>| Ok(self.record(ask, decided?)?))
    }

    /// One input, online, not yet recorded: excluded domains first (nothing is fetched for
    /// them), then the origin's policy through the cache.
    async fn decide_online(&self, ask: &Ask, input: &str) -> Result<Decided<'static>, EngineError> {
        let url = match parse_url(input) {
            Ok(url) => url,
            Err(reason) => return Ok(Decided::Error(input.to_owned(), reason)),
        };
        let judge = self.judge(ask);
        if url
            .host_str()
            .is_some_and(|h| judge.excluded.reason_for(h).is_some())
        {
            let nothing = SitePolicy::new(None, None, None, &Default::default());
            let decision = judge.decide(&nothing, None, &url);
            return Ok(Decided::Online(input.to_owned(), url, decision, None));
        }
        let policy = self.sources.for_url(&url).await?;
        let decision = judge.decide(&policy.site, None, &url);
        Ok(Decided::Online(
            input.to_owned(),
            url,
            decision,
            Some(policy),
        ))
    }

    /// Decides on every input, in input order, and returns once every record is durable.
    pub async fn check_many(
        &self,
        ask: &Ask,
        inputs: impl IntoIterator<Item = String>,
    ) -> Result<Vec<Checked>, EngineError> {
        let inputs = futures_util::stream::iter(inputs.into_iter().map(Ok));
        let checked: Vec<Checked> = self
            .check_stream(ask, inputs)
            .collect::<Vec<Result<Checked, EngineError>>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        self.sync()?;
        Ok(checked)
    }

    /// What `given` says, ready to judge URLs ([`Engine::check_given`]); its snapshots are
    /// stored when the engine records. Returns the sources the records will cite.
    pub fn given(&self, given: Given) -> Result<(Evaluation, Arc<[SourceRef]>), EngineError> {
        let evaluation = given.evaluate(&self.config, &self.lists.ai_crawlers)?;
        if let Some(log) = &self.log {
            for (source, bytes) in evaluation.sources() {
                log.put_snapshot_with_hash(&source.sha256, bytes)?;
            }
        }
        let sources = evaluation
            .sources()
            .iter()
            .map(|(s, _)| s.clone())
            .collect();
        Ok((evaluation, sources))
    }

    /// Decides on one input against given inputs, and records the decision.
    pub fn check_given(
        &self,
        ask: &Ask,
        evaluation: &Evaluation,
        sources: &[SourceRef],
        input: &str,
    ) -> Result<Checked, EngineError> {
        let decided = match parse_url(input) {
            Ok(url) => {
                let decision = evaluation.decide(&self.judge(ask), &url);
                Decided::Given(input, url, decision, sources)
            }
            Err(reason) => Decided::Error(input.to_owned(), reason),
        };
        self.record(ask, decided)
    }

    /// Judges every input against `given` without the network, in input order, and
    /// returns once every record is durable.
    pub fn evaluate<'i>(
        &self,
        ask: &Ask,
        given: Given,
        inputs: impl IntoIterator<Item = &'i str>,
    ) -> Result<Vec<Checked>, EngineError> {
        let (evaluation, sources) = self.given(given)?;
        let checked = inputs
            .into_iter()
            .map(|input| self.check_given(ask, &evaluation, &sources, input))
            .collect::<Result<Vec<_>, _>>()?;
        self.sync()?;
        Ok(checked)
    }

    /// Appends the record of a decision when recording.
    fn record(&self, ask: &Ask, decided: Decided<'_>) -> Result<Checked, EngineError> {
        let (input, url, decision, sources) = match decided {
            Decided::Error(input, reason) => return Ok(Checked::error(&input, reason)),
            Decided::Online(input, url, decision, policy) => {
                let sources = policy.as_ref().map_or(&[][..], |p| p.sources.as_slice());
                return self.record_decision(ask, &input, url, decision, sources);
            }
            Decided::Given(input, url, decision, sources) => (input, url, decision, sources),
        };
        self.record_decision(ask, input, url, decision, sources)
    }

    fn record_decision(
        &self,
        ask: &Ask,
        input: &str,
        url: url::Url,
        decision: Decision,
        sources: &[SourceRef],
    ) -> Result<Checked, EngineError> {
        let seq = match &self.log {
            Some(log) => Some(
                log.append_decision(&url, &ask.agent, ask.purpose, &decision, sources)?
                    .seq,
            ),
            None => None,
        };
        Ok(Checked::decided(input, url, decision, seq))
    }

    /// Makes every record appended so far durable.
    pub fn sync(&self) -> Result<(), StoreError> {
        if let Some(log) = &self.log {
            log.sync()?;
        }
        Ok(())
    }

    /// The fetch pipeline over this engine's policy cache and log.
    pub fn fetcher(&self) -> Result<&Arc<Fetcher>, EngineError> {
        self.fetcher.as_ref().ok_or(EngineError::NotRecording)
    }

    /// Fetches every input through this engine's pipeline (see [`fetch_many::fetch_many`]):
    /// each outcome comes out once its record is durable.
    pub fn fetch_many<S>(
        &self,
        inputs: S,
        purpose: Purpose,
        order: fetch_many::Order,
        stop: fetch_many::Stop,
    ) -> Result<futures_util::stream::BoxStream<'static, fetch_many::Fetched>, EngineError>
    where
        S: futures_util::Stream<Item = String> + Send + 'static,
    {
        let fetcher = Arc::clone(self.fetcher()?);
        Ok(fetch_many::fetch_many(
            fetcher, inputs, purpose, order, stop,
        ))
    }

    /// The evidence log, when recording.
    pub fn log(&self) -> Option<&Arc<EvidenceLog>> {
        self.log.as_ref()
    }

    /// The live policy sources (the cache).
    pub fn sources(&self) -> &Arc<PolicySources> {
        &self.sources
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The lists of `[signals]`.
    pub fn lists(&self) -> &Lists {
        &self.lists
    }
}

/// Fault injection for the tests of a panic in one of the binary's tasks
/// (`tests/hostile_limits.rs`): with debug assertions on and `OPTOUT_TEST_PANIC=place` in
/// the environment, panics at `place` ("task": in a fetch task once its fetch is recorded).
#[doc(hidden)]
pub fn test_panic(place: &str) {
    if cfg!(debug_assertions) && std::env::var_os("OPTOUT_TEST_PANIC").is_some_and(|v| v == place) {
        panic!("OPTOUT_TEST_PANIC={place}");
    }
}
