//! Differential tests for `optout::policy::RobotsTxt`.
//!
//! 1. [`reference`] is a deliberately simple implementation of the robots.txt semantics that
//!    optout promises (RFC 9309, read with Google's line parser), written from their
//!    description and not from optout's code. Every file is decided by both on URLs made from
//!    the file's own rules, for product tokens the file names and a few fixed ones; they must
//!    agree on the verdict, the reason code and the deciding line.
//! 2. The `robotstxt` crate's `DefaultMatcher` decides part of the same inputs, and every
//!    disagreement with optout is put in a class with a known cause; the rest are printed.
//! 3. The crate's known bugs, on literal inputs.
//! 4. The reference on literal inputs, one per point of the semantics, and optout beside it.
//! 5. Small random files made of the tricky parts of the syntax (proptest, fixed seed).
//!
//! A disagreement between optout and the reference is a bug in one of them: the reference
//! follows the semantics as written, and is not to be bent to agree with optout.
//!
//! Inputs: `tests/data/robots/` always, and `../shared/corpus/robots/` when it is there.
//! `cargo test --test differential -- --nocapture` shows the counts.

use optout::policy::{Code, Decision, RobotsTxt, Verdict};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use reference::{Outcome, Robots};
use robotstxt::DefaultMatcher;
use robotstxt::matcher::{LongestMatchRobotsMatchStrategy, RobotsMatchStrategy};
use std::cell::{Cell, OnceCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;
use url::{Position, Url};

const SAMPLE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/robots");
const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/robots");

/// URLs per file, and fixed agents (`optout` is named by no file, so it falls to `*`).
const MAX_URLS: usize = 300;
const MAX_AGENTS: usize = 8;
const FIXED_AGENTS: [&str; 4] = ["optout", "GPTBot", "CCBot", "Googlebot"];
const FIXED_PATHS: &[&str] = &[
    "/",
    "/robots.txt",
    "/robots.txt?x=1",
    "/ROBOTS.TXT",
    "/robots.txt.bak",
    "/index.html",
    "/x",
    "/search?q=fish",
    "/admin/",
    "/wp-admin/admin-ajax.php",
    "/~user/",
    "/%7Euser/",
    "/a%2fb",
    "/caf%C3%A9",
    "/café",
    "/100%",
];

/// The `DefaultMatcher` re-parses the whole file for every query, so it gets fewer.
const DM_URLS: usize = 60;
const DM_MAX_FILE: usize = 1 << 20;

/// The semantics that optout must implement, as simply as they can be written: no care for
/// speed beyond compiling each pattern once.
mod reference {
    use regex::bytes::{Regex, RegexBuilder};
    use std::cmp::Reverse;
    use url::{Position, Url};

    pub const PARSE_LIMIT: usize = 524_288;
    pub const MAX_LINE_BYTES: usize = 16_662;

    /// What decided, in the terms of optout's reason codes.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Outcome {
        ImplicitAllow,
        NoGroup,
        NoMatch,
        Rule { allow: bool, line: u32 },
    }

    impl Outcome {
        pub fn allowed(self) -> bool {
            !matches!(self, Outcome::Rule { allow: false, .. })
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Kind {
        UserAgent,
        Allow,
        Disallow,
        Other,
    }

    pub struct Rule {
        pub allow: bool,
        pub line: u32,
        /// The value as written (trimmed, comment removed).
        pub value: String,
        /// On a line that is not UTF-8, the value's octets in the file (when not ASCII).
        pub octets: Option<Vec<u8>>,
        priority: usize,
        /// `None` for the empty pattern, which matches nothing. Strict form.
        regex: Option<Regex>,
        /// The pattern in the loose form (reserved escapes decoded), for `Disallow` rules.
        loose: Option<Regex>,
        /// For a value with a `%` that starts no escape: Google's form (nothing decoded).
        google: Option<Regex>,
        /// For a `Disallow` with `octets`: the value read as text (Windows-1252 in UTF-8).
        bridged: Option<Box<Rule>>,
    }

    fn regex_of(pieces: &[Vec<u8>], anchored: bool, value: &str) -> Regex {
        let escaped: Vec<String> = pieces
            .iter()
            .map(|p| regex::escape(std::str::from_utf8(p).expect("canonical is ASCII")))
            .collect();
        let end = if anchored { "$" } else { "" };
        let source = format!("(?s-u)^{}{end}", escaped.join(".*"));
        RegexBuilder::new(&source)
            .size_limit(1 << 28)
            .build()
            .unwrap_or_else(|e| panic!("pattern {value:?}: {e}"))
    }

    impl Rule {
        pub fn new(allow: bool, line: u32, value: &str) -> Rule {
            Rule::of_octets(allow, line, value, value.as_bytes())
        }

        /// A rule of a line that was not UTF-8: `octets` are its value in the file. A
        /// `Disallow` is read both as those octets and as `value` (their Windows-1252
        /// text); an `Allow` only as the octets.
        pub fn bridged(allow: bool, line: u32, value: &str, octets: Vec<u8>) -> Rule {
            let mut rule = Rule::of_octets(allow, line, value, &octets);
            if !allow {
                let text = Rule::new(allow, line, value);
                rule.priority = rule.priority.max(text.priority);
                rule.bridged = Some(Box::new(text));
            }
            rule.octets = Some(octets);
            rule
        }

        fn of_octets(allow: bool, line: u32, value: &str, octets: &[u8]) -> Rule {
            let (body, anchored) = match octets.strip_suffix(b"$") {
                Some(body) => (body, true),
                None => (octets, false),
            };
            let split = || body.split(|&b| b == b'*');
            // RFC 9309 §2.2.3: `%2A` / `%24` in a pattern are a literal `*` / `$`.
            let pieces: Vec<Vec<u8>> = split()
                .map(|p| {
                    let text = String::from_utf8(strict(p)).expect("ASCII");
                    text.replace("%2A", "*").replace("%24", "$").into_bytes()
                })
                .collect();
            let loose_pieces: Vec<Vec<u8>> = split().map(canonical).collect();
            let google_pieces: Vec<Vec<u8>> = split().map(google).collect();
            let literal: usize = pieces.iter().map(Vec::len).sum();
            let priority = literal + (pieces.len() - 1) + usize::from(anchored);
            let regex = (!value.is_empty()).then(|| regex_of(&pieces, anchored, value));
            let loose =
                (!value.is_empty() && !allow).then(|| regex_of(&loose_pieces, anchored, value));
            let google = stray_percent(body).then(|| regex_of(&google_pieces, anchored, value));
            let value = value.to_owned();
            Rule {
                allow,
                line,
                value,
                octets: None,
                priority,
                regex,
                loose,
                google,
                bridged: None,
            }
        }

        /// Whether the rule matches the path in its strict, loose and Google forms. A
        /// `Disallow` matches in any form and any reading; an `Allow` in the strict form,
        /// and with a stray `%` also in Google's.
        pub fn matches_forms(&self, path: &[u8], loose_path: &[u8], google_path: &[u8]) -> bool {
            let strict = self.regex.as_ref().is_some_and(|r| r.is_match(path));
            let google = self.google.as_ref().map(|r| r.is_match(google_path));
            if self.allow {
                return strict && google.unwrap_or(true);
            }
            strict
                || google == Some(true)
                || self.loose.as_ref().is_some_and(|r| r.is_match(loose_path))
                || self
                    .bridged
                    .as_ref()
                    .is_some_and(|b| b.matches_forms(path, loose_path, google_path))
        }

        /// Whether the rule matches `path`, in the loose form (used to classify).
        pub fn matches(&self, path: &[u8]) -> bool {
            self.loose
                .as_ref()
                .or(self.regex.as_ref())
                .is_some_and(|r| r.is_match(path))
        }

        /// Longest match; `Allow` wins a tie; then the earlier line.
        fn beats(&self, other: &Rule) -> bool {
            (self.priority, self.allow, Reverse(self.line))
                > (other.priority, other.allow, Reverse(other.line))
        }
    }

    #[derive(Default)]
    pub struct Group {
        pub global: bool,
        /// Product tokens, lower-cased, in file order.
        pub tokens: Vec<String>,
        pub rules: Vec<Rule>,
    }

    pub struct Robots {
        pub groups: Vec<Group>,
    }

    /// The RFC 9309 form: decodes `%XX` only for unreserved octets, keeps other valid escapes
    /// (upper-case), writes raw unreserved and reserved octets literally and every other raw
    /// octet as upper-case `%XX`.
    pub fn strict(input: &[u8]) -> Vec<u8> {
        const RESERVED: &[u8] = b":/?#[]@!$&'()*+,;=";
        let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
        let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
        let mut out = Vec::with_capacity(input.len());
        let mut i = 0;
        while i < input.len() {
            match (input[i], hex(input.get(i + 1)), hex(input.get(i + 2))) {
                (b'%', Some(hi), Some(lo)) => {
                    let octet = (hi * 16 + lo) as u8;
                    if unreserved(octet) {
                        out.push(octet);
                    } else {
                        out.extend_from_slice(format!("%{octet:02X}").as_bytes());
                    }
                    i += 3;
                }
                (b, _, _) => {
                    if unreserved(b) || RESERVED.contains(&b) {
                        out.push(b);
                    } else {
                        out.extend_from_slice(format!("%{b:02X}").as_bytes());
                    }
                    i += 1;
                }
            }
        }
        out
    }

    /// The loose form: percent-decodes every valid `%XX`, then writes RFC 3986 unreserved and
    /// reserved octets literally and every other octet as upper-case `%XX`.
    pub fn canonical(input: &[u8]) -> Vec<u8> {
        const LITERAL: &[u8] = b"-._~:/?#[]@!$&'()*+,;=";
        let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
        let mut out = Vec::with_capacity(input.len());
        let mut i = 0;
        while i < input.len() {
            let (octet, width) = match (input[i], hex(input.get(i + 1)), hex(input.get(i + 2))) {
                (b'%', Some(hi), Some(lo)) => ((hi * 16 + lo) as u8, 3),
                (b, _, _) => (b, 1),
            };
            if octet.is_ascii_alphanumeric() || LITERAL.contains(&octet) {
                out.push(octet);
            } else {
                out.extend_from_slice(format!("%{octet:02X}").as_bytes());
            }
            i += width;
        }
        out
    }

    /// Google's form: nothing decoded; octets outside ASCII written as upper-case `%XX`,
    /// valid escapes upper-cased.
    pub fn google(input: &[u8]) -> Vec<u8> {
        let hex = |b: Option<&u8>| b.is_some_and(u8::is_ascii_hexdigit);
        let mut out = Vec::with_capacity(input.len());
        let mut i = 0;
        while i < input.len() {
            if input[i] == b'%' && hex(input.get(i + 1)) && hex(input.get(i + 2)) {
                out.extend(input[i..i + 3].to_ascii_uppercase());
                i += 3;
                continue;
            }
            if input[i] >= 0x80 {
                out.extend_from_slice(format!("%{:02X}", input[i]).as_bytes());
            } else {
                out.push(input[i]);
            }
            i += 1;
        }
        out
    }

    /// A `%` not followed by two hex digits.
    pub fn stray_percent(input: &[u8]) -> bool {
        (0..input.len()).any(|i| {
            input[i] == b'%'
                && !input
                    .get(i + 1..i + 3)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
        })
    }

    /// The lines the parser reads (see [`decoded_lines`]).
    pub fn lines(bytes: &[u8]) -> Vec<String> {
        decoded_lines(bytes).into_iter().map(|(l, _)| l).collect()
    }

    /// The lines the parser reads: parse limit, BOM prefix, CR / LF / CRLF, each line as
    /// UTF-8 or, when it is not UTF-8, as Windows-1252 (then `true`), over-long lines cut at
    /// a character boundary.
    pub fn decoded_lines(bytes: &[u8]) -> Vec<(String, bool)> {
        let mut bytes = bytes;
        if bytes.len() > PARSE_LIMIT {
            let head = &bytes[..PARSE_LIMIT];
            let keep = head.iter().rposition(|&b| b == b'\n' || b == b'\r');
            bytes = &head[..keep.map_or(0, |i| i + 1)];
        }
        let bom = bytes
            .iter()
            .zip([0xEF, 0xBB, 0xBF])
            .take_while(|(a, b)| **a == *b)
            .count();
        let mut raw_lines: Vec<&[u8]> = Vec::new();
        let mut rest = &bytes[bom..];
        loop {
            match rest.iter().position(|&b| b == b'\r' || b == b'\n') {
                Some(end) => {
                    raw_lines.push(&rest[..end]);
                    let crlf = rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n');
                    rest = &rest[end + 1 + usize::from(crlf)..];
                }
                None => {
                    raw_lines.push(rest);
                    break;
                }
            }
        }
        let mut lines: Vec<(String, bool)> = raw_lines
            .into_iter()
            .map(|raw| match std::str::from_utf8(raw) {
                Ok(text) => (text.to_owned(), false),
                Err(_) => {
                    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw);
                    (text.into_owned(), true)
                }
            })
            .collect();
        // A BOM mangled through Latin-1 (`ï»¿`) is skipped too, character by character.
        let first = &mut lines[0].0;
        let mojibake: usize = ['\u{EF}', '\u{BB}', '\u{BF}']
            .iter()
            .zip(first.chars())
            .take_while(|(a, b)| **a == *b)
            .map(|(_, c)| c.len_utf8())
            .sum();
        first.drain(..mojibake);
        for (line, _) in &mut lines {
            let mut end = line.len().min(MAX_LINE_BYTES);
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            line.truncate(end);
        }
        lines
    }

    /// Whitespace for trimming: Unicode whitespace (U+00A0, U+3000, ...), as the robotstxt
    /// crate trims. Trailing no-break spaces pasted after a path are not part of the rule.
    fn is_space(c: char) -> bool {
        c.is_whitespace()
    }

    /// Key and value of one line, or `None` when the line says nothing.
    pub fn key_value(line: &str) -> Option<(&str, &str)> {
        let line = line.split('#').next().unwrap_or("").trim_matches(is_space);
        let (key, value) = match line.split_once(':') {
            Some(pair) => pair,
            None => match line
                .split([' ', '\t'])
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()[..]
            {
                [key, value] => (key, value),
                _ => return None,
            },
        };
        let key = key.trim_matches(is_space);
        (!key.is_empty()).then(|| (key, value.trim_matches(is_space)))
    }

    pub fn kind(key: &str) -> Kind {
        let key = key.to_lowercase();
        let any = |prefixes: &[&str]| prefixes.iter().any(|p| key.starts_with(p));
        if any(&["user-agent", "useragent", "user agent"]) {
            Kind::UserAgent
        } else if any(&["allow"]) {
            Kind::Allow
        } else if any(&[
            "disallow",
            "dissallow",
            "dissalow",
            "disalow",
            "diasllow",
            "disallaw",
        ]) {
            Kind::Disallow
        } else {
            Kind::Other
        }
    }

    /// `None` for the global `*`, else the product token (possibly empty), lower-cased.
    fn agent(value: &str) -> Option<String> {
        if value
            .strip_prefix('*')
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(is_space))
        {
            return None;
        }
        let token = value
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '_' || *c == '-');
        Some(token.collect::<String>().to_ascii_lowercase())
    }

    impl Robots {
        pub fn parse(bytes: &[u8]) -> Robots {
            let mut groups: Vec<Group> = Vec::new();
            let mut rule_seen = false;
            for (index, (line, bridged)) in decoded_lines(bytes).iter().enumerate() {
                let Some((key, value)) = key_value(line) else {
                    continue;
                };
                let kind = kind(key);
                match kind {
                    Kind::UserAgent => {
                        if rule_seen || groups.is_empty() {
                            groups.push(Group::default());
                            rule_seen = false;
                        }
                        let group = groups.last_mut().expect("pushed above");
                        match agent(value) {
                            None => group.global = true,
                            Some(token) if !token.is_empty() => group.tokens.push(token),
                            Some(_) => {}
                        }
                    }
                    Kind::Allow | Kind::Disallow => {
                        if let Some(group) = groups.last_mut() {
                            let line = index as u32 + 1;
                            let allow = kind == Kind::Allow;
                            let rule = if *bridged && !value.is_ascii() {
                                let (octets, _, _) = encoding_rs::WINDOWS_1252.encode(value);
                                Rule::bridged(allow, line, value, octets.into_owned())
                            } else {
                                Rule::new(allow, line, value)
                            };
                            group.rules.push(rule);
                            rule_seen = true;
                        }
                    }
                    Kind::Other => {}
                }
            }
            Robots { groups }
        }

        /// The groups that name `agent`, else the global groups; empty when none applies.
        pub fn select(&self, agent: &str) -> Vec<usize> {
            let agent = agent.to_lowercase();
            let indices = 0..self.groups.len();
            let named: Vec<usize> = indices
                .clone()
                .filter(|&g| self.groups[g].tokens.contains(&agent))
                .collect();
            if !named.is_empty() {
                return named;
            }
            indices.filter(|&g| self.groups[g].global).collect()
        }

        pub fn rules<'a>(&'a self, selected: &'a [usize]) -> impl Iterator<Item = &'a Rule> + 'a {
            selected.iter().flat_map(|&g| &self.groups[g].rules)
        }

        pub fn decide(&self, selected: &[usize], url: &Url) -> Outcome {
            // `/robots.tx%74` is the same path; `/robots.txt%3F` is not.
            if strict(url.path().as_bytes()) == b"/robots.txt" {
                return Outcome::ImplicitAllow;
            }
            if selected.is_empty() {
                return Outcome::NoGroup;
            }
            let path_query = &url[Position::BeforePath..Position::AfterQuery];
            let path = strict(path_query.as_bytes());
            let loose_path = canonical(path_query.as_bytes());
            let google_path = google(path_query.as_bytes());
            let mut best: Option<&Rule> = None;
            for rule in self.rules(selected) {
                if rule.matches_forms(&path, &loose_path, &google_path)
                    && best.is_none_or(|b| rule.beats(b))
                {
                    best = Some(rule);
                }
            }
            best.map_or(Outcome::NoMatch, |r| Outcome::Rule {
                allow: r.allow,
                line: r.line,
            })
        }
    }
}

