//! The two date forms of a WARC file: `WARC-Date` (W3C-ISO8601 in UTC with `Z`, WARC 1.1
//! section 5.4) and the 14-digit timestamp of CDXJ lines and file names.

use std::time::SystemTime;

/// Seconds of the last second of the year 9999: the forms have four digits for the year.
const LAST_SECOND: u64 = 253_402_300_799;

/// `t` within what the forms can write: before 1970 is 1970, past 9999 is the year's last
/// second.
fn clamped(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .min(LAST_SECOND);
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

/// `2026-12-01T18:00:00Z`. The calendar is `humantime`'s (RFC 3339 in UTC is exactly the
/// WARC form): optout writes its own calendar arithmetic once, where a bound may fall before
/// 1970 (`optout_evidence`'s time bounds), and nowhere else.
pub(crate) fn warc_date(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(clamped(t)).to_string()
}

/// `20261201180000`: the digits of [`warc_date`].
pub(crate) fn timestamp14(t: SystemTime) -> String {
    warc_date(t).chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn dates_are_utc_with_z() {
        assert_eq!(warc_date(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(warc_date(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(warc_date(at(1_796_148_000)), "2026-12-01T18:00:00Z");
        assert_eq!(timestamp14(at(1_796_148_000)), "20261201180000");
    }

    #[test]
    fn far_times_keep_four_digit_years() {
        assert_eq!(warc_date(at(1_000_000_000_000)), "9999-12-31T23:59:59Z");
        assert_eq!(
            warc_date(SystemTime::UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn agrees_with_humantime() {
        for secs in (0..LAST_SECOND).step_by(86_400 * 37 + 3_601) {
            let ht = humantime::format_rfc3339_seconds(at(secs)).to_string();
            assert_eq!(warc_date(at(secs)), ht);
        }
    }
}
