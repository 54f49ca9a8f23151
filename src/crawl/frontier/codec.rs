//! The bytes the embedded frontier stores: keys of its one sled tree, a queued [`Candidate`],
//! a host's record. Small and fixed-width where it can be (10 million URLs are the design
//! load). Decoding never panics: a damaged value is an error naming what is wrong.

use super::{Candidate, Validators, Via};

/// Key prefixes of the frontier's tree (one tree: one redo log commits all of it).
pub(super) const SEEN: u8 = 1;
pub(super) const QUEUE: u8 = 2;
pub(super) const HOST: u8 = 3;
pub(super) const META: &[u8] = &[4];
pub(super) const COUNTERS: &[u8] = &[5];

/// `SEEN` + the first 16 bytes of SHA-256 of the canonical key.
pub(super) fn seen_key(canonical: &str) -> [u8; 17] {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(canonical.as_bytes());
    let mut key = [0u8; 17];
    key[0] = SEEN;
    key[1..].copy_from_slice(&digest[..16]);
    key
}

/// `QUEUE` + host id (u32 BE) + sequence number (u64 BE): a host's queue is one key range,
/// in push order.
pub(super) fn queue_key(host: u32, seq: u64) -> [u8; 13] {
    let mut key = [0u8; 13];
    key[0] = QUEUE;
    key[1..5].copy_from_slice(&host.to_be_bytes());
    key[5..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// The sequence number in a queue key.
pub(super) fn queue_seq(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(5..13)?.try_into().ok()?))
}

pub(super) fn host_key(host: u32) -> [u8; 5] {
    let mut key = [0u8; 5];
    key[0] = HOST;
    key[1..].copy_from_slice(&host.to_be_bytes());
    key
}

/// A host's record: next sequence number, accepted, queued (u64 BE each), then its name.
pub(super) fn host_value(next_seq: u64, accepted: u64, queued: u64, name: &str) -> Vec<u8> {
    let mut value = Vec::with_capacity(24 + name.len());
    for n in [next_seq, accepted, queued] {
        value.extend_from_slice(&n.to_be_bytes());
    }
    value.extend_from_slice(name.as_bytes());
    value
}

/// (next sequence number, accepted, queued, name) of a host's record.
pub(super) fn read_host(value: &[u8]) -> Result<(u64, u64, u64, String), String> {
    let mut r = Reader(value);
    let numbers = (r.u64()?, r.u64()?, r.u64()?);
    let name = std::str::from_utf8(r.0).map_err(|_| "host name is not UTF-8")?;
    Ok((numbers.0, numbers.1, numbers.2, name.to_owned()))
}

/// Two u64 BE: (done, seen).
pub(super) fn counters_value(done: u64, seen: u64) -> [u8; 16] {
    let mut value = [0u8; 16];
    value[..8].copy_from_slice(&done.to_be_bytes());
    value[8..].copy_from_slice(&seen.to_be_bytes());
    value
}

pub(super) fn read_counters(value: &[u8]) -> Result<(u64, u64), String> {
    let mut r = Reader(value);
    Ok((r.u64()?, r.u64()?))
}

const FOUND_ON: u8 = 1;
const ETAG: u8 = 2;
const LAST_MODIFIED: u8 = 4;
const VALIDATORS: u8 = 8;

/// A candidate: via (u8), depth (u32 BE), flags (u8), then length-prefixed strings: the URL
/// and those the flags announce.
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
    if !r.0.is_empty() {
        return Err("trailing bytes after a queued URL".into());
    }
    Ok(Candidate {
        url,
        depth,
        found_on,
        via,
        validators,
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
        assert_eq!(read_candidate(&candidate_value(&c)), Ok(c));
        let host = host_value(3, 2, 1, "example.com");
        assert_eq!(read_host(&host), Ok((3, 2, 1, "example.com".into())));
    }

    proptest! {
        #[test]
        fn damaged_values_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(c) = read_candidate(&bytes) {
                prop_assert!(c.url.len() < bytes.len());
            }
            let _ = read_host(&bytes);
            let _ = read_counters(&bytes);
            let _ = queue_seq(&bytes);
        }
    }
}
