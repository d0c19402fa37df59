//! Instants as the store keeps them (milliseconds since the Unix epoch, UTC) and as people
//! read and write them (RFC 3339 in UTC, `2026-12-20T18:00:00Z`). Domain functions take the
//! current time as an argument, so tests can move it.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDate, SecondsFormat};
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
        match DateTime::from_timestamp(secs, 0) {
            Some(t) => t.to_rfc3339_opts(SecondsFormat::Secs, true),
            // Beyond chrono's quarter of a million years: no instant anyone acts on.
            None => format!("{secs} s after 1970-01-01T00:00:00Z"),
        }
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
        // The numbers are at most four digits: they fit, and chrono checks the calendar.
        let at = NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32)
            .and_then(|date| date.and_hms_opt(hh as u32, mm as u32, ss as u32))
            .ok_or_else(bad)?;
        Ok(Self(at.and_utc().timestamp() * 1000))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
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
