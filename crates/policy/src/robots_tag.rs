//! The `Robots-Tag` response header of draft-illyes-repext-03 (April 2026), which moves
//! `X-Robots-Tag` out of the `X-` space.
//!
//! The field is a Structured Fields List (RFC 9651 §3.1; draft §3.1.1) whose members are
//! product tokens (RFC 9309 §2.2.1) or the global `*`, with the rules for that token as
//! Parameters: `Robots-Tag: *;noai, ExampleBot;noindex;nofollow`.
//!
//! - Scope: a member for `*` or for our product token (case-insensitive, as RFC 9309 §2.2.1
//!   matches) applies; a member for another token does not. The rules of every member that
//!   applies add up: a requestor obeys "the sum of negative rules specific to their product
//!   token and the global product token" (draft §3.1.2), the reading `X-Robots-Tag` scoping
//!   has in [`crate::tags`].
//! - A token that appears more than once has its Parameters merged (draft §3.1.1): a rule in
//!   force in any instance is in force. A rule is in force unless its value is the Boolean
//!   false (`noai=?0`); a rule with another value (`noai=1`) is read as named (fail closed).
//! - A bare member that is a robots rule rather than a product token (`Robots-Tag: noai`, an
//!   `X-Robots-Tag` value moved to the new name) is that rule for every agent: no crawler is
//!   called `noai`, and reading it as one would drop the site's reservation.
//! - Several `Robots-Tag` lines are one field, joined with commas (RFC 9110 §5.3, RFC 9651
//!   §4.2). The joined field is parsed up to [`PARSE_LIMIT`] (8 KiB, the draft's minimum); a
//!   longer field is [`RobotsTag::Unreadable`], not cut: a reservation past the cut would be
//!   lost.
//! - A field that is not a Structured List is tried once more leniently (rule names
//!   lowercased, as the draft §3.1.3 makes them case-insensitive, and empty parameters such
//!   as the draft's own example `ExampleBot;` dropped), then as `X-Robots-Tag` syntax when
//!   its characters are those of that syntax; anything else is unreadable. An unreadable
//!   field reserves what it could reserve (fail closed): what the site said is unknown.
//!
//! Pure: no I/O.

use crate::decision::{Code, Reason};
use crate::tags::AiTags;
use sfv::{BareItem, FieldType, ListEntry, Parser};
use std::fmt;

/// The most bytes of a `Robots-Tag` field read (draft-illyes-repext-03 §3.1.1: "at least 8
/// kibibytes"). The limit is on the field, all its lines joined.
pub const PARSE_LIMIT: usize = 8 * 1024;

/// The `X-Robots-Tag` rules a bare list member can be, rather than a product token.
const RULES: &[&str] = &[
    "all",
    "none",
    "noindex",
    "nofollow",
    "noarchive",
    "nocache",
    "nosnippet",
    "noimageindex",
    "notranslate",
    "indexifembedded",
    "noai",
    "noimageai",
];

/// The members of a Structured List that apply to one agent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scoped {
    /// The product tokens as written (`*`, `ExampleBot`), one per distinct token, in order.
    pub tokens: Vec<Box<str>>,
    /// Per token, the lower-case rules in force for it, merged over its instances.
    pub rules: Vec<Vec<Box<str>>>,
    /// Per token, its members as they serialize (`*;noai`), joined with `, `.
    pub written: Vec<String>,
}

impl Scoped {
    /// The tokens in force for `rule`, and their members as written.
    fn naming(&self, rule: &str) -> Option<(Vec<Box<str>>, String)> {
        let hits: Vec<usize> = (0..self.tokens.len())
            .filter(|&i| self.rules[i].iter().any(|r| &**r == rule))
            .collect();
        if hits.is_empty() {
            return None;
        }
        let tokens = hits.iter().map(|&i| self.tokens[i].clone()).collect();
        let written = hits
            .iter()
            .map(|&i| self.written[i].as_str())
            .collect::<Vec<_>>()
            .join(", ");
        Some((tokens, written))
    }

