//! The one reader of time bounds (`--since`/`--until` of `optout log export|stats|bundle`
//! and `optout report`, `?since=`/`?until=` of `GET /v1/evidence`, `since=`/`until=` of the
//! Python `engine.log.export`): each is turned into the form records write their `time` in
//! (UTC, milliseconds, `Z`), so that a bound compares with a record's time as text.
//!
//! Read: an RFC 3339 §5.6 `date-time` with any offset (`Z`, `+01:00`, `-05:00`), with
//! fractional seconds or none (past milliseconds they are cut); the same without seconds or
//! without the offset (read as UTC); a `full-date` alone (its first instant, UTC). `T`, `t`
//! or a space separates date and time. A bound past year 9999 or before year 0 (after its
//! offset) is the first or last instant of the range records can have.

/// `text` as a bound, or why it is not a date-time.
pub fn time_bound(text: &str) -> Result<String, String> {
    parse(text).ok_or_else(|| {
        format!(
            "{text:?} is not an RFC 3339 date-time (e.g. 2026-11-28T10:00:00Z, 2026-11-28T11:00:00.5+01:00, 2026-11-28)"
        )
    })
}

fn number(text: &str, at: usize, len: usize) -> Option<i64> {
    let digits = text.get(at..at + len)?;
    digits
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| digits.parse().ok())?
}

/// `[:SS[.frac]]` after `HH:MM`: the seconds, the milliseconds and what follows.
fn seconds(rest: &str) -> Option<(i64, i64, &str)> {
    let Some(after) = rest.strip_prefix(':') else {
        return Some((0, 0, rest));
    };
    let second = number(after, 0, 2)?;
    let mut rest = &after[2..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        millis = format!("{:0<3}", &frac[..digits.min(3)]).parse().ok()?;
        rest = &frac[digits..];
    }
    Some((second, millis, rest))
}

/// The offset in seconds east of UTC: `Z`, `±HH:MM`, or none (UTC).
fn offset(rest: &str) -> Option<i64> {
    match rest {
        "" | "Z" | "z" => Some(0),
        _ => {
            // Bytes, not `&str` slices: the text is a client's, and may be any UTF-8.
            let b = rest.as_bytes();
            let sign = match b.first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            if b.len() != 6 || b[3] != b':' {
                return None;
            }
            let (h, m) = (number(rest, 1, 2)?, number(rest, 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            Some(sign * (h * 60 + m) * 60)
        }
    }
}

/// A date, a date-time or a date-time without seconds or offset.
fn parse(text: &str) -> Option<String> {
    let b = text.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (
        number(text, 0, 4)?,
        number(text, 5, 2)?,
        number(text, 8, 2)?,
    );
    let (hour, minute, second, millis, offset) = if b.len() == 10 {
        (0, 0, 0, 0, 0)
    } else {
        if b.len() < 16 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
            return None;
        }
        let (hour, minute) = (number(text, 11, 2)?, number(text, 14, 2)?);
        let (second, millis, rest) = seconds(&text[16..])?;
        (hour, minute, second, millis, offset(rest)?)
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    // A leap second (:60) is the last millisecond of its minute.
    if day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let (second, millis) = if second == 60 {
        (59, 999)
    } else {
        (second, millis)
    };
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let (days, secs) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    if y < 0 {
        return Some("0000-01-01T00:00:00.000Z".into());
    }
    if y > 9999 {
        return Some("9999-12-31T23:59:59.999Z".into());
    }
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count from 1970-01-01 (`civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::time_bound;

    #[test]
    fn bounds_are_utc_with_milliseconds() {
        let ok = |t: &str| time_bound(t).unwrap();
        assert_eq!(ok("2026-11-28T10:00:00Z"), "2026-11-28T10:00:00.000Z");
        assert_eq!(ok("2026-11-28 10:00:00"), "2026-11-28T10:00:00.000Z");
        assert_eq!(
            ok("2026-11-28T10:00:00.123456+01:30"),
            "2026-11-28T08:30:00.123Z"
        );
        assert_eq!(ok("2026-03-01T00:30:00+01:00"), "2026-02-28T23:30:00.000Z");
        assert_eq!(ok("2024-02-29T23:00:00-02:00"), "2024-03-01T01:00:00.000Z");
        assert_eq!(ok("1900-01-01T00:00:00Z"), "1900-01-01T00:00:00.000Z");
        assert_eq!(ok("0001-01-01T00:00:00+01:00"), "0000-12-31T23:00:00.000Z");
        assert_eq!(ok("9999-12-31T23:59:59-01:00"), "9999-12-31T23:59:59.999Z");
        assert_eq!(ok("2016-12-31T23:59:60Z"), "2016-12-31T23:59:59.999Z");
        // Issue 21: an offset after fractional seconds is kept, and one without them read.
        assert_eq!(
            ok("2026-12-07T20:35:29.105+01:00"),
            "2026-12-07T19:35:29.105Z"
        );
        assert_eq!(ok("2026-12-07T20:35:29+01:00"), "2026-12-07T19:35:29.000Z");
        assert_eq!(
            ok("2026-12-07T14:35:29.1-05:00"),
            "2026-12-07T19:35:29.100Z"
        );
        // The forms `humantime` read before: no seconds, no offset (UTC); and a date alone.
        assert_eq!(ok("2026-11-28T10:00"), "2026-11-28T10:00:00.000Z");
        assert_eq!(ok("2026-11-28 10:00:00.25"), "2026-11-28T10:00:00.250Z");
        assert_eq!(ok("2026-11-28"), "2026-11-28T00:00:00.000Z");
        assert_eq!(ok("1969-12-31T23:00+01:00"), "1969-12-31T22:00:00.000Z");
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2026-11-28T24:00:00Z",
            "2026-11-28T10:00:00+24:00",
            "2026-11-28T",
            "2026-11-28T10",
            "2026-11-28T10:00:",
            "2026-11-28T10:00:00.",
            "2026-11-28T10:00:00+0100",
            "2026-11-28T10:00:00 Z",
            "2026-11-2",
            "2026-11-28x",
            "+2026-11-28",
            "2026-11-28T10:00:00ééé",
            "2026-11-28T10:00:00+é:0",
        ] {
            assert!(time_bound(bad).is_err(), "{bad}");
        }
    }
}