// ---------------------------------------------------------------------------------------
// Inputs

/// The files of `dir`, sorted by name; `None` when the directory cannot be read.
fn load(dir: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.expect("directory entry").path();
        if path.is_file() {
            let name = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            files.push((name, std::fs::read(&path).expect("read robots.txt")));
        }
    }
    files.sort();
    Some(files)
}

/// `count` items spread evenly over `items` (all of them when there are no more).
fn spread<T: Clone>(items: &[T], count: usize) -> Vec<T> {
    if items.len() <= count {
        return items.to_vec();
    }
    (0..count)
        .map(|i| items[i * items.len() / count].clone())
        .collect()
}

/// Paths that probe one rule's value: its literal prefix and a bit past it, the wildcard
/// filled in, with and without the end anchor, other extensions, queries and spellings.
fn probe_paths(value: &str, out: &mut Vec<String>) {
    let body = value.strip_suffix('$').unwrap_or(value);
    let prefix = body.split('*').next().unwrap_or("");
    let plain = body.replace('*', "");
    let filled = body.replace('*', "abc/def");
    out.extend([
        prefix.to_owned(),
        format!("{prefix}x"),
        format!("{prefix}/deeper/page.html"),
        plain.clone(),
        filled.clone(),
        value.replace('*', ""), // a trailing `$` as a literal octet
        format!("{plain}abc"),
        format!("{prefix}file.html"),
        format!("{filled}.pdf"),
        format!("{plain}?a=1"),
        format!("{prefix}?id=fish"),
        format!("{filled}?a=1"),
    ]);
    // One unreserved octet percent-encoded, in upper- and lower-case hex.
    if let Some(i) = plain.rfind(|c: char| c.is_ascii_alphanumeric() || "-._~".contains(c)) {
        let encoded = format!("%{:02X}", plain.as_bytes()[i]);
        out.push(format!("{}{}{}", &plain[..i], encoded, &plain[i + 1..]));
        out.push(format!(
            "{}{}{}",
            &plain[..i],
            encoded.to_lowercase(),
            &plain[i + 1..]
        ));
    }
    // A reserved octet encoded.
    if let Some(i) = plain.get(1..).and_then(|rest| rest.find('/')) {
        out.push(format!("{}%2F{}", &plain[..=i], &plain[i + 2..]));
    }
    if plain.contains('%') {
        out.push(lower_escapes(&plain));
        out.push(plain.replace('%', "%25"));
        if let Ok(decoded) = String::from_utf8(percent_decode(plain.as_bytes())) {
            out.push(decoded); // non-ASCII (and reserved octets) raw
        }
    }
    if !plain.is_ascii() {
        let mut encoded = String::new();
        for b in plain.bytes() {
            match b {
                0x80.. => encoded.push_str(&format!("%{b:02x}")),
                _ => encoded.push(b as char),
            }
        }
        out.push(encoded);
    }
}

