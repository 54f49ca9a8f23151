//! Fetch-layer benchmark (issue 6, "How it is checked"). Two parts:
//!
//! **(a) Overhead** (criterion, group `fetch_overhead`, `Throughput::Elements`): [`N`]
//! requests per iteration, [`CONCURRENCY`] in flight (that many tokio tasks taking URLs off
//! one counter), to one loopback origin serving a 2 KB HTML article page, through
//! - `reqwest`: a plain `reqwest::Client` (redirects off, otherwise default settings), body
//!   read with `bytes()`;
//! - `fetcher`: [`Fetcher::fetch`] for `train-ai` with politeness off: pre-check against the
//!   cached robots.txt / tdmrep.json / ai.txt of the origin, the global in-flight semaphore,
//!   the GET, the re-check of headers and HTML meta tags, one evidence record per request
//!   (group commit), and a `sync()` of the log at the end of each iteration;
//! - `fetcher_text` (a diagnostic): the same, the same bytes served as `text/plain`, so the
//!   HTML re-check is skipped and the rest of the pipeline is what is left;
//! - `fetcher_parsed` (a diagnostic): the same page with a character reference in its
//!   description meta (`It&#8217;s`, as WordPress writes it), which the fetcher's scan cannot
//!   clear, so the page is parsed into a DOM: the cost of a page that may carry a reservation.
//!
//! Supplementary to (a): the same page answered after [`LATENCY`] (20 ms, a network round
//! trip and a server's work), plain reqwest and the fetcher in [`LATENCY_ROUNDS`] interleaved
//! rounds. There the fetcher's CPU cost is hidden behind the wait, as on a real network; the
//! target is judged on the loopback figure above, not on this one.
//!
//! All fetch the same URLs from the same server in the same process. The fetcher's policy
//! cache and the connection pools are warmed before anything is timed. The machine is shared
//! and noisy, so after criterion the cases are also timed in [`ROUNDS`] interleaved rounds
//! (order rotating) and the medians of the per-round ratios to plain reqwest are printed.
//!
//! **(b) Politeness utilisation** (a timed run, not criterion): 200 loopback hosts
//! (127.0.0.2 … 127.0.0.201, one server each, all on one server runtime), each allowed one
//! request every 50 ms (`min_interval_ms = 50`, `in_flight_per_host = 1`): a bound of 4,000
//! requests/s. After a warm-up (each origin's policy files and one page), every host gets
//! [`WORKERS_PER_HOST`] tasks fetching new URLs until the [`WINDOW`] (10 s) is over, so the
//! politeness layer always has requests waiting. The servers log the arrival time of every
//! request. Reported: the page requests that arrived within the window (÷ 10 s, and as a
//! share of the bound); per host the least gap between consecutive page requests, with gaps
//! under 50 ms counted exactly and beyond 1 ms of jitter; the same counting the policy-file
//! requests; and how late 10 ms sleeps on the client runtime woke during the run.
//!
//! Then two diagnostics: the same run through [`Fetcher::fetch_with`] with a `send` that
//! notes when each request is handed to the client and when its response was read (spacing
//! at the source, send-to-arrival delay, and the mean gap split into the interval, the time
//! the previous request took, which the pipeline also counts the interval from, and lateness
//! after that); and the politeness layer alone ([`optout::net::Politeness::acquire`], no
//! HTTP) for [`ALONE`], timed by `Slot::granted` (its least gap holds by construction; its
//! mean gap is the measurement).
//!
//! Run with `cargo bench --bench fetch` (`-- fetch_overhead` or `-- politeness` for one part).
//! Without `--bench` (as `cargo test --benches` runs it), or with `--test`, a smoke run
//! replaces the benchmark: a few requests each way and 0.3 s politeness runs on 3 hosts
//! (about a second).
//!
//! CPU and instruction counts: `OPTOUT_FETCH_PROFILE=fetcher:20000` (or `reqwest:`,
//! `fetcher_text:`) runs that many requests of one case of part (a) after the warm-up and
//! exits, for `perf stat` or `valgrind --tool=callgrind`; the difference of two runs (e.g.
//! 20,000 and 2,000 requests) divided by the difference in requests is the cost of one
//! request, server side included.

#[path = "support/criterion_results.rs"]
mod criterion_results;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header::CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use criterion::{Criterion, SamplingMode, Throughput};
use criterion_results::median_ns;
use optout::config::{Config, Lists};
use optout::evidence::EvidenceLog;
use optout::fetcher::{Fetcher, FetcherError, Outcome};
use optout::net::HttpClient;
use optout::policy::Purpose;
use optout::store::{Sled, Store};
use reqwest::header::HeaderMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use url::Url;

/// The cases of part (a): reqwest, fetcher, fetcher_text, fetcher_parsed.
const CASES: usize = 4;
/// How long the server takes to answer in the supplementary part of (a), as a network
/// round trip and a server's work would.
const LATENCY: Duration = Duration::from_millis(20);
/// Interleaved rounds of the supplementary part of (a).
const LATENCY_ROUNDS: usize = 4;
/// Requests per iteration in part (a).
const N: usize = 2000;
/// Requests in flight in part (a).
const CONCURRENCY: usize = 32;
/// Interleaved rounds (each case once) timed after criterion in part (a).
const ROUNDS: usize = 8;
const GROUP: &str = "fetch_overhead";

