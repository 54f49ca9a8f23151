//! What is known of one policy file of one origin, and how a new fetch outcome changes it.
//! Pure: the I/O is in [`super::sources`]. Persisted as JSON in the store's `policy` tree;
//! the bytes themselves are evidence snapshots.

use super::outcome::{Outcome, Validators};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// RFC 9309 §2.4: "Crawlers SHOULD NOT use the cached version for more than 24 hours, unless
/// the robots.txt file is unreachable."
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// How long a good copy stands in for an unreachable file (RFC 9309 §2.3.1.4: "a reasonably
/// long period of time (for example, 30 days or more)").
pub const GOOD_COPY_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// The policy files of an origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// `/robots.txt` (RFC 9309).
    #[serde(rename = "robots.txt")]
    Robots,
    /// `/.well-known/tdmrep.json` (TDMRep §3.2).
    #[serde(rename = "tdmrep.json")]
    Tdmrep,
    /// `/ai.txt` (Spawning).
    #[serde(rename = "ai.txt")]
    AiTxt,
}

impl Kind {
    /// The file's path on the origin.
    pub fn path(self) -> &'static str {
        match self {
            Kind::Robots => "/robots.txt",
            Kind::Tdmrep => "/.well-known/tdmrep.json",
            Kind::AiTxt => "/ai.txt",
        }
    }

    /// The source kind in evidence records.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Robots => "robots.txt",
            Kind::Tdmrep => "tdmrep.json",
            Kind::AiTxt => "ai.txt",
        }
    }
}

/// What the last fetch said.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// 2xx: the file is `good`.
    Parsed,
    /// 4xx: the site has no such file.
    Unavailable,
    /// 429, 5xx, network failure.
    Unreachable,
    /// Too many redirects or a loop.
    RedirectLimit,
    /// The host is a refused address.
    PrivateAddress,
}

/// A 2xx copy of the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Good {
    /// Its status.
    pub status: u16,
    /// SHA-256 (hex) of its bytes (a snapshot).
    pub sha256: String,
    /// When it was fetched or last confirmed by a `304` (Unix ms).
    pub fetched_at: u64,
    /// It was longer than the read limit.
    pub truncated: bool,
    /// Its validators, for a conditional refetch.
    pub validators: Validators,
    /// Its `Cache-Control` lifetime in ms, kept for a `304` that does not repeat it
    /// (RFC 9111 §4.3.4: the stored response's headers stay unless updated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_ms: Option<u64>,
}

/// What is known of one policy file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    /// The URL requested.
    pub url: String,
    /// What the last fetch said.
    pub state: State,
    /// Its HTTP status, if there was a response.
    pub status: Option<u16>,
    /// What happened, for states other than `parsed`.
    pub detail: Option<String>,
    /// SHA-256 (hex) of the bytes the last fetch received (empty for none).
    pub sha256: String,
    /// When it was fetched (Unix ms).
    pub fetched_at: u64,
    /// When it must be fetched again (Unix ms).
    pub expires_at: u64,
    /// Failed fetches in a row.
    pub failures: u32,
    /// The last 2xx copy, if any.
    pub good: Option<Good>,
    /// Fetched with private addresses allowed: a process that refuses them does not trust
    /// it (it may describe a host the guard would never have reached).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unguarded: bool,
}

/// A policy file in memory: what is known, and the good copy's bytes.
#[derive(Clone, Debug)]
pub struct File {
    /// What is known.
    pub known: Known,
    /// The bytes of `known.good`.
    pub good_bytes: Option<Arc<[u8]>>,
}

impl File {
    /// The good copy's bytes, when they may stand in at `now`: the file is `parsed`, or it is
    /// unreachable and the copy is less than 30 days old.
    pub fn usable_copy(&self, now_ms: u64) -> Option<(&Good, &Arc<[u8]>)> {
        let good = self.known.good.as_ref()?;
        let bytes = self.good_bytes.as_ref()?;
        let fresh_enough = now_ms.saturating_sub(good.fetched_at) < ms(GOOD_COPY_FOR);
        match self.known.state {
            State::Parsed => Some((good, bytes)),
            State::Unreachable if fresh_enough => Some((good, bytes)),
            _ => None,
        }
    }
}

/// When to try an unreachable file again.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// After the first failure.
    pub first: Duration,
    /// At most.
    pub max: Duration,
}

/// `d` in whole milliseconds, saturated: a `Duration` from the web (`max-age`,
/// `Retry-After`) can hold more milliseconds than a `u64`, and `as` would wrap them.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Retry {
    /// How long after a failure the file is tried again: the doubling schedule, or the
    /// server's `Retry-After` when longer (an oversized one is the longest wait, never
    /// none), at most a day.
    fn after(self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let doubled = self
            .first
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20));
        doubled
            .min(self.max)
            .max(retry_after.unwrap_or_default())
            .min(MAX_TTL)
    }
}