fn lower_escapes(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && b.get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
        {
            out.push_str(&s[i..i + 3].to_lowercase());
            i += 3;
        } else {
            let c = s[i..].chars().next().expect("char boundary");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn percent_decode(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(v) if b[i] == b'%' => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    out
}

/// The URLs tried for one file: fixed paths, then paths probing its rules (evenly spread).
fn urls_for(robots: &Robots) -> Vec<Url> {
    let mut seen = HashSet::new();
    let mut to_url = |path: &str| {
        let slash = if path.starts_with('/') { "" } else { "/" };
        let url = Url::parse(&format!("https://example.com{slash}{path}")).ok()?;
        seen.insert(url.as_str().to_owned()).then_some(url)
    };
    let mut urls: Vec<Url> = FIXED_PATHS.iter().filter_map(|p| to_url(p)).collect();
    let mut paths = Vec::new();
    for rule in robots.groups.iter().flat_map(|g| &g.rules) {
        probe_paths(&rule.value, &mut paths);
        if let Some(octets) = &rule.octets {
            // The octets' own reading (`/%E9`) as well as the text's.
            let encoded: String = octets
                .iter()
                .map(|&b| match b {
                    0x80.. => format!("%{b:02X}"),
                    _ => char::from(b).to_string(),
                })
                .collect();
            probe_paths(&encoded, &mut paths);
        }
    }
    let probes: Vec<Url> = paths.iter().filter_map(|p| to_url(p)).collect();
    urls.extend(spread(&probes, MAX_URLS.saturating_sub(urls.len())));
    urls
}

/// The fixed agents, then tokens the file names (spread over the file), one upper-cased
/// and one capitalised.
fn agents_for(robots: &Robots) -> Vec<String> {
    let mut named: Vec<&str> = Vec::new();
    for token in robots.groups.iter().flat_map(|g| &g.tokens) {
        if !named.contains(&token.as_str())
            && !FIXED_AGENTS.iter().any(|a| a.eq_ignore_ascii_case(token))
        {
            named.push(token);
        }
    }
    let picked = spread(&named, 3);
    let mut agents: Vec<String> = FIXED_AGENTS.iter().map(|a| a.to_string()).collect();
    agents.extend(picked.iter().map(|t| t.to_string()));
    if let Some(first) = picked.first() {
        agents.push(first.to_ascii_uppercase());
    }
    if let Some(second) = picked.get(1) {
        agents.push(second[..1].to_ascii_uppercase() + &second[1..]);
    }
    agents.truncate(MAX_AGENTS);
    agents
}

fn optout_outcome(d: &Decision) -> Outcome {
    let reason = &d.reasons[0];
    let outcome = match reason.code {
        Code::RobotsAllow => Outcome::Rule {
            allow: true,
            line: reason.line.unwrap_or(0),
        },
        Code::RobotsDisallow => Outcome::Rule {
            allow: false,
            line: reason.line.unwrap_or(0),
        },
        Code::RobotsNoMatch => Outcome::NoMatch,
        Code::RobotsNoGroup => Outcome::NoGroup,
        Code::RobotsImplicitAllow => Outcome::ImplicitAllow,
        other => panic!("unexpected deciding reason {other}"),
    };
    assert_eq!(
        d.verdict == Verdict::Allowed,
        outcome.allowed(),
        "verdict and reason disagree: {d:?}"
    );
    outcome
}

// ---------------------------------------------------------------------------------------
// 1. optout against the reference

#[derive(Default)]
struct Tally {
    files: usize,
    comparisons: usize,
    verdicts_differ: usize,
    reasons_differ: usize,
    /// `(file, verdicts differ, only reason or line differs)` for each file with any.
    files_differ: Vec<(String, usize, usize)>,
    /// At most two per file, twenty in all.
    examples: Vec<String>,
}

fn compare_file(name: &str, bytes: &[u8], tally: &mut Tally) {
    tally.files += 1;
    let optout = match std::panic::catch_unwind(|| RobotsTxt::parse(bytes)) {
        Ok(robots) => robots,
        Err(_) => {
            tally.verdicts_differ += 1;
            tally.files_differ.push((name.to_owned(), 1, 0));
            tally
                .examples
                .push(format!("{name}: optout panicked while parsing"));
            return;
        }
    };
    let reference = Robots::parse(bytes);
    let urls = urls_for(&reference);
    let (mut verdicts, mut reasons, mut examples) = (0, 0, 0);
    // Agents that select the same groups get the same reference decisions.
    let mut decided: HashMap<Vec<usize>, Vec<Outcome>> = HashMap::new();
    for agent in agents_for(&reference) {
        let selected = reference.select(&agent);
        let expected = decided
            .entry(selected)
            .or_insert_with_key(|s| urls.iter().map(|u| reference.decide(s, u)).collect());
        for (url, &want) in urls.iter().zip(expected.iter()) {
            tally.comparisons += 1;
            let decision = optout.allowed(&agent, url);
            let got = optout_outcome(&decision);
            if got == want {
                continue;
            }
            if got.allowed() != want.allowed() {
                verdicts += 1;
            } else {
                reasons += 1;
            }
            if examples < 2 && tally.examples.len() < 20 {
                examples += 1;
                tally.examples.push(format!(
                    "{name}: agent {agent:?} url {url}\n    optout {} ({})\n    \
                     reference {} ({want:?})",
                    decision.verdict,
                    decision.reasons[0],
                    if want.allowed() { "allowed" } else { "refused" },
                ));
            }
        }
    }
    if verdicts + reasons > 0 {
        tally.verdicts_differ += verdicts;
        tally.reasons_differ += reasons;
        tally
            .files_differ
            .push((name.to_owned(), verdicts, reasons));
    }
}

fn check_against_reference(what: &str, files: &[(String, Vec<u8>)]) {
    let start = Instant::now();
    let mut tally = Tally::default();
    for (name, bytes) in files {
        compare_file(name, bytes, &mut tally);
    }
    eprintln!(
        "{what}: {} files, {} (file, agent, url) comparisons in {:.1?}: \
         {} verdicts and {} reasons or lines differ",
        tally.files,
        tally.comparisons,
        start.elapsed(),
        tally.verdicts_differ,
        tally.reasons_differ,
    );
    for (name, verdicts, reasons) in &tally.files_differ {
        eprintln!("  {name}: {verdicts} verdicts, {reasons} reasons or lines differ");
    }
    for example in &tally.examples {
        eprintln!("  {example}");
    }
    assert!(tally.comparisons > 0, "{what}: nothing compared");
    assert!(
        tally.files_differ.is_empty(),
        "{what}: optout disagrees with the reference (examples above)"
    );
}

#[test]
fn sample_files_agree_with_reference() {
    let files = load(SAMPLE_DIR).expect("tests/data/robots");
    check_against_reference("tests/data/robots", &files);
}

#[test]
fn corpus_agrees_with_reference() {
    let Some(files) = load(CORPUS_DIR) else {
        eprintln!(
            "full corpus skipped: {CORPUS_DIR} is absent \
             (it sits in ../shared beside a development checkout)"
        );
        return;
    };
    check_against_reference("corpus", &files);
}

// ---------------------------------------------------------------------------------------
// 2. The robotstxt crate's DefaultMatcher, disagreements classified

/// Runs `f` and catches a panic without printing its message (on this thread only: a
/// failing assertion in a test running beside this one still prints).
fn quietly<R>(f: impl FnOnce() -> R + std::panic::UnwindSafe) -> std::thread::Result<R> {
    thread_local! { static QUIET: Cell<bool> = const { Cell::new(false) }; }
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let result = std::panic::catch_unwind(f);
    QUIET.with(|q| q.set(false));
    result
}

/// `DefaultMatcher`'s verdict (true = allowed), `None` when it panics.
fn dm(body: &str, agent: &str, url: &str) -> Option<bool> {
    quietly(|| DefaultMatcher::default().one_agent_allowed_by_robots(body, agent, url)).ok()
}

/// The canonical form with `#`, `*` and `$` kept encoded, so that the crate reads them as
/// octets and not as comment, wildcard or anchor.
fn crate_safe(input: &[u8]) -> String {
    let canonical = reference::canonical(input);
    let text = String::from_utf8(canonical).expect("canonical form is ASCII");
    text.replace('#', "%23")
        .replace('*', "%2A")
        .replace('$', "%24")
}

/// A rule value rewritten in [`crate_safe`] form, wildcards and anchor kept.
fn crate_safe_pattern(value: &str) -> String {
    let (body, anchored) = value
        .strip_suffix('$')
        .map_or((value, false), |b| (b, true));
    let pieces: Vec<String> = body.split('*').map(|p| crate_safe(p.as_bytes())).collect();
    pieces.join("*") + if anchored { "$" } else { "" }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Wildcard,
    GroupEnd,
    Input,
    Bom,
    RobotsTxt,
    Percent,
    IndexHtml,
    Other,
}

impl Class {
    /// Examples printed: all of (g), up to twenty; one of each known class.
    fn examples_kept(self) -> usize {
        if self == Class::Other { 20 } else { 1 }
    }

    fn label(self) -> &'static str {
        match self {
            Class::Wildcard => "(a) wildcard matcher misses a match",
            Class::GroupEnd => "(b) group ended by Sitemap/unknown line",
            Class::Input => "(d) parse limit / over-long line",
            Class::Bom => "(e) UTF-8 BOM loses the first line",
            Class::RobotsTxt => "(f) /robots.txt implicitly allowed",
            Class::Percent => "(f) percent-encoding normalisation",
            Class::IndexHtml => "(f) Google's Allow /index.htm -> /$",
            Class::Other => "(g) other",
        }
    }
}

/// The bodies that undo one known cause after another, cumulatively: the prepared input
/// (parse limit, BOM, long lines), then non-rule lines blanked, then rule values in canonical
/// form. `None` where a step changes nothing, so the crate need not run again.
struct Fixed {
    input: Option<String>,
    rules_only: Option<String>,
    canonical: String,
}

/// One file as the classifier sees it; the fixed bodies are built at the first disagreement.
struct DmFile<'a> {
    bytes: &'a [u8],
    reference: &'a Robots,
    fixed: OnceCell<Fixed>,
}

