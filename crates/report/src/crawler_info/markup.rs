//! Escaping for the page (HTML) and the feed (XML). Every string written into either goes
//! through [`text`]: configuration values and checkpoint lines are the operator's, but the
//! page is read by anyone, and a value such as `</pre><script>` or `]]>` must stay text.

/// `s` as XML 1.0 and HTML text or attribute value: `&`, `<`, `>`, `"` and `'` escaped, and
/// characters XML 1.0 does not allow (controls other than tab, line feed and carriage
/// return; U+FFFE, U+FFFF) replaced by U+FFFD, so the feed stays well-formed (XML 1.0 §2.2).
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_forbidden_characters() {
        assert_eq!(
            text("<script>alert('x')</script> & \"]]>\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;]]&gt;&quot;"
        );
        assert_eq!(
            text("a\u{0}b\u{1b}c\u{85}\u{FFFF}\td"),
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}\td"
        );
    }
}
