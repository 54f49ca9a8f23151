//! Policy inputs given rather than fetched: a robots.txt, tdmrep.json and ai.txt, a page and
//! its response headers, judged as the online path judges what it fetches. `optout check`
//! with files, `POST /v1/evaluate` and the Python `evaluate` all come through here.
//!
//! Inputs get the online read limits (`limits.robots_parse_limit` for robots.txt and ai.txt,
//! the larger of it and `net.max_body_bytes` for tdmrep.json, `net.max_body_bytes` for the
//! page). Bytes past a limit are treated as a truncated fetch is ([`optout_net::compile`]):
//! robots.txt is parsed up to the limit without the line it cut (RFC 9309 §2.5,
//! `robots.truncated`), ai.txt without that line, a tdmrep.json is refused for the purposes
//! it could reserve (`tdmrep.unreachable`), and a page is not collected (`fetch.truncated`).
//! The snapshot recorded is the bytes kept, not the whole input. A page is read as the
//! fetcher reads one ([`PageMeta::scan_encoded`]): parsed only when its bytes could hold a
//! reservation.

use optout_config::Config;
use optout_evidence::SourceRef;
use optout_net::compile::{TDMREP_PURPOSES, tdmrep_cut, whole_lines};
use optout_policy::aitxt::AiTxt;
use optout_policy::crawlers::AiCrawlers;
use optout_policy::html::PageMeta;
use optout_policy::judge::{Asset, Judge};
use optout_policy::site::SitePolicy;
use optout_policy::tdmrep::TdmRepFile;
use optout_policy::{Code, Decision, Reason, RobotsTxt, Verdict};
use url::Url;

/// One given file: a name for the evidence (a path, `--robots`, `request`) and its bytes.
/// A caller reading a file of unknown size reads at most [`Given::read_limit`] + 1 bytes:
/// the byte past the limit is what says the file was cut.
#[derive(Clone, Debug)]
pub struct GivenFile {
    /// Where it came from, as the evidence names it.
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Every input that may be given.
#[derive(Clone, Debug, Default)]
pub struct Given {
    /// The site's robots.txt.
    pub robots: Option<GivenFile>,
    /// The site's /.well-known/tdmrep.json.
    pub tdmrep: Option<GivenFile>,
    /// The site's /ai.txt.
    pub aitxt: Option<GivenFile>,
    /// The page (its meta tags are judged).
    pub html: Option<GivenFile>,
    /// Response headers, `(name, value)`, each checked with [`check_header`].
    pub headers: Vec<(String, String)>,
    /// How the evidence names the headers (`--header`); `headers` when empty.
    pub headers_name: String,
}

/// Which given input a read limit is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GivenKind {
    /// robots.txt
    Robots,
    /// tdmrep.json
    Tdmrep,
    /// ai.txt
    AiTxt,
    /// The page.
    Html,
}

