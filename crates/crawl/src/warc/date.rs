//! The two date forms of a WARC file: `WARC-Date` (W3C-ISO8601 in UTC with `Z`, WARC 1.1
//! section 5.4) and the 14-digit timestamp of CDXJ lines and file names.

use std::time::SystemTime;

/// Seconds of the last second of the year 9999: the forms have four digits for the year.
const LAST_SECOND: u64 = 253_402_300_799;

/// Year, month, day, hour, minute, second in UTC (times before 1970 are 1970).
fn civil(t: SystemTime) -> (u64, u64, u64, u64, u64, u64) {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .min(LAST_SECOND);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days to a civil date: H. Hinnant, "chrono-Compatible Low-Level Date Algorithms".
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `2026-12-01T18:00:00Z`.
pub(crate) fn warc_date(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `20261201180000`.
pub(crate) fn timestamp14(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
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
