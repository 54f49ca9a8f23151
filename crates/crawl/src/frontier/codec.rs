//! The bytes the embedded frontier stores: a queued [`Candidate`], a host's record, the
//! checkpoint's state, the seen-set key. Small and fixed-width where it can be (10 million
//! URLs are the design load). Decoding never panics: damage is an error naming what is wrong.

use super::{Candidate, Validators, Via};

/// The first 16 bytes of SHA-256 of the canonical key (never all zero: that marks an empty
/// slot of the seen table).
pub(super) fn seen_key(canonical: &str) -> [u8; 16] {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(canonical.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    if key == [0; 16] {
        key[15] = 1;
    }
    key
}

/// A host's record, one fixed-size slot per host id in `hosts.table`; its name is in
/// `hosts.names` at `name_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct HostRecord {
    /// URLs accepted for the host, ever (the per-host budget counts these).
    pub accepted: u64,
    /// URLs in its queue, the leased one included.
    pub queued: u64,
    /// Offset of its first queue record not done (when `queued > 0`).
    pub head: u64,
    /// Offset of its last queue record (when `queued > 0`).
    pub tail: u64,
    pub name_at: u64,
    pub name_len: u32,
    /// The host's health: failed requests in a row, and [`GIVEN_UP`]. Added in the spare
    /// bytes of the record after the first release, which wrote zeros there: a frontier
    /// written before reads as every host healthy.
    pub health: u32,
}

pub(super) const HOST_RECORD: usize = 48;

/// The bit of [`HostRecord::health`] that says the host is given up.
pub(super) const GIVEN_UP: u32 = 1 << 31;

impl HostRecord {
    /// Failed requests in a row.
    pub fn errors(&self) -> u32 {
        self.health & !GIVEN_UP
    }

    pub fn given_up(&self) -> bool {
        self.health & GIVEN_UP != 0
    }

    /// Sets the errors in a row (saturating below the flag), keeping the flag.
    pub fn set_errors(&mut self, errors: u32) {
        self.health = (self.health & GIVEN_UP) | errors.min(!GIVEN_UP);
    }
}

impl HostRecord {
    pub fn bytes(&self) -> [u8; HOST_RECORD] {
        let mut out = [0u8; HOST_RECORD];
        for (i, n) in [
            self.accepted,
            self.queued,
            self.head,
            self.tail,
            self.name_at,
        ]
        .into_iter()
        .enumerate()
        {
            out[i * 8..i * 8 + 8].copy_from_slice(&n.to_be_bytes());
        }
        out[40..44].copy_from_slice(&self.name_len.to_be_bytes());
        out[44..48].copy_from_slice(&self.health.to_be_bytes());
        out
    }

    pub fn read(bytes: &[u8]) -> Result<HostRecord, String> {
        let mut r = Reader(bytes);
        let record = HostRecord {
            accepted: r.u64()?,
            queued: r.u64()?,
            head: r.u64()?,
            tail: r.u64()?,
            name_at: r.u64()?,
            name_len: u32::from_be_bytes(r.take(4)?.try_into().map_err(|_| "length")?),
            health: u32::from_be_bytes(r.take(4)?.try_into().map_err(|_| "health")?),
        };
        Ok(record)
    }
}

/// What a checkpoint commits besides the writes: the lengths of the append-only files, the
/// counters and the crawl's meta.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct State {
    pub log_len: u64,
    pub names_len: u64,
    pub hosts: u64,
    pub seen: u64,
    pub done: u64,
    pub meta: Vec<u8>,
}

const STATE_MAGIC: &[u8; 8] = b"optoutF1";

impl State {
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = STATE_MAGIC.to_vec();
        for n in [
            self.log_len,
            self.names_len,
            self.hosts,
            self.seen,
            self.done,
        ] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        out.extend_from_slice(&self.meta);
        out
    }

    /// The fixed fields, then the meta to the end.
    pub fn read(bytes: &[u8]) -> Result<State, String> {
        let mut r = Reader(bytes);
        if r.take(8)? != STATE_MAGIC {
            return Err("not a frontier state".into());
        }
        let mut state = State {
            log_len: r.u64()?,
            names_len: r.u64()?,
            hosts: r.u64()?,
            seen: r.u64()?,
            done: r.u64()?,
            meta: Vec::new(),
        };
        state.meta = r.0.to_vec();
        Ok(state)
    }
}

const FOUND_ON: u8 = 1;
const ETAG: u8 = 2;
const LAST_MODIFIED: u8 = 4;
const VALIDATORS: u8 = 8;
/// Added after the first release: a redirect count follows the strings. A value written
/// before never has the bit, so it reads as 0 redirects (frontiers stay readable).
const REDIRECTS: u8 = 16;

