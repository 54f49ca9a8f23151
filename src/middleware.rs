//! A `reqwest-middleware` layer (feature `reqwest-middleware`): the whole [`Fetcher`]
//! pipeline for an existing `reqwest_middleware::ClientWithMiddleware`, so a reqwest-based
//! scraper gains compliance by adding one line:
//!
//! ```ignore
//! let client = reqwest_middleware::ClientBuilder::new(
//!         reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?)
//!     .with(optout::middleware::Optout::new(fetcher, Purpose::TrainAi))
//!     .build();
//! ```
//!
//! The request is pre-checked, paced, sent down the rest of the stack, re-checked and
//! recorded. A refused, discarded or denied URL is an error ([`NotFetched`]) and its body is
//! never handed over. Redirects are followed by the layer, each hop judged first, so the
//! inner client must not follow them itself (`redirect::Policy::none()`); if it does, the
//! response is refused (`fetch.failed`), failing closed. Only `GET` requests are judged;
//! others are refused.

use crate::fetcher::{Fetcher, Outcome, Refusal};
use crate::net::FetchError;
use crate::policy::Purpose;
use http::Extensions;
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
        let url = crate::policy::parse_url(req.url().as_str()).map_err(|reason| {
            reqwest_middleware::Error::middleware(FetchError::Other(reason.to_string()))
        })?;
        // Credentials would log in (Measure 1.2), and would follow redirects to other hosts.
        if let Some(name) = ["authorization", "cookie", "proxy-authorization"]
            .into_iter()
            .find(|name| req.headers().contains_key(*name))
        {
            return Err(reqwest_middleware::Error::middleware(FetchError::Other(
                format!("optout never sends credentials; remove the {name} header"),
            )));
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
                // The inner client resolves names itself, unguarded: check what the name
                // resolves to first, refusing it if any address is private.
                if !allow_private {
                    crate::net::guard::check_host(&hop).await?;
                }
                let mut extensions = Extensions::new();
                let exchange = async {
                    let response = next
                        .run(request, &mut extensions)
                        .await
                        .map_err(|e| FetchError::Other(e.to_string()))?;
                    if response.url() != &hop {
                        return Err(FetchError::Other(format!(
                            "the client followed a redirect to {} itself; build it with redirect::Policy::none()",
                            response.url()
                        )));
                    }
                    crate::net::client::read_response(response, limit).await
                };
                // The inner client may have no timeout: this one bounds every hop.
                tokio::time::timeout(timeout, exchange).await.map_err(|_| {
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
