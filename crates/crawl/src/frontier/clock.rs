//! Frontier time: wall-clock milliseconds since the Unix epoch.
//!
//! Not `Instant`: an `Instant` means nothing outside the process that read it, so it can be
//! neither stored (a host's next fetch time surviving a restart) nor shared (a lease's expiry
//! read by another machine). A frontier reads its own clock for every decision (the
//! embedded one the system's wall clock, a shared one its database's `now()`), and callers
//! speak to it in durations from its now ([`Frontier::release`](super::Frontier::release)),
//! so machines whose clocks differ still agree on when a host is due.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since 1970-01-01T00:00:00Z (leap seconds aside, as Unix time is).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    /// The system's wall clock now.
    pub fn now() -> UnixMillis {
        UnixMillis::from(SystemTime::now())
    }

    /// `self + by`, saturating.
    pub fn after(self, by: Duration) -> UnixMillis {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        UnixMillis(self.0.saturating_add(ms))
    }

    /// How long from `earlier` to `self`; zero if `earlier` is later.
    pub fn since(self, earlier: UnixMillis) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// As a `SystemTime` (for RFC 3339 in reports).
    pub fn system_time(self) -> SystemTime {
        UNIX_EPOCH
            .checked_add(Duration::from_millis(self.0))
            .unwrap_or(UNIX_EPOCH)
    }
}

impl From<SystemTime> for UnixMillis {
    /// A time before 1970 is 0.
    fn from(at: SystemTime) -> UnixMillis {
        let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        UnixMillis(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
    }
}

/// The clock an embedded frontier reads: the system's, or one a test sets by hand (leases
/// expire without anyone sleeping).
#[derive(Debug, Clone, Default)]
pub struct WallClock(Option<Arc<AtomicU64>>);

impl WallClock {
    /// The system's wall clock.
    pub fn system() -> WallClock {
        WallClock(None)
    }

    /// A clock that stands at `start` until moved.
    pub fn manual(start: UnixMillis) -> WallClock {
        WallClock(Some(Arc::new(AtomicU64::new(start.0))))
    }

    /// Moves a manual clock on by `by` (no effect on the system's).
    pub fn advance(&self, by: Duration) {
        if let Some(at) = &self.0 {
            let now = UnixMillis(at.load(Ordering::SeqCst)).after(by);
            at.store(now.0, Ordering::SeqCst);
        }
    }

    /// The time now.
    pub fn now(&self) -> UnixMillis {
        match &self.0 {
            Some(at) => UnixMillis(at.load(Ordering::SeqCst)),
            None => UnixMillis::now(),
        }
    }
}
