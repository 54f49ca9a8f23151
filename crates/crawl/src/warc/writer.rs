//! [`WarcWriter`]: appends exchanges to numbered `.warc.gz` files, one gzip member per record,
//! and indexes them in `index.cdxj`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::cdxj::{INDEX_FILE, Line, repair_cdxj};
use super::date::{timestamp14, warc_date};
use super::record::{
    head, metadata_block, mime, one_line_str, record_id, request_block, response_head, sha1_label,
    uri, warcinfo_block,
};
use super::{Exchange, PROFILE_SERVER_NOT_MODIFIED, Position, WarcError, WarcOptions, Written};

/// Counts the bytes written through it: the offsets of the gzip members.
struct Counter<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The file being written.
struct Current {
    name: String,
    path: PathBuf,
    out: Counter<BufWriter<File>>,
    warcinfo_id: String,
}

impl Current {
    /// Writes one record as one gzip member; returns its offset and length.
    fn member(&mut self, head: &[u8], block: &[&[u8]]) -> io::Result<(u64, u64)> {
        let start = self.out.written;
        let mut gz = GzEncoder::new(&mut self.out, Compression::default());
        gz.write_all(head)?;
        for part in block {
            gz.write_all(part)?;
        }
        gz.write_all(b"\r\n\r\n")?;
        gz.finish()?;
        Ok((start, self.out.written - start))
    }

    /// Writes buffered bytes and syncs them to disk.
    fn sync(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.inner.get_ref().sync_data()
    }
}

/// Writes kept pages into WARC/1.1 files in a crawl directory (see the [module](super) doc).
/// Not shared between threads: the crawl owns one.
pub struct WarcWriter {
    dir: PathBuf,
    options: WarcOptions,
    next_serial: u64,
    current: Option<Current>,
    cdxj: Counter<BufWriter<File>>,
    cdxj_path: PathBuf,
    /// A file was created since the last flush: the directory needs a sync too.
    dir_dirty: bool,
}

