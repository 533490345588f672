//! RFC 3339 / `xsd:dateTimeStamp` times, as EPCIS writes them
//! (`2026-11-10T07:30:00.000+08:00`), to milliseconds since the Unix epoch (UTC).

/// Days from 1970-01-01 to the given proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_index = (month + 9) % 12; // March = 0
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date `days` after 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days in `month` (1-12) of `year`.
pub fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// The UTC calendar date (`YYYY-MM-DD`) of a time in ms since the Unix epoch.
pub fn date_of_ms(ms: u64) -> String {
    let (y, m, d) = civil_from_days((ms / 86_400_000) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A time in ms since the Unix epoch as `YYYY-MM-DDThh:mm:ss.sssZ` (UTC).
pub fn format_ms(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    let of_day = ms.rem_euclid(86_400_000);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000
    )
}

/// Parse a date-time with a time zone (`Z` or `±HH:MM`) to ms since the Unix epoch,
/// with fractional seconds rounded to the nearest millisecond (half up). `None` if it
/// is not such a time (a missing zone, a day that does not exist, a leap second).
pub fn parse_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(y, mo)
        || h > 23
        || mi > 59
        || sec > 59
    {
        return None;
    }
    let mut i = 19;
    let mut frac_ms: i64 = 0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        let mut j = start;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j == start {
            return None;
        }
        let digits = &s[start..j];
        let mut ms: i64 = 0;
        for (k, c) in digits.bytes().take(3).enumerate() {
            ms += i64::from(c - b'0') * [100, 10, 1][k];
        }
        if digits.len() > 3 && digits.as_bytes()[3] >= b'5' {
            ms += 1;
        }
        frac_ms = ms;
        i = j;
    }
    let offset_min: i64 = match b.get(i)? {
        b'Z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let v = oh * 60 + om;
            if *sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some(secs * 1000 + frac_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_and_fractions() {
        assert_eq!(parse_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_ms("1970-01-01T08:00:00+08:00"), Some(0));
        assert_eq!(parse_ms("1970-01-01T00:00:00.1415Z"), Some(142));
        assert_eq!(parse_ms("1970-01-01T00:00:00.1425Z"), Some(143));
        assert_eq!(
            parse_ms("2026-11-10T07:30:00.000+08:00"),
            Some(1_794_267_000_000)
        );
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-11-10T07:30:00",
            "2026-11-10t07:30:00Z",
            "2026-11-10T24:00:00Z",
            "2026-11-10T07:30:60Z",
            "2026-11-10T07:30:00.Z",
        ] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
        assert!(parse_ms("2024-02-29T00:00:00Z").is_some());
        for ms in [0, -1, 1_794_267_000_123, 86_399_999] {
            assert_eq!(parse_ms(&format_ms(ms)), Some(ms), "{ms}");
        }
        assert_eq!(format_ms(-1), "1969-12-31T23:59:59.999Z");
    }
}
