//! Spawning's ai.txt: a robots.txt-style file at `/ai.txt` whose `Disallow` lines reserve
//! matching URLs from AI training.
//!
//! As written in the wild, ai.txt files mix robots.txt syntax with bare globs: `Disallow:
//! *.jpg`, or a line that is only `*.jpg`. Both are read as a reservation of the URLs the
//! glob matches; a pattern that starts with neither `/` nor `*` is read as a glob anywhere in
//! the path (`images/` → `*images/`). Lines before any `User-agent` apply to every agent.
//! Longest match decides, `Allow` winning a tie, as in robots.txt.

use crate::decision::{Code, Reason};
use crate::robots::PathForms;
use crate::robots::pattern::Pattern;

#[derive(Clone, Debug)]
struct AiRule {
    allow: bool,
    line: u32,
    written: Box<str>,
    pattern: Pattern,
    /// Lower-case product tokens (`*` for the global group); `None` for lines before any
    /// `User-agent`, which apply to every agent.
    agents: Option<Vec<String>>,
}

/// A parsed ai.txt.
#[derive(Clone, Debug, Default)]
pub struct AiTxt {
    rules: Vec<AiRule>,
}

impl AiTxt {
    /// Parses ai.txt bytes (lossily decoded; never fails).
    pub fn parse(bytes: &[u8]) -> AiTxt {
        let text = String::from_utf8_lossy(bytes);
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let mut rules = Vec::new();
        let mut agents: Vec<String> = Vec::new();
        let mut in_rules = false;
        for (index, raw) in crate::robots::lines(text).enumerate() {
            let line = index as u32 + 1;
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let (key, value) = match content.split_once(':') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim()),
                None => (String::new(), content),
            };
            let allow = match key.as_str() {
                "user-agent" => {
                    if in_rules {
                        agents.clear();
                        in_rules = false;
                    }
                    // The product token, as robots.txt reads it (`optout/1.0` names `optout`).
                    let token: String = value
                        .chars()
                        .take_while(|c| c.is_ascii_alphabetic() || *c == '-' || *c == '_')
                        .collect();
                    let token = if value.starts_with('*') {
                        "*".to_owned()
                    } else {
                        token.to_ascii_lowercase()
                    };
                    agents.push(token);
                    continue;
                }
                "allow" => true,
                "disallow" => false,
                "" if value.contains(['*', '.', '/']) && !value.contains(char::is_whitespace) => {
                    false
                }
                _ => continue,
            };
            in_rules = true;
            if value.is_empty() {
                continue;
            }
            let glob = if value.starts_with('/') || value.starts_with('*') {
                value.to_owned()
            } else {
                format!("*{value}")
            };
            rules.push(AiRule {
                allow,
                line,
                written: value.into(),
                pattern: Pattern::compile(&glob),
                agents: (!agents.is_empty()).then(|| agents.clone()),
            });
        }
        AiTxt { rules }
    }

    /// The `aitxt.disallow` reason when ai.txt reserves `path` from AI training for `agent`.
    pub fn reservation(&self, agent: &str, path: &str) -> Option<Reason> {
        let path = PathForms::of(path);
        let names = |r: &AiRule, who: &str| {
            r.agents
                .as_ref()
                .is_some_and(|a| a.iter().any(|a| a.eq_ignore_ascii_case(who)))
        };
        let named = self.rules.iter().any(|r| names(r, agent));
        let best = self
            .rules
            .iter()
            .filter(|r| {
                // Lines before any `User-agent` apply to every agent, named or not; then the
                // agent's own groups, or the `*` groups when none names it.
                r.agents.is_none() || names(r, if named { agent } else { "*" })
            })
            .filter(|r| r.pattern.matches_path(&path, !r.allow))
            .min_by_key(|r| (std::cmp::Reverse(r.pattern.specificity()), !r.allow, r.line))?;
        (!best.allow).then(|| {
            Reason::new(Code::AitxtDisallow)
                .with_source("ai.txt")
                .with_line(best.line)
                .with_rule(&*best.written)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawning_style_file_with_globs() {
        let ai = AiTxt::parse(
            b"# Spawning AI\nUser-Agent: *\nDisallow: *.jpg\nDisallow: /private/\nAllow: /\n",
        );
        let r = ai.reservation("optout", "/img/cat.jpg").unwrap();
        assert_eq!(r.line, Some(3));
        assert!(ai.reservation("optout", "/private/a").is_some());
        assert!(ai.reservation("optout", "/page.html").is_none());
    }

    #[test]
    fn bare_glob_lines_and_no_user_agent() {
        let ai = AiTxt::parse(b"*.png\n*.pdf\n");
        assert!(ai.reservation("optout", "/a/b.png").is_some());
        assert_eq!(ai.reservation("optout", "/doc.pdf").unwrap().line, Some(2));
        assert!(ai.reservation("optout", "/a.html").is_none());
    }

    #[test]
    fn rules_before_any_user_agent_apply_to_named_agents_too_and_crlf_lines() {
        let ai = AiTxt::parse(b"*.jpg\r\nUser-agent: optout/1.0\r\nAllow: /x/\r\nDisallow: /b\r\n");
        assert_eq!(ai.reservation("optout", "/a.jpg").unwrap().line, Some(1));
        assert_eq!(ai.reservation("optout", "/b").unwrap().line, Some(4));
    }

    #[test]
    fn path_without_slash_is_a_glob_anywhere() {
        let ai = AiTxt::parse(b"User-agent: *\nDisallow: images/\n");
        assert!(ai.reservation("optout", "/site/images/a").is_some());
    }

    #[test]
    fn agent_group_is_used_when_named() {
        let ai = AiTxt::parse(b"User-agent: *\nDisallow: /\nUser-agent: optout\nAllow: /\n");
        assert!(ai.reservation("OptOut", "/x").is_none());
        assert!(ai.reservation("other", "/x").is_some());
    }
}
