//! Timestamps of alerts and ground-truth files, to nanoseconds since the epoch.
//!
//! Accepted: RFC 3339 / ISO 8601 (`2017-07-05T13:43:43.048884Z`, with `T` or
//! a space, offsets `Z`, `+02:00`, `+0200` or `+02`: Suricata writes
//! `+0200`), `YYYY/MM/DD hh:mm[:ss[.frac]]`, and epoch seconds with an
//! optional fraction (`1499255023.048884`). A time without an offset is taken
//! in the zone given by `default_offset` (seconds east of UTC).

/// Parses a timestamp; `None` when it has none of the accepted forms.
pub fn parse_time(s: &str, default_offset: i64) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let numeric = s
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
    if numeric && s.get(1..).is_some_and(|rest| !rest.contains('-')) {
        return parse_epoch(s);
    }
    parse_calendar(s, default_offset)
}

/// `[-]seconds[.fraction]`, up to nanoseconds.
fn parse_epoch(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || int.len() > 11 || frac.contains('.') {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let nanos = fraction_nanos(frac)?;
    let v = secs.checked_mul(1_000_000_000)?.checked_add(nanos)?;
    Some(if neg { -v } else { v })
}

/// Digits after the decimal point as nanoseconds (extra digits truncated).
fn fraction_nanos(frac: &str) -> Option<i64> {
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n = 0i64;
    for i in 0..9 {
        let d = frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
        n = n * 10 + d;
    }
    Some(n)
}

/// A cursor over the bytes of a calendar timestamp.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Between `min` and `max` digits.
    fn number(&mut self, min: usize, max: usize) -> Option<i64> {
        let start = self.i;
        let mut v = 0i64;
        while self.i - start < max {
            match self.peek() {
                Some(b) if b.is_ascii_digit() => {
                    v = v * 10 + i64::from(b - b'0');
                    self.i += 1;
                }
                _ => break,
            }
        }
        (self.i - start >= min).then_some(v)
    }

    fn eat(&mut self, set: &[u8]) -> Option<u8> {
        let b = self.peek().filter(|b| set.contains(b))?;
        self.i += 1;
        Some(b)
    }
}

fn parse_calendar(s: &str, default_offset: i64) -> Option<i64> {
    let mut c = Cursor {
        s: s.as_bytes(),
        i: 0,
    };
    let year = c.number(4, 4)?;
    let sep = c.eat(b"-/")?;
    let month = c.number(1, 2)?;
    c.eat(&[sep])?;
    let day = c.number(1, 2)?;
    c.eat(b"T ")?;
    let hour = c.number(1, 2)?;
    c.eat(b":")?;
    let minute = c.number(2, 2)?;
    let mut second = 0;
    let mut nanos = 0;
    if c.eat(b":").is_some() {
        second = c.number(2, 2)?;
        if c.eat(b".,").is_some() {
            let start = c.i;
            while c.peek().is_some_and(|b| b.is_ascii_digit()) {
                c.i += 1;
            }
            if c.i == start {
                return None;
            }
            nanos = fraction_nanos(s.get(start..c.i)?)?;
        }
    }
    let offset = match c.peek() {
        None => default_offset,
        Some(b'Z' | b'z') => {
            c.i += 1;
            0
        }
        Some(b'+' | b'-') => {
            let sign = if c.eat(b"+-")? == b'-' { -1 } else { 1 };
            let h = c.number(2, 2)?;
            c.eat(b":");
            let m = if c.peek().is_some() {
                c.number(2, 2)?
            } else {
                0
            };
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
        Some(_) => return None,
    };
    if c.peek().is_some()
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a UTC offset given on the command line: `+02:00`, `-0300`, `+2`,
/// `Z` or `UTC`; seconds east of UTC.
pub fn parse_offset(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, s.get(1..)?),
        b'-' => (-1, s.get(1..)?),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => (rest.get(..2)?, rest.get(2..)?),
        None => (rest, "0"),
    };
    let h: i64 = h.parse().ok()?;
    let m: i64 = m.parse().ok()?;
    (h <= 23 && m <= 59).then_some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from `date -u -d '...' +%s%N` (GNU coreutils).
    #[test]
    fn calendar_forms() {
        let want = 1_499_255_023_048_884_000;
        for s in [
            "2017-07-05T11:43:43.048884Z",
            "2017-07-05T13:43:43.048884+0200",
            "2017-07-05T13:43:43.048884+02:00",
            "2017-07-05T13:43:43.048884+02",
            "2017-07-05 11:43:43.048884",
            "2017/07/05 11:43:43.048884",
            "2017-07-05T08:43:43.048884-03:00",
            "1499255023.048884",
            " 1499255023.048884000 ",
        ] {
            assert_eq!(parse_time(s, 0), Some(want), "{s}");
        }
        assert_eq!(
            parse_time("2017-07-05 11:43", 0),
            Some(1_499_254_980_000_000_000)
        );
        assert_eq!(
            parse_time("2017-7-5 8:43", -3 * 3600),
            Some(1_499_254_980_000_000_000)
        );
        assert_eq!(
            parse_time("2000-02-29T00:00:00Z", 0),
            Some(951_782_400_000_000_000)
        );
        assert_eq!(parse_time("1499255023", 0), Some(1_499_255_023_000_000_000));
        assert_eq!(parse_time("0", 0), Some(0));
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "yesterday",
            "2017-13-05T11:43:43Z",
            "2017-02-30T11:43:43Z",
            "2017-07-05T25:43:43Z",
            "2017-07-05T11:43:43Q",
            "2017-07-05T11:43:43+2500",
            "2017-07-05",
            "1.2.3",
            "12-34",
            "99999999999999999999",
            "2017-07-05T11:43:43.Z",
        ] {
            assert_eq!(parse_time(s, 0), None, "{s}");
        }
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("+02:00"), Some(7200));
        assert_eq!(parse_offset("-0300"), Some(-10_800));
        assert_eq!(parse_offset("+5"), Some(18_000));
        assert_eq!(parse_offset("UTC"), Some(0));
        assert_eq!(parse_offset("0200"), None);
        assert_eq!(parse_offset("+25:00"), None);
    }
}