    /// Whether `rule` (lower case) is in force for the agent.
    pub fn has(&self, rule: &str) -> bool {
        self.naming(rule).is_some()
    }

    fn add(&mut self, token: &str, rules: Vec<Box<str>>, written: String) {
        match self
            .tokens
            .iter()
            .position(|t| t.eq_ignore_ascii_case(token))
        {
            Some(i) => {
                for rule in rules {
                    if !self.rules[i].contains(&rule) {
                        self.rules[i].push(rule);
                    }
                }
                self.written[i].push_str(", ");
                self.written[i].push_str(&written);
            }
            None => {
                self.tokens.push(token.into());
                self.rules.push(rules);
                self.written.push(written);
            }
        }
    }
}

/// Why a `Robots-Tag` field could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Longer than [`PARSE_LIMIT`]; the length in bytes.
    TooLong(usize),
    /// Neither a Structured List nor `X-Robots-Tag` syntax.
    Malformed,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreadable::TooLong(len) => write!(
                f,
                "the field is {len} bytes, over the {PARSE_LIMIT}-byte parse limit (draft-illyes-repext-03 §3.1.1); what it reserves is unknown"
            ),
            Unreadable::Malformed => f.write_str(
                "neither a structured-field list (draft-illyes-repext-03 §3.1.1) nor X-Robots-Tag syntax; what it reserves is unknown",
            ),
        }
    }
}

/// What one `Robots-Tag` field says to one agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RobotsTag {
    /// A Structured List (`lenient`: only after lowercasing and dropping empty parameters).
    Structured {
        /// The members for `*` and for the agent.
        scoped: Scoped,
        /// Whether the field needed the lenient second reading.
        lenient: bool,
    },
    /// Not a Structured List, but `X-Robots-Tag` syntax (`otherbot: noai`): read that way.
    Legacy,
    /// Unreadable: what it says is unknown.
    Unreadable(Unreadable),
}

impl RobotsTag {
    /// Reads one field (all `Robots-Tag` lines joined, see [`field`]) for `agent`.
    pub fn read(field: &str, agent: &str) -> RobotsTag {
        if field.len() > PARSE_LIMIT {
            return RobotsTag::Unreadable(Unreadable::TooLong(field.len()));
        }
        if let Some(scoped) = parse_list(field, agent) {
            return RobotsTag::Structured {
                scoped,
                lenient: false,
            };
        }
        if let Some(scoped) = parse_list(&lenient(field), agent) {
            return RobotsTag::Structured {
                scoped,
                lenient: true,
            };
        }
        if is_legacy_syntax(field) {
            return RobotsTag::Legacy;
        }
        RobotsTag::Unreadable(Unreadable::Malformed)
    }
}

/// The `Robots-Tag` field from its lines: the non-empty ones joined with `, ` (RFC 9110
/// §5.3), or `None` when there is none.
pub fn field<'a>(lines: impl Iterator<Item = &'a str>) -> Option<String> {
    let lines: Vec<&str> = lines
        .map(|l| l.trim_matches([' ', '\t']))
        .filter(|l| !l.is_empty())
        .collect();
    (!lines.is_empty()).then(|| lines.join(", "))
}

