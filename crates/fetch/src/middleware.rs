//! A `reqwest-middleware` layer (feature `reqwest-middleware`): the whole [`Fetcher`]
//! pipeline for an existing `reqwest_middleware::ClientWithMiddleware`, so a reqwest-based
//! scraper gains compliance by adding one line:
//!
//! ```ignore
//! let client = reqwest_middleware::ClientBuilder::new(Optout::client_builder(&fetcher).build()?)
//!     .with(optout::middleware::Optout::new(fetcher, Purpose::TrainAi))
//!     .build();
//! ```
//!
//! The request is pre-checked, paced, sent down the rest of the stack, re-checked and
//! recorded. A refused, discarded or denied URL is an error ([`NotFetched`]) and its body is
//! never handed over. Redirects are followed by the layer, each hop judged first, so the
//! inner client must not follow them itself (`redirect::Policy::none()`); if it does, the
//! response is refused (`fetch.failed`), failing closed. Only `GET` requests are judged;
//! others are refused, and so is a request with credentials (a user name or password in its
//! URL, an `Authorization`, `Cookie` or `Proxy-Authorization` header): optout never logs in.
//!
//! # The private-address guard
//!
//! The inner client connects, so the guard must see the address *it* connects to: a name
//! resolved once for a check and again for the connection can point elsewhere the second
//! time (DNS rebinding). Hence:
//! - [`Optout::client_builder`] builds the inner client with optout's guarded resolver, no
//!   proxies and no redirects: a name that resolves to a refused address is never
//!   connected to. Build the client with it.
//! - Whatever the client, every response is checked on the address it came from
//!   (`reqwest::Response::remote_addr`): from a refused address, or from an address the
//!   client does not know (a layer below that answers itself), it is refused
//!   (`network.private-address`), recorded, and its body is never read. A proxy is the
//!   address connected to: through a proxy on the operator's network every response is
//!   refused, and through a public one the guard cannot see where the proxy went.
//! - Before the request, a name that resolves to a refused address now is refused, so a
//!   plain client does not reach such a host either (it still might if the answer changes
//!   in between, which the check of the response catches).

use crate::{Fetcher, Outcome, Refusal};
use http::Extensions;
use optout_evidence::record::redact_url;
use optout_net::guard::{GuardedResolver, is_forbidden};
use optout_net::{FetchError, Head};
use optout_policy::Purpose;
use reqwest::{Method, Request, Response};
use reqwest_middleware::{Middleware, Next};
use std::sync::Arc;

/// The middleware: one [`Fetcher`] (shared) and the purpose requests are made for.
#[derive(Clone)]
pub struct Optout {
    fetcher: Arc<Fetcher>,
    purpose: Purpose,
}

impl Optout {
    /// A layer that fetches through `fetcher` for `purpose`.
    pub fn new(fetcher: Arc<Fetcher>, purpose: Purpose) -> Optout {
        Optout { fetcher, purpose }
    }

    /// The way to build the inner client: redirects left to the layer, no proxies (the guard
    /// must see the site's address, not a proxy's), and optout's guarded resolver, so that
    /// the address checked is the address connected to. Add timeouts, TLS settings and the
    /// like; a `resolve` override, another resolver or a proxy bypasses the resolver (the
    /// check of each response's address still refuses what comes from a refused address).
    pub fn client_builder(fetcher: &Fetcher) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: fetcher.allows_private(),
            }))
    }
}

/// The backstop of the private-address guard, whatever the inner client: the address
/// `response` came from must be known and allowed. Called before its body is read.
fn answered_from(response: &Response, hop: &url::Url) -> Result<(), FetchError> {
    let host = hop.host_str().unwrap_or_default();
    match response.remote_addr() {
        Some(addr) if !is_forbidden(addr.ip()) => Ok(()),
        Some(addr) => Err(FetchError::PrivateAddress(format!(
            "{host} answered from {}, a loopback, private, link-local, multicast or unspecified address; the response is dropped",
            addr.ip()
        ))),
        None => Err(FetchError::PrivateAddress(format!(
            "the client does not say which address answered for {host}, so the guard cannot check it; the response is dropped"
        ))),
    }
}

/// The error a refused, discarded, denied or failed request gives. Its message is one line
/// with the verdict and the reasons.
#[derive(Debug, thiserror::Error)]
#[error("optout: {} {}: {}", .0.verdict, .0.url, reasons(.0))]
pub struct NotFetched(pub Refusal);

