//! Character references in attribute values, decoded as an HTML parser does (WHATWG HTML
//! §13.2.5.72-80, "character reference state", in an attribute value). `lol_html` hands out
//! attribute values raw: `href="/p?a=1&amp;b=2"` is `/p?a=1&b=2` to a browser.
//!
//! Named references come from the WHATWG table (`web_atoms`, the one html5ever uses). In an
//! attribute, a legacy reference without `;` followed by `=` or an alphanumeric is left as
//! written, so `?a=1&copy=2` keeps its `&copy`.

use std::borrow::Cow;
use web_atoms::NAMED_ENTITIES;

/// The longest named reference, `&CounterClockwiseContourIntegral;`, has 31 characters
/// before its `;`.
const MAX_NAME: usize = 32;

/// `value` with its character references decoded.
pub(super) fn decode(value: &str) -> Cow<'_, str> {
    if !value.contains('&') {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match reference(after) {
            Some((decoded, used)) => {
                out.push_str(&decoded);
                rest = &after[used..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The reference at the start of `s` (just after a `&`): its text and the bytes it used.
fn reference(s: &str) -> Option<(String, usize)> {
    match s.strip_prefix('#') {
        Some(numeric) => numeric_reference(numeric).map(|(c, used)| (c.to_string(), used + 1)),
        None => named_reference(s),
    }
}

/// `&#123;` / `&#x7B;`, `;` optional (§13.2.5.75-80).
fn numeric_reference(s: &str) -> Option<(char, usize)> {
    let (digits, radix, prefix) = match s.strip_prefix(['x', 'X']) {
        Some(hex) => (hex, 16, 1),
        None => (s, 10, 0),
    };
    let len = digits
        .bytes()
        .take_while(|b| b.is_ascii_digit() || (radix == 16 && b.is_ascii_hexdigit()))
        .count();
    if len == 0 {
        return None;
    }
    let value = digits[..len].bytes().fold(0u32, |n, b| {
        n.saturating_mul(radix).saturating_add(hex_value(b))
    });
    let semicolon = usize::from(digits[len..].starts_with(';'));
    Some((numeric_char(value), prefix + len + semicolon))
}

fn hex_value(b: u8) -> u32 {
    char::from(b).to_digit(16).unwrap_or(0)
}

/// §13.2.5.80 "numeric character reference end state": null, out of range and surrogates
/// become U+FFFD; 0x80-0x9F are read as windows-1252, as old pages meant them.
fn numeric_char(value: u32) -> char {
    if (0x80..=0x9F).contains(&value) {
        let byte = [value as u8];
        let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
        return text.chars().next().unwrap_or('\u{FFFD}');
    }
    match value {
        0 => '\u{FFFD}',
        v => char::from_u32(v).unwrap_or('\u{FFFD}'),
    }
}

/// `&amp;`, or a legacy `&amp` without its `;` (§13.2.5.73 "named character reference
/// state"): the longest name in the table wins.
fn named_reference(s: &str) -> Option<(String, usize)> {
    let run = s
        .bytes()
        .take(MAX_NAME + 1)
        .take_while(u8::is_ascii_alphanumeric)
        .count();
    if run == 0 || run > MAX_NAME {
        return None;
    }
    if s[run..].starts_with(';') {
        let key = format!("{};", &s[..run]);
        if let Some(&(first, second)) = NAMED_ENTITIES.get(key.as_str()) {
            return (first != 0).then(|| (chars(first, second), run + 1));
        }
    }
    // Legacy names (no `;`): only a whole run followed by neither `=` nor an alphanumeric is
    // decoded in an attribute (a shorter prefix is always followed by an alphanumeric).
    let &(first, second) = NAMED_ENTITIES.get(&s[..run])?;
    let next = s[run..].chars().next();
    if first == 0 || next == Some('=') {
        return None;
    }
    Some((chars(first, second), run))
}

fn chars(first: u32, second: u32) -> String {
    [first, second]
        .into_iter()
        .filter(|&c| c != 0)
        .filter_map(char::from_u32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn whatwg_attribute_character_references() {
        for (raw, decoded) in [
            ("/p?a=1&amp;b=2", "/p?a=1&b=2"),
            ("/p?a=1&amp=2", "/p?a=1&amp=2"),
            ("/p?a=1&copy=2", "/p?a=1&copy=2"),
            ("/p?a=1&copy;2", "/p?a=1\u{a9}2"),
            ("&copy", "\u{a9}"),
            ("&copyx", "&copyx"),
            ("&notit;", "&notit;"),
            ("&#38;&#x26;&#X26", "&&&"),
            ("&#0;&#x110000;&#xD800;", "\u{FFFD}\u{FFFD}\u{FFFD}"),
            ("&#x80;&#150;", "\u{20AC}\u{2013}"),
            ("&#;&#x;&;&", "&#;&#x;&;&"),
            ("&#99999999999999999999;", "\u{FFFD}"),
            ("&NotNestedGreaterGreater;", "\u{2AA2}\u{338}"),
            ("java&#9;script:", "java\tscript:"),
            ("plain", "plain"),
        ] {
            assert_eq!(decode(raw), decoded, "{raw}");
        }
    }
}
