//! The inputs of an offline `optout check`: policy files, a page and headers given on the
//! command line, read and judged as the online path reads and judges what it fetches.
//!
//! Files get the online read limits (`limits.robots_parse_limit` for robots.txt and
//! ai.txt, the larger of it and `net.max_body_bytes` for tdmrep.json, `net.max_body_bytes`
//! for the page): at most the limit and one byte more, to know the file was cut, is read,
//! so `/dev/zero` or a file of gigabytes costs no more than a file at the limit. A cut file
//! is treated as a truncated fetch is ([`crate::net::compile`]): robots.txt is parsed up to
//! the limit without the line it cut (RFC 9309 §2.5, `robots.truncated`), ai.txt without
//! that line, a tdmrep.json is refused for the purposes it could reserve
//! (`tdmrep.unreachable`), and a page is not collected (`fetch.truncated`). The snapshot
//! recorded is the bytes kept, not the whole file. A page is read as the fetcher reads one
//! ([`PageMeta::scan_encoded`]): parsed only when its bytes could hold a reservation.

use crate::cli::CliError;
use crate::config::Config;
use crate::evidence::SourceRef;
use crate::net::compile::{TDMREP_PURPOSES, tdmrep_cut, whole_lines};
use crate::policy::aitxt::AiTxt;
use crate::policy::crawlers::AiCrawlers;
use crate::policy::html::PageMeta;
use crate::policy::judge::Asset;
use crate::policy::site::SitePolicy;
use crate::policy::tdmrep::TdmRepFile;
use crate::policy::{Code, Decision, Reason, RobotsTxt, Verdict};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What the offline inputs say, and the sources behind it with the bytes kept of each.
pub(super) struct Offline {
    pub site: SitePolicy,
    pub asset: Option<Asset>,
    pub sources: Vec<(SourceRef, Vec<u8>)>,
    /// Why the page given was cut at the read limit, when it was.
    pub page_cut: Option<Reason>,
}

impl Offline {
    /// Reads every file given in `args` within the limits of `config`.
    pub fn read(
        config: &Config,
        args: &super::CheckArgs,
        ai_crawlers: &AiCrawlers,
    ) -> Result<Offline, CliError> {
        // Header flags are checked before any file is read: a usage error costs nothing.
        let headers = args
            .headers
            .iter()
            .map(|h| parse_header(h))
            .collect::<Result<Vec<_>, _>>()?;
        let parse_limit = config.limits.robots_parse_limit;
        let max_body = config.net.max_body_bytes;
        let mut sources = Vec::new();
        let mut read = |kind: &str, path: &Option<PathBuf>, limit: usize| {
            let Some(path) = path else {
                return Ok(None);
            };
            let cut = read_bounded(path, limit)?;
            let kept = &cut.bytes[..cut.bytes.len().min(limit)];
            let source = SourceRef::offline(kind, &path.display().to_string(), kept);
            sources.push((source, kept.to_vec()));
            Ok::<_, CliError>(Some(cut))
        };
        // Given the byte past the limit, the parser marks the file truncated and drops the
        // line the limit cut, as `compile::parse_robots` does for a truncated fetch.
        let robots = read("robots.txt", &args.robots, parse_limit)?
            .map(|r| RobotsTxt::parse_with_limit(&r.bytes, parse_limit));
        let mut tdmrep_refusal = None;
        let tdm_limit = parse_limit.max(max_body);
        let tdmrep = read("tdmrep.json", &args.tdmrep, tdm_limit)?.and_then(|r| {
            if r.truncated {
                tdmrep_refusal = Some(tdmrep_cut(tdm_limit));
                return None;
            }
            Some(TdmRepFile::parse(&r.bytes))
        });
        let aitxt = read("ai.txt", &args.aitxt, parse_limit)?.map(|r| {
            let kept = &r.bytes[..r.bytes.len().min(parse_limit)];
            AiTxt::parse(whole_lines(kept, r.truncated))
        });
        let mut site = SitePolicy::new(robots, tdmrep, aitxt, ai_crawlers);
        if let Some(reason) = tdmrep_refusal {
            site = site.with_standing_refusal(reason, TDMREP_PURPOSES);
        }
        let mut page_cut = None;
        let page = read("html", &args.html, max_body)?;
        let meta = page.map(|r| {
            if r.truncated {
                page_cut = Some(Reason::new(Code::FetchTruncated).with_source("html").with_detail(format!(
                    "the page is longer than net.max_body_bytes ({max_body}); the rest could reserve it"
                )));
            }
            PageMeta::scan_encoded(&r.bytes[..r.bytes.len().min(max_body)], None)
        });
        if !headers.is_empty() {
            let text: String = headers.iter().map(|(n, v)| format!("{n}: {v}\n")).collect();
            let source = SourceRef::offline("headers", "--header", text.as_bytes());
            sources.push((source, text.into_bytes()));
        }
        let asset = (!headers.is_empty() || meta.is_some()).then_some(Asset { headers, meta });
        Ok(Offline {
            site,
            asset,
            sources,
            page_cut,
        })
    }

