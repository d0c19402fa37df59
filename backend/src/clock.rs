//! Instants as the store keeps them (milliseconds since the Unix epoch, UTC) and as people
//! read and write them (RFC 3339 in UTC, `2026-12-20T18:00:00Z`). Domain functions take the
//! current time as an argument, so tests can move it.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        Self(i64::try_from(ms).unwrap_or(i64::MAX))
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn plus_secs(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs.saturating_mul(1000)))
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` (seconds are enough for people and for CSV).
    pub fn rfc3339(self) -> String {
        let secs = self.0.div_euclid(1000);
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
    }

    /// Parses `YYYY-MM-DDTHH:MM[:SS]Z` or with an explicit `+00:00`; other offsets are refused
    /// rather than guessed, as is a bare date-time without a zone.
    pub fn parse_rfc3339(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a UTC time like 2026-12-20T18:00:00Z");
        let body = text.strip_suffix('Z').or_else(|| text.strip_suffix("+00:00")).ok_or_else(bad)?;
        let (date, time) = body.split_once('T').ok_or_else(bad)?;
        let num = |s: &str, len: usize| -> Result<i64, String> {
            if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let mut date_parts = date.split('-');
        let (y, m, d) = match (date_parts.next(), date_parts.next(), date_parts.next(), date_parts.next()) {
            (Some(y), Some(m), Some(d), None) => (num(y, 4)?, num(m, 2)?, num(d, 2)?),
            _ => return Err(bad()),
        };
        let mut time_parts = time.split(':');
        let (hh, mm, ss) = match (time_parts.next(), time_parts.next(), time_parts.next(), time_parts.next())
        {
            (Some(h), Some(m), None, None) => (num(h, 2)?, num(m, 2)?, 0),
            (Some(h), Some(m), Some(s), None) => (num(h, 2)?, num(m, 2)?, num(s, 2)?),
            _ => return Err(bad()),
        };
        if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) || hh > 23 || mm > 59 || ss > 59 {
            return Err(bad());
        }
        let secs = days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss;
        Ok(Self(secs * 1000))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-calendar algorithms (proleptic Gregorian, days since 1970-01-01).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

#[cfg(test)]
mod tests {
    use super::Timestamp;

    #[test]
    fn round_trips_and_known_instants() {
        assert_eq!(Timestamp(0).rfc3339(), "1970-01-01T00:00:00Z");
        let t = Timestamp::parse_rfc3339("2026-11-29T06:30:20Z").unwrap();
        assert_eq!(t.0, 1_795_933_820_000);
        assert_eq!(t.rfc3339(), "2026-11-29T06:30:20Z");
        assert_eq!(
            Timestamp::parse_rfc3339("2024-02-29T23:59+00:00").unwrap().rfc3339(),
            "2024-02-29T23:59:00Z"
        );
    }

    #[test]
    fn refuses_what_it_would_have_to_guess() {
        for bad in [
            "2026-11-29",
            "2026-11-29T06:30:20",
            "2026-11-29T06:30:20+01:00",
            "2025-02-29T00:00Z",
            "2026-13-01T00:00Z",
            "x",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
