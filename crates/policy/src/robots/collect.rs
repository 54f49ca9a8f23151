//! Collects `robotstxt` parse events into groups, rules and non-standard lines.
//!
//! The crate is used only as the line parser: it finds keys (with Google's leniencies for
//! typos such as `disalow`, a missing colon, any case) and emits one event per line. Group
//! structure is decided here, by RFC 9309 §2.1 and §2.2.4: a group is one or more
//! `User-agent` lines followed by rules, ended only by a `User-agent` line that comes after a
//! rule. `Sitemap`, `Crawl-delay` and unknown lines never end a group.

use super::input::lines;
use robotstxt::RobotsParseHandler;
use robotstxt::parser::{RobotsTxtParser, escape_pattern};

/// One `User-agent` line's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AgentLine {
    /// `*` (also `* anything`, as Google reads it): the global group.
    Global,
    /// The product token read from the value, lower-cased; empty when the value starts with
    /// a character a product token cannot contain (RFC 9309 §2.2.1).
    Token(Box<str>),
}

impl AgentLine {
    /// Reads a `User-agent` value as Google's parser does: `*` followed by nothing or by
    /// whitespace is global; otherwise the product token is the leading run of letters, `_`
    /// and `-` (RFC 9309 §2.2.1), so `FooBot/2.1` names `foobot`.
    pub(crate) fn read(value: &str) -> AgentLine {
        let mut chars = value.chars();
        if chars.next() == Some('*') && chars.next().is_none_or(char::is_whitespace) {
            return AgentLine::Global;
        }
        let end = value
            .find(|c: char| !(c.is_ascii_alphabetic() || c == '-' || c == '_'))
            .unwrap_or(value.len());
        AgentLine::Token(value[..end].to_ascii_lowercase().into())
    }
}

pub(crate) struct RawRule {
    pub(crate) allow: bool,
    pub(crate) line: u32,
    /// The pattern as text (a line that is not UTF-8 decoded as Windows-1252).
    pub(crate) pattern: String,
    /// For a line that is not UTF-8, the pattern's octets as the file has them, when they
    /// are not ASCII (and so differ from the text's UTF-8).
    pub(crate) octets: Option<Vec<u8>>,
}

#[derive(Default)]
pub(crate) struct RawGroup {
    /// `(line, value as written, how it reads)`.
    pub(crate) agents: Vec<(u32, String, AgentLine)>,
    pub(crate) rules: Vec<RawRule>,
    /// `(line, seconds)` of each valid `Crawl-delay`.
    pub(crate) crawl_delays: Vec<(u32, f64)>,
}

/// A line the robots.txt protocol does not define, kept for later readers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionLine {
    /// 1-based line number.
    pub line: u32,
    /// The key as written (e.g. `Content-Usage`).
    pub key: Box<str>,
    /// The value, trimmed, comment removed.
    pub value: Box<str>,
    /// The index of the group the line stands in, if any (see [`super::RobotsTxt::groups`]).
    pub group: Option<usize>,
}

#[derive(Default)]
pub(crate) struct Collected {
    pub(crate) groups: Vec<RawGroup>,
    pub(crate) sitemaps: Vec<(u32, String)>,
    pub(crate) extensions: Vec<ExtensionLine>,
    pub(crate) rules_outside_groups: u32,
}

pub(crate) struct Collector<'t> {
    /// The lines not yet reached by the parser, and the number of the next one: the crate
    /// emits events in line order, so a forward cursor finds each event's line.
    lines: Box<dyn Iterator<Item = &'t str> + 't>,
    next_line: u32,
    /// A rule has been seen since the last `User-agent` line: the next one starts a group.
    in_rules: bool,
    /// The lines decoded as Windows-1252 (sorted).
    bridged: &'t [u32],
    pub(crate) out: Collected,
}

impl<'t> Collector<'t> {
    pub(crate) fn new(text: &'t str, bridged: &'t [u32]) -> Self {
        Collector {
            lines: Box::new(lines(text)),
            next_line: 1,
            in_rules: false,
            bridged,
            out: Collected::default(),
        }
    }