impl DmFile<'_> {
    fn fixed(&self) -> &Fixed {
        self.fixed.get_or_init(|| {
            use reference::Kind;
            let lines = reference::lines(self.bytes);
            let mut raw_lines = self.bytes.split(|&b| b == b'\n' || b == b'\r');
            let input_changes = self.bytes.len() > reference::PARSE_LIMIT
                || self.bytes.first() == Some(&0xEF)
                || raw_lines.any(|l| l.len() > reference::MAX_LINE_BYTES);
            let mut rules_only = Vec::new();
            let mut canonical = Vec::new();
            for line in &lines {
                let parsed = reference::key_value(line).map(|(k, v)| (reference::kind(k), v));
                let (kept, rewritten) = match parsed {
                    Some((Kind::UserAgent, _)) => (line.clone(), line.clone()),
                    Some((Kind::Allow, v)) => {
                        (line.clone(), format!("Allow: {}", crate_safe_pattern(v)))
                    }
                    Some((Kind::Disallow, v)) => {
                        (line.clone(), format!("Disallow: {}", crate_safe_pattern(v)))
                    }
                    _ => (String::new(), String::new()),
                };
                rules_only.push(kept);
                canonical.push(rewritten);
            }
            let input = lines.join("\n");
            let rules_only = rules_only.join("\n");
            Fixed {
                rules_only: (rules_only != input).then_some(rules_only),
                input: input_changes.then_some(input),
                canonical: canonical.join("\n"),
            }
        })
    }

    fn classify(&self, agent: &str, url: &Url, optout_allowed: bool) -> Class {
        if reference::strict(url.path().as_bytes()) == b"/robots.txt" {
            return Class::RobotsTxt;
        }
        let path_query = &url[Position::BeforePath..Position::AfterQuery];
        let fixed = self.fixed();
        let agrees = |body: &Option<String>| {
            body.as_ref()
                .is_some_and(|body| dm(body, agent, url.as_str()) == Some(optout_allowed))
        };
        if agrees(&fixed.input) {
            return if self.bytes.first() == Some(&0xEF) {
                Class::Bom
            } else {
                Class::Input
            };
        }
        if agrees(&fixed.rules_only) {
            return Class::GroupEnd;
        }
        let crate_path = crate_safe(path_query.as_bytes());
        let crate_url = format!("https://example.com{crate_path}");
        if dm(&fixed.canonical, agent, &crate_url) == Some(optout_allowed) {
            return Class::Percent;
        }
        let selected = self.reference.select(agent);
        let path = reference::canonical(path_query.as_bytes());
        let missed = self.reference.rules(&selected).any(|r| {
            r.value.contains('*')
                && r.matches(&path)
                && !LongestMatchRobotsMatchStrategy::matches(
                    &crate_path,
                    &crate_safe_pattern(&r.value),
                )
        });
        if missed {
            return Class::Wildcard;
        }
        let index_html = self.reference.rules(&selected).any(|r| {
            let slash = r.value.rfind('/');
            r.allow
                && slash.is_some_and(|s| {
                    r.value[s..].starts_with("/index.htm")
                        && reference::Rule::new(true, 0, &format!("{}$", &r.value[..=s]))
                            .matches(&path)
                })
        });
        if !optout_allowed && index_html {
            return Class::IndexHtml;
        }
        Class::Other
    }
}