impl WarcWriter {
    /// Opens the writer in `dir`: continues numbering after the files already there
    /// (`{prefix}-{yyyymmddhhmmss}-{nnnnn}.warc.gz`), never appends to or overwrites an
    /// existing file. The first file is created with the first exchange. `index.cdxj` is
    /// appended to, after a cut last line is dropped.
    pub fn open(dir: &Path, options: WarcOptions) -> Result<WarcWriter, WarcError> {
        let next_serial = last_serial(dir, &options.prefix)?.map_or(0, |n| n + 1);
        let cdxj_path = dir.join(INDEX_FILE);
        repair_cdxj(&cdxj_path)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&cdxj_path)
            .map_err(WarcError::io(&cdxj_path))?;
        let written = file.metadata().map_err(WarcError::io(&cdxj_path))?.len();
        Ok(WarcWriter {
            dir: dir.to_owned(),
            options,
            next_serial,
            current: None,
            cdxj: Counter {
                inner: BufWriter::new(file),
                written,
            },
            cdxj_path,
            dir_dirty: true,
        })
    }

    /// Writes the request, response (or revisit) and metadata records of one exchange, and
    /// its CDXJ line; first a new file (with its `warcinfo`) when the current one has reached
    /// `max_file_bytes`. After an error the file is abandoned: the next exchange starts a
    /// new one, and [`repair`](super::repair) removes the partial record.
    pub fn write(&mut self, exchange: &Exchange) -> Result<Written, WarcError> {
        let rotate = self
            .current
            .as_ref()
            .is_some_and(|c| c.out.written >= self.options.max_file_bytes);
        if rotate && let Some(mut old) = self.current.take() {
            old.sync().map_err(WarcError::io(&old.path))?;
        }
        if self.current.is_none() {
            self.current = Some(self.create()?);
        }
        let result = self.write_exchange(exchange);
        if result.is_err() {
            self.current = None;
        }
        result
    }

    /// Hands buffered bytes to the operating system without syncing them: a process that is
    /// killed then loses nothing written (a power cut still may, up to the last
    /// [`Self::flush`]). The crawl calls it after each batch, so a resume finds every page it
    /// archived before a kill and does not fetch it again.
    pub fn write_through(&mut self) -> Result<(), WarcError> {
        if let Some(current) = &mut self.current {
            current.out.flush().map_err(WarcError::io(&current.path))?;
        }
        let path = &self.cdxj_path;
        self.cdxj.flush().map_err(WarcError::io(path))
    }

    /// Writes buffered bytes and syncs the WARC file and the CDXJ file; returns the position
    /// everything before is durable at.
    pub fn flush(&mut self) -> Result<Position, WarcError> {
        let mut position = Position::default();
        if let Some(current) = &mut self.current {
            current.sync().map_err(WarcError::io(&current.path))?;
            position.file = Some(current.name.clone());
            position.offset = current.out.written;
        }
        let path = &self.cdxj_path;
        self.cdxj.flush().map_err(WarcError::io(path))?;
        self.cdxj
            .inner
            .get_ref()
            .sync_data()
            .map_err(WarcError::io(path))?;
        position.cdxj_offset = self.cdxj.written;
        if self.dir_dirty {
            #[cfg(unix)]
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(WarcError::io(&self.dir))?;
            self.dir_dirty = false;
        }
        Ok(position)
    }

    /// Creates the next file and writes its `warcinfo` record.
    fn create(&mut self) -> Result<Current, WarcError> {
        let stamp = timestamp14(SystemTime::now());
        for _ in 0..1000 {
            let name = format!(
                "{}-{stamp}-{:05}.warc.gz",
                self.options.prefix, self.next_serial
            );
            self.next_serial += 1;
            let path = self.dir.join(&name);
            let file = match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(WarcError::io(&path)(e)),
            };
            self.dir_dirty = true;
            let out = Counter {
                inner: BufWriter::with_capacity(256 * 1024, file),
                written: 0,
            };
            let warcinfo_id = record_id();
            let mut current = Current {
                name,
                path,
                out,
                warcinfo_id,
            };
            let block = warcinfo_block(&self.options);
            let fields = [
                ("WARC-Type", "warcinfo".to_owned()),
                ("WARC-Record-ID", current.warcinfo_id.clone()),
                ("WARC-Date", warc_date(SystemTime::now())),
                ("WARC-Filename", one_line_str(&current.name)),
                ("WARC-Block-Digest", sha1_label(&[&block])),
                ("Content-Type", "application/warc-fields".to_owned()),
            ];
            let head = head(&fields, block.len() as u64);
            current
                .member(&head, &[&block])
                .map_err(WarcError::io(&current.path))?;
            return Ok(current);
        }
        Err(WarcError::Numbers {
            dir: self.dir.clone(),
            prefix: self.options.prefix.clone(),
        })
    }

    fn write_exchange(&mut self, exchange: &Exchange) -> Result<Written, WarcError> {
        let Some(current) = self.current.as_mut() else {
            unreachable!("write() creates the file first")
        };
        let io = WarcError::io(&current.path);
        match write_records(current, exchange) {
            Ok((written, line)) => {
                self.cdxj
                    .write_all(&line)
                    .map_err(WarcError::io(&self.cdxj_path))?;
                Ok(written)
            }
            Err(e) => Err(io(e)),
        }
    }
}