/// The bytes a fetch received, hashed, for the caller to snapshot.
#[derive(Debug)]
pub struct Received {
    /// SHA-256 (hex).
    pub sha256: String,
    /// The bytes.
    pub bytes: Arc<[u8]>,
}

impl Received {
    fn of(bytes: Vec<u8>) -> Received {
        Received {
            sha256: optout_evidence::record::sha256_hex(&bytes),
            bytes: bytes.into(),
        }
    }
}

/// The file after `outcome`, given what was known before. Returns the new file and the bytes
/// received (to be stored as a snapshot).
pub fn next(
    url: &str,
    old: Option<&File>,
    outcome: Outcome,
    now_ms: u64,
    retry: Retry,
) -> (File, Received) {
    let ttl = |max_age: Option<Duration>| {
        now_ms.saturating_add(ms(max_age.unwrap_or(MAX_TTL).min(MAX_TTL)))
    };
    let (good, good_bytes) = match old {
        Some(f) if f.good_bytes.is_some() => (f.known.good.clone(), f.good_bytes.clone()),
        _ => (None, None),
    };
    let failures = old.map_or(0, |f| f.known.failures);
    let failed = |state: State, status: Option<u16>, detail: String, after: Option<Duration>| {
        let failures = failures.saturating_add(1);
        let received = Received::of(Vec::new());
        let known = Known {
            url: url.to_owned(),
            state,
            status,
            detail: Some(detail),
            sha256: received.sha256.clone(),
            fetched_at: now_ms,
            expires_at: now_ms.saturating_add(ms(retry.after(failures, after))),
            failures,
            good: good.clone(),
            unguarded: false,
        };
        (
            File {
                known,
                good_bytes: good_bytes.clone(),
            },
            received,
        )
    };
    match outcome {
        Outcome::Parsed {
            status,
            body,
            truncated,
            max_age,
            validators,
        } => {
            let received = Received::of(body);
            let good = Good {
                status,
                sha256: received.sha256.clone(),
                fetched_at: now_ms,
                truncated,
                validators,
                max_age_ms: max_age.map(ms),
            };
            let known = Known {
                url: url.to_owned(),
                state: State::Parsed,
                status: Some(status),
                detail: None,
                sha256: received.sha256.clone(),
                fetched_at: now_ms,
                expires_at: ttl(max_age),
                failures: 0,
                good: Some(good),
                unguarded: false,
            };
            let file = File {
                known,
                good_bytes: Some(received.bytes.clone()),
            };
            (file, received)
        }
        Outcome::Unavailable {
            status,
            body,
            max_age,
        } => {
            let received = Received::of(body);
            let known = Known {
                url: url.to_owned(),
                state: State::Unavailable,
                status: Some(status),
                detail: Some(format!("HTTP {status}")),
                sha256: received.sha256.clone(),
                fetched_at: now_ms,
                expires_at: ttl(max_age),
                failures: 0,
                good: good.clone(),
                unguarded: false,
            };
            (
                File {
                    known,
                    good_bytes: good_bytes.clone(),
                },
                received,
            )
        }
        Outcome::NotModified { max_age } => match (good.clone(), good_bytes.clone()) {
            (Some(mut good), Some(bytes)) => {
                // A 304 renews the cached copy (RFC 9111 §4.3.4), with its lifetime unless
                // the 304 gives a new one.
                good.fetched_at = now_ms;
                if max_age.is_some() {
                    good.max_age_ms = max_age.map(ms);
                }
                let max_age = good.max_age_ms.map(Duration::from_millis);
                let known = Known {
                    url: url.to_owned(),
                    state: State::Parsed,
                    status: Some(304),
                    detail: None,
                    sha256: good.sha256.clone(),
                    fetched_at: now_ms,
                    expires_at: ttl(max_age),
                    failures: 0,
                    good: Some(good),
                    unguarded: false,
                };
                let received = Received {
                    sha256: known.sha256.clone(),
                    bytes: bytes.clone(),
                };
                (
                    File {
                        known,
                        good_bytes: Some(bytes),
                    },
                    received,
                )
            }
            _ => failed(
                State::Unreachable,
                Some(304),
                "HTTP 304 without a cached copy to renew".into(),
                None,
            ),
        },
        Outcome::Unreachable {
            status,
            detail,
            retry_after,
        } => failed(State::Unreachable, status, detail, retry_after),
        Outcome::RedirectLimit { detail } => failed(State::RedirectLimit, None, detail, None),
        Outcome::PrivateAddress { detail } => failed(State::PrivateAddress, None, detail, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETRY: Retry = Retry {
        first: Duration::from_secs(60),
        max: Duration::from_secs(3600),
    };

    fn parsed(max_age: Option<Duration>) -> Outcome {
        Outcome::Parsed {
            status: 200,
            body: b"User-agent: *\nDisallow: /\n".to_vec(),
            truncated: false,
            max_age,
            validators: Validators {
                etag: Some("\"v1\"".into()),
                last_modified: None,
            },
        }
    }

    fn unreachable() -> Outcome {
        Outcome::Unreachable {
            status: Some(503),
            detail: "HTTP 503".into(),
            retry_after: None,
        }
    }

    #[test]
    fn rfc9309_2_4_ttl_is_at_most_24_hours() {
        let (f, _) = next("u", None, parsed(None), 0, RETRY);
        assert_eq!(f.known.expires_at, MAX_TTL.as_millis() as u64);
        let (f, _) = next("u", None, parsed(Some(Duration::from_secs(5))), 0, RETRY);
        assert_eq!(f.known.expires_at, 5000);
        let (f, _) = next(
            "u",
            None,
            parsed(Some(Duration::from_secs(1 << 40))),
            0,
            RETRY,
        );
        assert_eq!(f.known.expires_at, MAX_TTL.as_millis() as u64);
    }

    #[test]
    fn unreachable_backs_off_and_keeps_the_good_copy_for_30_days() {
        let (good, _) = next("u", None, parsed(None), 0, RETRY);
        let (f1, _) = next("u", Some(&good), unreachable(), 1000, RETRY);
        assert_eq!(f1.known.expires_at, 1000 + 60_000);
        let (f2, _) = next("u", Some(&f1), unreachable(), 2000, RETRY);
        assert_eq!(f2.known.expires_at, 2000 + 120_000);
        assert!(f2.usable_copy(2000).is_some());
        let day = 24 * 3600 * 1000;
        assert!(f2.usable_copy(29 * day).is_some());
        assert!(f2.usable_copy(30 * day).is_none());
        let mut f = f2;
        for _ in 0..30 {
            f = next("u", Some(&f), unreachable(), 0, RETRY).0;
        }
        assert_eq!(f.known.expires_at, 3_600_000);
    }

    #[test]
    fn a_304_renews_the_copy_and_without_one_is_unreachable() {
        let (good, _) = next("u", None, parsed(None), 0, RETRY);
        let (renewed, received) = next(
            "u",
            Some(&good),
            Outcome::NotModified { max_age: None },
            5000,
            RETRY,
        );
        assert_eq!(renewed.known.state, State::Parsed);
        assert_eq!(renewed.known.good.as_ref().unwrap().fetched_at, 5000);
        assert_eq!(received.sha256, good.known.sha256);
        // The copy's max-age survives a 304 that does not repeat it.
        let (short, _) = next("u", None, parsed(Some(Duration::from_secs(5))), 0, RETRY);
        let (renewed, _) = next(
            "u",
            Some(&short),
            Outcome::NotModified { max_age: None },
            10_000,
            RETRY,
        );
        assert_eq!(renewed.known.expires_at, 15_000);
        let (lost, _) = next("u", None, Outcome::NotModified { max_age: None }, 0, RETRY);
        assert_eq!(lost.known.state, State::Unreachable);
    }

    #[test]
    fn retry_after_is_honoured_up_to_a_day() {
        let after = |s| RETRY.after(1, Some(Duration::from_secs(s)));
        assert_eq!(after(600), Duration::from_secs(600));
        assert_eq!(after(10), Duration::from_secs(60));
        assert_eq!(after(10_000_000), MAX_TTL);
    }

    /// A `Retry-After` too long to be a number (or `u64::MAX` seconds) and a huge max-age
    /// mean the longest wait, a day, at any time: never an overflow, never "now".
    #[test]
    fn oversized_retry_after_and_max_age_are_a_day() {
        let huge = Outcome::Unreachable {
            status: Some(503),
            detail: "HTTP 503".into(),
            retry_after: Some(Duration::MAX),
        };
        let late = u64::MAX - 1000;
        for now in [0, 5000, late] {
            let (f, _) = next("u", None, huge.clone(), now, RETRY);
            assert_eq!(f.known.expires_at, now.saturating_add(ms(MAX_TTL)), "{now}");
        }
        let (f, _) = next("u", None, parsed(Some(Duration::MAX)), late, RETRY);
        assert_eq!(f.known.expires_at, u64::MAX);
        assert_eq!(f.known.good.unwrap().max_age_ms, Some(u64::MAX));
    }
}
