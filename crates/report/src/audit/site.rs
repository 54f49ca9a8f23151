//! A record's sources, rebuilt as the policy they stood for: each policy file as the fetcher
//! knew it ([`optout_net::known::File`]), compiled by the same [`optout_net::compile`] the
//! fetcher and `optout check` use; a page and headers given to an offline check, as the
//! [`Asset`] the judge reads.
//!
//! What a source was, the record says: a source with no fetch time is an offline input (read
//! whole, or cut at the read limit); a fetched one with a 2xx or 304 status is the copy whose
//! bytes are its snapshot; a 4xx is "no such file" (RFC 9309 §2.3.1.3); a file that could not
//! be read (RFC 9309 §2.3.1.4) is taken as the record's own reasons describe it (unreachable,
//! too many redirects, a refused address, a redirect to credentials). Anything else cannot
//! be rebuilt, and the record is not re-decidable.

use optout_evidence::SourceRef;
use optout_evidence::record::sha256_hex;
use optout_net::client::USERINFO_REFUSED;
use optout_net::known::{File, Good, Kind, Known, State};
use optout_policy::crawlers::AiCrawlers;
use optout_policy::html::PageMeta;
use optout_policy::judge::Asset;
use optout_policy::site::SitePolicy;
use serde_json::Value;

/// The read limits of today's configuration: a snapshot as long as its limit was cut at
/// it (the record does not say, and a read that stopped there kept exactly that many bytes).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `limits.robots_parse_limit` (robots.txt, ai.txt).
    pub parse: usize,
    /// `net.max_body_bytes` (pages; tdmrep.json gets the larger of the two).
    pub body: usize,
}

impl Limits {
    fn of(self, kind: Kind) -> usize {
        match kind {
            Kind::Tdmrep => self.parse.max(self.body),
            Kind::Robots | Kind::AiTxt => self.parse,
        }
    }

    /// The largest snapshot any source can have.
    pub fn largest(self) -> usize {
        self.parse.max(self.body)
    }
}

/// Where snapshots come from: `Ok(None)` when missing; `Err` says why one cannot be read.
pub type Lookup<'a> = dyn FnMut(&str) -> Result<Option<Vec<u8>>, String> + 'a;

/// What the sources of a record stood for.
pub struct Rebuilt {
    /// The site's files, compiled.
    pub site: SitePolicy,
    /// The page and headers of an offline check, if given.
    pub asset: Option<Asset>,
}

/// Rebuilds the policy behind `sources` of a record on `origin` whose reasons are
/// `reasons`; `Err` says why it cannot be.
pub fn rebuild(
    origin: &str,
    sources: &[SourceRef],
    reasons: &[Value],
    lookup: &mut Lookup<'_>,
    limits: Limits,
    ai_crawlers: &AiCrawlers,
) -> Result<Rebuilt, String> {
    let mut files = Vec::new();
    let mut headers = Vec::new();
    let mut meta = None;
    let mut asset = false;
    for source in sources {
        let kind = match source.kind.as_str() {
            "robots.txt" => Kind::Robots,
            "tdmrep.json" => Kind::Tdmrep,
            "ai.txt" => Kind::AiTxt,
            "headers" => {
                let bytes = snapshot(source, lookup)?;
                headers.extend(parse_headers(&bytes)?);
                asset = true;
                continue;
            }
            "html" => {
                let bytes = snapshot(source, lookup)?;
                if bytes.len() >= limits.body {
                    return Err(
                        "the page was cut at the read limit (net.max_body_bytes), which a record does not replay"
                            .into(),
                    );
                }
                meta = Some(PageMeta::scan_encoded(&bytes, None));
                asset = true;
                continue;
            }
            other => {
                return Err(format!(
                    "a source of kind {other:?} is unknown to this optout"
                ));
            }
        };
        files.push((kind, file(kind, source, reasons, lookup, limits)?));
    }
    // The copies stand as they were when fetched: judged at that moment, never expired.
    let now = 0;
    let policy = optout_net::compile::compile(origin, &files, now, limits.parse, ai_crawlers);
    Ok(Rebuilt {
        site: policy.site,
        asset: asset.then_some(Asset { headers, meta }),
    })
}