#[derive(Default)]
struct DmTally {
    files: usize,
    skipped_large: usize,
    panicked_files: Vec<String>,
    panicked_decisions: usize,
    comparisons: usize,
    /// (class, optout allowed) → count.
    classes: BTreeMap<(Class, bool), usize>,
    /// The first example of each class, and up to twenty of (g).
    examples: BTreeMap<Class, Vec<String>>,
}

impl DmTally {
    fn merge(&mut self, other: DmTally) {
        self.files += other.files;
        self.skipped_large += other.skipped_large;
        self.panicked_files.extend(other.panicked_files);
        self.panicked_decisions += other.panicked_decisions;
        self.comparisons += other.comparisons;
        for (key, n) in other.classes {
            *self.classes.entry(key).or_default() += n;
        }
        for (class, examples) in other.examples {
            let mine = self.examples.entry(class).or_default();
            let room = class.examples_kept().saturating_sub(mine.len());
            mine.extend(examples.into_iter().take(room));
        }
    }

    fn count(&self, class: Class, optout_allowed: bool) -> usize {
        self.classes
            .get(&(class, optout_allowed))
            .copied()
            .unwrap_or(0)
    }
}

fn dm_file(name: &str, bytes: &[u8], tally: &mut DmTally) {
    if bytes.len() > DM_MAX_FILE {
        tally.skipped_large += 1;
        return;
    }
    tally.files += 1;
    let body = String::from_utf8_lossy(bytes);
    let optout = RobotsTxt::parse(bytes);
    let reference = Robots::parse(bytes);
    let urls = spread(&urls_for(&reference), DM_URLS);
    let named = reference.groups.iter().flat_map(|g| &g.tokens).next();
    let agents = [
        "optout",
        named.map_or("Googlebot", String::as_str),
        "GPTBot",
    ];
    let file = DmFile {
        bytes,
        reference: &reference,
        fixed: OnceCell::new(),
    };
    let mut panicked = false;
    for agent in agents {
        for url in &urls {
            let Some(dm_allowed) = dm(&body, agent, url.as_str()) else {
                tally.panicked_decisions += 1;
                panicked = true;
                continue;
            };
            tally.comparisons += 1;
            let decision = optout.allowed(agent, url);
            let allowed = decision.is_allowed();
            if allowed == dm_allowed {
                continue;
            }
            let class = file.classify(agent, url, allowed);
            *tally.classes.entry((class, allowed)).or_default() += 1;
            let examples = tally.examples.entry(class).or_default();
            if examples.len() < class.examples_kept() {
                examples.push(format!(
                    "{name}: agent {agent:?} url {url}: optout {} ({}), DefaultMatcher {}",
                    decision.verdict,
                    decision.reasons[0],
                    if dm_allowed { "allowed" } else { "refused" },
                ));
            }
        }
    }
    if panicked {
        tally.panicked_files.push(name.to_owned());
    }
}

