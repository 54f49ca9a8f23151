//! Known AI-training crawler product tokens (shipped as `config/ai-crawlers.txt`).
//!
//! A site that disallows a URL for one of these tokens in its own robots.txt group has
//! expressed an opt-out from AI training, even when its `*` group allows everyone.

use crate::robots::RobotsTxt;

/// The shipped list.
pub const DEFAULT_AI_CRAWLERS: &str = include_str!("../../../config/ai-crawlers.txt");

/// A crawler as `(written in the list, product token)`.
type Token = (String, String);

/// AI-training crawlers that one robots.txt names, with the groups that apply to them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedCrawlers {
    /// The groups (indices into [`RobotsTxt::groups`]) that apply to these crawlers.
    pub groups: Box<[u32]>,
    /// `(as written in the list, product token)`.
    pub crawlers: Vec<(String, String)>,
    /// The `robots.ai-crawler-block` detail naming all of them, written once per robots.txt
    /// rather than per decision (see [`NamedCrawlers::block_detail`]).
    detail: Box<str>,
}

impl NamedCrawlers {
    fn new(groups: Box<[u32]>, crawlers: Vec<(String, String)>) -> NamedCrawlers {
        let names: Vec<&str> = crawlers
            .iter()
            .map(|(written, _)| written.as_str())
            .collect();
        let detail = block_detail(&names).into();
        NamedCrawlers {
            groups,
            crawlers,
            detail,
        }
    }

    /// The detail of a `robots.ai-crawler-block` reason for `agent`: the crawlers it names,
    /// less `agent` itself (its own group decides for it directly). `None` when `agent` is
    /// the only one.
    pub fn block_detail(&self, agent: &str) -> Option<String> {
        let own = |token: &str| token.eq_ignore_ascii_case(agent);
        if !self.crawlers.iter().any(|(_, token)| own(token)) {
            return Some(String::from(&*self.detail));
        }
        let names: Vec<&str> = self
            .crawlers
            .iter()
            .filter(|(_, token)| !own(token))
            .map(|(written, _)| written.as_str())
            .collect();
        (!names.is_empty()).then(|| block_detail(&names))
    }
}

fn block_detail(names: &[&str]) -> String {
    format!(
        "disallowed for AI-training crawler(s) {}: an opt-out from AI training",
        names.join(", ")
    )
}

/// A list of AI-training crawler tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AiCrawlers {
    /// `(as written, as robots.txt reads it)`: the second is the RFC 9309 product token a
    /// `User-agent` line naming the crawler yields (`img2dataset` → `img`, see
    /// `docs/decisions.md`).
    tokens: Vec<(String, String)>,
}

impl Default for AiCrawlers {
    fn default() -> AiCrawlers {
        AiCrawlers::parse(DEFAULT_AI_CRAWLERS)
    }
}

impl AiCrawlers {
    /// One token per line, `#` comments.
    pub fn parse(text: &str) -> AiCrawlers {
        let mut tokens: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            let written = line.split('#').next().unwrap_or("").trim();
            let read: String = written
                .chars()
                .take_while(|c| c.is_ascii_alphabetic() || *c == '-' || *c == '_')
                .collect::<String>()
                .to_ascii_lowercase();
            if read.is_empty() || tokens.iter().any(|(_, r)| *r == read) {
                continue;
            }
            tokens.push((written.to_owned(), read));
        }
        AiCrawlers { tokens }
    }

    /// Number of distinct tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The tokens that `robots` names in a group of their own (not only through `*`),
    /// gathered by the groups that apply to them, so that each distinct set of groups is
    /// checked once per decision; computed once per robots.txt.
    pub fn named_in(&self, robots: &RobotsTxt) -> Vec<NamedCrawlers> {
        // Each distinct set of groups, with the crawlers it applies to.
        let mut gathered: Vec<(&[u32], Vec<Token>)> = Vec::new();
        for (written, token) in &self.tokens {
            if !robots.names_agent(token) {
                continue;
            }
            let groups = robots.applicable_groups(token);
            match gathered.iter_mut().find(|(g, _)| **g == *groups) {
                Some((_, crawlers)) => crawlers.push((written.clone(), token.clone())),
                None => gathered.push((groups, vec![(written.clone(), token.clone())])),
            }
        }
        gathered
            .into_iter()
            .map(|(groups, crawlers)| NamedCrawlers::new(groups.into(), crawlers))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_list_has_the_major_training_crawlers() {
        let list = AiCrawlers::default();
        for t in [
            "gptbot",
            "ccbot",
            "google-extended",
            "claudebot",
            "applebot-extended",
        ] {
            assert!(list.tokens.iter().any(|(_, r)| r == t), "{t}");
        }
        assert!(list.len() > 50);
    }

    #[test]
    fn named_in_needs_an_own_group() {
        let list = AiCrawlers::parse("GPTBot\nCCBot # comment\n");
        let robots =
            RobotsTxt::parse(b"User-agent: *\nDisallow: /x\nUser-agent: GPTBot\nDisallow: /\n");
        let named = list.named_in(&robots);
        assert_eq!(named.len(), 1);
        assert_eq!(named[0].crawlers[0].0, "GPTBot");
        assert_eq!(*named[0].groups, [1]);
    }

    #[test]
    fn block_detail_names_every_crawler_but_the_agent() {
        let list = AiCrawlers::parse("GPTBot\nCCBot\n");
        let robots = RobotsTxt::parse(b"User-agent: GPTBot\nUser-agent: CCBot\nDisallow: /\n");
        let named = &list.named_in(&robots)[0];
        let detail = |names| {
            format!("disallowed for AI-training crawler(s) {names}: an opt-out from AI training")
        };
        assert_eq!(named.block_detail("optout"), Some(detail("GPTBot, CCBot")));
        assert_eq!(named.block_detail("gptBOT"), Some(detail("CCBot")));
        let robots = RobotsTxt::parse(b"User-agent: GPTBot\nDisallow: /\n");
        assert_eq!(list.named_in(&robots)[0].block_detail("GPTBot"), None);
    }
}
