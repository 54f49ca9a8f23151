//! The bytes of a sitemap as a bounded stream: gunzipped when they start with gzip's magic
//! bytes, capped at `max_bytes` of output, read errors turned into an early end (noted).

use flate2::read::MultiGzDecoder;
use std::io::{self, BufRead, Read};

/// gzip's magic bytes (RFC 1952 §2.3.1: ID1 = 31, ID2 = 139).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// `bytes`, decompressed when they are gzip (by their magic bytes alone; concatenated gzip
/// members are read as one stream, as `gzip -d` does).
pub(super) fn decompressed(bytes: &[u8]) -> Box<dyn Read + '_> {
    if bytes.starts_with(&GZIP_MAGIC) {
        Box::new(MultiGzDecoder::new(bytes))
    } else {
        Box::new(bytes)
    }
}

/// A reader that ends after `left` bytes, noting whether more were there, and ends at the
/// first error of the inner reader (corrupt gzip), noting it.
pub(super) struct Capped<'b> {
    inner: Box<dyn Read + 'b>,
    left: usize,
    exceeded: bool,
    broken: bool,
}

impl<'b> Capped<'b> {
    pub(super) fn new(inner: Box<dyn Read + 'b>, max_bytes: usize) -> Self {
        Capped {
            inner,
            left: max_bytes,
            exceeded: false,
            broken: false,
        }
    }

    /// More bytes than the cap were there.
    pub(super) fn exceeded(&self) -> bool {
        self.exceeded
    }

    /// The inner reader failed (the data ended early).
    pub(super) fn broken(&self) -> bool {
        self.broken
    }

    fn read_inner(&mut self, buf: &mut [u8]) -> usize {
        if self.broken {
            return 0;
        }
        loop {
            match self.inner.read(buf) {
                Ok(n) => return n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.broken = true;
                    return 0;
                }
            }
        }
    }
}

impl Read for Capped<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.exceeded {
            return Ok(0);
        }
        if self.left == 0 {
            // One byte more tells a sitemap of exactly `max_bytes` from a longer one.
            self.exceeded = self.read_inner(&mut [0u8]) > 0;
            return Ok(0);
        }
        let want = buf.len().min(self.left);
        let n = self.read_inner(&mut buf[..want]);
        self.left -= n;
        Ok(n)
    }
}

/// The first byte that is not a UTF-8 byte order mark or ASCII whitespace, left unconsumed;
/// `None` at the end of the data.
pub(super) fn first_byte(reader: &mut impl BufRead) -> Option<u8> {
    let mut start = true;
    loop {
        let buf = reader.fill_buf().ok()?;
        let &first = buf.first()?;
        if start && buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
            reader.consume(3);
        } else if first.is_ascii_whitespace() {
            let blank = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
            reader.consume(blank);
        } else {
            return Some(first);
        }
        start = false;
    }
}

/// A reader of UTF-8 with every invalid sequence replaced by U+FFFD (WHATWG Encoding's UTF-8
/// decoder, streaming), so that one bad byte spoils one entry, not the rest of the sitemap
/// (quick-xml stops at invalid UTF-8).
pub(super) struct Utf8Lossy<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    input: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// The decoder saw the end (it must not be called again).
    finished: bool,
    /// Decoded bytes that did not fit a small read.
    pending: Vec<u8>,
}

impl<R: Read> Utf8Lossy<R> {
    pub(super) fn new(inner: R) -> Self {
        Utf8Lossy {
            inner,
            decoder: encoding_rs::UTF_8.new_decoder_without_bom_handling(),
            input: vec![0; 16 * 1024],
            start: 0,
            end: 0,
            eof: false,
            finished: false,
            pending: Vec::new(),
        }
    }

    pub(super) fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Decodes into `out` (at least 4 bytes); 0 only at the end.
    fn decode(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while !self.finished {
            if self.start == self.end && !self.eof {
                let n = self.inner.read(&mut self.input)?;
                (self.start, self.end, self.eof) = (0, n, n == 0);
            }
            let (result, read, written, _) =
                self.decoder
                    .decode_to_utf8(&self.input[self.start..self.end], out, self.eof);
            self.start += read;
            self.finished = self.eof && result == encoding_rs::CoderResult::InputEmpty;
            if written > 0 {
                return Ok(written);
            }
        }
        Ok(0)
    }
}

impl<R: Read> Read for Utf8Lossy<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pending.is_empty() && buf.len() >= 4 {
            return self.decode(buf);
        }
        if self.pending.is_empty() {
            let mut out = [0u8; 64];
            let n = self.decode(&mut out)?;
            self.pending.extend_from_slice(&out[..n]);
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}
