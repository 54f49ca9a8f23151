//! The accept loop of `optout serve`, and the limits on open connections.
//!
//! A connection costs a file descriptor from when it is accepted, whether or not a request
//! ever arrives, so connections are limited apart from requests in flight
//! ([`super::limits::per_client`]): a client that opens connections and sends a header line
//! every few seconds (slowloris) holds no request in flight, yet 20,000 of them used every
//! descriptor and no client got an answer (issue 21). Three limits stop that:
//!
//! - the request head (request line and header fields, RFC 9112 §2.1) must arrive within
//!   `header_read_timeout` of when the server starts waiting for it, or the connection is
//!   closed (hyper's `header_read_timeout`; it also bounds an idle keep-alive connection);
//! - a client address holds at most `per_client` open connections;
//! - the service holds at most `total`, set below the descriptor limit.
//!
//! A connection over a limit is closed at once, before anything is read from it.
//! axum's own `serve` exposes neither the header timeout nor the accept step, so the loop is
//! here; it keeps axum's graceful shutdown: when told to stop, no new connection is taken,
//! each open one finishes the request it serves and closes, and [`run`] returns once all are
//! closed.

use super::wire::Wire;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How many connections may be open, and how long a request head may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The longest the request head may take to arrive.
    pub header_read_timeout: Duration,
    /// Open connections per client address.
    pub per_client: usize,
    /// Open connections in all.
    pub total: usize,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            per_client: 128,
            // Below a common descriptor limit of 4,096, with room for the store's files.
            total: 3072,
        }
    }
}

/// Open connections, per client address and in all.
#[derive(Default)]
pub struct OpenConnections {
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    per_client: HashMap<IpAddr, usize>,
    total: usize,
}

/// One connection's place in the counts; gives it back when dropped.
pub struct Open {
    open: Arc<OpenConnections>,
    client: IpAddr,
}

impl OpenConnections {
    /// Takes a place for a connection from `client` unless a limit is reached.
    pub fn try_open(self: &Arc<Self>, client: IpAddr, limits: &ConnectionLimits) -> Option<Open> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.total >= limits.total {
            return None;
        }
        let count = counts.per_client.entry(client).or_insert(0);
        if *count >= limits.per_client {
            return None;
        }
        *count += 1;
        counts.total += 1;
        Some(Open {
            open: Arc::clone(self),
            client,
        })
    }

    /// Connections open now.
    pub fn total(&self) -> usize {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        let mut counts = self.open.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(count) = counts.per_client.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                counts.per_client.remove(&self.client);
            }
        }
    }
}

/// Serves `app` on `listener` until `stop` completes, then waits for the open connections to
/// finish their requests and close.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) {
    let open = Arc::new(OpenConnections::default());
    // Connections watch `stopping`; each holds a `done` receiver until it is closed.
    let (stopping, _) = tokio::sync::watch::channel(false);
    let (done, done_rx) = tokio::sync::watch::channel(());
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Some(place) = open.try_open(peer.ip(), &limits) else {
            tracing::debug!("serve: {peer}: over the connection limits; closed");
            drop(stream);
            continue;
        };
        let connection = serve_connection(stream, peer, app.clone(), limits, stopping.subscribe());
        let done_rx = done_rx.clone();
        tokio::spawn(async move {
            connection.await;
            drop(place);
            drop(done_rx);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    drop(done_rx);
    done.closed().await;
}

/// An accept that failed: a connection reset before it was taken is nothing; anything else
/// (out of descriptors, most often) is logged and waited out for a second, as hyper did.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!("serve: cannot accept a connection: {e}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// One connection, HTTP/1.1 (as `axum::serve` spoke it), until it closes or, once `stopping`
/// turns true, until the request it serves is answered.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(Body::new);
        // What `into_make_service_with_connect_info` gave: the client's address.
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let connection = builder.serve_connection(TokioIo::new(Wire::new(stream)), service);
    tokio::pin!(connection);
    let mut told = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("serve: {peer}: {e}");
                }
                return;
            }
            _ = stopping.wait_for(|s| *s), if !told => {
                told = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_counted_per_client_and_in_all() {
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_secs(1),
            per_client: 2,
            total: 3,
        };
        let open = Arc::new(OpenConnections::default());
        let (a, b) = (IpAddr::from([127, 0, 0, 1]), IpAddr::from([127, 0, 0, 2]));
        let a1 = open.try_open(a, &limits).unwrap();
        let _a2 = open.try_open(a, &limits).unwrap();
        assert!(
            open.try_open(a, &limits).is_none(),
            "a third from one client"
        );
        let _b1 = open.try_open(b, &limits).unwrap();
        assert!(open.try_open(b, &limits).is_none(), "a fourth in all");
        assert_eq!(open.total(), 3);
        drop(a1);
        assert_eq!(open.total(), 2);
        assert!(
            open.try_open(a, &limits).is_some(),
            "a place given back is taken"
        );
    }
}
