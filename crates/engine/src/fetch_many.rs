//! Fetching many inputs through the one pipeline: `optout fetch` with many URLs, the
//! service's batch `POST /v1/fetch` and Python's `Engine.fetch_many` all fetch through
//! [`fetch_many`], so how many run at once, in which order outcomes come, what a stop does,
//! and that no outcome is handed out before its evidence record is durable are decided
//! here, once.

use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use optout_fetch::{Fetcher, FetcherError, Outcome};
use optout_policy::Purpose;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// One input fetched.
#[derive(Debug)]
pub struct Fetched {
    /// The input as given.
    pub input: String,
    /// What became of it. An error means the pipeline could not record (the store
    /// failed): no outcome may be handed out then.
    pub outcome: Result<Outcome, FetcherError>,
    /// How long the fetch itself took (its polite wait included, the sync not).
    pub took: Duration,
}

/// In which order outcomes come, and how many fetches run at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// In input order, `concurrency` inputs in flight at once (each host still paced by
    /// the fetcher's politeness): a batch answer, a Python list.
    Input {
        /// Inputs in flight at once (at least 1).
        concurrency: usize,
    },
    /// As each finishes, one queue per host, `per_host` of a host's inputs in flight at
    /// once, so that a slow host never holds up the others: a stream of lines.
    Ready {
        /// Inputs of one host in flight at once (at least 1).
        per_host: usize,
    },
}

/// A stop asked for from outside (Ctrl-C, SIGTERM): no more input is taken, and fetches
/// still waiting (a polite slot, a server's `Retry-After`) or running end at once, each
/// recorded as `fetch.interrupted`.
#[derive(Clone, Debug)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// A stop that `tx.send(true)` asks for.
    pub fn new(rx: watch::Receiver<bool>) -> Stop {
        Stop(rx)
    }

    /// A stop never asked for.
    pub fn never() -> Stop {
        let (tx, rx) = watch::channel(false);
        // Kept alive for the process: the receiver then never sees its sender gone.
        std::mem::forget(tx);
        Stop(rx)
    }

    /// Resolves once a stop was asked for (never, if its sender is gone without asking).
    pub async fn stopped(&self) {
        let mut rx = self.0.clone();
        if rx.wait_for(|stopped| *stopped).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Whether a stop was asked for.
    pub fn asked(&self) -> bool {
        *self.0.borrow()
    }

    /// Fetches `input`, or records it interrupted if a stop comes first.
    pub async fn or_interrupted(
        &self,
        fetcher: &Fetcher,
        input: &str,
        purpose: Purpose,
    ) -> Result<Outcome, FetcherError> {
        tokio::select! {
            biased;
            () = self.stopped() => fetcher.interrupted(input, purpose),
            outcome = fetcher.fetch(input, purpose) => outcome,
        }
    }
}

/// Fetches every input of `inputs` for `purpose`, in `order`, until `stop`. Each outcome
/// comes out once its record is durable (the log is synced off the async workers when it is
/// not yet; concurrent fetches share each sync), so a caller may hand its body on at once.
/// Inputs that are not URLs come out refused with their reason, as `Fetcher::fetch` gives.
pub fn fetch_many<S>(
    fetcher: Arc<Fetcher>,
    inputs: S,
    purpose: Purpose,
    order: Order,
    stop: Stop,
) -> BoxStream<'static, Fetched>
where
    S: Stream<Item = String> + Send + 'static,
{
    let taken = until_stopped(inputs, stop.clone());
    match order {
        Order::Input { concurrency } => taken
            .map(move |input| one(Arc::clone(&fetcher), input, purpose, stop.clone()))
            .buffered(concurrency.max(1))
            .boxed(),
        Order::Ready { per_host } => by_host(fetcher, taken, purpose, per_host.max(1), stop),
    }
}

/// `inputs` until a stop is asked for: what was taken before is still fetched (and,
/// stopped, recorded interrupted).
fn until_stopped<S>(inputs: S, stop: Stop) -> BoxStream<'static, String>
where
    S: Stream<Item = String> + Send + 'static,
{
    let stopped = Box::pin(async move { stop.stopped().await });
    inputs.take_until(stopped).boxed()
}

/// One input: fetched (or interrupted), then made durable.
async fn one(fetcher: Arc<Fetcher>, input: String, purpose: Purpose, stop: Stop) -> Fetched {
    let started = Instant::now();
    let outcome = stop.or_interrupted(&fetcher, &input, purpose).await;
    let took = started.elapsed();
    crate::test_panic("task");
    let outcome = match outcome {
        Ok(outcome) => durable(&fetcher, &outcome).await.map(|()| outcome),
        Err(e) => Err(e),
    };
    Fetched {
        input,
        outcome,
        took,
    }
}

/// Syncs the log until `outcome`'s record is durable, off the async workers.
async fn durable(fetcher: &Arc<Fetcher>, outcome: &Outcome) -> Result<(), FetcherError> {
    let seq = match outcome {
        Outcome::Fetched(page) => Some(page.seq),
        Outcome::NotFetched(refusal) => refusal.seq,
    };
    if seq.is_none_or(|seq| fetcher.log().durable_seq() >= seq) {
        return Ok(());
    }
    let log = Arc::clone(fetcher.log());
    match tokio::task::spawn_blocking(move || log.sync()).await {
        Ok(synced) => synced.map(|_| ()).map_err(FetcherError::from),
        // The sync panicked: the record may not be durable, so the outcome is not given.
        Err(e) => Err(FetcherError::Store(optout_evidence::StoreError::Backend(
            format!("the evidence log's sync failed: {e}"),
        ))),
    }
}

/// The host an input's queue is keyed by (empty for an input that is not a URL: those are
/// refused at once, without a request).
fn host_of(input: &str) -> String {
    url::Url::parse(input.trim())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Outcomes as they finish, one queue per host.
fn by_host(
    fetcher: Arc<Fetcher>,
    mut inputs: BoxStream<'static, String>,
    purpose: Purpose,
    per_host: usize,
    stop: Stop,
) -> BoxStream<'static, Fetched> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Fetched>();
    tokio::spawn(async move {
        let mut queues: HashMap<String, mpsc::UnboundedSender<String>> = HashMap::new();
        while let Some(input) = inputs.next().await {
            // Nobody reads the outcomes any more (standard output closed): take no more.
            if tx.is_closed() {
                break;
            }
            let queue = queues
                .entry(host_of(&input))
                .or_insert_with(|| host_queue(&fetcher, &tx, purpose, per_host, &stop));
            let _ = queue.send(input);
        }
    });
    stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

/// Starts the queue of one host: its inputs are fetched `per_host` at a time, outcomes sent
/// to `tx` as they finish.
fn host_queue(
    fetcher: &Arc<Fetcher>,
    tx: &mpsc::UnboundedSender<Fetched>,
    purpose: Purpose,
    per_host: usize,
    stop: &Stop,
) -> mpsc::UnboundedSender<String> {
    let (queue, mut urls) = mpsc::unbounded_channel::<String>();
    let (fetcher, tx, stop) = (Arc::clone(fetcher), tx.clone(), stop.clone());
    tokio::spawn(async move {
        let urls = stream::poll_fn(move |cx| urls.poll_recv(cx));
        let mut results = urls
            .map(|input| one(Arc::clone(&fetcher), input, purpose, stop.clone()))
            .buffer_unordered(per_host);
        while let Some(fetched) = results.next().await {
            if tx.send(fetched).is_err() {
                break;
            }
        }
    });
    queue
}
