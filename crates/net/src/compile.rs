//! An origin's policy files, as known, compiled into one [`SitePolicy`] with the evidence
//! sources behind it. Pure. Where a file could not be read, the purposes it could reserve
//! are refused (fail closed), and the reasons say why.

use super::client::USERINFO_REFUSED;
use super::clock::rfc3339_ms;
use super::known::{File, Kind, State};
use optout_evidence::SourceRef;
use optout_policy::aitxt::AiTxt;
use optout_policy::crawlers::AiCrawlers;
use optout_policy::decision::{Code, Reason};
use optout_policy::purpose::Purpose;
use optout_policy::robots::RobotsTxt;
use optout_policy::site::SitePolicy;
use optout_policy::tdmrep::TdmRepFile;

/// Everything an origin's files say, ready to judge URLs with.
#[derive(Clone, Debug)]
pub struct OriginPolicy {
    /// `scheme://host[:port]`.
    pub origin: String,
    /// The compiled policy.
    pub site: SitePolicy,
    /// The files consulted, for evidence records.
    pub sources: Vec<SourceRef>,
}

/// Which purposes a file can reserve, and the code used when it cannot be read.
fn scope(kind: Kind) -> (&'static [Purpose], Code) {
    match kind {
        Kind::Robots => (&Purpose::ALL, Code::RobotsUnreachable),
        Kind::Tdmrep => (TDMREP_PURPOSES, Code::TdmrepUnreachable),
        Kind::AiTxt => (&[Purpose::TrainAi], Code::AitxtUnreachable),
    }
}

/// Parses a robots.txt copy. A read that stopped at the parse limit (`truncated`) kept
/// exactly the bytes within it, which the parser cannot tell from a whole file of that size:
/// it is given one byte more, past a limit set to the copy's length, so that it marks the
/// file truncated and drops the line the limit cut in two (half of `Allow: /public-area`
/// would allow more than the site said).
fn parse_robots(bytes: &[u8], truncated: bool, parse_limit: usize) -> RobotsTxt {
    if !truncated || bytes.len() > parse_limit {
        return RobotsTxt::parse_with_limit(bytes, parse_limit);
    }
    let mut longer = Vec::with_capacity(bytes.len() + 1);
    longer.extend_from_slice(bytes);
    longer.push(b'#');
    RobotsTxt::parse_with_limit(&longer, bytes.len())
}

/// The robots.txt `file` stands for at `now_ms`, parsed as [`compile`] parses it; `None`
/// without a usable copy.
pub fn robots_copy(file: &File, now_ms: u64, parse_limit: usize) -> Option<RobotsTxt> {
    let (good, bytes) = file.usable_copy(now_ms)?;
    Some(parse_robots(bytes, good.truncated, parse_limit))
}

/// The purposes a tdmrep.json can reserve: refused when it could not be read whole.
pub const TDMREP_PURPOSES: &[Purpose] = &[Purpose::TrainAi, Purpose::AiInput];

/// Why a tdmrep.json cut at the read limit after `read` bytes is refused: JSON cut short
/// cannot be read, so what it reserves is unknown (fail closed).
pub fn tdmrep_cut(read: usize) -> Reason {
    Reason::new(Code::TdmrepUnreachable)
        .with_source(Kind::Tdmrep.name())
        .with_detail(format!(
            "tdmrep.json is longer than the read limit ({read} bytes read) and cannot be read whole"
        ))
}

/// A copy without the line a truncated read cut in two.
pub fn whole_lines(bytes: &[u8], truncated: bool) -> &[u8] {
    if !truncated {
        return bytes;
    }
    let keep = bytes
        .iter()
        .rposition(|&b| b == b'\n' || b == b'\r')
        .map_or(0, |i| i + 1);
    &bytes[..keep]
}

