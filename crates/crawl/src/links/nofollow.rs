//! `nofollow` in robots metas, `X-Robots-Tag` and `Robots-Tag` headers, with Google's documented syntax
//! (there is no RFC): comma-separated directives, any case; `none` means `noindex, nofollow`.
//! A header value may be scoped to one crawler, `X-Robots-Tag: googlebot: nofollow`; the scope
//! holds for the directives after it and applies only when it names our product token (the
//! same reading as [`optout_policy::tags`] gives `noai`).

/// Whether the `X-Robots-Tag` header `values` tell `agent` not to follow the page's links:
/// an unscoped `nofollow` or `none`, or one scoped to `agent` (`optout: nofollow`).
/// Directives scoped to other crawlers (`googlebot: nofollow`) do not count.
pub fn header_nofollow<'a>(values: impl Iterator<Item = &'a str>, agent: &str) -> bool {
    values.into_iter().any(|value| {
        let mut applies = true;
        value.split(',').any(|part| {
            let mut directive = part.trim();
            if let Some((prefix, rest)) = directive.split_once(':') {
                let prefix = prefix.trim();
                if !is_scope(prefix) {
                    // `unavailable_after: <date>`, `max-snippet: 20`: not ours.
                    return false;
                }
                applies = prefix.eq_ignore_ascii_case(agent);
                directive = rest.trim();
            }
            applies && says_nofollow(directive)
        })
    })
}

/// Whether the `Robots-Tag` field `lines` (draft-illyes-repext-03 §3.1.1) tell `agent` not
/// to follow the page's links: `nofollow` or `none` among the parameters of the members for
/// `*` or for `agent`. A field that is no structured list is read as `X-Robots-Tag` syntax
/// (as the judge reads it); one that cannot be read at all counts as `nofollow`: what the
/// site said is unknown, and its word is not guessed in the crawler's favour.
pub fn robots_tag_nofollow<'a>(lines: impl Iterator<Item = &'a str>, agent: &str) -> bool {
    use optout_policy::robots_tag::{RobotsTag, field};
    let Some(field) = field(lines) else {
        return false;
    };
    match RobotsTag::read(&field, agent) {
        RobotsTag::Structured { scoped, .. } => scoped.has("nofollow") || scoped.has("none"),
        RobotsTag::Legacy => header_nofollow(std::iter::once(field.as_str()), agent),
        RobotsTag::Unreadable(_) => true,
    }
}

/// Whether a robots meta `content` says `nofollow` (its `name` is its scope).
pub(super) fn meta_nofollow(content: &str) -> bool {
    content.split(',').any(|d| says_nofollow(d.trim()))
}

fn says_nofollow(directive: &str) -> bool {
    directive.eq_ignore_ascii_case("nofollow") || directive.eq_ignore_ascii_case("none")
}

/// Whether the text before a colon is a crawler's product token (RFC 9309 §2.2.1
/// characters) rather than a directive that takes a value.
fn is_scope(prefix: &str) -> bool {
    let lower = prefix.to_ascii_lowercase();
    !prefix.is_empty()
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && lower != "unavailable_after"
        && !lower.starts_with("max-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(values: &[&str]) -> bool {
        header_nofollow(values.iter().copied(), "optout")
    }

    #[test]
    fn google_x_robots_tag_unscoped_nofollow_and_none() {
        assert!(header(&["nofollow"]));
        assert!(header(&["noindex, NoFollow"]));
        assert!(header(&["NONE"]));
        assert!(header(&["noindex", "nofollow"]));
        assert!(!header(&["noindex, noarchive"]));
        assert!(!header(&[]));
        assert!(!header(&["nofollowers", "no follow"]));
    }

    #[test]
    fn google_x_robots_tag_scoped_to_other_crawlers_does_not_count() {
        assert!(!header(&["googlebot: nofollow"]));
        assert!(!header(&["otherbot: noindex, nofollow"]));
        assert!(header(&["OptOut: nofollow"]));
        assert!(header(&["googlebot: noindex", "optout: none"]));
        // The scope holds for the directives after it, within one value.
        assert!(header(&["googlebot: noindex, optout: noarchive, nofollow"]));
        // A dated directive is not a scope and does not end one.
        assert!(!header(&[
            "unavailable_after: Wed, 03 Dec 2025 12:00:00 GMT"
        ]));
        assert!(header(&["max-snippet: 20, nofollow"]));
    }

    #[test]
    fn google_robots_meta_content() {
        assert!(meta_nofollow("noindex,nofollow"));
        assert!(meta_nofollow(" None "));
        assert!(!meta_nofollow("index, follow"));
        assert!(!meta_nofollow(""));
    }
}
