//! Which protocol each reason code belongs to, and what part it plays.
//!
//! The issue (and section 3.1 of the AI Office template, C(2025) 5235) asks for figures per
//! opt-out protocol, so every [`Code`] maps to one [`Protocol`] (or [`Protocol::Other`]) and
//! one [`Role`]. Both are exhaustive `match`es without a wildcard: a new code does not
//! compile until it is placed here, and a unit test walks [`Code::ALL`] as well.

use optout_policy::Code;
use serde::Serialize;

/// An opt-out protocol (or family of signals) a reason comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// robots.txt, RFC 9309.
    Robots,
    /// W3C TDMRep: tdmrep.json, `tdm-reservation` headers and meta tags.
    Tdmrep,
    /// IETF AI preferences: `Content-Usage` in robots.txt and as a header.
    Aipref,
    /// Cloudflare's Content Signals: `Content-Signal` in robots.txt.
    ContentSignals,
    /// `noai` / `noimageai` in `Robots-Tag`, `X-Robots-Tag` or a robots meta tag.
    Noai,
    /// Spawning's `/ai.txt`.
    AiTxt,
    /// robots.txt groups for known AI-training crawlers.
    AiCrawlerBlocks,
    /// The excluded-domains list (Code of Practice, Measure 1.2).
    ExcludedDomains,
    /// Access control and paywalls: 401/402/403/407/451, pay-per-crawl, schema.org
    /// `isAccessibleForFree` (Measure 1.2).
    AccessControl,
    /// Everything else: the network guard, politeness, failed fetches, URL errors, notes.
    Other,
}

impl Protocol {
    /// Every protocol, in report order.
    pub const ALL: [Protocol; 10] = [
        Protocol::Robots,
        Protocol::Tdmrep,
        Protocol::Aipref,
        Protocol::ContentSignals,
        Protocol::Noai,
        Protocol::AiTxt,
        Protocol::AiCrawlerBlocks,
        Protocol::ExcludedDomains,
        Protocol::AccessControl,
        Protocol::Other,
    ];

    /// The stable identifier used in JSON (`robots`, `tdmrep`, ...).
    pub const fn id(self) -> &'static str {
        match self {
            Protocol::Robots => "robots",
            Protocol::Tdmrep => "tdmrep",
            Protocol::Aipref => "aipref",
            Protocol::ContentSignals => "content-signals",
            Protocol::Noai => "noai",
            Protocol::AiTxt => "ai-txt",
            Protocol::AiCrawlerBlocks => "ai-crawler-blocks",
            Protocol::ExcludedDomains => "excluded-domains",
            Protocol::AccessControl => "access-control",
            Protocol::Other => "other",
        }
    }

    /// The name a reader knows it by.
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::Robots => "robots.txt",
            Protocol::Tdmrep => "TDMRep",
            Protocol::Aipref => "IETF AI preferences",
            Protocol::ContentSignals => "Content Signals",
            Protocol::Noai => "noai / noimageai",
            Protocol::AiTxt => "ai.txt",
            Protocol::AiCrawlerBlocks => "AI-crawler blocks",
            Protocol::ExcludedDomains => "Excluded domains",
            Protocol::AccessControl => "Access control",
            Protocol::Other => "Other",
        }
    }

    /// The specification and version this build implements (what section 3.1 asks for).
    pub const fn version(self) -> &'static str {
        match self {
            Protocol::Robots => "RFC 9309, Robots Exclusion Protocol (September 2022)",
            Protocol::Tdmrep => {
                "TDM Reservation Protocol (TDMRep), W3C Community Group Final Report (2024)"
            }
            Protocol::Aipref => {
                "draft-ietf-aipref-vocab-07 (A Vocabulary For Expressing AI Usage Preferences) and draft-ietf-aipref-attach-05 (Associating AI Usage Preferences with Content in HTTP)"
            }
            Protocol::ContentSignals => {
                "draft-romm-aipref-contentsignals-00 (Vocabulary For Expressing Content Signals)"
            }
            Protocol::Noai => {
                "the noai and noimageai robots directives (as deployed since 2022), in the Robots-Tag header of draft-illyes-repext-03 (Robots Exclusion Protocol Extension for URL Level Control, April 2026), the X-Robots-Tag header and robots meta tags"
            }
            Protocol::AiTxt => "Spawning ai.txt",
            Protocol::AiCrawlerBlocks => {
                "a robots.txt group that disallows a known AI-training crawler (list derived from ai-robots-txt/ai.robots.txt) counts as a training opt-out"
            }
            Protocol::ExcludedDomains => "GPAI Code of Practice, Copyright chapter, Measure 1.2",
            Protocol::AccessControl => {
                "HTTP 401/402/403/407/451 (RFC 9110), schema.org isAccessibleForFree"
            }
            Protocol::Other => "",
        }
    }

    /// The policy file whose being served (2xx) shows that a site uses the protocol.
    pub fn file_kind(self) -> Option<&'static str> {
        match self {
            Protocol::Robots => Some("robots.txt"),
            Protocol::Tdmrep => Some("tdmrep.json"),
            Protocol::AiTxt => Some("ai.txt"),
            _ => None,
        }
    }

    /// A site's own signal (counted in "which protocols the sites use"); the excluded list
    /// is ours and "other" is no protocol.
    pub fn is_site_signal(self) -> bool {
        !matches!(self, Protocol::ExcludedDomains | Protocol::Other)
    }
}

/// What a reason does to the verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A reservation (or a rule) that refuses or discards.
    Refuses,
    /// The protocol's file could not be read, so optout refused what it could reserve (fail
    /// closed).
    Unreachable,
    /// The reason allowed.
    Allows,
    /// A note; it does not change the verdict.
    Note,
    /// An allowed request that brought no content.
    Failed,
}

