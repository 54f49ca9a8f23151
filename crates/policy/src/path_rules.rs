//! Preferences attached to paths inside robots.txt groups: `Content-Usage` (IETF aipref
//! attach §4) and `Content-Signal` (Cloudflare Content Signals) lines.
//!
//! A line's value is `[path SP] preference`. It applies to the URLs its path matches, with
//! the same patterns and percent-encoding as `Allow`/`Disallow` (attach §4.1); without a path
//! it applies to every URL of the group. The longest matching path decides; lines with equally
//! long matching paths are combined to the most restrictive preference (attach §4.1 and
//! vocab §7.1: "If any statement of preference indicates that the usage is disallowed, the
//! result is that the usage is disallowed").

use crate::robots::pattern::Pattern;
use crate::robots::{PathForms, RobotsTxt};

/// One preference line, compiled.
#[derive(Clone, Debug)]
pub struct PathRule<T> {
    /// The line in robots.txt.
    pub line: u32,
    /// The group the line stands in.
    pub group: usize,
    /// The value as written.
    pub written: Box<str>,
    /// The parsed preference.
    pub value: T,
    pattern: Option<Pattern>,
}

/// All preference lines with one key, compiled once per robots.txt.
#[derive(Clone, Debug)]
pub struct PathRules<T> {
    rules: Vec<PathRule<T>>,
}

impl<T> PathRules<T> {
    /// Compiles the lines whose key equals `key` (case-insensitively), parsing each
    /// preference with `parse`. Lines outside any group are kept too (they apply to every
    /// agent), since the site owner's preference is clear from them.
    pub fn compile(robots: &RobotsTxt, key: &str, parse: impl Fn(&str) -> T) -> PathRules<T> {
        let rules = robots
            .extension_lines()
            .iter()
            .filter(|l| l.key.eq_ignore_ascii_case(key))
            .map(|l| {
                let (path, pref) = split_path(&l.value);
                PathRule {
                    line: l.line,
                    group: l.group.unwrap_or(usize::MAX),
                    written: l.value.clone(),
                    value: parse(pref),
                    pattern: path.map(Pattern::compile),
                }
            })
            .collect();
        PathRules { rules }
    }

    /// True when no line has this key.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules that apply to `path` (path and query, as requested) for an agent whose
    /// groups are `groups`: the matching rules with the longest path, all of them, so the
    /// caller can combine them to the most restrictive.
    ///
    /// A line whose preference `restrictive` says reserves something matches every spelling
    /// of its path; others match only the strict form (see [`crate::robots::loose`]).
    pub fn matching<'a>(
        &'a self,
        groups: &[u32],
        path: &str,
        restrictive: impl Fn(&T) -> bool,
    ) -> Vec<&'a PathRule<T>> {
        if self.rules.is_empty() {
            return Vec::new();
        }
        let forms = PathForms::of(path);
        let mut best: Vec<&PathRule<T>> = Vec::new();
        let mut best_len = 0u32;
        for rule in &self.rules {
            let applies = rule.group == usize::MAX || groups.contains(&(rule.group as u32));
            if !applies {
                continue;
            }
            let len = match &rule.pattern {
                None => 0,
                Some(p) if p.matches_path(&forms, restrictive(&rule.value)) => p.specificity(),
                Some(_) => continue,
            };
            if best.is_empty() || len > best_len {
                best.clear();
                best_len = len;
            }
            if len == best_len {
                best.push(rule);
            }
        }
        best
    }
}

/// Splits `[path SP] preference`: a value starting with `/` has a path, which ends at the
/// first space or tab (attach §4.2). A leading `*` path is accepted too.
fn split_path(value: &str) -> (Option<&str>, &str) {
    if !(value.starts_with('/') || value.starts_with('*')) {
        return (None, value);
    }
    match value.find([' ', '\t']) {
        Some(end) => (Some(&value[..end]), value[end..].trim()),
        None => (Some(value), ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(robots: &str) -> (RobotsTxt, PathRules<String>) {
        let robots = RobotsTxt::parse(robots.as_bytes());
        let rules = PathRules::compile(&robots, "content-usage", str::to_owned);
        (robots, rules)
    }

    fn values(robots: &str, agent: &str, path: &str) -> Vec<String> {
        let (r, rules) = rules(robots);
        rules
            .matching(r.applicable_groups(agent), path, |v| v.contains("=n"))
            .into_iter()
            .map(|m| m.value.clone())
            .collect()
    }

    const ATTACH_EXAMPLE: &str = "User-Agent: *\nAllow: /\nDisallow: /never/\nContent-Usage: train-ai=n\nContent-Usage: /ai-ok/ train-ai=y\n\nUser-Agent: ExampleBot\nAllow: /\nContent-Usage: train-ai=y\n";

    #[test]
    fn aipref_attach_example_table() {
        assert_eq!(values(ATTACH_EXAMPLE, "other", "/test"), ["train-ai=n"]);
        assert_eq!(
            values(ATTACH_EXAMPLE, "other", "/ai-ok/test"),
            ["train-ai=y"]
        );
        assert_eq!(
            values(ATTACH_EXAMPLE, "ExampleBot", "/test"),
            ["train-ai=y"]
        );
    }

    #[test]
    fn equally_specific_lines_are_all_returned() {
        let r = "User-agent: *\nContent-Usage: /a/ train-ai=y\nContent-Usage: /a/ train-ai=n\n";
        assert_eq!(values(r, "x", "/a/b"), ["train-ai=y", "train-ai=n"]);
    }

    #[test]
    fn split_path_forms() {
        assert_eq!(split_path("train-ai=n"), (None, "train-ai=n"));
        assert_eq!(split_path("/x/ train-ai=n"), (Some("/x/"), "train-ai=n"));
        assert_eq!(split_path("/x/\ttrain-ai=n"), (Some("/x/"), "train-ai=n"));
        assert_eq!(split_path("/x/"), (Some("/x/"), ""));
    }
}
