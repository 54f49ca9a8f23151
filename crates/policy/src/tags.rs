//! `noai` / `noimageai` directives in `X-Robots-Tag` headers and robots `<meta>` tags.
//!
//! Values are comma-separated, case-insensitive directives. A value may be scoped to one
//! crawler, `X-Robots-Tag: otherbot: noai`; the scope holds for the directives after it, and
//! applies only when it names our product token. `unavailable_after:` and the `max-*:`
//! directives also contain a colon and are not scopes.

/// The AI directives found for one agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AiTags {
    /// `noai`: no use for AI training.
    pub noai: bool,
    /// `noimageai`: no use of images for AI training.
    pub noimageai: bool,
}

impl AiTags {
    /// Adds the directives of one `X-Robots-Tag` value (or robots meta `content`) that apply
    /// to `agent`.
    pub fn read(&mut self, value: &str, agent: &str) {
        self.read_with_scopes(value, agent, true);
    }

    /// Adds the directives of a robots `<meta>` `content`, which has no agent scopes (the
    /// meta `name` is the scope).
    pub fn read_meta(&mut self, content: &str) {
        self.read_with_scopes(content, "", false);
    }

    fn read_with_scopes(&mut self, value: &str, agent: &str, scopes: bool) {
        let mut scope_applies = true;
        for part in value.split(',') {
            let mut directive = part.trim();
            if let Some((prefix, rest)) = directive.split_once(':') {
                let prefix = prefix.trim();
                // Only a product token can be a scope (RFC 9309 §2.2.1 characters); dates in
                // `unavailable_after: Wed, 03 Dec 2025 12:00:00 GMT` contain colons too.
                let is_token = !prefix.is_empty()
                    && prefix
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                let is_directive = prefix.eq_ignore_ascii_case("unavailable_after")
                    || prefix.to_ascii_lowercase().starts_with("max-");
                if scopes && is_token && !is_directive {
                    scope_applies = prefix.eq_ignore_ascii_case(agent);
                    directive = rest.trim();
                } else if is_directive || !is_token {
                    continue;
                }
            }
            if !scope_applies {
                continue;
            }
            if directive.eq_ignore_ascii_case("noai") {
                self.noai = true;
            } else if directive.eq_ignore_ascii_case("noimageai") {
                self.noimageai = true;
            }
        }
    }
}

/// Whether a response or URL is an image, for `noimageai`: an `image/*` content type, or
/// (when there is none) a URL path with an image file extension.
pub fn is_image(content_type: Option<&str>, path: &str) -> bool {
    if let Some(ct) = content_type {
        return ct.trim().to_ascii_lowercase().starts_with("image/");
    }
    let path = path.split('?').next().unwrap_or(path).to_ascii_lowercase();
    [
        ".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".svg", ".bmp", ".tif", ".tiff",
        ".heic", ".ico",
    ]
    .iter()
    .any(|ext| path.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(values: &[&str], agent: &str) -> AiTags {
        let mut t = AiTags::default();
        for v in values {
            t.read(v, agent);
        }
        t
    }

    #[test]
    fn plain_directives_case_insensitive() {
        assert!(tags(&["noindex, NoAI"], "optout").noai);
        assert!(tags(&["noimageai"], "optout").noimageai);
        assert_eq!(tags(&["noindex, nofollow"], "optout"), AiTags::default());
    }

    #[test]
    fn agent_scoped_for_another_agent_has_no_effect() {
        assert_eq!(tags(&["otherbot: noai"], "optout"), AiTags::default());
        assert!(tags(&["OptOut: noai"], "optout").noai);
        assert!(!tags(&["otherbot: noindex, noai"], "optout").noai);
        assert!(tags(&["otherbot: noindex", "noai"], "optout").noai);
    }

    #[test]
    fn dates_with_commas_and_colons_do_not_hide_later_directives() {
        let v = "unavailable_after: Wed, 03 Dec 2025 12:00:00 GMT, noai";
        assert!(tags(&[v], "optout").noai);
        let mut meta = AiTags::default();
        meta.read_meta("unavailable_after: Friday, 25-Jun-10 15:00:00 GMT, noai");
        assert!(meta.noai);
        let mut meta = AiTags::default();
        meta.read_meta("otherbot: noai");
        assert!(!meta.noai);
    }

    #[test]
    fn colon_directives_are_not_scopes() {
        assert!(
            tags(
                &["unavailable_after: 25 Jun 2010 15:00:00 PST, noai"],
                "optout"
            )
            .noai
        );
        assert!(tags(&["max-snippet: 20, noai"], "optout").noai);
    }

    #[test]
    fn images_by_type_or_extension() {
        assert!(is_image(Some("image/png"), "/x"));
        assert!(!is_image(Some("text/html"), "/x.png"));
        assert!(is_image(None, "/a/b.JPG?x=1"));
        assert!(!is_image(None, "/a/b.html"));
    }
}
