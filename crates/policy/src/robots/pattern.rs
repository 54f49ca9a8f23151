//! A compiled robots.txt path pattern (RFC 9309 §2.2.2, §2.2.3).
//!
//! A pattern is kept as the literal pieces between its `*` wildcards, each in the canonical
//! octet form of [`super::canonical`], plus whether it ends in the `$` anchor. Matching is
//! greedy leftmost search of each piece, which is exact for patterns whose only wildcard is
//! `*` and runs in time linear in the path for every piece: no backtracking, so a hostile
//! pattern cannot make a decision slow.
//!
//! A `%` that starts no escape (`Disallow: /100%`, `/a%zz`, `/a%2*`) is ambiguous. The RFC
//! form reads it as a literal `%` (`%25`), which is what a URL means by `/a%zz` or `/a%25zz`;
//! Google's parser compares the rule as written, so `/100%` also matches `/100%20off` and
//! `/a%2*` matches `/a%2F`: the stray `%` may be the start of an escape in the URL. Such a
//! pattern keeps its pieces in Google's form too ([`super::canonical::google`]). A
//! restrictive rule matches when either reading does; any other rule only when both do, so
//! a stray `%` in an `Allow` never allows what either reading refuses.

use super::canonical::{PathForms, canonical, google, has_stray_percent, loose};
use memchr::memmem;

/// One compiled `Allow`/`Disallow` path pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// Literal pieces between `*`s, in the strict form; `pieces[0]` must match at the first
    /// octet of the path.
    pieces: Box<[Box<[u8]>]>,
    /// The pieces in the loose form, when it differs (only patterns with a `%` can).
    loose_pieces: Option<Box<[Box<[u8]>]>>,
    /// The pieces in Google's form, for patterns with a `%` that starts no escape.
    google_pieces: Option<Box<[Box<[u8]>]>>,
    /// The pattern ended in `$`: the last piece must end at the end of the path.
    anchored_end: bool,
    /// "The most specific match is the match that has the most octets" (§2.2.2): the octet
    /// length of the pattern in canonical form, counting each `*` and the `$` as one octet.
    specificity: u32,
}

impl Pattern {
    /// Compiles a pattern as written after `Allow:`/`Disallow:` (already trimmed).
    ///
    /// Only a `$` at the very end is the anchor (§2.2.3); elsewhere it is a literal octet.
    /// `%2A` and `%24` are literal `*` and `$` (§2.2.3: "crawlers SHOULD use "%" encoding").
    pub(crate) fn compile(raw: &str) -> Pattern {
        Pattern::compile_octets(raw.as_bytes())
    }

    /// Compiles a pattern given as octets, which need not be UTF-8 (a robots.txt line in
    /// Latin-1 read as the octets it is: RFC 9309 §2.2.2 percent-encodes them).
    pub(crate) fn compile_octets(raw: &[u8]) -> Pattern {
        let (body, anchored_end) = match raw.strip_suffix(b"$") {
            Some(body) => (body, true),
            None => (raw, false),
        };
        let split = || body.split(|&b| b == b'*');
        // §2.2.3: `%2A` and `%24` in a pattern are a literal `*` and `$` in the URI.
        let pieces: Box<[Box<[u8]>]> = split()
            .map(|piece| literal_specials(&canonical(piece)))
            .collect();
        let loose_pieces = body.contains(&b'%').then(|| {
            split()
                .map(|piece| Box::from(loose(piece).as_ref()))
                .collect::<Box<[Box<[u8]>]>>()
        });
        let loose_pieces = loose_pieces.filter(|l| *l != pieces);
        // Checked on the whole body: in `/a%*41` the `%` is stray, though `%41` follows.
        let google_pieces = has_stray_percent(body).then(|| {
            split()
                .map(|piece| Box::from(google(piece).as_ref()))
                .collect::<Box<[Box<[u8]>]>>()
        });
        let literal: usize = pieces.iter().map(|p| p.len()).sum();
        let specificity = literal + (pieces.len() - 1) + usize::from(anchored_end);
        Pattern {
            pieces,
            loose_pieces,
            google_pieces,
            anchored_end,
            specificity: u32::try_from(specificity).unwrap_or(u32::MAX),
        }
    }

    /// The priority of this pattern under longest match.
    pub(crate) fn specificity(&self) -> u32 {
        self.specificity
    }

    /// The pattern is empty (`Disallow:` with no value): it expresses no restriction.
    pub(crate) fn is_empty(&self) -> bool {
        self.specificity == 0
    }