    /// `decision` as the fetcher makes it for a page cut at the read limit: what the unread
    /// rest says is unknown, so an allowed page is not collected (`fetch.truncated` decides).
    /// A refusal stands on its own reasons, the cut noted after them.
    pub fn judge_page_cut(&self, mut decision: Decision) -> Decision {
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
}

/// A file read up to a limit: at most `limit + 1` bytes, `truncated` when there were more
/// than `limit`.
struct Bounded {
    bytes: Vec<u8>,
    truncated: bool,
}

/// Reads at most `limit + 1` bytes of `path`. A directory is refused by name rather than
/// read (on some systems reading one succeeds with nothing, which would judge as "no file").
fn read_bounded(path: &Path, limit: usize) -> Result<Bounded, CliError> {
    let failed = |source| CliError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(failed)?;
    if file.metadata().map_err(failed)?.is_dir() {
        return Err(failed(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory, not a file",
        )));
    }
    let mut bytes = Vec::new();
    let room = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    file.take(room).read_to_end(&mut bytes).map_err(failed)?;
    let truncated = bytes.len() > limit;
    Ok(Bounded { bytes, truncated })
}

/// Splits a `--header` flag into its name and value, as an HTTP parser would accept them
/// (RFC 9110 §5.1, §5.5): the name a non-empty token, the value without control characters
/// other than HTAB, optional whitespace around it removed. Anything else is a usage error:
/// a value with CR LF would smuggle in a second header (`X-Robots-Tag: all\r\nX-Robots-Tag:
/// noai`) that a server could not have sent, and judging it as one header is wrong.
pub(super) fn parse_header(flag: &str) -> Result<(String, String), CliError> {
    let usage = |why: &str| CliError::Usage(format!("--header {flag:?}: {why}"));
    let Some((name, value)) = flag.split_once(':') else {
        return Err(usage("expected `Name: value`"));
    };
    if name.is_empty() {
        return Err(usage("expected `Name: value`; the name is empty"));
    }
    if !name.bytes().all(is_tchar) {
        return Err(usage(
            "the header name must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~; no spaces or control characters, RFC 9110 §5.6.2)",
        ));
    }
    if value.chars().any(|c| c.is_ascii_control() && c != '\t') {
        return Err(usage(
            "the value has a control character (CR, LF, NUL, ...; RFC 9110 §5.5); give each header its own --header",
        ));
    }
    Ok((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()))
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_flags_are_http_fields_or_usage_errors() {
        let ok = |f: &str| parse_header(f).unwrap();
        assert_eq!(
            ok("X-Robots-Tag: noai"),
            ("X-Robots-Tag".into(), "noai".into())
        );
        assert_eq!(ok("A:\tb c \t"), ("A".into(), "b c".into()));
        assert_eq!(ok("X-Robots-Tag: bot: noai").1, "bot: noai");
        for bad in [
            "no colon",
            ": noai",
            "X-Robots-Tag: all\r\nX-Robots-Tag: noai",
            "X-Robots-Tag: all\nnoai",
            "X-Robots-Tag: a\0b",
            "X-Robots-Tag: a\x7fb",
            "X Robots Tag: noai",
            "X-Robots-Tag : noai",
            " X-Robots-Tag: noai",
            "X-Robots\x01Tag: noai",
            "X-Röbots: noai",
        ] {
            let e = parse_header(bad).unwrap_err().to_string();
            assert!(e.starts_with("--header "), "{bad:?}: {e}");
            assert!(!e.contains('\n') && !e.contains('\r'), "{e}");
        }
    }
}