/// One policy file as the fetcher knew it.
fn file(
    kind: Kind,
    source: &SourceRef,
    reasons: &[Value],
    lookup: &mut Lookup<'_>,
    limits: Limits,
) -> Result<File, String> {
    let offline = source.fetched_at.is_none() && source.status.is_none();
    let told = told_state(kind, reasons);
    let status = source.status;
    let parsed = match status {
        _ if offline => true,
        Some(200..=299) => true,
        Some(304) => told.is_none(),
        _ => false,
    };
    let mut known = Known {
        url: source.url.clone(),
        state: State::Parsed,
        status,
        detail: None,
        sha256: source.sha256.clone(),
        fetched_at: 0,
        expires_at: u64::MAX,
        failures: 0,
        good: None,
        unguarded: false,
    };
    if parsed {
        let bytes = snapshot(source, lookup)?;
        known.good = Some(Good {
            status: status.unwrap_or(200),
            sha256: source.sha256.clone(),
            fetched_at: 0,
            truncated: bytes.len() >= limits.of(kind),
            validators: Default::default(),
            max_age_ms: None,
        });
        return Ok(File {
            known,
            good_bytes: Some(bytes.into()),
        });
    }
    let (state, detail) = match (told, status) {
        (Some(told), _) => told,
        (None, Some(400..=428 | 430..=499)) => {
            (State::Unavailable, format!("HTTP {}", status.unwrap_or(0)))
        }
        (None, _) => {
            return Err(format!(
                "{} was not read ({}) and the record does not say why",
                kind.name(),
                status.map_or_else(|| "no answer".to_owned(), |s| format!("HTTP {s}"))
            ));
        }
    };
    known.state = state;
    known.detail = Some(detail);
    Ok(File {
        known,
        good_bytes: None,
    })
}

/// What the record's reasons say became of a `kind` file that could not be read.
fn told_state(kind: Kind, reasons: &[Value]) -> Option<(State, String)> {
    reasons.iter().find_map(|reason| {
        if reason.get("source").and_then(Value::as_str) != Some(kind.name()) {
            return None;
        }
        let detail = reason
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let state = match reason.get("code").and_then(Value::as_str)? {
            "robots.unreachable" | "tdmrep.unreachable" | "aitxt.unreachable" => State::Unreachable,
            "robots.redirect-limit" => State::RedirectLimit,
            "network.private-address" => State::PrivateAddress,
            "url.userinfo" => {
                return Some((State::Unreachable, format!("{USERINFO_REFUSED}{detail}")));
            }
            _ => return None,
        };
        Some((state, detail))
    })
}

/// The bytes of `source`'s snapshot, checked against its name.
fn snapshot(source: &SourceRef, lookup: &mut Lookup<'_>) -> Result<Vec<u8>, String> {
    let sha = &source.sha256;
    let bytes = lookup(sha)?
        .ok_or_else(|| format!("the snapshot of {} ({sha}) is missing", source.kind))?;
    if sha256_hex(&bytes) != *sha {
        return Err(format!(
            "the snapshot {sha} does not match its name (run a verification)"
        ));
    }
    Ok(bytes)
}

/// The headers an offline check recorded, `Name: value` a line, as it wrote them.
fn parse_headers(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| "the headers snapshot is not UTF-8".to_owned())?;
    text.lines()
        .map(|line| {
            line.split_once(':')
                .map(|(n, v)| (n.to_owned(), v.trim_matches([' ', '\t']).to_owned()))
                .ok_or_else(|| "the headers snapshot has a line without `:`".to_owned())
        })
        .collect()
}