/// Hosts in part (b).
const HOSTS: usize = 200;
/// The least interval per host in part (b).
const INTERVAL: Duration = Duration::from_millis(50);
/// How long part (b) issues requests.
const WINDOW: Duration = Duration::from_secs(10);
/// Tasks per host in part (b), each fetching one URL after another.
const WORKERS_PER_HOST: usize = 3;
/// How long the politeness layer is timed alone, without HTTP.
const ALONE: Duration = Duration::from_secs(5);

const ROBOTS: &str = "User-agent: *\nDisallow: /private/\n";

/// The page of [`page`] with `It&#8217;s` in its description meta: the fetcher cannot clear
/// it without parsing it.
fn parsed_page() -> Bytes {
    let page = String::from_utf8(page().to_vec()).expect("the page is UTF-8");
    // The same length as the plain page, which the clients check every body against.
    let parsed = page
        .replacen("A short article", "It&#8217;s short", 1)
        .replacen("fetch layer.", "fetch layer", 1);
    assert_eq!(parsed.len(), page.len());
    Bytes::from(parsed)
}

/// A 2 KB article page with the usual head (the fetcher reads its meta tags).
fn page() -> Bytes {
    let head = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
        <title>Item — Example News</title>\n\
        <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
        <meta name=\"description\" content=\"A short article used to benchmark the fetch layer.\">\n\
        <meta name=\"robots\" content=\"index, follow\">\n\
        <link rel=\"stylesheet\" href=\"/static/site.css\">\n\
        <link rel=\"canonical\" href=\"https://news.example/articles/item.html\">\n\
        </head>\n<body>\n<header><nav><a href=\"/\">Home</a> <a href=\"/articles/\">Articles</a></nav></header>\n\
        <main><article>\n<h1>An article of about two kilobytes</h1>\n";
    let tail =
        "</article></main>\n<footer><p>&copy; 2025 Example News</p></footer>\n</body>\n</html>\n";
    let sentence = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \
        incididunt ut labore et dolore magna aliqua. ";
    let mut html = String::from(head);
    while html.len() + tail.len() < 2048 - 140 {
        html.push_str("<p>");
        html.push_str(sentence);
        html.push_str("</p>\n");
    }
    html.push_str(tail);
    Bytes::from(html)
}

// ---------------------------------------------------------------------------------------
// Loopback servers: one runtime serving any number of listeners, without the request log of
// tests/support/server.rs unless asked (part (b) logs arrival times per host).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Page,
    Policy,
}

#[derive(Clone, Copy, Debug)]
struct Hit {
    at: Instant,
    kind: Kind,
}

struct Shared {
    page: Bytes,
    parsed: Bytes,
    log: bool,
    hosts: Vec<Mutex<Vec<Hit>>>,
    served: AtomicU64,
}

#[derive(Clone)]
struct HostState {
    index: usize,
    shared: Arc<Shared>,
}