/// The records of one exchange, in the current file; returns where the response went and
/// its CDXJ line.
fn write_records(current: &mut Current, exchange: &Exchange) -> io::Result<(Written, Vec<u8>)> {
    let response_id = record_id();
    let date = warc_date(exchange.date);
    let target = uri(exchange.url);
    let warcinfo_id = current.warcinfo_id.clone();
    let common = |warc_type: &str, id: String| {
        let mut fields = vec![
            ("WARC-Type", warc_type.to_owned()),
            ("WARC-Record-ID", id),
            ("WARC-Date", date.clone()),
            ("WARC-Target-URI", target.clone()),
        ];
        if let Some(ip) = exchange.ip {
            fields.push(("WARC-IP-Address", ip.to_string()));
        }
        fields.push(("WARC-Warcinfo-ID", warcinfo_id.clone()));
        fields
    };

    let request = request_block(exchange);
    let mut fields = common("request", record_id());
    fields.push(("WARC-Concurrent-To", response_id.clone()));
    fields.push(("WARC-Block-Digest", sha1_label(&[&request])));
    fields.push((
        "Content-Type",
        "application/http; msgtype=request".to_owned(),
    ));
    let request_head = head(&fields, request.len() as u64);

    let revisit = exchange.revisit.as_ref();
    let http_head = response_head(exchange, revisit.is_some());
    let mut payload_digest = sha1_label(&[exchange.body]);
    let mut fields = common(
        if revisit.is_some() {
            "revisit"
        } else {
            "response"
        },
        response_id.clone(),
    );
    fields.push((
        "WARC-Block-Digest",
        sha1_label(&[&http_head, exchange.body]),
    ));
    if let Some(revisit) = revisit {
        fields.push(("WARC-Profile", PROFILE_SERVER_NOT_MODIFIED.to_owned()));
        fields.push(("WARC-Refers-To-Target-URI", uri(revisit.refers_to_uri)));
        fields.push(("WARC-Refers-To-Date", one_line_str(revisit.refers_to_date)));
        if let Some(id) = revisit.refers_to {
            fields.push(("WARC-Refers-To", one_line_str(id)));
        }
        // The payload of a revisit is the original's: its digest, when known, is what
        // indexes use to find the original.
        match revisit.payload_digest {
            Some(digest) => payload_digest = one_line_str(digest),
            None => payload_digest = "-".to_owned(),
        }
        if payload_digest != "-" {
            fields.push(("WARC-Payload-Digest", payload_digest.clone()));
        }
    } else if target.starts_with("http:") || target.starts_with("https:") {
        // Readers (warcio, pywb) split an `application/http` block into headers and payload
        // only for http: and https: URIs (matched case-sensitively); for any other they would
        // digest the whole block, so the optional field (WARC 1.1 section 5.9) is left out.
        fields.push(("WARC-Payload-Digest", payload_digest.clone()));
    }
    fields.push((
        "Content-Type",
        "application/http; msgtype=response".to_owned(),
    ));
    let block_len = (http_head.len() + exchange.body.len()) as u64;
    let response_head = head(&fields, block_len);

    let metadata = metadata_block(&exchange.evidence);
    let mut fields = common("metadata", record_id());
    fields.push(("WARC-Concurrent-To", response_id.clone()));
    fields.push(("WARC-Block-Digest", sha1_label(&[&metadata])));
    fields.push(("Content-Type", "application/warc-fields".to_owned()));
    let metadata_head = head(&fields, metadata.len() as u64);

    current.member(&request_head, &[&request])?;
    let (offset, length) = current.member(&response_head, &[&http_head, exchange.body])?;
    current.member(&metadata_head, &[&metadata])?;

    let stamp = timestamp14(exchange.date);
    let mime = match revisit {
        Some(_) => Some("warc/revisit".to_owned()),
        None => mime(exchange.response_headers),
    };
    let line = Line {
        url: &target,
        timestamp14: &stamp,
        mime: mime.as_deref(),
        status: exchange.status,
        digest: &payload_digest,
        length,
        offset,
        filename: &current.name,
    };
    let line = line.to_bytes();
    let written = Written {
        file: current.name.clone(),
        offset,
        length,
        record_id: response_id,
        payload_digest,
    };
    Ok((written, line))
}

/// The highest serial number of the files of `prefix` in `dir`.
fn last_serial(dir: &Path, prefix: &str) -> Result<Option<u64>, WarcError> {
    let mut last = None;
    for entry in std::fs::read_dir(dir).map_err(WarcError::io(dir))? {
        let entry = entry.map_err(WarcError::io(dir))?;
        let name = entry.file_name();
        let Some(serial) = name.to_str().and_then(|n| serial_of(n, prefix)) else {
            continue;
        };
        last = last.max(Some(serial));
    }
    Ok(last)
}

/// The serial of `{prefix}-{stamp}-{serial}.warc.gz`, the names [`WarcWriter`] gives.
pub fn serial_of(name: &str, prefix: &str) -> Option<u64> {
    let middle = name
        .strip_prefix(prefix)?
        .strip_prefix('-')?
        .strip_suffix(".warc.gz")?;
    let (stamp, serial) = middle.rsplit_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(stamp) && digits(serial))
        .then(|| serial.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_read_from_names() {
        assert_eq!(
            serial_of("optout-20261201180000-00007.warc.gz", "optout"),
            Some(7)
        );
        assert_eq!(
            serial_of("optout-20261201180000-123456.warc.gz", "optout"),
            Some(123_456)
        );
        assert_eq!(
            serial_of("other-20261201180000-00007.warc.gz", "optout"),
            None
        );
        assert_eq!(serial_of("optout-x-00007.warc.gz", "optout"), None);
        assert_eq!(
            serial_of("optout-20261201180000-00007.warc", "optout"),
            None
        );
    }
}