/// The protocol and role of `code`.
pub const fn classify(code: Code) -> (Protocol, Role) {
    use Protocol as P;
    use Role as R;
    match code {
        Code::RobotsAllow
        | Code::RobotsNoMatch
        | Code::RobotsNoGroup
        | Code::RobotsImplicitAllow => (P::Robots, R::Allows),
        Code::RobotsDisallow => (P::Robots, R::Refuses),
        Code::RobotsTruncated | Code::RobotsInvalidUtf8 | Code::RobotsUnavailable => {
            (P::Robots, R::Note)
        }
        Code::RobotsUnreachable | Code::RobotsRedirectLimit => (P::Robots, R::Unreachable),
        Code::RobotsAiCrawlerBlock => (P::AiCrawlerBlocks, R::Refuses),
        Code::TdmrepReserved => (P::Tdmrep, R::Refuses),
        Code::TdmrepInvalid => (P::Tdmrep, R::Note),
        Code::TdmrepUnreachable => (P::Tdmrep, R::Unreachable),
        Code::AiprefTrainAi | Code::AiprefSearch => (P::Aipref, R::Refuses),
        Code::AiprefInvalid => (P::Aipref, R::Note),
        Code::ContentSignalAiTrain | Code::ContentSignalAiInput | Code::ContentSignalSearch => {
            (P::ContentSignals, R::Refuses)
        }
        Code::TagsNoai | Code::TagsNoimageai => (P::Noai, R::Refuses),
        Code::TagsUnreadable => (P::Noai, R::Unreachable),
        Code::AitxtDisallow => (P::AiTxt, R::Refuses),
        Code::AitxtUnreachable => (P::AiTxt, R::Unreachable),
        Code::ExcludedDomain => (P::ExcludedDomains, R::Refuses),
        Code::AccessDenied | Code::AccessPaymentRequired | Code::AccessPaywalled => {
            (P::AccessControl, R::Refuses)
        }
        Code::NetworkPrivateAddress
        | Code::PolitenessCrawlDelayTooLong
        | Code::PolitenessGaveUp
        | Code::FetchRedirectLimit
        | Code::FetchTruncated
        | Code::UrlInvalid
        | Code::UrlUnsupportedScheme
        | Code::UrlUserinfo => (P::Other, R::Refuses),
        Code::CachedCopy | Code::RslLicense | Code::PolitenessBackoff => (P::Other, R::Note),
        Code::NoReservation => (P::Other, R::Allows),
        Code::FetchFailed
        | Code::FetchInterrupted
        | Code::FetchBadRedirect
        | Code::FetchServerError
        | Code::FetchNotContent => (P::Other, R::Failed),
    }
}

/// The code whose stable string is `text`, if optout knows it (a record from a newer build
/// may carry one it does not).
pub fn code_of(text: &str) -> Option<Code> {
    Code::ALL.iter().copied().find(|c| c.as_str() == text)
}

/// The protocol and role of a reason code as a record writes it; an unknown code is
/// [`Protocol::Other`] and counts as a refusal only in a refused or discarded record.
pub fn classify_text(text: &str) -> (Protocol, Option<Role>) {
    match code_of(text) {
        Some(code) => {
            let (protocol, role) = classify(code);
            (protocol, Some(role))
        }
        None => (Protocol::Other, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_protocol_that_matches_its_prefix() {
        for &code in Code::ALL {
            let (protocol, _) = classify(code);
            let text = code.as_str();
            let expected = match text.split('.').next().unwrap() {
                "robots" if code == Code::RobotsAiCrawlerBlock => Protocol::AiCrawlerBlocks,
                "robots" => Protocol::Robots,
                "tdmrep" => Protocol::Tdmrep,
                "aipref" => Protocol::Aipref,
                "content-signal" => Protocol::ContentSignals,
                "tags" => Protocol::Noai,
                "aitxt" => Protocol::AiTxt,
                "excluded-domain" => Protocol::ExcludedDomains,
                "access" => Protocol::AccessControl,
                _ => Protocol::Other,
            };
            assert_eq!(protocol, expected, "{text}");
            assert_eq!(code_of(text), Some(code));
        }
        assert_eq!(classify_text("future.code"), (Protocol::Other, None));
    }

    #[test]
    fn every_protocol_but_other_has_a_refusing_code_and_a_version() {
        for protocol in Protocol::ALL {
            let refuses = Code::ALL
                .iter()
                .any(|&c| classify(c) == (protocol, Role::Refuses));
            assert!(refuses, "{protocol:?}");
            assert_eq!(protocol.version().is_empty(), protocol == Protocol::Other);
        }
    }

    #[test]
    fn the_roles_agree_with_the_documented_verdicts() {
        // docs/decisions.md gives each code's verdict in its table: `note` codes are notes,
        // `allowed` codes allow, `failed` codes are failures.
        let doc = include_str!("../../../docs/decisions.md");
        for &code in Code::ALL {
            let row = format!("| `{}` | ", code.as_str());
            let Some(at) = doc.find(&row) else {
                panic!("{code} is not in docs/decisions.md");
            };
            let verdict = doc[at + row.len()..].split(' ').next().unwrap();
            let role = classify(code).1;
            let expected = match verdict {
                "note" => Role::Note,
                "allowed" => Role::Allows,
                "failed" => Role::Failed,
                _ => role,
            };
            assert_eq!(role, expected, "{code}: documented {verdict}");
            if matches!(verdict, "refused" | "discarded" | "error") {
                assert!(matches!(role, Role::Refuses | Role::Unreachable), "{code}");
            }
        }
    }
}