fn reasons(refusal: &Refusal) -> String {
    refusal
        .reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[async_trait::async_trait]
impl Middleware for Optout {
    async fn handle(
        &self,
        req: Request,
        _extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if req.method() != Method::GET {
            return Err(reqwest_middleware::Error::middleware(FetchError::Other(
                format!("optout judges GET requests only, not {}", req.method()),
            )));
        }
        // The same URL checks as `Fetcher::fetch`: no user name or password in the URL.
        let url = optout_policy::parse_url(req.url().as_str()).map_err(|reason| {
            reqwest_middleware::Error::middleware(FetchError::Other(reason.to_string()))
        })?;
        // Credentials would log in (Measure 1.2), and would follow redirects to other hosts.
        // (reqwest moves a user name and password in the URL to an `Authorization` header.)
        if let Some(refused) = optout_net::client::refuses_credentials(&url, req.headers()) {
            return Err(reqwest_middleware::Error::middleware(refused));
        }
        let limit = self.fetcher.max_body_bytes();
        let timeout = self.fetcher.total_timeout();
        let allow_private = self.fetcher.allows_private();
        let mut send = |hop: url::Url| {
            let next = next.clone();
            let request = req.try_clone();
            async move {
                let Some(mut request) = request else {
                    return Err(FetchError::Other("the request cannot be cloned".into()));
                };
                *request.url_mut() = hop.clone();
                // Refused early if the name resolves to a refused address now; the check
                // that counts is of the address the response comes from, below.
                if !allow_private {
                    optout_net::guard::check_host(&hop).await?;
                }
                let mut extensions = Extensions::new();
                // The inner client may have no timeout: this one bounds every hop, its body
                // included, which the pipeline reads only once the headers pass.
                let deadline = tokio::time::Instant::now() + timeout;
                let exchange = async {
                    let response =
                        next.run(request, &mut extensions)
                            .await
                            .map_err(|e| match e {
                                // The guarded resolver's refusal is in the error's causes.
                                reqwest_middleware::Error::Reqwest(e) => {
                                    optout_net::client::classify(e)
                                }
                                e => FetchError::Other(e.to_string()),
                            })?;
                    if !allow_private {
                        answered_from(&response, &hop)?;
                    }
                    if response.url() != &hop {
                        return Err(FetchError::Other(format!(
                            "the client followed a redirect to {} itself; build it with redirect::Policy::none()",
                            redact_url(response.url())
                        )));
                    }
                    Ok(Head::pending(response, limit, deadline))
                };
                tokio::time::timeout_at(deadline, exchange)
                    .await
                    .map_err(|_| {
                        FetchError::Timeout(format!(
                            "no complete response within {} ms",
                            timeout.as_millis()
                        ))
                    })?
            }
        };
        match self.fetcher.fetch_with(url, self.purpose, &mut send).await {
            Ok(Outcome::Fetched(page)) => {
                let mut response = http::Response::new(page.body);
                *response.status_mut() =
                    http::StatusCode::from_u16(page.status).unwrap_or(http::StatusCode::OK);
                *response.headers_mut() = page.headers;
                Ok(Response::from(response))
            }
            Ok(Outcome::NotFetched(refusal)) => {
                Err(reqwest_middleware::Error::middleware(NotFetched(refusal)))
            }
            Err(e) => Err(reqwest_middleware::Error::middleware(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The check after the response, as a client that resolved a name to loopback behind
    /// the guard's back (DNS rebinding, a `resolve` override) or a layer that answers
    /// itself would meet it.
    #[tokio::test]
    async fn a_response_is_judged_by_the_address_it_came_from() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await.unwrap();
            socket
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\ninside",
                )
                .await
                .unwrap();
        });
        let hop = url::Url::parse(&format!("http://public.example:{}/", addr.port())).unwrap();
        let client = reqwest::Client::builder()
            .no_proxy()
            .resolve("public.example", addr)
            .build()
            .unwrap();
        let response = client.get(hop.clone()).send().await.unwrap();
        server.await.unwrap();
        let refused = answered_from(&response, &hop).unwrap_err();
        assert!(
            matches!(refused, FetchError::PrivateAddress(_)),
            "{refused}"
        );
        assert!(refused.to_string().contains("127.0.0.1"), "{refused}");
        let answered_itself = Response::from(http::Response::new("inside"));
        let refused = answered_from(&answered_itself, &hop).unwrap_err();
        assert!(
            matches!(refused, FetchError::PrivateAddress(_)),
            "{refused}"
        );
    }
}
