//! A kept page as a WARC exchange: the request as sent, the response as received (its
//! body decoded, see `docs/warc.md`), and its evidence in the metadata record.

use super::warc::{Evidence, Exchange, Revisit, WarcError, WarcWriter, Written};
use optout_fetch::Page;
use optout_net::HttpClient;

/// What a `revisit` refers to: the earlier capture of a re-crawled page.
#[derive(Clone, Debug, Default)]
pub struct Earlier {
    /// Its `WARC-Record-ID`.
    pub record_id: Option<String>,
    /// Its `WARC-Date`.
    pub date: String,
    /// Its `WARC-Payload-Digest`.
    pub payload_digest: Option<String>,
}

/// The request headers as sent: `Host`, the client's own, and the conditional ones.
fn request_headers(
    page: &Page,
    client: &HttpClient,
    sent: &[(String, String)],
) -> Vec<(String, String)> {
    let host = match page.url.port() {
        Some(port) => format!("{}:{port}", page.url.host_str().unwrap_or_default()),
        None => page.url.host_str().unwrap_or_default().to_owned(),
    };
    let mut headers = vec![("host".to_owned(), host)];
    headers.extend(
        client
            .default_request_headers()
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    headers.extend(sent.iter().cloned());
    headers
}

/// Writes `page` (a response, or a `revisit` for a 304 to a re-crawl's conditional request
/// that refers to `earlier`).
pub fn write(
    warc: &mut WarcWriter,
    page: &Page,
    found: (u32, Option<&str>),
    client: &HttpClient,
    sent: &[(String, String)],
    earlier: Option<&Earlier>,
) -> Result<Written, WarcError> {
    let reasons: Vec<&str> = page.reasons.iter().map(|r| r.code.as_str()).collect();
    let policy_files: Vec<(String, String, String)> = page
        .sources
        .iter()
        .map(|s| (s.kind.clone(), s.url.clone(), s.sha256.clone()))
        .collect();
    let response_headers: Vec<(String, Vec<u8>)> = page
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    let url = page.url.as_str();
    let revisit = (page.status == 304).then(|| {
        let earlier = earlier.cloned().unwrap_or_default();
        (earlier, url)
    });
    let exchange = Exchange {
        url,
        date: page.received_at,
        ip: page.remote_addr.map(|a| a.ip()),
        request_headers: &request_headers(page, client, sent),
        http_version: page.version,
        status: page.status,
        response_headers: &response_headers,
        body: &page.body,
        evidence: Evidence {
            seq: page.seq,
            verdict: "allowed",
            reasons: &reasons,
            policy_files: &policy_files,
            found: Some(found),
        },
        revisit: revisit.as_ref().map(|(earlier, url)| Revisit {
            refers_to_uri: url,
            refers_to_date: &earlier.date,
            refers_to: earlier.record_id.as_deref(),
            payload_digest: earlier.payload_digest.as_deref(),
        }),
    };
    warc.write(&exchange)
}