/// A candidate: via (u8), depth (u32 BE), flags (u8), then length-prefixed strings: the URL
/// and those the flags announce; then the redirect count (u32 BE) when the flags say so.
pub(super) fn candidate_value(c: &Candidate) -> Vec<u8> {
    let via = match c.via {
        Via::Seed => 0,
        Via::Link => 1,
        Via::Sitemap => 2,
        Via::Redirect => 3,
    };
    let v = c.validators.as_ref();
    let etag = v.and_then(|v| v.etag.as_deref());
    let last_modified = v.and_then(|v| v.last_modified.as_deref());
    let flags = [
        (c.found_on.is_some(), FOUND_ON),
        (etag.is_some(), ETAG),
        (last_modified.is_some(), LAST_MODIFIED),
        (v.is_some(), VALIDATORS),
        (c.redirects > 0, REDIRECTS),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0, |flags, (_, bit)| flags | bit);
    let mut out = Vec::with_capacity(16 + c.url.len());
    out.push(via);
    out.extend_from_slice(&c.depth.to_be_bytes());
    out.push(flags);
    for text in [
        Some(c.url.as_str()),
        c.found_on.as_deref(),
        etag,
        last_modified,
    ]
    .into_iter()
    .flatten()
    {
        // URLs and headers are far below 4 GiB; the crawl bounds them long before.
        out.extend_from_slice(&u32::try_from(text.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    if c.redirects > 0 {
        out.extend_from_slice(&c.redirects.to_be_bytes());
    }
    out
}

pub(super) fn read_candidate(value: &[u8]) -> Result<Candidate, String> {
    let mut r = Reader(value);
    let via = match r.u8()? {
        0 => Via::Seed,
        1 => Via::Link,
        2 => Via::Sitemap,
        3 => Via::Redirect,
        other => return Err(format!("unknown via {other}")),
    };
    let depth = u32::from_be_bytes(r.take(4)?.try_into().map_err(|_| "depth")?);
    let flags = r.u8()?;
    let url = r.text()?;
    let mut optional = |bit: u8| {
        if flags & bit != 0 {
            r.text().map(Some)
        } else {
            Ok(None)
        }
    };
    let found_on = optional(FOUND_ON)?;
    let etag = optional(ETAG)?;
    let last_modified = optional(LAST_MODIFIED)?;
    let validators = (flags & VALIDATORS != 0).then_some(Validators {
        etag,
        last_modified,
    });
    let redirects = if flags & REDIRECTS != 0 {
        u32::from_be_bytes(r.take(4)?.try_into().map_err(|_| "redirects")?)
    } else {
        0
    };
    if !r.0.is_empty() {
        return Err("trailing bytes after a queued URL".into());
    }
    Ok(Candidate {
        url,
        depth,
        found_on,
        via,
        validators,
        redirects,
    })
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.0.len() < n {
            return Err("value cut short".into());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().map_err(|_| "u64")?,
        ))
    }

    fn text(&mut self) -> Result<String, String> {
        let len = u32::from_be_bytes(self.take(4)?.try_into().map_err(|_| "length")?);
        let bytes = self.take(usize::try_from(len).map_err(|_| "length")?)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "text is not UTF-8".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn candidates_round_trip() {
        let mut c = Candidate::seed("https://example.com/ä?q");
        assert_eq!(read_candidate(&candidate_value(&c)), Ok(c.clone()));
        c.via = Via::Redirect;
        c.depth = 7;
        c.found_on = Some("https://example.com/".into());
        c.validators = Some(Validators {
            etag: None,
            last_modified: Some("Tue".into()),
        });
        assert_eq!(read_candidate(&candidate_value(&c)), Ok(c.clone()));
        c.validators = Some(Validators::default());
        assert_eq!(read_candidate(&candidate_value(&c)), Ok(c.clone()));
        c.redirects = 9;
        assert_eq!(read_candidate(&candidate_value(&c)), Ok(c));
        let host = HostRecord {
            accepted: 3,
            queued: 2,
            head: 1,
            tail: 9,
            name_at: 40,
            name_len: 11,
            health: GIVEN_UP | 7,
        };
        assert_eq!(HostRecord::read(&host.bytes()), Ok(host));
        assert_eq!((host.errors(), host.given_up()), (7, true));
        // A record of the first release: zeros in the spare bytes, a healthy host.
        let mut old = host.bytes();
        old[44..].fill(0);
        let old = HostRecord::read(&old).unwrap();
        assert_eq!((old.errors(), old.given_up()), (0, false));
        let state = State {
            log_len: 1,
            names_len: 2,
            hosts: 3,
            seen: 4,
            done: 5,
            meta: b"warc at 7".to_vec(),
        };
        assert_eq!(State::read(&state.bytes()), Ok(state));
    }

    /// A value as the release before the redirect count wrote it (no flag 16) still reads.
    #[test]
    fn a_candidate_written_by_the_previous_release_reads_with_no_redirects() {
        let mut old = vec![3u8, 0, 0, 0, 2, FOUND_ON];
        for text in ["https://a.test/x", "https://a.test/"] {
            old.extend_from_slice(&(text.len() as u32).to_be_bytes());
            old.extend_from_slice(text.as_bytes());
        }
        let c = read_candidate(&old).unwrap();
        assert_eq!(c.url, "https://a.test/x");
        assert_eq!((c.via, c.depth, c.redirects), (Via::Redirect, 2, 0));
        assert_eq!(c.found_on.as_deref(), Some("https://a.test/"));
        assert_eq!(
            candidate_value(&c),
            old,
            "a chain start is written as before"
        );
    }

    proptest! {
        #[test]
        fn damaged_values_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(c) = read_candidate(&bytes) {
                prop_assert!(c.url.len() < bytes.len());
            }
            let _ = HostRecord::read(&bytes);
            if let Ok(state) = State::read(&bytes) {
                prop_assert!(state.meta.len() < bytes.len());
            }
        }
    }
}
