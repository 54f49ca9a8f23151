//! A loopback HTTP server for integration tests: real sockets, a route table the test can
//! change while the server runs, and a log of every request (path, headers, time).
//!
//! Each server runs on its own thread with its own runtime, so it keeps answering while the
//! test blocks (a `std::process::Command`, a `#[test]` without a runtime, a busy
//! `#[tokio::test]`). Dropping the server stops it; requests still hanging are dropped.
//!
//! Used through `#[path = "support/server.rs"] mod server;`.

#![allow(dead_code)]

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What the server answers on a path.
#[derive(Clone)]
pub enum Reply {
    /// A complete response.
    Fixed {
        /// The status code.
        status: u16,
        /// Response headers, in order.
        headers: Vec<(String, String)>,
        /// The body.
        body: Bytes,
    },
    /// Reads the request and never answers (the connection stays open).
    Hang,
    /// A streamed body (chunked, no `Content-Length`): `prefix`, then `filler` repeated, then
    /// `late` once `late_at` bytes were sent, until `total` bytes (the last chunk is cut).
    Stream {
        /// The status code.
        status: u16,
        /// Response headers.
        headers: Vec<(String, String)>,
        /// The first bytes.
        prefix: Bytes,
        /// Repeated after the prefix.
        filler: Bytes,
        /// Sent once, at the first chunk boundary at or after `late_at` bytes.
        late: Bytes,
        /// Where `late` goes.
        late_at: usize,
        /// Bytes in all.
        total: usize,
    },
    /// A 200 whose body never ends: `chunk` every `every`, for as long as it is read.
    Trickle {
        /// The pause before each chunk.
        every: Duration,
        /// What each chunk holds.
        chunk: Bytes,
    },
    /// Waits, then answers with the inner reply.
    Delayed(Duration, Box<Reply>),
    /// Decided per request (conditional requests, counters, switches).
    Dynamic(Arc<dyn Fn(&Seen) -> Reply + Send + Sync>),
}

impl Reply {
    /// `status` with an empty body.
    pub fn status(status: u16) -> Reply {
        Reply::text(status, "")
    }