#[test]
fn default_matcher_disagreements_are_classified() {
    let (what, files) = match load(CORPUS_DIR) {
        Some(files) => ("corpus", files),
        None => {
            eprintln!("full corpus skipped: {CORPUS_DIR} is absent; using tests/data/robots");
            (
                "tests/data/robots",
                load(SAMPLE_DIR).expect("tests/data/robots"),
            )
        }
    };
    let start = Instant::now();
    // The crate is slow (it re-parses the file for every query): share the files out.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let mut tally = DmTally::default();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let files = &files;
                scope.spawn(move || {
                    let mut tally = DmTally::default();
                    for (name, bytes) in files.iter().skip(t).step_by(threads) {
                        dm_file(name, bytes, &mut tally);
                    }
                    tally
                })
            })
            .collect();
        for worker in workers {
            tally.merge(worker.join().expect("worker"));
        }
    });
    tally.panicked_files.sort();
    eprintln!(
        "DefaultMatcher vs optout on {what}: {} files ({} over 1 MiB skipped), \
         {} decisions compared in {:.1?}",
        tally.files,
        tally.skipped_large,
        tally.comparisons,
        start.elapsed()
    );
    eprintln!(
        "  (c) DefaultMatcher panicked: {} files, {} decisions: {}",
        tally.panicked_files.len(),
        tally.panicked_decisions,
        tally.panicked_files.join(", ")
    );
    eprintln!(
        "  {:<44} {:>15} {:>15}",
        "class", "optout refuses", "optout allows"
    );
    let all = [
        Class::Wildcard,
        Class::GroupEnd,
        Class::Input,
        Class::Bom,
        Class::RobotsTxt,
        Class::Percent,
        Class::IndexHtml,
        Class::Other,
    ];
    for class in all {
        let (refuses, allows) = (tally.count(class, false), tally.count(class, true));
        eprintln!("  {:<44} {refuses:>15} {allows:>15}", class.label());
    }
    for (class, examples) in &tally.examples {
        for example in examples {
            eprintln!("  {}:\n    {example}", class.label());
        }
    }
    assert!(tally.comparisons > 0, "nothing compared");
    // Where optout is more permissive than the crate, the cause must be known.
    assert_eq!(
        tally.count(Class::Other, true),
        0,
        "optout allows where DefaultMatcher refuses, for no known reason (examples above)"
    );
}