/// Compiles the files of `origin` as they stand at `now_ms`.
pub fn compile(
    origin: &str,
    files: &[(Kind, File)],
    now_ms: u64,
    parse_limit: usize,
    ai_crawlers: &AiCrawlers,
) -> OriginPolicy {
    let mut robots = None;
    let mut tdmrep = None;
    let mut aitxt = None;
    let mut standing: Vec<(Reason, &'static [Purpose])> = Vec::new();
    let mut notes = Vec::new();
    let mut sources = Vec::new();
    for (kind, file) in files {
        let known = &file.known;
        let name = kind.name();
        if let Some((good, bytes)) = file.usable_copy(now_ms) {
            if known.state != State::Parsed {
                notes.push(
                    Reason::new(Code::CachedCopy)
                        .with_source(name)
                        .with_detail(format!(
                            "{name} is unreachable now ({}); using the copy fetched {}",
                            known.detail.as_deref().unwrap_or("no answer"),
                            rfc3339_ms(good.fetched_at)
                        )),
                );
            }
            sources.push(SourceRef {
                kind: name.into(),
                url: known.url.clone(),
                status: Some(good.status),
                fetched_at: Some(rfc3339_ms(good.fetched_at)),
                sha256: good.sha256.clone(),
            });
            match kind {
                Kind::Robots => {
                    robots = Some(parse_robots(bytes, good.truncated, parse_limit));
                }
                Kind::Tdmrep if good.truncated => {
                    standing.push((tdmrep_cut(bytes.len()), scope(Kind::Tdmrep).0));
                }
                Kind::Tdmrep => tdmrep = Some(TdmRepFile::parse(bytes)),
                Kind::AiTxt => aitxt = Some(AiTxt::parse(whole_lines(bytes, good.truncated))),
            }
            continue;
        }
        sources.push(SourceRef {
            kind: name.into(),
            url: known.url.clone(),
            status: known.status,
            fetched_at: Some(rfc3339_ms(known.fetched_at)),
            sha256: known.sha256.clone(),
        });
        let detail = known.detail.clone().unwrap_or_default();
        let (purposes, unreachable) = scope(*kind);
        match known.state {
            // Only a robots.txt 4xx is worth a note; a missing tdmrep.json or ai.txt is the
            // common case and means "not used by this site".
            State::Unavailable if *kind == Kind::Robots => notes.push(
                Reason::new(Code::RobotsUnavailable)
                    .with_source(name)
                    .with_detail(format!(
                        "{detail}: no robots.txt, so no rules apply (RFC 9309 §2.3.1.3)"
                    )),
            ),
            State::Unavailable | State::Parsed => {}
            // A redirect to a URL with credentials was not followed: the file is unknown,
            // and the reason says why with the code of a URL with credentials.
            State::Unreachable if detail.starts_with(USERINFO_REFUSED) => standing.push((
                Reason::new(Code::UrlUserinfo)
                    .with_source(name)
                    .with_detail(format!(
                        "{name} {}; optout never sends credentials, so what it says is unknown and it is refused",
                        &detail[USERINFO_REFUSED.len()..]
                    )),
                purposes,
            )),
            State::Unreachable => standing.push((
                Reason::new(unreachable)
                    .with_source(name)
                    .with_detail(format!(
                        "{detail}; what it says is unknown, so it is refused"
                    )),
                purposes,
            )),
            State::RedirectLimit => {
                let code = if *kind == Kind::Robots {
                    Code::RobotsRedirectLimit
                } else {
                    unreachable
                };
                standing.push((
                    Reason::new(code)
                        .with_source(name)
                        .with_detail(format!("{detail} (RFC 9309 §2.3.1.2)")),
                    purposes,
                ));
            }
            State::PrivateAddress => standing.push((
                Reason::new(Code::NetworkPrivateAddress)
                    .with_source(name)
                    .with_detail(detail),
                &Purpose::ALL,
            )),
        }
    }
    let mut site = SitePolicy::new(robots, tdmrep, aitxt, ai_crawlers);
    // One private-address refusal is enough, not one per file.
    let mut seen_private = false;
    for (reason, purposes) in standing {
        if reason.code == Code::NetworkPrivateAddress {
            if seen_private {
                continue;
            }
            seen_private = true;
        }
        site = site.with_standing_refusal(reason, purposes);
    }
    for note in notes {
        site = site.with_note(note);
    }
    OriginPolicy {
        origin: origin.to_owned(),
        site,
        sources,
    }
}
