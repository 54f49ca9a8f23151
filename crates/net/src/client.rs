//! The one HTTP client: honest `User-Agent`, timeouts, a body cap, compressed bodies, and no
//! automatic redirects (every hop is judged by our code) and no proxies (the private-address
//! guard must see the address actually connected to).

use super::guard::{GuardedResolver, PrivateAddress, Unresolvable, is_forbidden};
use optout_config::Config;
use reqwest::header::{HeaderMap, HeaderValue};
use std::sync::Arc;
use std::time::Duration;
use url::{Host, Url};

/// A response with its body read (up to a limit).
#[derive(Clone, Debug)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, decompressed, at most the limit given.
    pub body: Vec<u8>,
    /// The body went on past the limit; the rest was not read.
    pub truncated: bool,
    /// The address the response came from, when the client knows it (`WARC-IP-Address`).
    pub remote_addr: Option<std::net::SocketAddr>,
    /// The HTTP version of the response (`HTTP/1.1`, `HTTP/2.0`).
    pub version: &'static str,
}

/// A response whose status and headers have arrived, its body not yet read: the pipeline
/// judges the headers first, so a body they reserve is never downloaded (a reserved body
/// is not collected, and reading it would be the cost img2dataset#298 pays for nothing).
#[derive(Debug)]
pub struct Head {
    /// The HTTP status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The address the response came from, if known.
    pub remote_addr: Option<std::net::SocketAddr>,
    /// The HTTP version of the response.
    pub version: &'static str,
    body: Body,
}

/// Where a [`Head`]'s body is: still on the connection (with the most bytes to read, and
/// when the whole exchange must be over, for a caller's client that has no timeout of its
/// own), or already read.
#[derive(Debug)]
enum Body {
    Pending(reqwest::Response, usize, Option<tokio::time::Instant>),
    Read(Vec<u8>, bool),
}

impl Head {
    /// Reads the body (at most the limit the request was sent with). Dropping a `Head`
    /// instead closes the connection without reading it.
    pub async fn read(self) -> Result<Response, FetchError> {
        let (body, truncated) = match self.body {
            Body::Read(body, truncated) => (body, truncated),
            Body::Pending(response, limit, None) => read_body(response, limit).await?,
            Body::Pending(response, limit, Some(deadline)) => {
                tokio::time::timeout_at(deadline, read_body(response, limit))
                    .await
                    .map_err(|_| {
                        FetchError::Timeout("the body did not arrive within the time limit".into())
                    })??
            }
        };
        Ok(Response {
            status: self.status,
            headers: self.headers,
            body,
            truncated,
            remote_addr: self.remote_addr,
            version: self.version,
        })
    }

    /// The head of a response whose body is still to be read: at most `limit` bytes, and by
    /// `deadline` (the reqwest-middleware layer's inner client may have no timeout). The
    /// pipeline judges the head before it reads any of the body.
    pub fn pending(
        response: reqwest::Response,
        limit: usize,
        deadline: tokio::time::Instant,
    ) -> Head {
        let mut head = head(response, limit);
        if let Body::Pending(_, _, until) = &mut head.body {
            *until = Some(deadline);
        }
        head
    }

    /// The head of a response that was read whole.
    fn of(response: Response) -> Head {
        Head {
            status: response.status,
            headers: response.headers,
            remote_addr: response.remote_addr,
            version: response.version,
            body: Body::Read(response.body, response.truncated),
        }
    }
}

impl From<Response> for Head {
    fn from(response: Response) -> Head {
        Head::of(response)
    }
}

/// `HTTP/1.1` and the like, as a status line and a WARC record write it.
fn version_text(version: reqwest::Version) -> &'static str {
    match version {
        reqwest::Version::HTTP_09 => "HTTP/0.9",
        reqwest::Version::HTTP_10 => "HTTP/1.0",
        reqwest::Version::HTTP_2 => "HTTP/2.0",
        reqwest::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// Why no response was had. Each is one line that says what went wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The host is, or resolves to, an address optout does not connect to.
    #[error("{0}")]
    PrivateAddress(String),
    /// The host name does not resolve.
    #[error("{0}")]
    Unresolvable(String),
    /// No answer within the configured timeouts.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The connection (TCP or TLS) failed.
    #[error("connection failed: {0}")]
    Connect(String),
    /// The URL carries a user name or password (the text begins with [`USERINFO_REFUSED`]),
    /// or the request a credentials header: optout never sends credentials (Measure 1.2),
    /// so nothing was sent.
    #[error("{0}")]
    Credentials(String),
    /// Anything else (a broken response, a reset mid-body).
    #[error("{0}")]
    Other(String),
}

/// How the text of [`FetchError::Credentials`] for a URL with a user name or password
/// begins: the code of the refusal. A policy file's failure is stored as text, and
/// [`super::compile`] reads the code back from it.
pub const USERINFO_REFUSED: &str = "url.userinfo: ";

/// The error for a URL with user information; `what` says which (its URL redacted).
pub fn userinfo_refused(what: impl std::fmt::Display) -> FetchError {
    FetchError::Credentials(format!("{USERINFO_REFUSED}{what}"))
}

/// Request headers that carry credentials: optout never sends them.
const CREDENTIAL_HEADERS: [reqwest::header::HeaderName; 3] = [
    reqwest::header::AUTHORIZATION,
    reqwest::header::COOKIE,
    reqwest::header::PROXY_AUTHORIZATION,
];