/// The refusal for training that the `Robots-Tag` lines `lines` give `agent`, if any:
/// `tags.noai`, `tags.noimageai` (for an `image`), or `tags.unreadable`. The reason's source
/// is `header Robots-Tag`; its rule the deciding members (`*;noai`) and its agents their
/// tokens, or the whole field when it was read as `X-Robots-Tag` syntax.
pub fn training_refusal<'a>(
    lines: impl Iterator<Item = &'a str>,
    agent: &str,
    image: bool,
) -> Option<Reason> {
    let field = field(lines)?;
    let source = || Reason::new(Code::TagsNoai).with_source("header Robots-Tag");
    match RobotsTag::read(&field, agent) {
        RobotsTag::Structured { scoped, lenient } => {
            let (code, (tokens, written)) = match scoped.naming("noai") {
                Some(hit) => (Code::TagsNoai, hit),
                None if image => (Code::TagsNoimageai, scoped.naming("noimageai")?),
                None => return None,
            };
            let mut reason = Reason {
                code,
                agents: Some(tokens.into()),
                ..source().with_rule(written)
            };
            if lenient {
                reason = reason.with_detail(
                    "not a valid structured-field list; read with rule names lowercased and empty parameters dropped",
                );
            }
            Some(reason)
        }
        RobotsTag::Legacy => {
            let mut tags = AiTags::default();
            tags.read(&field, agent);
            let code = if tags.noai {
                Code::TagsNoai
            } else if tags.noimageai && image {
                Code::TagsNoimageai
            } else {
                return None;
            };
            Some(Reason {
                code,
                ..source().with_rule(field.as_str()).with_detail(
                    "not a structured-field list (draft-illyes-repext-03 §3.1.1); read as X-Robots-Tag syntax",
                )
            })
        }
        RobotsTag::Unreadable(why) => {
            let reason = Reason {
                code: Code::TagsUnreadable,
                ..source().with_detail(why.to_string())
            };
            Some(match why {
                Unreadable::TooLong(_) => reason,
                Unreadable::Malformed => reason.with_rule(field.as_str()),
            })
        }
    }
}

/// The members of `field`, parsed as a Structured List, that apply to `agent`; `None` when
/// it is not one.
fn parse_list(field: &str, agent: &str) -> Option<Scoped> {
    let list = Parser::new(field).parse::<sfv::List>().ok()?;
    let mut scoped = Scoped::default();
    for entry in list {
        // An inner list is no product token (draft §3.1.1): it scopes nothing.
        let ListEntry::Item(item) = entry else {
            continue;
        };
        let token = match &item.bare_item {
            BareItem::Token(t) => t.as_str().to_owned(),
            BareItem::String(s) => s.as_str().to_owned(),
            _ => continue,
        };
        let written = item.serialize();
        if item.params.is_empty() && RULES.iter().any(|r| r.eq_ignore_ascii_case(&token)) {
            scoped.add("*", vec![token.to_ascii_lowercase().into()], written);
            continue;
        }
        if token != "*" && !token.eq_ignore_ascii_case(agent) {
            continue;
        }
        let rules = item
            .params
            .iter()
            .filter(|(_, value)| value.as_boolean() != Some(false))
            .map(|(key, _)| Box::from(key.as_str()))
            .collect();
        scoped.add(&token, rules, written);
    }
    Some(scoped)
}