// ---------------------------------------------------------------------------------------
// 3. The crate's known bugs, on literal inputs

fn optout_verdict(body: &str, agent: &str, url: &str) -> Verdict {
    RobotsTxt::parse(body.as_bytes())
        .allowed(agent, &Url::parse(url).expect("url"))
        .verdict
}

#[test]
fn robotstxt_0_3_0_known_bugs_on_literal_inputs() {
    let cases = [
        // (a) the wildcard matcher inserts into its position array where Google's C++ assigns.
        (
            "User-agent: *\nDisallow: /*.html\n",
            "bot",
            "https://example.com/x/y/landing/abc.htindex.html",
        ),
        (
            "User-agent: *\nDisallow: /*/landing/\n",
            "bot",
            "https://example.com/x/y/landing/abc.html",
        ),
        // (b) a Sitemap line ends the group, so FooBot is left unrestricted.
        (
            "User-agent: FooBot\nSitemap: /s.xml\nUser-agent: BarBot\nDisallow: /\n",
            "FooBot",
            "https://example.com/x",
        ),
        // (e) the BOM skip compares characters with bytes, so the first line is lost.
        (
            "\u{FEFF}User-agent: FooBot\nDisallow: /\n",
            "FooBot",
            "https://example.com/x",
        ),
    ];
    for (body, agent, url) in cases {
        assert_eq!(
            dm(body, agent, url),
            Some(true),
            "DefaultMatcher on {body:?} {url}"
        );
        assert_eq!(
            optout_verdict(body, agent, url),
            Verdict::Refused,
            "optout on {body:?} {url}"
        );
        let robots = Robots::parse(body.as_bytes());
        let url = Url::parse(url).expect("url");
        assert!(
            !robots.decide(&robots.select(agent), &url).allowed(),
            "reference on {body:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 4. The reference on literal inputs, and optout beside it

#[test]
fn reference_reads_the_semantics() {
    use Outcome::{ImplicitAllow, NoGroup, NoMatch};
    const fn rule(allow: bool, line: u32) -> Outcome {
        Outcome::Rule { allow, line }
    }
    #[rustfmt::skip]
    let mut cases: Vec<(String, &str, &str, Outcome)> = [
        ("User-agent: *\nDisallow: /\n", "a", "/robots.txt?x", ImplicitAllow),
        ("User-agent: foo\nDisallow: /\n", "bar", "/x", NoGroup),
        ("User-agent: *\nDisallow:\n", "a", "/x", NoMatch),
        ("Disallow: /\nUser-agent: a\nDisallow: /x\n", "a", "/y", NoMatch),
        ("\u{EF}\u{BB}User-agent: a\nDisallow: /\n", "a", "/x", rule(false, 2)), // Latin-1 BOM
        ("\u{FEFF}User-agent: a\nDisallow: /\n", "a", "/x", rule(false, 2)),
        ("User-agent: FooBot/2.1\nDisallow: /\n", "FOOBOT", "/x", rule(false, 2)),
        ("User-agent: AB42bot\nDisallow: /\n", "ab", "/x", rule(false, 2)),
        ("User-agent: *foo\nDisallow: /\n", "foo", "/x", NoGroup),
        ("User-agent: * foo\nDisallow: /\n", "bar", "/x", rule(false, 2)),
        ("User-agent: *\u{3000}x\nDisallow: /\n", "bar", "/x", rule(false, 2)), // Unicode space
        ("user agent: a\ndisalow: /\n", "a", "/x", rule(false, 2)),
        ("useragent a\ndiasllow /x\n", "a", "/x", rule(false, 2)),
        ("User-agent: a\nDisallow /x y\n", "a", "/x", NoMatch),
        ("User-agent: a\n  Disallow /x\n", "a", "/x", rule(false, 2)), // trimmed, then 2 words
        ("User-agent: a\nAllowance: /x\nDisallow: /\n", "a", "/x", rule(true, 2)),
        ("User-agent: a\nSitemap: /s\nUser-agent: b\nDisallow: /\n", "a", "/x", rule(false, 4)),
        ("User-agent: a\nDisallow: /\nUser-agent: b\nAllow: /x\n", "a", "/x", rule(false, 2)),
        ("User-agent: a\nDisallow: /x\n\nUser-agent: a\nAllow: /x\n", "a", "/x", rule(true, 5)),
        ("User-agent: *\nDisallow: /x\nDisallow: /x\n", "a", "/x", rule(false, 2)),
        ("User-agent: *\nDisallow: /x\rAllow: /x\r\n", "a", "/x", rule(true, 3)),
        ("User-agent: *\nDisallow: /fish*\nAllow: /fish\n", "a", "/fish", rule(false, 2)),
        ("User-agent: *\nDisallow: /*.php$\n", "a", "/a.php?x", NoMatch),
        ("User-agent: *\nDisallow: /*.php$\n", "a", "/a.php", rule(false, 2)),
        ("User-agent: *\nDisallow: /a$b\n", "a", "/a$b/c", rule(false, 2)),
        ("User-agent: *\nDisallow: /a%2A\n", "a", "/ab", NoMatch),
        ("User-agent: *\nDisallow: /a%2A\n", "a", "/a*", rule(false, 2)),
        ("User-agent: *\nDisallow: /%7e%2f\n", "a", "/~/", rule(false, 2)),
        ("User-agent: *\nDisallow: /caf%c3%a9\n", "a", "/café", rule(false, 2)),
        ("User-agent: *\nDisallow: /100%\n", "a", "/100%25", rule(false, 2)),
        ("User-agent: *\nDisallow: /100%\n", "a", "/100%20off", rule(false, 2)), // Google's reading
        ("User-agent: *\nDisallow: /a\nAllow: /a%zz\n", "a", "/a%zz", rule(true, 3)),
        ("User-agent: *\nDisallow: /a\nAllow: /a%zz\n", "a", "/a%25zz", rule(false, 2)),
        ("User-agent: *\nDisallow: /a #c\n", "a", "/a", rule(false, 2)),
        ("User-agent: *\nDisallow: /a\u{A0}\n", "a", "/a", rule(false, 2)), // NBSP is trimmed
    ]
    .map(|(body, agent, path, want)| (body.to_owned(), agent, path, want))
    .into();
    let long = "é".repeat(10_000);
    let long_line = format!("User-agent: *\nDisallow: /{long}\nDisallow: /p\n");
    cases.push((long_line, "a", "/p", rule(false, 3)));
    let padding = "#\n".repeat(262_150);
    let over_limit = format!("User-agent: *\nDisallow: /a\n{padding}Disallow: /b\n");
    cases.push((over_limit, "a", "/b", NoMatch));

    let mut optout_differs = Vec::new();
    for (body, agent, path, want) in &cases {
        let url = Url::parse(&format!("https://example.com{path}")).expect("url");
        let robots = Robots::parse(body.as_bytes());
        let got = robots.decide(&robots.select(agent), &url);
        let short: String = body.chars().take(80).collect();
        assert_eq!(got, *want, "reference on {short:?} for {agent} {path}");
        let optout = optout_outcome(&RobotsTxt::parse(body.as_bytes()).allowed(agent, &url));
        if optout != got {
            optout_differs.push(format!(
                "{short:?} {agent} {path}: optout {optout:?}, reference {got:?}"
            ));
        }
    }
    assert!(
        optout_differs.is_empty(),
        "optout differs:\n{}",
        optout_differs.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// 5. Small random files built from the tricky parts of the syntax (lists are `|`-separated)

const STARTS: [&[u8]; 6] = [b"", b"", b"\xEF\xBB\xBF", b"\xEF\xBB", b"\xEF", b"\xBB"];
const LEADS: &str = "||| |\t";
const KEYS: &str = "User-agent|USER-AGENT|useragent|user agent|user-agents|Allow|allowed|Disallow|\
                    disalow|dissallow|Sitemap|Crawl-delay|X";
const SEPARATORS: &str = ": |:| : |:\t| |\t";
const VALUES: &str = "*|* x|*\tx|*foo|foo|FooBot/1.0|foo bar|foo_bar-baz|-||/|/a|/a/|/a*|/a*b|/a**b|\
                      /*.b$|/a$|/ab$|/a$b|/*$|*$|$|*b|/%2A|/%24|/a%2Fb|/%7e|/%61|/a%|/a%zz|/é|/a b|\
                      /a#c|/a:b|/a?b|/?|/a;b|/a\u{A0}|\u{3000}/a";
const RAW: [&[u8]; 4] = [b"", b"", b"\xFF", b"\xE9"];
const TRAILS: &str = "|| |\t| # c|#|\x0B";
const ENDS: &str = "\n|\r\n|\r|\n\r";
const PATHS: &str = "/|/a|/a/b|/ab|/ab/|/a.b|/xb|/%61|/a%2fb|/é|/~|/%7E|/a$|/ab$|/a$b|/*|/a%25|/a%|\
                     /a%zz|/a%25zz|/a:b|/a%3Ab|/a;b|/a?b|/%00|/robots.txt|/robots.txt?a|/a%E9|\
                     /a%C3%A9|/a%ff|/a%C3%BF|/%E9|/%C3%A9|/a%20|/a%2F|/a%zz%41";
const AGENTS: &str = "foo|FooBot|bar|foo_bar-baz|x";

fn one_of(list: &'static str) -> impl Strategy<Value = &'static str> {
    prop::sample::select(list.split('|').collect::<Vec<_>>())
}

fn random_line() -> impl Strategy<Value = Vec<u8>> {
    let parts = (
        one_of(LEADS),
        one_of(KEYS),
        one_of(SEPARATORS),
        one_of(VALUES),
    );
    let end = (prop::sample::select(&RAW[..]), one_of(TRAILS), one_of(ENDS));
    (parts, end).prop_map(|((lead, key, separator, value), (raw, trail, eol))| {
        let mut line = format!("{lead}{key}{separator}{value}").into_bytes();
        line.extend(raw);
        line.extend(format!("{trail}{eol}").as_bytes());
        line
    })
}

/// A robots.txt body, shown as an escaped byte string when proptest reports a failure.
#[derive(Clone)]
struct Body(Vec<u8>);

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

fn random_body() -> impl Strategy<Value = Body> {
    let lines = prop::collection::vec(random_line(), 0..8);
    (prop::sample::select(&STARTS[..]), lines)
        .prop_map(|(start, lines)| Body([start.to_vec(), lines.concat()].concat()))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 4000,
        rng_seed: RngSeed::Fixed(9309),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn small_random_files_agree_with_reference(
        body in random_body(),
        path in one_of(PATHS),
        agent in one_of(AGENTS),
    ) {
        let url = Url::parse(&format!("https://example.com{path}")).expect("url");
        let reference = Robots::parse(&body.0);
        let want = reference.decide(&reference.select(agent), &url);
        let got = optout_outcome(&RobotsTxt::parse(&body.0).allowed(agent, &url));
        prop_assert_eq!(got, want);
    }
}