    /// `status` with `body`.
    pub fn text(status: u16, body: impl Into<Bytes>) -> Reply {
        Reply::Fixed {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// `200` with `body`.
    pub fn ok(body: impl Into<Bytes>) -> Reply {
        Reply::text(200, body)
    }

    /// A redirect with `status` to `location` (as written: absolute or relative).
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::status(status).header("Location", location)
    }

    /// Decided per request by `f`.
    pub fn dynamic(f: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Reply {
        Reply::Dynamic(Arc::new(f))
    }

    /// This reply after `delay`.
    pub fn delayed(self, delay: Duration) -> Reply {
        Reply::Delayed(delay, Box::new(self))
    }

    /// Adds a response header (to a fixed or streamed reply; delayed ones pass it on).
    pub fn header(self, name: &str, value: &str) -> Reply {
        match self {
            Reply::Fixed {
                status,
                mut headers,
                body,
            } => {
                headers.push((name.to_owned(), value.to_owned()));
                Reply::Fixed {
                    status,
                    headers,
                    body,
                }
            }
            Reply::Stream {
                status,
                mut headers,
                prefix,
                filler,
                late,
                late_at,
                total,
            } => {
                headers.push((name.to_owned(), value.to_owned()));
                Reply::Stream {
                    status,
                    headers,
                    prefix,
                    filler,
                    late,
                    late_at,
                    total,
                }
            }
            Reply::Delayed(delay, inner) => {
                Reply::Delayed(delay, Box::new(inner.header(name, value)))
            }
            other => panic!("headers go on fixed, streamed or delayed replies, not {other:?}"),
        }
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Fixed { status, body, .. } => write!(f, "Fixed({status}, {} bytes)", body.len()),
            Reply::Hang => write!(f, "Hang"),
            Reply::Stream { status, total, .. } => write!(f, "Stream({status}, {total} bytes)"),
            Reply::Trickle { every, .. } => write!(f, "Trickle(every {every:?})"),
            Reply::Delayed(d, inner) => write!(f, "Delayed({d:?}, {inner:?})"),
            Reply::Dynamic(_) => write!(f, "Dynamic"),
        }
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query, if any.
    pub query: Option<String>,
    /// The request headers.
    pub headers: HeaderMap,
    /// The client's address.
    pub peer: SocketAddr,
    /// The address the request came in on (the server's).
    pub local: SocketAddr,
    /// When the handler saw it: after the request head was read, so scheduling delays of
    /// the client and of the server thread (a few ms on a loaded machine) show in the gaps.
    pub at: Instant,
}

impl Seen {
    /// A request header as text (`None` when absent or not text).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

struct Shared {
    local: SocketAddr,
    routes: Mutex<HashMap<String, Reply>>,
    fallback: Mutex<Reply>,
    log: Mutex<Vec<Seen>>,
    streamed: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running server. Paths without a route answer with the fallback (`404` unless set).
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// A server on `127.0.0.1`, on a free port.
    pub fn start() -> Server {
        Server::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// A server on `ip` (e.g. `127.0.0.2`), on a free port.
    pub fn start_on(ip: IpAddr) -> Server {
        let listener = std::net::TcpListener::bind((ip, 0)).expect("bind the test server");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            local: addr,
            routes: Mutex::new(HashMap::new()),
            fallback: Mutex::new(Reply::status(404)),
            log: Mutex::new(Vec::new()),
            streamed: AtomicU64::new(0),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name(format!("test-server-{addr}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    let serve = axum::serve(
                        listener,
                        app.into_make_service_with_connect_info::<SocketAddr>(),
                    );
                    tokio::select! {
                        result = serve => result.unwrap(),
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime drops every connection still open (hanging replies).
            })
            .unwrap();
        Server {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://ip:port`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://ip:port` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    /// Answers `path` with `reply` from now on (replacing any earlier route).
    pub fn route(&self, path: &str, reply: Reply) -> &Server {
        lock(&self.shared.routes).insert(path.to_owned(), reply);
        self
    }

    /// Answers paths without a route with `reply`.
    pub fn fallback(&self, reply: Reply) -> &Server {
        *lock(&self.shared.fallback) = reply;
        self
    }

    /// Every request so far, in order of arrival.
    pub fn requests(&self) -> Vec<Seen> {
        lock(&self.shared.log).clone()
    }

    /// The requests for `path`, in order of arrival.
    pub fn requests_for(&self, path: &str) -> Vec<Seen> {
        lock(&self.shared.log)
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    /// How many requests `path` had.
    pub fn count(&self, path: &str) -> usize {
        lock(&self.shared.log)
            .iter()
            .filter(|s| s.path == path)
            .count()
    }

    /// How many requests in all.
    pub fn total(&self) -> usize {
        lock(&self.shared.log).len()
    }

    /// Requests per path.
    pub fn counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for seen in lock(&self.shared.log).iter() {
            *counts.entry(seen.path.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// Forgets the requests seen so far.
    pub fn clear_log(&self) {
        lock(&self.shared.log).clear();
    }

    /// Bytes of streamed bodies handed to the connection so far.
    pub fn streamed_bytes(&self) -> u64 {
        self.shared.streamed.load(Ordering::Relaxed)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let seen = Seen {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        headers: request.headers().clone(),
        peer,
        local: shared.local,
        at: Instant::now(),
    };
    lock(&shared.log).push(seen.clone());
    let reply = lock(&shared.routes)
        .get(&seen.path)
        .cloned()
        .unwrap_or_else(|| lock(&shared.fallback).clone());
    answer(&shared, &seen, reply).await
}

async fn answer(shared: &Arc<Shared>, seen: &Seen, mut reply: Reply) -> Response {
    loop {
        reply = match reply {
            Reply::Fixed {
                status,
                headers,
                body,
            } => return build(status, &headers, Body::from(body)),
            Reply::Hang => std::future::pending().await,
            Reply::Delayed(delay, inner) => {
                tokio::time::sleep(delay).await;
                *inner
            }
            Reply::Dynamic(f) => f(seen),
            Reply::Stream {
                status,
                headers,
                prefix,
                filler,
                late,
                late_at,
                total,
            } => {
                let body = stream_body(Arc::clone(shared), prefix, filler, late, late_at, total);
                return build(status, &headers, body);
            }
            Reply::Trickle { every, chunk } => {
                let chunks = futures_util::stream::unfold((), move |()| {
                    let chunk = chunk.clone();
                    async move {
                        tokio::time::sleep(every).await;
                        Some((Ok::<Bytes, std::io::Error>(chunk), ()))
                    }
                });
                return build(200, &[], Body::from_stream(chunks));
            }
        };
    }
}

fn build(status: u16, headers: &[(String, String)], body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).expect("a valid status code");
    for (name, value) in headers {
        response.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).expect("a valid header name"),
            HeaderValue::from_str(value).expect("a valid header value"),
        );
    }
    response
}

fn stream_body(
    shared: Arc<Shared>,
    prefix: Bytes,
    filler: Bytes,
    late: Bytes,
    late_at: usize,
    total: usize,
) -> Body {
    assert!(!filler.is_empty(), "a streamed body needs filler");
    struct At {
        sent: usize,
        prefix: Option<Bytes>,
        late: Option<Bytes>,
    }
    let start = At {
        sent: 0,
        prefix: Some(prefix),
        late: (!late.is_empty()).then_some(late),
    };
    let chunks = futures_util::stream::unfold(start, move |mut at| {
        let filler = filler.clone();
        let shared = Arc::clone(&shared);
        async move {
            if at.sent >= total {
                return None;
            }
            let mut chunk = match at.prefix.take() {
                Some(prefix) => prefix,
                None if at.sent >= late_at && at.late.is_some() => at.late.take().unwrap(),
                None => filler,
            };
            chunk.truncate(total - at.sent);
            at.sent += chunk.len();
            shared
                .streamed
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            Some((Ok::<Bytes, std::io::Error>(chunk), at))
        }
    });
    Body::from_stream(chunks)
}

/// A listener that accepts connections and never reads or writes: a server that is up but
/// does not answer. Dropping it closes every connection.
pub struct Silent {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Silent {
    /// A silent listener on `ip`, on a free port.
    pub fn start_on(ip: IpAddr) -> Silent {
        let listener = std::net::TcpListener::bind((ip, 0)).expect("bind the silent listener");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let mut held = Vec::new();
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            if let Ok((socket, _)) = accepted {
                                counter.fetch_add(1, Ordering::Relaxed);
                                held.push(socket);
                            }
                        }
                        _ = &mut stopped => break,
                    }
                }
            });
        });
        Silent {
            addr,
            accepted,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://ip:port`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A port on `127.0.0.1` where nothing listens (bound, then closed).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}