    /// The octets `value` had in the file, when its line was decoded as Windows-1252 and it
    /// is not ASCII. That decoding maps each octet to its own character, so encoding back
    /// restores them exactly.
    fn octets(&self, line: u32, value: &str) -> Option<Vec<u8>> {
        if value.is_ascii() || self.bridged.binary_search(&line).is_err() {
            return None;
        }
        let (octets, _, unmappable) = encoding_rs::WINDOWS_1252.encode(value);
        (!unmappable).then(|| octets.into_owned())
    }

    /// The value of line `line_num` as written, before the crate's escaping (which drops the
    /// two octets after a `%` that does not start a valid escape). Percent-encoding is
    /// normalised later, by RFC 9309 §2.2.2, in [`super::canonical`].
    fn raw_value(&mut self, line_num: u32, escaped: &str) -> String {
        let mut line = "";
        while self.next_line <= line_num {
            line = self.lines.next().unwrap_or("");
            self.next_line += 1;
        }
        let (_, value, ok) = RobotsTxtParser::<Collector>::parse_key_value(line);
        debug_assert!(
            ok && escape_pattern(value) == escaped,
            "line {line_num} out of step with robotstxt"
        );
        if ok { value } else { escaped }.to_owned()
    }

    fn rule(&mut self, line: u32, escaped: &str, allow: bool) {
        if self.out.groups.is_empty() {
            // RFC 9309 §2.2.2: "The crawler SHOULD ignore "disallow" and "allow" rules that
            // are not in any group".
            self.out.rules_outside_groups += 1;
            return;
        }
        let pattern = self.raw_value(line, escaped);
        let octets = self.octets(line, &pattern);
        self.in_rules = true;
        if let Some(group) = self.out.groups.last_mut() {
            group.rules.push(RawRule {
                allow,
                line,
                pattern,
                octets,
            });
        }
    }

    fn current_group(&self) -> Option<usize> {
        self.out.groups.len().checked_sub(1)
    }
}

impl RobotsParseHandler for Collector<'_> {
    fn handle_robots_start(&mut self) {}

    fn handle_robots_end(&mut self) {}

    fn handle_user_agent(&mut self, line_num: u32, user_agent: &str) {
        if self.in_rules || self.out.groups.is_empty() {
            self.out.groups.push(RawGroup::default());
            self.in_rules = false;
        }
        if let Some(group) = self.out.groups.last_mut() {
            let reading = AgentLine::read(user_agent);
            group
                .agents
                .push((line_num, user_agent.to_owned(), reading));
        }
    }

    fn handle_allow(&mut self, line_num: u32, value: &str) {
        self.rule(line_num, value, true);
    }

    fn handle_disallow(&mut self, line_num: u32, value: &str) {
        self.rule(line_num, value, false);
    }

    fn handle_sitemap(&mut self, line_num: u32, value: &str) {
        self.out.sitemaps.push((line_num, value.to_owned()));
    }

    fn handle_unknown_action(&mut self, line_num: u32, action: &str, escaped: &str) {
        let group = self.current_group();
        // The crate escapes unknown values as if they were paths; keep them as written.
        let raw = self.raw_value(line_num, escaped);
        let value = raw.as_str();
        if action.eq_ignore_ascii_case("crawl-delay") {
            let seconds = value
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0);
            if let (Some(seconds), Some(g)) = (seconds, group) {
                self.out.groups[g].crawl_delays.push((line_num, seconds));
                return;
            }
        }
        self.out.extensions.push(ExtensionLine {
            line: line_num,
            key: action.into(),
            value: value.into(),
            group,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::AgentLine;

    #[test]
    fn google_star_followed_by_space_is_global() {
        assert_eq!(AgentLine::read("*"), AgentLine::Global);
        assert_eq!(AgentLine::read("* foo"), AgentLine::Global);
        assert_eq!(AgentLine::read("*foo"), AgentLine::Token("".into()));
    }

    #[test]
    fn rfc9309_product_token_is_letters_underscore_hyphen() {
        assert_eq!(
            AgentLine::read("FooBot/2.1"),
            AgentLine::Token("foobot".into())
        );
        assert_eq!(AgentLine::read("Foo Bar"), AgentLine::Token("foo".into()));
        assert_eq!(AgentLine::read("AB42bot"), AgentLine::Token("ab".into()));
        assert_eq!(
            AgentLine::read("Google-Extended"),
            AgentLine::Token("google-extended".into())
        );
    }
}