/// Refuses a request that would send credentials: a URL with a user name or password
/// (reqwest would turn it into `Authorization: Basic`), or a credentials header.
pub fn refuses_credentials(url: &Url, headers: &HeaderMap) -> Option<FetchError> {
    if !url.username().is_empty() || url.password().is_some() {
        return Some(userinfo_refused(format_args!(
            "{} carries a user name or password; optout never sends credentials",
            optout_evidence::record::redact_url(url)
        )));
    }
    CREDENTIAL_HEADERS
        .iter()
        .find(|name| headers.contains_key(*name))
        .map(|name| {
            FetchError::Credentials(format!(
                "the request has the header {name}; optout never sends credentials"
            ))
        })
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientError(String);

/// The shared HTTP client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
    allow_private: bool,
    user_agent: Arc<str>,
}

/// `<token>/<version> (+<contact-url>)`: who we are and where to read about us.
pub fn user_agent(config: &Config) -> String {
    format!(
        "{}/{} (+{})",
        config.crawler.product_token,
        env!("CARGO_PKG_VERSION"),
        config.crawler.contact_url
    )
}

impl HttpClient {
    /// Builds the client from the configuration.
    pub fn new(config: &Config) -> Result<HttpClient, ClientError> {
        let net = &config.net;
        let user_agent = user_agent(config);
        let total_timeout = Duration::from_millis(net.total_timeout_ms);
        let inner = reqwest::Client::builder()
            .user_agent(&user_agent)
            .connect_timeout(Duration::from_millis(net.connect_timeout_ms))
            .read_timeout(Duration::from_millis(net.read_timeout_ms))
            .timeout(total_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: net.allow_private_addresses,
            }))
            .build()
            .map_err(|e| ClientError(e.to_string()))?;
        Ok(HttpClient {
            inner,
            allow_private: net.allow_private_addresses,
            user_agent: user_agent.into(),
        })
    }

    /// Whether the private-address guard is off.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// The `User-Agent` this client sends.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// Whether `url`'s host is an address literal that the guard refuses. (Names are checked
    /// when they resolve; a literal never reaches the resolver.)
    pub fn refuses_literal(&self, url: &Url) -> Option<FetchError> {
        let ip = match url.host()? {
            Host::Ipv4(ip) => ip.into(),
            Host::Ipv6(ip) => ip.into(),
            Host::Domain(_) => return None,
        };
        (!self.allow_private && is_forbidden(ip)).then(|| {
            FetchError::PrivateAddress(format!(
                "{ip} is a loopback, private, link-local, multicast or unspecified address"
            ))
        })
    }

    /// GETs `url` with `headers`, reading at most `limit` bytes of the body. Redirects are
    /// returned as they are, for the caller to judge. A URL with a user name or password, or
    /// a credentials header, is refused before anything is sent, whoever the caller.
    pub async fn get(
        &self,
        url: &Url,
        headers: HeaderMap,
        limit: usize,
    ) -> Result<Response, FetchError> {
        self.send(url, headers, limit).await?.read().await
    }

    /// GETs `url` with `headers` and returns when the headers have arrived; the body (at
    /// most `limit` bytes) is read by [`Head::read`]. The same refusals as [`Self::get`].
    pub async fn send(
        &self,
        url: &Url,
        headers: HeaderMap,
        limit: usize,
    ) -> Result<Head, FetchError> {
        if let Some(refused) = refuses_credentials(url, &headers) {
            return Err(refused);
        }
        if let Some(refused) = self.refuses_literal(url) {
            return Err(refused);
        }
        // A `Url` is taken as it is; a `&str` would be parsed again. reqwest's total timeout
        // (set in `new`) runs from the connect to the body's end: one timer bounds the whole
        // request, body included.
        let response = self
            .inner
            .get(url.clone())
            .headers(headers)
            .send()
            .await
            .map_err(classify)?;
        Ok(head(response, limit))
    }

    /// The request headers reqwest adds to each request of this client, besides the ones a
    /// caller gives and `Host`: what a WARC `request` record shows as sent.
    pub fn default_request_headers(&self) -> [(&'static str, &str); 3] {
        [
            ("user-agent", &self.user_agent),
            ("accept", "*/*"),
            ("accept-encoding", "gzip, br, zstd, deflate"),
        ]
    }

    /// The underlying client, for the fetch pipeline.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }
}

/// The head of `response`, its body left to read (at most `limit` bytes).
fn head(mut response: reqwest::Response, limit: usize) -> Head {
    Head {
        status: response.status().as_u16(),
        headers: std::mem::take(response.headers_mut()),
        remote_addr: response.remote_addr(),
        version: version_text(response.version()),
        body: Body::Pending(response, limit, None),
    }
}

/// Reads a response's body, decompressed, up to `limit` bytes.
pub async fn read_response(
    response: reqwest::Response,
    limit: usize,
) -> Result<Response, FetchError> {
    head(response, limit).read().await
}

/// Reads the body of `response`, decompressed, up to `limit` bytes; whether it went on.
async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), FetchError> {
    let mut body = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, truncated))
}

/// Turns a reqwest error into what it means for the caller, looking through its causes for
/// the guard's own errors.
pub fn classify(e: reqwest::Error) -> FetchError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if let Some(p) = c.downcast_ref::<PrivateAddress>() {
            return FetchError::PrivateAddress(p.to_string());
        }
        if let Some(u) = c.downcast_ref::<Unresolvable>() {
            return FetchError::Unresolvable(u.to_string());
        }
        cause = c.source();
    }
    let text = one_line(&e);
    if e.is_timeout() {
        FetchError::Timeout(text)
    } else if e.is_connect() {
        FetchError::Connect(text)
    } else {
        FetchError::Other(text)
    }
}

/// An error and its causes on one line.
fn one_line(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text.replace(['\n', '\r'], " ")
}

/// A header value from text, or none when the text cannot be a header value.
pub fn header_value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text).ok()
}
