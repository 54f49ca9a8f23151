//! Escaping strings from the log for each output format. URLs, host names, agents and
//! reason codes in a record came from the web or from a store handed to us: each is text,
//! never markup, in every format we write.

use std::fmt::Write;

/// `text` as HTML text or an attribute value (quoted with `"` or `'`), and as XML 1.0 text
/// (the crawler page's Atom feed): `& < > " '` as character references, and the characters
/// neither format allows (controls other than tab, line feed and carriage return, and the
/// noncharacters U+FFFE and U+FFFF: XML 1.0 §2.2, HTML's "control-character-in-input-stream"
/// and "noncharacter-in-input-stream") as U+FFFD. One escaper for every page and feed, so
/// the report and the crawler page cannot disagree on what is text.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

/// `text` as Markdown inline text (also inside a table cell or after a list marker): HTML's
/// special characters `& < >` as character references (Markdown passes raw HTML through), the
/// inline punctuation of CommonMark backslash-escaped (§2.4), and what would start a block at
/// the start (`#`, `+`, `-`, `=`, `1. `); line breaks and other control characters as U+FFFD,
/// so a value cannot end a table row or start a block. Dots and dashes inside stay as they
/// are: `example.com` reads as written.
pub fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut leading_digits = true;
    let mut chars = text.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        let before_space = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '#' | '+' | '-' | '=' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            '.' | ')' if leading_digits && i > 0 && before_space => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
        leading_digits &= c.is_ascii_digit();
    }
    out
}

/// A CSV text cell that a spreadsheet will not run as a formula (OWASP "CSV injection"): a
/// cell starting with `= + - @`, a tab or a carriage return gets a leading `'`. The `csv`
/// crate does the RFC 4180 quoting.
pub fn csv_cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

/// A byte count for people: `1.5 MB` (SI units, as disk sizes are sold), exact below 1 kB.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = u;
    }
    let mut out = String::new();
    let _ = write!(out, "{value:.1} {unit}");
    out
}

/// `n` with thin groups of three digits (`1 234 567`), for tables people read.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_stays_text() {
        let hostile = "<script>alert(\"x\")</script>\n| a | 'b' & [c](d)\u{0}";
        let h = html(hostile);
        assert!(!h.contains('<') && !h.contains('"') && !h.contains('\'') && !h.contains('\0'));
        assert!(h.contains("&lt;script&gt;"));
        let m = md(hostile);
        assert!(!m.contains('<') && !m.contains('\n') && !m.contains('\0'));
        assert!(m.contains("&lt;script&gt;alert(\"x\")"));
        assert!(!m.replace("\\|", "").contains('|'));
        assert!(m.contains("\\[c\\](d)"));
        assert_eq!(md("www.example.com"), "www.example.com");
        assert_eq!(md("# 1. -x"), "\\# 1. -x");
        assert_eq!(md("12. x"), "12\\. x");
        assert_eq!(md("127.0.0.1"), "127.0.0.1");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_cell("example.com"), "example.com");
    }

    /// The page and the feed escape alike (the crawler page's feed is XML 1.0).
    #[test]
    fn markup_and_characters_neither_html_nor_xml_allows() {
        assert_eq!(
            html("<script>alert('x')</script> & \"]]>\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;]]&gt;&quot;"
        );
        assert_eq!(
            html("a\u{0}b\u{1b}c\u{85}\u{FFFF}\u{FFFE}\td\r\n"),
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}\u{FFFD}\td\r\n"
        );
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1500), "1.5 kB");
        assert_eq!(bytes(u64::MAX), "18.4 EB");
        assert_eq!(count(0), "0");
        assert_eq!(count(1234567), "1\u{202f}234\u{202f}567");
    }
}