/// A header that a server could not have sent: one line a user can act on.
#[derive(Debug, thiserror::Error)]
#[error("header {name:?}: {why}")]
pub struct BadHeader {
    /// The header's name as given.
    pub name: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl Given {
    /// True when nothing is given (an online check, then).
    pub fn is_empty(&self) -> bool {
        self.robots.is_none()
            && self.tdmrep.is_none()
            && self.aitxt.is_none()
            && self.html.is_none()
            && self.headers.is_empty()
    }

    /// The most bytes of `kind` that are judged.
    pub fn read_limit(config: &Config, kind: GivenKind) -> usize {
        let parse_limit = config.limits.robots_parse_limit;
        match kind {
            GivenKind::Robots | GivenKind::AiTxt => parse_limit,
            GivenKind::Tdmrep => parse_limit.max(config.net.max_body_bytes),
            GivenKind::Html => config.net.max_body_bytes,
        }
    }

    /// What the inputs say, within the limits of `config`.
    pub fn evaluate(
        self,
        config: &Config,
        ai_crawlers: &AiCrawlers,
    ) -> Result<Evaluation, BadHeader> {
        for (name, value) in &self.headers {
            check_header(name, value).map_err(|why| BadHeader {
                name: name.clone(),
                why,
            })?;
        }
        let limit = |kind| Given::read_limit(config, kind);
        let mut sources = Vec::new();
        let mut keep = |kind: &str, file: &GivenFile, limit: usize| {
            let kept = &file.bytes[..file.bytes.len().min(limit)];
            sources.push((SourceRef::offline(kind, &file.name, kept), kept.to_vec()));
            file.bytes.len() > limit
        };
        // Given the bytes past the limit, the parser marks the file truncated and drops the
        // line the limit cut, as `compile::parse_robots` does for a truncated fetch.
        let robots = self.robots.as_ref().map(|f| {
            keep("robots.txt", f, limit(GivenKind::Robots));
            RobotsTxt::parse_with_limit(&f.bytes, limit(GivenKind::Robots))
        });
        let mut tdmrep_refusal = None;
        let tdmrep = self.tdmrep.as_ref().and_then(|f| {
            if keep("tdmrep.json", f, limit(GivenKind::Tdmrep)) {
                tdmrep_refusal = Some(tdmrep_cut(limit(GivenKind::Tdmrep)));
                return None;
            }
            Some(TdmRepFile::parse(&f.bytes))
        });
        let aitxt = self.aitxt.as_ref().map(|f| {
            let cut = keep("ai.txt", f, limit(GivenKind::AiTxt));
            let kept = &f.bytes[..f.bytes.len().min(limit(GivenKind::AiTxt))];
            AiTxt::parse(whole_lines(kept, cut))
        });
        let mut site = SitePolicy::new(robots, tdmrep, aitxt, ai_crawlers);
        if let Some(reason) = tdmrep_refusal {
            site = site.with_standing_refusal(reason, TDMREP_PURPOSES);
        }
        let mut page_cut = None;
        let meta = self.html.as_ref().map(|f| {
            let max_body = limit(GivenKind::Html);
            if keep("html", f, max_body) {
                page_cut = Some(Reason::new(Code::FetchTruncated).with_source("html").with_detail(format!(
                    "the page is longer than net.max_body_bytes ({max_body}); the rest could reserve it"
                )));
            }
            PageMeta::scan_encoded(&f.bytes[..f.bytes.len().min(max_body)], None)
        });
        if !self.headers.is_empty() {
            let text: String = self
                .headers
                .iter()
                .map(|(n, v)| format!("{n}: {v}\n"))
                .collect();
            let name = match self.headers_name.as_str() {
                "" => "headers",
                name => name,
            };
            let source = SourceRef::offline("headers", name, text.as_bytes());
            sources.push((source, text.into_bytes()));
        }
        let headers = self.headers;
        let asset = (!headers.is_empty() || meta.is_some()).then_some(Asset { headers, meta });
        Ok(Evaluation {
            site,
            asset,
            sources,
            page_cut,
        })
    }
}

/// What given inputs say, ready to judge any number of URLs.
pub struct Evaluation {
    site: SitePolicy,
    asset: Option<Asset>,
    sources: Vec<(SourceRef, Vec<u8>)>,
    /// Why the page given was cut at the read limit, when it was.
    page_cut: Option<Reason>,
}

impl Evaluation {
    /// The decision on `url`. For a page cut at the read limit it is what the fetcher
    /// decides: what the unread rest says is unknown, so an allowed page is not collected
    /// (`fetch.truncated` decides); a refusal stands on its own reasons, the cut noted after.
    pub fn decide(&self, judge: &Judge<'_>, url: &Url) -> Decision {
        let mut decision = judge.decide(&self.site, self.asset.as_ref(), url);
        if let Some(reason) = &self.page_cut {
            if decision.verdict == Verdict::Allowed {
                decision.verdict = Verdict::Discarded;
                decision.reasons.insert(0, reason.clone());
            } else {
                decision.reasons.push(reason.clone());
            }
        }
        decision
    }

    /// The outcome for one input, not recorded: [`Evaluation::decide`] on it, or an `error`
    /// [`super::Checked`] for an input that is not a URL optout can judge. The pure path
    /// (no store at all) of the Python `evaluate_robots` and `evaluate`.
    pub fn check(&self, judge: &Judge<'_>, input: &str) -> super::Checked {
        match optout_policy::parse_url(input) {
            Ok(url) => {
                let decision = self.decide(judge, &url);
                super::Checked::decided(input, url, decision, None)
            }
            Err(reason) => super::Checked::error(input, reason),
        }
    }

    /// The inputs as the evidence names them, with the bytes kept of each (the snapshots).
    pub fn sources(&self) -> &[(SourceRef, Vec<u8>)] {
        &self.sources
    }
}

/// Checks that `name: value` is one HTTP field as a server could send it (RFC 9110 §5.1,
/// §5.5): the name a non-empty token, the value without control characters other than
/// HTAB. A value with CR LF would smuggle in a second header (`X-Robots-Tag: all\r\n
/// X-Robots-Tag: noai`) that a server could not have sent, and judging it as one is wrong.
pub fn check_header(name: &str, value: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("the name is empty");
    }
    if !name.bytes().all(is_tchar) {
        return Err(
            "the header name must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~; no spaces or control characters, RFC 9110 §5.6.2)",
        );
    }
    if value.chars().any(|c| c.is_ascii_control() && c != '\t') {
        return Err(
            "the value has a control character (CR, LF, NUL, ...; RFC 9110 §5.5); give each header on its own",
        );
    }
    Ok(())
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