/// `field` with ASCII letters lowercased (parameter keys must be lower case, RFC 9651
/// §3.1.2) and empty parameters (`;` before `,`, `;` or the end) dropped, outside strings.
fn lenient(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            ';' => {
                let rest = chars.clone().skip_while(|c| *c == ' ' || *c == '\t');
                if !matches!(rest.clone().next(), None | Some(',' | ';')) {
                    out.push(c);
                }
            }
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// Whether `field` is in the characters of `X-Robots-Tag` values: comma-separated rules,
/// `token:` scopes, `unavailable_after` dates and `max-*` numbers. Structured-field syntax
/// (`;`, `*`, `=`, quotes, parentheses) and anything else means the field is neither.
fn is_legacy_syntax(field: &str) -> bool {
    field.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(c, ' ' | '\t' | ',' | ':' | '-' | '_' | '.' | '/' | '+')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const US: &str = "optout";

    fn refusal(lines: &[&str], image: bool) -> Option<Reason> {
        training_refusal(lines.iter().copied(), US, image)
    }

    fn code(lines: &[&str]) -> Option<&'static str> {
        refusal(lines, false).map(|r| r.code.as_str())
    }

    /// draft-illyes-repext-03 §3.1.1: `*` is the global identifier; its rules apply to us.
    #[test]
    fn draft_3_1_1_star_noai_reserves() {
        let r = refusal(&["*;noai"], false).unwrap();
        assert_eq!(r.code, Code::TagsNoai);
        assert_eq!(r.source.as_deref(), Some("header Robots-Tag"));
        assert_eq!(r.rule.as_deref(), Some("*;noai"));
        assert_eq!(r.agents.as_deref(), Some(&[Box::from("*")][..]));
        assert_eq!(r.detail, None);
        assert_eq!(code(&["*;noindex;nosnippet"]), None);
    }

    /// draft §3.1.1: a member for our product token applies (any case); one for another
    /// token does not, whatever it says.
    #[test]
    fn draft_3_1_1_members_for_us_apply_and_for_other_bots_do_not() {
        let r = refusal(&["ExampleBot;noindex, OptOut;noai"], false).unwrap();
        assert_eq!(r.rule.as_deref(), Some("OptOut;noai"));
        assert_eq!(r.agents.as_deref(), Some(&[Box::from("OptOut")][..]));
        assert_eq!(code(&["ExampleBot;noai;noindex;nofollow"]), None);
        assert_eq!(code(&["ExampleBot;noai, *;noindex"]), None);
        // Ours and the global member add up (draft §3.1.2: the sum of negative rules).
        assert_eq!(code(&["*;noindex, optout;nofollow, otherbot;noai"]), None);
        let r = refusal(&["*;noai, optout;noai"], false).unwrap();
        assert_eq!(r.agents.as_deref().map(<[_]>::len), Some(2));
    }

    /// draft §3.1.1: "If a product token appears multiple times in the field, the
    /// Parameters from all instances MUST be merged", also across lines of one field.
    #[test]
    fn draft_3_1_1_parameters_of_a_repeated_token_are_merged() {
        let r = refusal(&["optout;noindex, ExampleBot;nofollow, OPTOUT;noai"], false).unwrap();
        assert_eq!(r.code, Code::TagsNoai);
        assert_eq!(r.rule.as_deref(), Some("optout;noindex, OPTOUT;noai"));
        assert_eq!(r.agents.as_deref(), Some(&[Box::from("optout")][..]));
        assert_eq!(code(&["*;noindex", "*;noai"]), Some("tags.noai"));
        // A rule switched off in one instance stays on from another.
        assert_eq!(code(&["*;noai, *;noai=?0"]), Some("tags.noai"));
        let mut scoped = Scoped::default();
        scoped.add("*", vec!["noai".into()], "*;noai".into());
        scoped.add(
            "*",
            vec!["noai".into(), "nofollow".into()],
            "*;noai;nofollow".into(),
        );
        assert_eq!(
            scoped.rules,
            [vec![Box::from("noai"), Box::from("nofollow")]]
        );
    }

    /// RFC 9651 §3.1.2 parameters: a Boolean true is the rule (`noai`, `noai=?1`); a
    /// Boolean false is not; another value still names the rule (fail closed), and rules
    /// with values (`max-snippet=20`) do not hide the others.
    #[test]
    fn rfc9651_boolean_and_non_boolean_parameters() {
        assert_eq!(code(&["*;noai=?1"]), Some("tags.noai"));
        assert_eq!(code(&["*;noai=?0"]), None);
        assert_eq!(code(&["*;noai=1"]), Some("tags.noai"));
        assert_eq!(code(&["*;noai=\"no\""]), Some("tags.noai"));
        assert_eq!(
            code(&["*;max-snippet=20;unavailable_after=\"2026-01-01\";noai"]),
            Some("tags.noai")
        );
        assert_eq!(code(&["*;max-snippet=20"]), None);
    }

    /// `noimageai` reserves images only; `noai` everything.
    #[test]
    fn noimageai_reserves_images() {
        assert_eq!(refusal(&["*;noimageai"], false), None);
        let r = refusal(&["optout;noimageai"], true).unwrap();
        assert_eq!(r.code, Code::TagsNoimageai);
        assert_eq!(r.rule.as_deref(), Some("optout;noimageai"));
    }

    /// An `X-Robots-Tag` value moved to the new name (`Robots-Tag: noai`) parses as a list
    /// of bare tokens; a robots rule there is a rule for everyone, not a crawler's name.
    #[test]
    fn bare_rules_are_rules_for_everyone() {
        let r = refusal(&["noindex, NoAI"], false).unwrap();
        assert_eq!(r.code, Code::TagsNoai);
        // The members of the token that decided, here `*`, all named.
        assert_eq!(r.rule.as_deref(), Some("noindex, NoAI"));
        assert_eq!(code(&["optout"]), None);
        assert_eq!(code(&["otherbot, noindex"]), None);
    }

    /// A field that is not a Structured List: first leniently (case, the draft's own
    /// `ExampleBot;` example), then as `X-Robots-Tag` syntax, else unreadable and refused.
    #[test]
    fn invalid_structured_syntax_falls_back() {
        // Upper-case keys are invalid in RFC 9651 but rules are case-insensitive (§3.1.3).
        let r = refusal(&["*;NoAI"], false).unwrap();
        assert_eq!(r.code, Code::TagsNoai);
        assert!(r.detail.unwrap().contains("lowercased"));
        // The draft §3.1.1 example, with its empty parameter, reserves nothing from AI.
        assert_eq!(code(&["*;noindex;nosnippet, ExampleBot;"]), None);
        assert_eq!(
            code(&["*;noindex, ExampleBot;, optout;noai"]),
            Some("tags.noai")
        );
        // X-Robots-Tag syntax under the new name.
        let r = refusal(&["optout: noai"], false).unwrap();
        assert_eq!(r.code, Code::TagsNoai);
        assert_eq!(r.rule.as_deref(), Some("optout: noai"));
        assert!(r.detail.unwrap().contains("X-Robots-Tag syntax"));
        assert_eq!(code(&["otherbot: noai"]), None);
        assert_eq!(
            code(&["unavailable_after: Wed, 03 Dec 2025 12:00:00 GMT, noai"]),
            Some("tags.noai")
        );
        // Neither: unknown, so refused, and the record says why.
        for bad in [
            "*;noai,,",
            "(noai",
            "*;=noai",
            "\"unterminated",
            "*;noai\u{e9}",
        ] {
            let r = refusal(&[bad], false).unwrap_or_else(|| panic!("{bad:?}"));
            assert_eq!(r.code, Code::TagsUnreadable, "{bad:?}");
            assert_eq!(r.rule.as_deref(), Some(bad));
            assert!(r.detail.unwrap().contains("neither"), "{bad:?}");
        }
    }

    /// draft §3.1.1: the parse limit "MUST be at least 8 kibibytes". A field up to 8 KiB is
    /// read whole (a reservation at its end counts); a longer one is not cut but unreadable,
    /// and refused: a cut could drop the member that reserves.
    #[test]
    fn draft_3_1_1_parse_limit_of_8_kib() {
        let pad = |len: usize| format!("otherbot;x={}", "a".repeat(len));
        let tail = ", *;noai";
        let field = pad(PARSE_LIMIT - tail.len() - "otherbot;x=".len()) + tail;
        assert_eq!(field.len(), PARSE_LIMIT);
        assert_eq!(code(&[&field]), Some("tags.noai"));
        let field = pad(PARSE_LIMIT - "otherbot;x=".len()) + ", *;noindex";
        let r = refusal(&[&field], false).unwrap();
        assert_eq!(r.code, Code::TagsUnreadable);
        assert_eq!(
            r.rule, None,
            "an over-long field is not copied into the record"
        );
        assert!(r.detail.unwrap().contains("parse limit"));
        // The limit is on the field: lines joined.
        let half = "a".repeat(PARSE_LIMIT / 2);
        assert_eq!(code(&[&half, &half]), Some("tags.unreadable"));
    }

    /// A decision on a response with `headers`, for training, through the one judge every
    /// caller (fetch, crawl, middleware, `check --header`, service, Python) uses.
    fn judged(headers: &[(&str, &str)]) -> crate::Decision {
        use crate::crawlers::AiCrawlers;
        use crate::excluded::ExcludedDomains;
        use crate::judge::{Asset, Judge};
        use crate::site::SitePolicy;
        use crate::{Purpose, RobotsTxt, parse_url};
        let excluded = ExcludedDomains::default();
        let judge = Judge {
            agent: US,
            purpose: Purpose::TrainAi,
            excluded: &excluded,
            ai_crawler_blocks: true,
        };
        let robots = RobotsTxt::parse(b"User-agent: *\nAllow: /\n");
        let site = SitePolicy::new(Some(robots), None, None, &AiCrawlers::default());
        let asset = Asset {
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            meta: None,
        };
        judge.decide(&site, Some(&asset), &parse_url("https://e.com/a").unwrap())
    }

    fn sources(decision: &crate::Decision) -> Vec<(&'static str, String)> {
        decision
            .reasons
            .iter()
            .map(|r| {
                (
                    r.code.as_str(),
                    r.source.as_deref().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }

    /// draft §3.1.1 keeps `X-Robots-Tag` supported: with both headers, a reservation in
    /// either reserves, and each reason names the header that gave it.
    #[test]
    fn draft_3_1_1_both_headers_either_reserves() {
        let rt = ("tags.noai", "header Robots-Tag".to_owned());
        let xrt = ("tags.noai", "header X-Robots-Tag".to_owned());
        let d = judged(&[("X-Robots-Tag", "noai"), ("Robots-Tag", "*;noindex")]);
        assert!(!d.is_allowed());
        assert_eq!(sources(&d)[0], xrt);
        let d = judged(&[("x-robots-tag", "all"), ("robots-tag", "*;noai")]);
        assert!(!d.is_allowed());
        assert_eq!(sources(&d)[0], rt);
        let d = judged(&[("X-Robots-Tag", "noai"), ("Robots-Tag", "optout;noai")]);
        assert_eq!(sources(&d)[..2], [rt, xrt]);
        let d = judged(&[
            ("X-Robots-Tag", "otherbot: noai"),
            ("Robots-Tag", "otherbot;noai"),
        ]);
        assert!(d.is_allowed(), "{d:?}");
        let d = judged(&[("Robots-Tag", "*;noai,,"), ("X-Robots-Tag", "all")]);
        assert!(!d.is_allowed());
        assert_eq!(d.reasons[0].code, Code::TagsUnreadable);
    }

    /// Empty lines are no field; lines of one field are joined with commas.
    #[test]
    fn lines_join_into_one_field() {
        assert_eq!(field(["", " \t"].into_iter()), None);
        assert_eq!(
            field(["*;noindex", "", "optout;noai "].into_iter()).as_deref(),
            Some("*;noindex, optout;noai")
        );
        assert_eq!(code(&[""]), None);
    }

    /// The lenient reading never touches strings.
    #[test]
    fn lenient_keeps_strings() {
        assert_eq!(lenient("A;B;, \"X;\\\";\";C"), "a;b, \"X;\\\";\";c");
    }

    proptest! {
        /// Arbitrary header bytes (decoded lossily, as the fetcher does) never panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..9000)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = training_refusal(std::iter::once(&*text), US, true);
            let _ = RobotsTag::read(&text, US);
            let _ = lenient(&text);
        }

        /// Text made of structured-field punctuation never panics, and is either read or
        /// refused as unreadable: never silently nothing when it is unreadable.
        #[test]
        fn structured_punctuation_never_panics(text in "[*;=?,:() \"\\\\a-zA-Z0-9é-]{0,64}") {
            let read = RobotsTag::read(&text, US);
            let refusal = training_refusal(std::iter::once(text.as_str()), US, false);
            if matches!(read, RobotsTag::Unreadable(_)) {
                prop_assert_eq!(refusal.map(|r| r.code), Some(Code::TagsUnreadable));
            }
        }
    }
}
