//! What `check` and `fetch` print is read by people on terminals and by programs through
//! pipes; both are served honestly here.
//!
//! - Plain output quotes the web: URLs as given, and details that carry server-sent text
//!   (a `Location`, a status text, a header value, a robots.txt line). A control character
//!   in them would reach the terminal raw: ESC starts a sequence that can rewrite the
//!   screen or the window title, CR overwrites the line already printed, BEL rings. So every
//!   control character (C0, DEL, C1) and every bidirectional override is printed as an
//!   escape: `\t`, `\n`, `\r`, `\x1b` for C0 and DEL, `\u{9b}` for C1 and the bidi
//!   controls. Backslashes are left alone, so an escape cannot be told from the same
//!   characters typed in a URL: plain output is for reading, `--json` is the exact text.
//! - JSON output escapes C0 controls as RFC 8259 §7 requires, but serde_json writes DEL and
//!   C1 controls (U+0080–U+009F) raw, and some terminals act on a C1 CSI (U+009B) as on
//!   `ESC [`. `\u009b` is the same JSON string, so escaping them loses nothing for a
//!   program and protects whoever views the JSON on a terminal: [`JsonSafe`] does. Bidi
//!   controls are left as they are in JSON: they reorder what a terminal shows but are not
//!   commands to it, and a program reading the JSON sees the text unchanged either way.
//! - When standard output is closed early (`optout check ... | head -1`), the command
//!   stops reading input, syncs the evidence log and exits with [`EXIT_CLOSED_PIPE`], as a
//!   tool killed by `SIGPIPE` would (Rust ignores the signal, so the write fails instead).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

/// The exit status when standard output was closed before everything was written: 128 +
/// `SIGPIPE` (13), what a shell reports for a tool the signal killed.
pub const EXIT_CLOSED_PIPE: u8 = 141;

/// True for the characters [`printable`] escapes: C0, DEL and C1 controls, and the
/// bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), which
/// reorder what follows them on screen.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` as it may be shown on a terminal: control characters escaped (see the module
/// documentation), everything else unchanged.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => shown.push_str("\\t"),
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            c if c.is_ascii_control() => {
                let _ = write!(shown, "\\x{:02x}", u32::from(c));
            }
            c if needs_escape(c) => {
                let _ = write!(shown, "\\u{{{:x}}}", u32::from(c));
            }
            c => shown.push(c),
        }
    }
    Cow::Owned(shown)
}

/// A writer for serde_json output that escapes what serde_json writes raw: DEL and the C1
/// controls, as `\u007f`..`\u009f` (the same JSON string). Outside strings JSON is ASCII,
/// and a C1 control is the two bytes `C2 80`..`C2 9F` in UTF-8, so the bytes alone say
/// where they are; a `C2` at the end of one write is held for the next.
pub struct JsonSafe<W: Write> {
    inner: W,
    held_c2: bool,
}

impl<W: Write> JsonSafe<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> JsonSafe<W> {
        JsonSafe {
            inner,
            held_c2: false,
        }
    }

    /// Writes what is held; call once the JSON value is complete.
    pub fn finish(mut self) -> io::Result<W> {
        if std::mem::take(&mut self.held_c2) {
            self.inner.write_all(&[0xC2])?;
        }
        Ok(self.inner)
    }
}

impl<W: Write> Write for JsonSafe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        if std::mem::take(&mut self.held_c2) {
            match rest.first() {
                Some(&b @ 0x80..=0x9F) => {
                    write!(self.inner, "\\u{:04x}", b)?;
                    rest = &rest[1..];
                }
                _ => self.inner.write_all(&[0xC2])?,
            }
        }
        while let Some(i) = rest.iter().position(|&b| b == 0xC2 || b == 0x7F) {
            self.inner.write_all(&rest[..i])?;
            if rest[i] == 0x7F {
                self.inner.write_all(b"\\u007f")?;
                rest = &rest[i + 1..];
                continue;
            }
            match rest.get(i + 1) {
                Some(&b @ 0x80..=0x9F) => {
                    write!(self.inner, "\\u{:04x}", b)?;
                    rest = &rest[i + 2..];
                }
                Some(_) => {
                    self.inner.write_all(&[0xC2])?;
                    rest = &rest[i + 1..];
                }
                None => {
                    self.held_c2 = true;
                    rest = &[];
                }
            }
        }
        self.inner.write_all(rest)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `value` as one line of JSON through [`JsonSafe`].
pub fn write_json_line<T: serde::Serialize>(out: &mut impl Write, value: &T) -> io::Result<()> {
    let mut safe = JsonSafe::new(&mut *out);
    serde_json::to_writer(&mut safe, value).map_err(io::Error::from)?;
    safe.finish()?.write_all(b"\n")
}

/// Writes JSON text already in `bytes` (one whole line) through [`JsonSafe`] when it holds a
/// byte [`JsonSafe`] may escape (DEL, or the `C2` that starts every C1 control), and as it is
/// otherwise: bulk checks write a line per URL, and most hold neither.
pub fn write_json_bytes(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    if memchr::memchr2(0x7f, 0xc2, bytes).is_none() {
        return out.write_all(bytes);
    }
    let mut safe = JsonSafe::new(&mut *out);
    safe.write_all(bytes)?;
    safe.finish().map(drop)
}

/// True when `e` says standard output was closed by its reader.
pub fn is_closed_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_the_rest_is_kept() {
        assert_eq!(printable("https://e.com/ü"), "https://e.com/ü");
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
        assert_eq!(
            printable("a\x1b[2Jb\x07c\rd\ne\tf\x7fg\u{9b}h\u{202e}i\0"),
            "a\\x1b[2Jb\\x07c\\rd\\ne\\tf\\x7fg\\u{9b}h\\u{202e}i\\x00"
        );
    }

    fn json_safe(chunks: &[&[u8]]) -> Vec<u8> {
        let mut safe = JsonSafe::new(Vec::new());
        for chunk in chunks {
            safe.write_all(chunk).unwrap();
        }
        safe.finish().unwrap()
    }

    #[test]
    fn json_keeps_its_meaning_with_c1_and_del_escaped() {
        let text = "a\u{9b}31m\u{7f}\u{80}é\u{9f}ÿ";
        let mut out = Vec::new();
        write_json_line(&mut out, &text).unwrap();
        let line = String::from_utf8(out).unwrap();
        assert_eq!(line, "\"a\\u009b31m\\u007f\\u0080é\\u009fÿ\"\n");
        let back: String = serde_json::from_str(&line).unwrap();
        assert_eq!(back, text);
        // A C1 control split between two writes is still escaped.
        let bytes = "x\u{9b}y".as_bytes();
        assert_eq!(json_safe(&[&bytes[..2], &bytes[2..]]), b"x\\u009by");
        assert_eq!(json_safe(&[&bytes[..2]]), &bytes[..2]);
        // Other characters whose UTF-8 starts with C2 are untouched.
        assert_eq!(json_safe(&["\u{a0}©".as_bytes()]), "\u{a0}©".as_bytes());
    }
}
