//! Decisions: a verdict plus the reasons that made it.
//!
//! Every reason carries a stable, machine-readable [`Code`]. The codes and what they mean are
//! documented in one place, `docs/decisions.md`; [`Code::ALL`] lists them for tests that keep
//! that page and this enum in step. Codes are never renamed: new ones are added.

use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// What was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The agent may fetch the URL for the purpose.
    Allowed,
    /// The agent must not fetch the URL.
    Refused,
    /// The URL was fetched, but the response reserves its content for the purpose (or is
    /// paywalled): the body was dropped, never returned or stored.
    Discarded,
}

impl Verdict {
    /// The stable lower-case name (`allowed`, `refused`, `discarded`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Refused => "refused",
            Verdict::Discarded => "discarded",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// A stable reason code. See `docs/decisions.md`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, in documentation order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable string form, e.g. `robots.disallow`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }
        }
    };
}

codes! {
    /// An `Allow` rule was the most specific match.
    RobotsAllow => "robots.allow",
    /// A `Disallow` rule was the most specific match.
    RobotsDisallow => "robots.disallow",
    /// A group applies to the agent, but none of its rules matches the URL.
    RobotsNoMatch => "robots.no-match",
    /// No group names the agent and there is no `*` group: no rules apply.
    RobotsNoGroup => "robots.no-group",
    /// `/robots.txt` itself is always allowed (RFC 9309 §2.2.2).
    RobotsImplicitAllow => "robots.implicit-allow",
    /// Note: the file was longer than the parse limit; bytes past it were ignored.
    RobotsTruncated => "robots.truncated",
    /// Note: the file was not valid UTF-8 and was decoded lossily.
    RobotsInvalidUtf8 => "robots.invalid-utf8",
    /// Note: robots.txt answered 4xx (RFC 9309 §2.3.1.3): no rules, every URL allowed.
    RobotsUnavailable => "robots.unavailable",
    /// robots.txt could not be fetched (429, 5xx, timeout, DNS or connection failure): every
    /// URL refused (RFC 9309 §2.3.1.4), tried again later.
    RobotsUnreachable => "robots.unreachable",
    /// robots.txt redirected more than 5 times, or in a loop: every URL refused.
    RobotsRedirectLimit => "robots.redirect-limit",
    /// Note: the policy file is unreachable now; a copy fetched less than 30 days ago was used.
    CachedCopy => "cached-copy",
    /// An AI-training crawler's own group disallows the URL (an opt-out from AI training).
    RobotsAiCrawlerBlock => "robots.ai-crawler-block",
    /// TDMRep: text and data mining rights are reserved.
    TdmrepReserved => "tdmrep.reserved",
    /// Note: a TDMRep file or value could not be used and was treated as unset.
    TdmrepInvalid => "tdmrep.invalid",
    /// tdmrep.json could not be fetched (429, 5xx, network): what it reserves is unknown.
    TdmrepUnreachable => "tdmrep.unreachable",
    /// IETF AI preferences: `train-ai=n`.
    AiprefTrainAi => "aipref.train-ai",
    /// IETF AI preferences: `search=n`.
    AiprefSearch => "aipref.search",
    /// Note: a `Content-Usage` value did not parse; its preferences are unknown.
    AiprefInvalid => "aipref.invalid",
    /// Content Signals: `ai-train=no`.
    ContentSignalAiTrain => "content-signal.ai-train",
    /// Content Signals: `ai-input=no`.
    ContentSignalAiInput => "content-signal.ai-input",
    /// Content Signals: `search=no`.
    ContentSignalSearch => "content-signal.search",
    /// `noai` in `Robots-Tag`, `X-Robots-Tag` or a robots `<meta>` tag.
    TagsNoai => "tags.noai",
    /// `noimageai` for an image.
    TagsNoimageai => "tags.noimageai",
    /// A `Robots-Tag` field that could not be read (malformed, or over the 8 KiB parse
    /// limit of draft-illyes-repext-03): what it reserves is unknown, so training is refused.
    TagsUnreadable => "tags.unreadable",
    /// ai.txt disallows the URL for AI training.
    AitxtDisallow => "aitxt.disallow",
    /// ai.txt could not be fetched (429, 5xx, network): what it reserves is unknown.
    AitxtUnreachable => "aitxt.unreachable",
    /// The host resolves to (or is) a loopback, private, link-local, multicast or unspecified
    /// address, which optout does not connect to unless allowed.
    NetworkPrivateAddress => "network.private-address",
    /// The host is on the excluded-domains list (Measure 1.2).
    ExcludedDomain => "excluded-domain",
    /// Note: robots.txt names a licence (RSL `License:`).
    RslLicense => "rsl.license",
    /// No source consulted reserves the URL for the purpose (used when no robots.txt was
    /// consulted to say so).
    NoReservation => "no-reservation",
    /// The response was 401, 402, 403, 407 or 451: access is controlled. Never retried with
    /// other credentials, headers or agents (Measure 1.2).
    AccessDenied => "access.denied",
    /// The response is a pay-per-crawl offer (a 402 with a `crawler-price`, `crawler-error`
    /// or other `crawler-*` payment header), or says it charged for a page: optout never
    /// pays, never retries, and keeps no body.
    AccessPaymentRequired => "access.payment-required",
    /// The page says it is paywalled (schema.org `isAccessibleForFree: false`); discarded
    /// when collecting training data (Measure 1.2).
    AccessPaywalled => "access.paywalled",
    /// The site's robots.txt `Crawl-delay` is longer than the configured maximum: skipped,
    /// never fetched faster than it asked.
    PolitenessCrawlDelayTooLong => "politeness.crawl-delay-too-long",
    /// The host answered 429/503 and asked to wait longer than the configured maximum, or
    /// kept answering so after every retry: given up.
    PolitenessGaveUp => "politeness.gave-up",
    /// Note: the host answered 429/503; the crawler backed off before trying again.
    PolitenessBackoff => "politeness.backoff",
    /// The request failed (timeout, connection, DNS, a broken response).
    FetchFailed => "fetch.failed",
    /// The command was stopped (Ctrl-C, SIGTERM) before the URL's fetch ended, often in a
    /// polite wait: nothing of it was kept, and asked for again it is fetched anew.
    FetchInterrupted => "fetch.interrupted",
    /// A redirect (3xx) without a usable `Location`: none, empty, unparsable, or not
    /// `http`/`https`. Nothing was followed and the body was dropped.
    FetchBadRedirect => "fetch.bad-redirect",
    /// The host answered 5xx (500, 502, 504 after the configured retries; other 5xx at
    /// once): a server's error page is not the content.
    FetchServerError => "fetch.server-error",
    /// The response carries no content of the URL: a final 1xx, 204, 205, a 206 or 304 to a
    /// request that asked for no part and had no validators, a status outside 100-599, or a
    /// body in a `Content-Encoding` that could not be decoded.
    FetchNotContent => "fetch.not-content",
    /// The page redirected more often than `fetch.max_redirects`.
    FetchRedirectLimit => "fetch.redirect-limit",
    /// The body was longer than `net.max_body_bytes`; the rest was not read, and what it
    /// says is unknown, so the response is discarded.
    FetchTruncated => "fetch.truncated",
    /// The URL could not be parsed.
    UrlInvalid => "url.invalid",
    /// The URL's scheme is not `http` or `https`.
    UrlUnsupportedScheme => "url.unsupported-scheme",
    /// The URL carries a user name or password: optout never sends credentials.
    UrlUserinfo => "url.userinfo",
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason for a verdict: the code, and where it applies, the rule that decided.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reason {
    /// The stable reason code.
    pub code: Code,
    /// The 1-based line of the policy file that decided, if a line did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The rule's pattern exactly as written in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Arc<str>>,
    /// The product tokens of the group the rule belongs to (`*` for the global group).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agents: Option<Arc<[Box<str>]>>,
    /// Where the signal came from: `robots.txt`, `tdmrep.json`, `ai.txt`, `header
    /// <Name>`, `meta <name>`, `excluded-domains`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Cow<'static, str>>,
    /// The 0-based index of the deciding entry, for sources that are lists (`tdmrep.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<u32>,
    /// A policy or licence URL the source names (`tdm-policy`, RSL `License`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Arc<str>>,
    /// A human-readable explanation, where the code alone does not say enough.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Cow<'static, str>>,
}

impl Reason {
    /// A reason with only a code.
    pub fn new(code: Code) -> Reason {
        Reason {
            code,
            line: None,
            rule: None,
            agents: None,
            source: None,
            entry: None,
            policy: None,
            detail: None,
        }
    }

    /// Names the source of the signal.
    pub fn with_source(mut self, source: impl Into<Cow<'static, str>>) -> Reason {
        self.source = Some(source.into());
        self
    }

    /// Names the line of the source.
    pub fn with_line(mut self, line: u32) -> Reason {
        self.line = Some(line);
        self
    }

    /// Names the rule as written.
    pub fn with_rule(mut self, rule: impl Into<Arc<str>>) -> Reason {
        self.rule = Some(rule.into());
        self
    }

    /// Names a policy or licence URL.
    pub fn with_policy(mut self, policy: impl Into<Arc<str>>) -> Reason {
        self.policy = Some(policy.into());
        self
    }

    /// Adds a human-readable explanation.
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Reason {
        self.detail = Some(detail.into());
        self
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code.as_str())?;
        if let Some(source) = &self.source {
            write!(f, " [{source}]")?;
        }
        if let Some(entry) = self.entry {
            write!(f, " entry {entry}")?;
        }
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(rule) = &self.rule {
            write!(f, " {rule:?}")?;
        }
        if let Some(agents) = &self.agents {
            write!(f, " (user-agent: {})", agents.join(", "))?;
        }
        if let Some(policy) = &self.policy {
            write!(f, " policy <{policy}>")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

/// A verdict and the reasons for it. The first reason is the one that decided; any further
/// reasons are notes (for example that the file was truncated).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    /// What was decided.
    pub verdict: Verdict,
    /// Why, deciding reason first.
    pub reasons: Vec<Reason>,
}

impl Decision {
    /// True when the verdict is [`Verdict::Allowed`].
    pub fn is_allowed(&self) -> bool {
        self.verdict == Verdict::Allowed
    }

    /// The reason that decided.
    pub fn deciding_reason(&self) -> Option<&Reason> {
        self.reasons.first()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_documented_in_docs_decisions_md() {
        let doc = include_str!("../../../docs/decisions.md");
        for code in Code::ALL {
            assert!(
                doc.contains(&format!("| `{}` |", code.as_str())),
                "{code} is missing from docs/decisions.md"
            );
        }
    }

    #[test]
    fn codes_are_unique_lowercase_words() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert!(
                code.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'),
                "{code}"
            );
        }
    }

    #[test]
    fn reason_json_omits_empty_fields() {
        let json = serde_json::to_string(&Reason::new(Code::RobotsNoGroup)).unwrap();
        assert_eq!(json, r#"{"code":"robots.no-group"}"#);
    }
}