    /// Whether the pattern matches `path`. A `restrictive` rule (a `Disallow`, a
    /// reservation) matches in the strict, the loose or (with a stray `%`) Google's form, so
    /// no spelling or reading escapes it; any other rule only in the strict form, and with a
    /// stray `%` only when Google's form matches too, so no spelling or reading widens it.
    pub(crate) fn matches_path(&self, path: &PathForms<'_>, restrictive: bool) -> bool {
        let strict = matches_pieces(&self.pieces, self.anchored_end, &path.strict);
        let google = || {
            self.google_pieces
                .as_deref()
                .map(|pieces| matches_pieces(pieces, self.anchored_end, path.google()))
        };
        if !restrictive {
            return strict && google().unwrap_or(true);
        }
        if strict || google() == Some(true) {
            return true;
        }
        if self.loose_pieces.is_none() && path.loose.is_none() {
            return false;
        }
        let pieces = self.loose_pieces.as_deref().unwrap_or(&self.pieces);
        matches_pieces(pieces, self.anchored_end, path.loose())
    }

    /// Whether the pattern matches `path`, which must be in the strict canonical form.
    #[cfg(test)]
    pub(crate) fn matches(&self, path: &[u8]) -> bool {
        matches_pieces(&self.pieces, self.anchored_end, path)
    }
}

/// Turns `%2A` and `%24` (in canonical form every `%` starts an escape) into `*` and `$`.
fn literal_specials(piece: &[u8]) -> Box<[u8]> {
    if !piece.windows(3).any(|w| w == b"%2A" || w == b"%24") {
        return Box::from(piece);
    }
    let mut out = Vec::with_capacity(piece.len());
    let mut i = 0;
    while i < piece.len() {
        match piece.get(i..i + 3) {
            Some(b"%2A") => {
                out.push(b'*');
                i += 3;
            }
            Some(b"%24") => {
                out.push(b'$');
                i += 3;
            }
            _ => {
                out.push(piece[i]);
                i += 1;
            }
        }
    }
    out.into()
}

/// Greedy leftmost matching of `pieces` separated by `*`.
fn matches_pieces(pieces: &[Box<[u8]>], anchored_end: bool, path: &[u8]) -> bool {
    {
        let (first, rest) = match pieces.split_first() {
            Some(split) => split,
            None => return false,
        };
        let Some((last, middle)) = rest.split_last() else {
            return if anchored_end {
                path == first.as_ref()
            } else {
                path.starts_with(first)
            };
        };
        if !path.starts_with(first) {
            return false;
        }
        let mut pos = first.len();
        for piece in middle {
            match memmem::find(&path[pos..], piece) {
                Some(at) => pos += at + piece.len(),
                None => return false,
            }
        }
        if anchored_end {
            path.len() >= pos + last.len() && path.ends_with(last)
        } else {
            memmem::find(&path[pos..], last).is_some()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn m(pattern: &str, path: &str) -> bool {
        Pattern::compile(pattern).matches(path.as_bytes())
    }

    #[test]
    fn rfc9309_prefix_match_starts_at_first_octet() {
        assert!(m("/fish", "/fish.html"));
        assert!(m("/fish", "/fishheads/yummy.html"));
        assert!(!m("/fish", "/catfish"));
        assert!(!m("fish", "/fish"));
    }

    #[test]
    fn rfc9309_matching_is_case_sensitive() {
        assert!(!m("/fish", "/Fish.asp"));
    }

    #[test]
    fn rfc9309_dollar_anchors_the_end() {
        assert!(m("/*.php$", "/folder/filename.php"));
        assert!(!m("/*.php$", "/filename.php?parameters"));
        assert!(!m("/*.php$", "/filename.php5"));
        assert!(m("/$", "/"));
        assert!(!m("/$", "/a"));
    }

    #[test]
    fn rfc9309_dollar_not_at_end_is_literal() {
        assert!(m("/a$b", "/a$b/c"));
        assert!(!m("/a$b", "/a"));
    }

    #[test]
    fn rfc9309_star_matches_any_sequence() {
        assert!(m("/foo/*/qux", "/foo/bar/qux"));
        assert!(m("/foo/*/qux", "/foo//qux"));
        assert!(!m("/foo/*/qux", "/foo/qux"));
        assert!(m("*.gif$", "/a/b.gif"));
    }

    #[test]
    fn wildcard_with_longer_path_matches_unlike_robotstxt_0_3_0() {
        // The robotstxt crate's DefaultMatcher answers "allowed" for both of these.
        assert!(m("/*.html", "/x/y/landing/abc.htindex.html"));
        assert!(m("/*/landing/", "/x/y/landing/abc.html"));
    }

    #[test]
    fn anchored_last_piece_must_start_after_earlier_pieces() {
        assert!(!m("/ab*b$", "/ab"));
        assert!(m("/ab*b$", "/abb"));
    }

    #[test]
    fn encoded_specials_are_literals() {
        assert!(m("/path/file-with-a-%2A.html", "/path/file-with-a-*.html"));
        assert!(m("/path/foo-%24", "/path/foo-$"));
        assert!(!m("/path/foo-%24", "/path/foo-"));
    }

    #[test]
    fn specificity_counts_octets() {
        assert_eq!(Pattern::compile("/fish*").specificity(), 6);
        assert_eq!(Pattern::compile("/*.php$").specificity(), 7);
        assert_eq!(Pattern::compile("/ツ").specificity(), 10);
        assert!(Pattern::compile("").is_empty());
    }
}
