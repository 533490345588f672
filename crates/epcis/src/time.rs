//! RFC 3339 / `xsd:dateTimeStamp` times, as EPCIS writes them
//! (`2026-11-10T07:30:00.000+08:00`), to milliseconds since the Unix epoch (UTC).

/// Days from 1970-01-01 to the civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
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
    let (y, mo, d) = (num(0..4)?, num(5..7)? as u32, num(8..10)? as u32);
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
    }
}