struct Servers {
    addrs: Vec<SocketAddr>,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Servers {
    /// One server on each of `ips` (free ports), on a runtime of `workers` threads.
    fn start(ips: &[IpAddr], page: Bytes, log: bool, workers: usize) -> Servers {
        let listeners: Vec<std::net::TcpListener> = ips
            .iter()
            .map(|ip| {
                let l = std::net::TcpListener::bind((*ip, 0)).expect("bind a loopback server");
                l.set_nonblocking(true).expect("non-blocking listener");
                l
            })
            .collect();
        let addrs = listeners
            .iter()
            .map(|l| l.local_addr().expect("local address"))
            .collect();
        let shared = Arc::new(Shared {
            page,
            parsed: parsed_page(),
            log,
            hosts: ips.iter().map(|_| Mutex::new(Vec::new())).collect(),
            served: AtomicU64::new(0),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("bench-servers".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .thread_name("bench-server")
                    .enable_all()
                    .build()
                    .expect("server runtime");
                runtime.block_on(async move {
                    for (index, listener) in listeners.into_iter().enumerate() {
                        let listener = tokio::net::TcpListener::from_std(listener)
                            .expect("tokio listener")
                            .tap_io(|tcp| {
                                let _ = tcp.set_nodelay(true);
                            });
                        let app = Router::new().fallback(handle).with_state(HostState {
                            index,
                            shared: Arc::clone(&state),
                        });
                        tokio::spawn(async move {
                            let _ = axum::serve(listener, app).await;
                        });
                    }
                    let _ = stopped.await;
                });
            })
            .expect("server thread");
        Servers {
            addrs,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Requests served so far.
    fn served(&self) -> u64 {
        self.shared.served.load(Ordering::Relaxed)
    }

    /// The arrivals logged for host `index`, in order of time.
    fn hits(&self, index: usize) -> Vec<Hit> {
        let mut hits = self.shared.hosts[index]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        hits.sort_by_key(|h| h.at);
        hits
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn handle(State(host): State<HostState>, uri: Uri) -> Response {
    let at = Instant::now();
    let shared = &host.shared;
    let kind = match uri.path() {
        "/robots.txt" | "/.well-known/tdmrep.json" | "/ai.txt" => Kind::Policy,
        _ => Kind::Page,
    };
    shared.served.fetch_add(1, Ordering::Relaxed);
    if shared.log {
        shared.hosts[host.index]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Hit { at, kind });
    }
    match uri.path() {
        "/robots.txt" => ([(CONTENT_TYPE, "text/plain")], ROBOTS).into_response(),
        "/.well-known/tdmrep.json" | "/ai.txt" => StatusCode::NOT_FOUND.into_response(),
        path if path.starts_with("/text/") => (
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            shared.page.clone(),
        )
            .into_response(),
        path if path.starts_with("/slow/") => {
            tokio::time::sleep(LATENCY).await;
            (
                [(CONTENT_TYPE, "text/html; charset=utf-8")],
                shared.page.clone(),
            )
                .into_response()
        }
        path if path.starts_with("/parsed/") => (
            [(CONTENT_TYPE, "text/html; charset=utf-8")],
            shared.parsed.clone(),
        )
            .into_response(),
        _ => (
            [(CONTENT_TYPE, "text/html; charset=utf-8")],
            shared.page.clone(),
        )
            .into_response(),
    }
}

// ---------------------------------------------------------------------------------------
// Clients.

/// The configuration: private addresses allowed, `politeness` as the `[politeness]` table.
fn config(politeness: &str) -> Config {
    let toml = format!("[net]\nallow_private_addresses = true\n[politeness]\n{politeness}");
    Config::from_toml(&toml).expect("benchmark configuration")
}

/// A fetcher configured by `config`, on a fresh store in `dir`.
fn fetcher(dir: &std::path::Path, config: &Config) -> Arc<Fetcher> {
    let store = Store::open(&dir.join("store")).expect("open store");
    let log = Arc::new(EvidenceLog::open(store, config.evidence).expect("open evidence log"));
    Arc::new(Fetcher::new(config, log, Lists::default()).expect("build the fetcher"))
}

/// One side of the comparison.
#[derive(Clone)]
enum Side {
    Plain(reqwest::Client),
    Fetcher(Arc<Fetcher>),
}

impl Side {
    /// GETs `url`; returns the status and the body's length (panics on anything else).
    async fn get(&self, url: &str) -> (u16, usize) {
        match self {
            Side::Plain(client) => {
                let response = client.get(url).send().await.expect("plain GET");
                let status = response.status().as_u16();
                let body = response.bytes().await.expect("plain body");
                (status, body.len())
            }
            Side::Fetcher(fetcher) => match fetcher.fetch(url, Purpose::TrainAi).await {
                Ok(Outcome::Fetched(page)) => (page.status, page.body.len()),
                Ok(Outcome::NotFetched(refusal)) => panic!("not fetched: {refusal:?}"),
                Err(e) => panic!("fetcher failed: {e}"),
            },
        }
    }

    /// Fetches every URL of `urls`, `concurrency` at a time (and syncs the evidence log);
    /// returns the time taken.
    async fn run(&self, urls: &Arc<Vec<String>>, concurrency: usize, body: usize) -> Duration {
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let side = self.clone();
                let urls = Arc::clone(urls);
                let next = Arc::clone(&next);
                tokio::spawn(async move {
                    while let Some(url) = urls.get(next.fetch_add(1, Ordering::Relaxed)) {
                        assert_eq!(side.get(url).await, (200, body), "{url}");
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.expect("worker");
        }
        if let Side::Fetcher(fetcher) = self {
            fetcher.log().sync().expect("sync the evidence log");
        }
        start.elapsed()
    }
}

/// The URLs of part (a): `n` article pages of `origin` under `prefix` (`/text` for the same
/// bytes as `text/plain`).
fn urls(origin: SocketAddr, prefix: &str, n: usize) -> Arc<Vec<String>> {
    Arc::new(
        (0..n)
            .map(|i| format!("http://{origin}{prefix}/articles/2025/item-{i:05}.html"))
            .collect(),
    )
}

fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("client runtime")
}

// ---------------------------------------------------------------------------------------
// (a) Overhead.

struct Overhead {
    _dir: tempfile::TempDir,
    server: Servers,
    runtime: tokio::runtime::Runtime,
    plain: Side,
    fetcher: Side,
    urls: Arc<Vec<String>>,
    /// The same pages served as `text/plain` (no HTML re-check): a diagnostic.
    text_urls: Arc<Vec<String>>,
    /// Pages the scan cannot clear (parsed into a DOM): a diagnostic.
    parsed_urls: Arc<Vec<String>>,
    /// The page answered after [`LATENCY`] (the supplementary part).
    slow_urls: Arc<Vec<String>>,
    body: usize,
}

impl Overhead {
    /// The server, both clients, warmed: the policy cache filled and `CONCURRENCY`
    /// connections pooled on each side.
    fn new(n: usize) -> Overhead {
        let page = page();
        let body = page.len();
        let server = Servers::start(&[IpAddr::V4(Ipv4Addr::LOCALHOST)], page, false, 2);
        let runtime = client_runtime();
        let dir = tempfile::tempdir().expect("temporary directory");
        let (plain, fetcher) = {
            let _context = runtime.enter();
            let plain = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("plain client");
            let config = config("enabled = false\nmax_in_flight = 256\n");
            let fetcher = fetcher(dir.path(), &config);
            (Side::Plain(plain), Side::Fetcher(fetcher))
        };
        let urls = self::urls(server.addrs[0], "", n);
        let text_urls = self::urls(server.addrs[0], "/text", n);
        let parsed_urls = self::urls(server.addrs[0], "/parsed", n);
        let slow_urls = self::urls(server.addrs[0], "/slow", n);
        let warm = self::urls(server.addrs[0], "", CONCURRENCY * 4);
        for side in [&plain, &fetcher] {
            runtime.block_on(side.run(&warm, CONCURRENCY, body));
        }
        Overhead {
            _dir: dir,
            server,
            runtime,
            plain,
            fetcher,
            urls,
            text_urls,
            parsed_urls,
            slow_urls,
            body,
        }
    }

    /// The runs measured: (name, side, URLs).
    fn cases(&self) -> [(&'static str, &Side, &Arc<Vec<String>>); CASES] {
        [
            ("reqwest", &self.plain, &self.urls),
            ("fetcher", &self.fetcher, &self.urls),
            ("fetcher_text", &self.fetcher, &self.text_urls),
            ("fetcher_parsed", &self.fetcher, &self.parsed_urls),
        ]
    }

    fn time(&self, side: &Side, urls: &Arc<Vec<String>>) -> Duration {
        self.runtime
            .block_on(side.run(urls, CONCURRENCY, self.body))
    }
}

fn bench_overhead(c: &mut Criterion, rig: &Overhead) {
    let mut group = c.benchmark_group(GROUP);
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(3));
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(N as u64));
    for (name, side, urls) in rig.cases() {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| rig.time(side, urls)).sum())
        });
    }
    group.finish();
}

/// Medians over `rounds` interleaved rounds (each case once a round, the order rotating): the
/// requests/s of each case, and of the per-round ratios of each case to plain reqwest.
struct Interleaved {
    rates: [f64; CASES],
    ratios: [f64; CASES],
}

fn interleaved(rig: &Overhead, rounds: usize) -> Interleaved {
    let cases = rig.cases();
    let mut rates: [Vec<f64>; CASES] = Default::default();
    let mut ratios: [Vec<f64>; CASES] = Default::default();
    for round in 0..rounds {
        let mut rate = [0.0; CASES];
        for k in 0..cases.len() {
            let i = (round + k) % cases.len();
            let (_, side, urls) = cases[i];
            rate[i] = urls.len() as f64 / rig.time(side, urls).as_secs_f64();
        }
        for i in 0..cases.len() {
            rates[i].push(rate[i]);
            ratios[i].push(rate[i] / rate[0]);
        }
    }
    Interleaved {
        rates: rates.map(|mut v| median(&mut v)),
        ratios: ratios.map(|mut v| median(&mut v)),
    }
}

/// The supplementary part of (a): plain reqwest and the fetcher against a server that takes
/// [`LATENCY`] to answer, in `rounds` interleaved rounds; the medians of their rates and of
/// the per-round ratio.
fn with_latency(rig: &Overhead, rounds: usize) -> (f64, f64, f64) {
    let (mut plain, mut fetcher, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let mut rate = [0.0; 2];
        for k in 0..2 {
            let i = (round + k) % 2;
            let side = if i == 0 { &rig.plain } else { &rig.fetcher };
            rate[i] = rig.slow_urls.len() as f64 / rig.time(side, &rig.slow_urls).as_secs_f64();
        }
        plain.push(rate[0]);
        fetcher.push(rate[1]);
        ratios.push(rate[1] / rate[0]);
    }
    (
        median(&mut plain),
        median(&mut fetcher),
        median(&mut ratios),
    )
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

// ---------------------------------------------------------------------------------------
// (b) Politeness utilisation.

struct Utilisation {
    hosts: usize,
    window: Duration,
    in_window: usize,
    pages: usize,
    not_fetched: usize,
    run: Duration,
    /// Mean gap between consecutive page requests of a host in the window.
    mean_gap: Duration,
    min_gap: Duration,
    violations_exact: usize,
    violations_1ms: usize,
    /// Least gap and gaps under the interval when the policy-file requests count too.
    min_gap_all: Duration,
    violations_all: usize,
    cpu: Option<f64>,
    /// How late 10 ms sleeps on the client runtime woke up during the run (mean, largest).
    timer_late: (Duration, Duration),
    client: Option<ClientSide>,
}

/// What the diagnosis run adds: the time each page request was handed to the HTTP client (in
/// the `send` of [`Fetcher::fetch_with`], right after the politeness slot was taken).
struct ClientSide {
    min_send_gap: Duration,
    send_violations: usize,
    /// Send-to-arrival delays (99.9th percentile, largest).
    p999_delay: Duration,
    max_delay: Duration,
    /// Arrival gaps under the interval minus 1 ms whose two sends were a full interval apart.
    explained: usize,
    /// Hosts whose sends and arrivals did not pair up.
    unpaired_hosts: usize,
    /// Mean time from handing a request to the client to having its response read.
    mean_request: Duration,
    /// Mean time a send came after (previous response read + interval): the pipeline counts
    /// the interval from the end of the previous request too, so this is the lateness of the
    /// politeness wait itself.
    mean_late: Duration,
}

impl Utilisation {
    fn bound(&self) -> f64 {
        self.hosts as f64 / INTERVAL.as_secs_f64()
    }

    fn rate(&self) -> f64 {
        self.in_window as f64 / self.window.as_secs_f64()
    }
}

/// Process CPU time (user + system) so far, from `/proc/self/stat` (100 ticks a second).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Records when each page request of a host is handed to the HTTP client.
struct Probe {
    http: HttpClient,
    limit: usize,
    /// Per host: when each request was handed to the client, and when its response was read.
    sent: Vec<Mutex<Vec<(Instant, Instant)>>>,
}

/// One page through the fetcher: [`Fetcher::fetch`], or with `probe` the same pipeline
/// through [`Fetcher::fetch_with`] and the same kind of client, noting the send time.
async fn fetch_page(
    fetcher: &Fetcher,
    url: &str,
    probe: Option<(&Probe, usize)>,
) -> Result<Outcome, FetcherError> {
    let Some((probe, host)) = probe else {
        return fetcher.fetch(url, Purpose::TrainAi).await;
    };
    let url = Url::parse(url).expect("benchmark URL");
    let mut send = |url: Url| {
        let sent = Instant::now();
        let http = probe.http.clone();
        let limit = probe.limit;
        async move {
            let response = http.get(&url, HeaderMap::new(), limit).await;
            probe.sent[host]
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((sent, Instant::now()));
            response
        }
    };
    fetcher.fetch_with(url, Purpose::TrainAi, &mut send).await
}

fn politeness(hosts: usize, window: Duration, client_side: bool) -> Utilisation {
    let ips: Vec<IpAddr> = (0..hosts)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8)))
        .collect();
    let page = page();
    let body = page.len();
    let servers = Servers::start(&ips, page, true, 2);
    let runtime = client_runtime();
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = config(&format!(
        "enabled = true\nmin_interval_ms = {}\nin_flight_per_host = 1\nmax_in_flight = 256\n",
        INTERVAL.as_millis()
    ));
    let (fetcher, probe) = {
        let _context = runtime.enter();
        let probe = client_side.then(|| {
            Arc::new(Probe {
                http: HttpClient::new(&config).expect("HTTP client"),
                limit: config.net.max_body_bytes,
                sent: (0..hosts).map(|_| Mutex::new(Vec::new())).collect(),
            })
        });
        (fetcher(dir.path(), &config), probe)
    };
    let addrs = servers.addrs.clone();

    let (start, deadline, pages, not_fetched, run, cpu, timer_late) = runtime.block_on(async {
        // Warm-up: every origin's policy files and one page (a pooled connection per host).
        let warm = addrs.iter().enumerate().map(|(host, addr)| {
            let fetcher = Arc::clone(&fetcher);
            let probe = probe.clone();
            let url = format!("http://{addr}/warm");
            async move {
                let outcome = fetch_page(&fetcher, &url, probe.as_deref().map(|p| (p, host))).await;
                assert!(matches!(outcome, Ok(Outcome::Fetched(_))), "{outcome:?}");
            }
        });
        futures_util::future::join_all(warm).await;
        tokio::time::sleep(INTERVAL * 2).await;

        let pages = Arc::new(AtomicUsize::new(0));
        let not_fetched = Arc::new(AtomicUsize::new(0));
        let cpu_before = cpu_time();
        let start = Instant::now();
        let deadline = start + window;
        let timer = tokio::spawn(async move {
            let mut late = Vec::new();
            while Instant::now() < deadline {
                let due = Instant::now() + Duration::from_millis(10);
                tokio::time::sleep_until(due.into()).await;
                late.push(Instant::now() - due);
            }
            late
        });
        let mut workers = Vec::new();
        for worker in 0..WORKERS_PER_HOST {
            for (host, addr) in addrs.iter().enumerate() {
                let fetcher = Arc::clone(&fetcher);
                let probe = probe.clone();
                let (pages, not_fetched) = (Arc::clone(&pages), Arc::clone(&not_fetched));
                let addr = *addr;
                workers.push(tokio::spawn(async move {
                    let mut i = 0;
                    while Instant::now() < deadline {
                        let url = format!("http://{addr}/w{worker}/item-{i:05}.html");
                        i += 1;
                        let probe = probe.as_deref().map(|p| (p, host));
                        match fetch_page(&fetcher, &url, probe).await {
                            Ok(Outcome::Fetched(page)) if page.body.len() == body => {
                                pages.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => {
                                not_fetched.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }));
            }
        }
        for worker in workers {
            worker.await.expect("worker");
        }
        let run = start.elapsed();
        let late = timer.await.expect("timer probe");
        let timer_late = (
            late.iter()
                .sum::<Duration>()
                .checked_div(late.len() as u32)
                .unwrap_or_default(),
            late.iter().copied().max().unwrap_or_default(),
        );
        let cpu = match (cpu_before, cpu_time()) {
            (Some(a), Some(b)) => Some((b - a).as_secs_f64() / run.as_secs_f64()),
            _ => None,
        };
        fetcher.log().sync().expect("sync the evidence log");
        (
            start,
            deadline,
            pages.load(Ordering::Relaxed),
            not_fetched.load(Ordering::Relaxed),
            run,
            cpu,
            timer_late,
        )
    });

    let jitter = Duration::from_millis(1);
    let mut in_window = 0;
    let (mut gap_sum, mut gaps) = (Duration::ZERO, 0u32);
    let (mut min_gap, mut min_gap_all) = (Duration::MAX, Duration::MAX);
    let (mut violations_exact, mut violations_1ms, mut violations_all) = (0, 0, 0);
    let mut client = client_side.then_some(ClientSide {
        min_send_gap: Duration::MAX,
        send_violations: 0,
        p999_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
        explained: 0,
        unpaired_hosts: 0,
        mean_request: Duration::ZERO,
        mean_late: Duration::ZERO,
    });
    let mut delays = Vec::new();
    let (mut late_sum, mut request_sum, mut late_n) = (Duration::ZERO, Duration::ZERO, 0u32);
    for host in 0..hosts {
        let hits = servers.hits(host);
        for pair in hits.windows(2) {
            let gap = pair[1].at - pair[0].at;
            min_gap_all = min_gap_all.min(gap);
            violations_all += usize::from(gap < INTERVAL);
        }
        let arrivals: Vec<Instant> = hits
            .iter()
            .filter(|h| h.kind == Kind::Page)
            .map(|h| h.at)
            .collect();
        for pair in arrivals.windows(2) {
            let gap = pair[1] - pair[0];
            min_gap = min_gap.min(gap);
            violations_exact += usize::from(gap < INTERVAL);
            violations_1ms += usize::from(gap + jitter < INTERVAL);
            if pair[0] >= start && pair[1] < deadline {
                gap_sum += gap;
                gaps += 1;
            }
        }
        in_window += arrivals
            .iter()
            .filter(|&&t| t >= start && t < deadline)
            .count();
        if let (Some(c), Some(probe)) = (client.as_mut(), probe.as_ref()) {
            let mut sent = probe.sent[host]
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            sent.sort();
            for pair in sent.windows(2) {
                let ((previous, answered), (next, _)) = (pair[0], pair[1]);
                let gap = next - previous;
                c.min_send_gap = c.min_send_gap.min(gap);
                c.send_violations += usize::from(gap < INTERVAL);
                if previous >= start && next < deadline {
                    late_sum += next.saturating_duration_since(answered + INTERVAL);
                    request_sum += answered - previous;
                    late_n += 1;
                }
            }
            let sent: Vec<Instant> = sent.into_iter().map(|(s, _)| s).collect();
            if sent.len() != arrivals.len() {
                c.unpaired_hosts += 1;
                continue;
            }
            delays.extend(arrivals.iter().zip(&sent).map(|(a, s)| *a - *s));
            for k in 1..sent.len() {
                let arrival_gap = arrivals[k] - arrivals[k - 1];
                let send_gap = sent[k] - sent[k - 1];
                c.explained += usize::from(arrival_gap + jitter < INTERVAL && send_gap >= INTERVAL);
            }
        }
    }
    if let Some(c) = client.as_mut() {
        c.mean_late = late_sum.checked_div(late_n).unwrap_or_default();
        c.mean_request = request_sum.checked_div(late_n).unwrap_or_default();
        delays.sort();
        c.max_delay = delays.last().copied().unwrap_or_default();
        c.p999_delay = delays
            .get(delays.len().saturating_sub(1) * 999 / 1000)
            .copied()
            .unwrap_or_default();
    }
    drop(fetcher);
    Utilisation {
        hosts,
        window,
        in_window,
        pages,
        not_fetched,
        run,
        mean_gap: gap_sum.checked_div(gaps).unwrap_or_default(),
        min_gap,
        violations_exact,
        violations_1ms,
        min_gap_all,
        violations_all,
        cpu,
        timer_late,
        client,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn print_utilisation(u: &Utilisation) {
    let interval = INTERVAL.as_millis();
    println!(
        "  page requests received in the window: {} -> {:.0} req/s = {:.1}% of the bound (target >= 95%: {})",
        u.in_window,
        u.rate(),
        100.0 * u.rate() / u.bound(),
        if u.rate() >= 0.95 * u.bound() {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "  pages fetched {} (not fetched or wrong: {}) in {:.2} s; mean gap per host {:.2} ms",
        u.pages,
        u.not_fetched,
        u.run.as_secs_f64(),
        ms(u.mean_gap)
    );
    println!(
        "  arrivals at the servers: min gap {:.3} ms; gaps < {interval} ms: {} exact, {} beyond 1 ms of jitter",
        ms(u.min_gap),
        u.violations_exact,
        u.violations_1ms
    );
    println!(
        "  counting the policy-file requests too (robots.txt, tdmrep.json, ai.txt): min gap {:.3} ms, gaps < {interval} ms: {}",
        ms(u.min_gap_all),
        u.violations_all
    );
    if let Some(cpu) = u.cpu {
        println!("  process CPU during the run: {cpu:.2} cores");
    }
    println!(
        "  10 ms sleeps on the client runtime woke late by {:.2} ms on average (max {:.2} ms)",
        ms(u.timer_late.0),
        ms(u.timer_late.1)
    );
    if let Some(c) = &u.client {
        println!(
            "  send times (handed to the client after the slot): min gap {:.3} ms, gaps < {interval} ms: {}",
            ms(c.min_send_gap),
            c.send_violations
        );
        println!(
            "  send -> arrival delay: p99.9 {:.2} ms, max {:.2} ms; arrival gaps beyond 1 ms of jitter whose sends were >= {interval} ms apart: {}{}",
            ms(c.p999_delay),
            ms(c.max_delay),
            c.explained,
            if c.unpaired_hosts > 0 {
                format!(" ({} hosts unpaired)", c.unpaired_hosts)
            } else {
                String::new()
            }
        );
        println!(
            "  mean gap = {interval} ms + {:.2} ms the previous request took (send to response read) + {:.2} ms late after (response + {interval} ms)",
            ms(c.mean_request),
            ms(c.mean_late)
        );
    }
}

// ---------------------------------------------------------------------------------------

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn print_overhead(since: SystemTime, rounds: Option<&Interleaved>) {
    const NAMES: [&str; CASES] = ["reqwest", "fetcher", "fetcher_text", "fetcher_parsed"];
    println!(
        "(a) overhead: {N} requests per iteration, {CONCURRENCY} in flight, one loopback origin, 2 KB page \
         (fetcher_text: the same bytes as text/plain, no HTML re-check; fetcher_parsed: a page the scan \
         cannot clear, parsed into a DOM)"
    );
    let rates = NAMES.map(|id| median_ns(GROUP, id, since).map(|ns| N as f64 / (ns / 1e9)));
    if let [Some(p), Some(f), Some(t), Some(d)] = rates {
        println!(
            "  criterion medians: reqwest {p:.0} req/s, fetcher {f:.0} req/s ({:.3}x), fetcher_text {t:.0} req/s ({:.3}x), fetcher_parsed {d:.0} req/s ({:.3}x)",
            f / p,
            t / p,
            d / p
        );
    }
    if let Some(r) = rounds {
        println!(
            "  {ROUNDS} interleaved rounds (medians): reqwest {:.0} req/s, fetcher {:.0} req/s ({:.3}x), fetcher_text {:.0} req/s ({:.3}x), fetcher_parsed {:.0} req/s ({:.3}x)",
            r.rates[0], r.rates[1], r.ratios[1], r.rates[2], r.ratios[2], r.rates[3], r.ratios[3]
        );
    }
    let ratio = rounds.map(|r| r.ratios[1]).or(match rates {
        [Some(p), Some(f), ..] => Some(f / p),
        _ => None,
    });
    if let Some(r) = ratio {
        let verdict = if r >= 0.9 { "met" } else { "MISSED" };
        println!("  fetcher / reqwest >= 0.9: {verdict} ({r:.3})");
    }
}

/// `OPTOUT_FETCH_PROFILE=case:n`: `n` requests of part (a) in one case, for callgrind.
fn profile(spec: &str) {
    let (case, n) = spec.split_once(':').unwrap_or((spec, "1000"));
    let n: usize = n
        .parse()
        .expect("OPTOUT_FETCH_PROFILE=reqwest|fetcher|fetcher_text|fetcher_parsed:N");
    let rig = Overhead::new(n);
    let Some((name, side, urls)) = rig.cases().into_iter().find(|(name, ..)| *name == case) else {
        panic!(
            "OPTOUT_FETCH_PROFILE case {case:?}: reqwest, fetcher, fetcher_text or fetcher_parsed"
        );
    };
    let took = rig.time(side, urls);
    println!("{name}: {n} requests in {took:?}");
}

/// The politeness layer alone: [`WORKERS_PER_HOST`] tasks per host taking slots from
/// [`optout::net::Politeness`] for `hosts` hosts during `window`, no HTTP. Returns the mean
/// and least gap between slots of a host, and how late 10 ms sleeps woke meanwhile.
fn politeness_alone(hosts: usize, window: Duration) -> (Duration, Duration, Duration) {
    let runtime = client_runtime();
    let config = config(&format!(
        "enabled = true\nmin_interval_ms = {}\n",
        INTERVAL.as_millis()
    ));
    let politeness = {
        let _context = runtime.enter();
        Arc::new(optout::net::Politeness::new(&config.politeness))
    };
    runtime.block_on(async {
        let deadline = Instant::now() + window;
        let slots: Arc<Vec<Mutex<Vec<Instant>>>> =
            Arc::new((0..hosts).map(|_| Mutex::new(Vec::new())).collect());
        let mut tasks = Vec::new();
        for _ in 0..WORKERS_PER_HOST {
            for host in 0..hosts {
                let (politeness, slots) = (Arc::clone(&politeness), Arc::clone(&slots));
                tasks.push(tokio::spawn(async move {
                    let key = format!("127.0.0.{}", host + 2);
                    while Instant::now() < deadline {
                        let slot = politeness
                            .acquire(&key, INTERVAL)
                            .await
                            .expect("never blocked");
                        // When the layer granted the slot, not when this task got to note
                        // it: a task preempted in between would show a gap never given.
                        slots[host]
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(slot.granted.into_std());
                        tokio::task::yield_now().await;
                        drop(slot);
                    }
                }));
            }
        }
        let timer = tokio::spawn(async move {
            let mut late = Vec::new();
            while Instant::now() < deadline {
                let due = Instant::now() + Duration::from_millis(10);
                tokio::time::sleep_until(due.into()).await;
                late.push(Instant::now() - due);
            }
            late
        });
        for task in tasks {
            task.await.expect("politeness task");
        }
        let late = timer.await.expect("timer probe");
        let mut gaps = Vec::new();
        for host in slots.iter() {
            let times = host.lock().unwrap_or_else(|p| p.into_inner());
            gaps.extend(times.windows(2).map(|w| w[1] - w[0]));
        }
        let mean = |v: &[Duration]| {
            v.iter()
                .sum::<Duration>()
                .checked_div(v.len() as u32)
                .unwrap_or_default()
        };
        (
            mean(&gaps),
            gaps.iter().copied().min().unwrap_or_default(),
            mean(&late),
        )
    })
}

/// Without `--bench`: a few requests each way and short politeness runs, to show it works.
fn smoke() {
    let rig = Overhead::new(64);
    for (name, side, urls) in rig.cases() {
        let took = rig.time(side, urls);
        println!("smoke: {name} 64 requests in {took:?}");
    }
    println!(
        "smoke: the server answered {} requests",
        rig.server.served()
    );
    drop(rig);
    for client_side in [false, true] {
        let u = politeness(3, Duration::from_millis(300), client_side);
        assert_eq!(u.not_fetched, 0);
        assert!(u.in_window >= 3, "{}", u.in_window);
        println!(
            "smoke: politeness {} pages, min gap {:?}",
            u.pages, u.min_gap
        );
    }
    let (_, min, _) = politeness_alone(3, Duration::from_millis(200));
    assert!(min >= INTERVAL, "{min:?}");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Ok(spec) = std::env::var("OPTOUT_FETCH_PROFILE") {
        profile(&spec);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        for name in ["reqwest", "fetcher", "fetcher_text", "fetcher_parsed"] {
            println!("{GROUP}/{name}: benchmark");
        }
        println!("politeness: benchmark");
        return;
    }
    if !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--test") {
        smoke();
        return;
    }
    let filter = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .map(String::as_str);
    let wants = |name: &str| filter.is_none_or(|f| name.contains(f));

    let started = SystemTime::now();
    println!("load average before: {}", load());
    let mut rounds = None;
    let mut latency = None;
    if wants(&format!("{GROUP}/fetcher_text")) || wants(&format!("{GROUP}/reqwest")) {
        let rig = Overhead::new(N);
        let mut criterion = Criterion::default().configure_from_args();
        bench_overhead(&mut criterion, &rig);
        criterion.final_summary();
        rounds = Some(interleaved(&rig, ROUNDS));
        latency = Some(with_latency(&rig, LATENCY_ROUNDS));
        println!("load average after (a): {}", load());
    }
    let utilisation = wants("politeness").then(|| {
        let run = politeness(HOSTS, WINDOW, false);
        println!("load average after (b): {}", load());
        let diagnosis = politeness(HOSTS, WINDOW, true);
        println!("load average after (b) diagnosis: {}", load());
        let alone = politeness_alone(HOSTS, ALONE);
        (run, diagnosis, alone)
    });

    println!("\n== summary ==");
    if rounds.is_some() {
        print_overhead(started, rounds.as_ref());
    }
    if let Some((plain, fetcher, ratio)) = latency {
        println!(
            "(a, supplementary) the server answering after {} ms, {CONCURRENCY} in flight, {LATENCY_ROUNDS} interleaved rounds (medians): reqwest {plain:.0} req/s, fetcher {fetcher:.0} req/s ({ratio:.3}x)",
            LATENCY.as_millis()
        );
    }
    if let Some((run, diagnosis, alone)) = &utilisation {
        println!(
            "(b) politeness: {} hosts x 1 request / {} ms = {:.0} req/s bound, {} s window, Fetcher::fetch",
            run.hosts,
            INTERVAL.as_millis(),
            run.bound(),
            run.window.as_secs_f64()
        );
        print_utilisation(run);
        println!("(b) diagnosis run: the same through Fetcher::fetch_with, send times noted");
        print_utilisation(diagnosis);
        let (mean, min, late) = *alone;
        println!(
            "(b) the politeness layer alone (Politeness::acquire, no HTTP, {} s): mean gap {:.2} ms = {:.1}% of the bound, min gap {:.3} ms; 10 ms sleeps late by {:.2} ms",
            ALONE.as_secs(),
            ms(mean),
            100.0 * INTERVAL.as_secs_f64() / mean.as_secs_f64(),
            ms(min),
            ms(late)
        );
    }
}
