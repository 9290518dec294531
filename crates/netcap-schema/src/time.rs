//! Timestamp rendering: records store integer nanoseconds since the epoch.

/// Formats nanoseconds since the epoch as `seconds.microseconds` with six digits
/// (`1499255023.048884`), truncating below the microsecond like tshark's epoch time.
pub fn format_epoch_micros(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let micros = ns.rem_euclid(1_000_000_000) / 1_000;
    format!("{secs}.{micros:06}")
}

/// Formats nanoseconds since the epoch as RFC 3339 in UTC with nanoseconds
/// (`2017-07-05T11:43:43.048884000Z`).
pub fn format_rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_are_zero_padded() {
        assert_eq!(
            format_epoch_micros(1_499_254_962_084_372_000),
            "1499254962.084372"
        );
        assert_eq!(
            format_epoch_micros(1_499_255_023_048_884_999),
            "1499255023.048884"
        );
        assert_eq!(format_epoch_micros(0), "0.000000");
        assert_eq!(format_epoch_micros(-1), "-1.999999");
    }

    #[test]
    fn rfc3339() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_rfc3339(1_499_255_023_048_884_000),
            "2017-07-05T11:43:43.048884000Z"
        );
        assert_eq!(
            format_rfc3339(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
    }
}
