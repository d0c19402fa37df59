//! The freeze calendar: when an environment's freezes fall. One-off windows come from the
//! configuration as they are; recurring ones ([`RecurringFreeze`]) are expanded from their
//! RFC 5545 rule in their time zone, each occurrence as long on the wall clock as the first.
//! What holds now ([`holding`]) runs to the end of every window that overlaps or touches it,
//! so "frozen until" is when changes may go through again.

use chrono::{DateTime, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use rrule::RRuleSet;

use crate::clock::Timestamp;
use crate::config::{Environment, RecurringFreeze};

/// One freeze as it falls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
    pub reason: String,
    /// The time zone its rule is written in (one-off windows are UTC).
    pub zone: Option<Tz>,
}

impl Window {
    /// When it ends, as people there read it: "Mon 08:00 CET" (or UTC, RFC 3339).
    pub fn end_in_words(&self) -> String {
        local(self.end, self.zone)
    }
}

/// `at` in `zone` as "Mon 08:00 CET"; RFC 3339 in UTC without a zone.
pub fn local(at: Timestamp, zone: Option<Tz>) -> String {
    match (zone, DateTime::from_timestamp_millis(at.millis())) {
        (Some(zone), Some(t)) => t.with_timezone(&zone).format("%a %d %b %H:%M %Z").to_string(),
        _ => at.rfc3339(),
    }
}

/// A recurring freeze, parsed.
#[derive(Debug, Clone)]
pub struct Rule {
    set: RRuleSet,
    zone: Tz,
    /// How long each occurrence lasts on the wall clock.
    length: chrono::TimeDelta,
}

/// The longest a recurring freeze may last: longer is a mistake, not a freeze.
const MAX_LENGTH_DAYS: i64 = 31;

/// How far [`holding`] looks for windows that extend the one holding now.
pub const HORIZON_SECS: i64 = MAX_LENGTH_DAYS * 86_400 * 4;

impl RecurringFreeze {
    /// The rule, or what is wrong with it in words.
    pub fn compile(&self) -> Result<Rule, String> {
        let zone: Tz = self.time_zone.parse().map_err(|_| {
            format!("time_zone {:?} is not an IANA time zone like \"Europe/Berlin\"", self.time_zone)
        })?;
        let wall = |key: &str, text: &str| {
            NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M")
                .or_else(|_| NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S"))
                .map_err(|_| format!("{key} {text:?} is not a local time like \"2026-01-02T16:00\""))
        };
        let (starts, ends) = (wall("starts", &self.starts)?, wall("ends", &self.ends)?);
        let length = ends - starts;
        if length <= chrono::TimeDelta::zero() {
            return Err("ends must be after starts".into());
        }
        if length > chrono::TimeDelta::days(MAX_LENGTH_DAYS) {
            return Err(format!("a recurring freeze lasts at most {MAX_LENGTH_DAYS} days"));
        }
        let rule = self.rrule.trim().trim_start_matches("RRULE:");
        if rule.contains(['\n', '\r']) || rule.to_ascii_uppercase().contains("DTSTART") {
            return Err("rrule is one RRULE line; its start is `starts`".into());
        }
        let text = format!("DTSTART;TZID={}:{}\nRRULE:{rule}", zone.name(), starts.format("%Y%m%dT%H%M%S"));
        let set: RRuleSet = text.parse().map_err(|e: rrule::RRuleError| format!("rrule {rule:?}: {e}"))?;
        Ok(Rule { set, zone, length })
    }
}

impl Rule {
    /// The occurrences that overlap `[from, to)`.
    fn windows(&self, from: Timestamp, to: Timestamp, reason: &str) -> Vec<Window> {
        let at = |t: Timestamp| {
            DateTime::from_timestamp_millis(t.millis()).map(|t| t.with_timezone(&rrule::Tz::Tz(self.zone)))
        };
        // An occurrence that started up to its length before `from` still holds at `from`.
        let (Some(after), Some(before)) = (at(from.plus_secs(-self.length.num_seconds() - 1)), at(to)) else {
            return Vec::new();
        };
        let starts = self.set.clone().after(after).before(before).all(1000).dates;
        starts
            .into_iter()
            .map(|start| {
                let wall_end = start.naive_local() + self.length;
                let end = self
                    .zone
                    .from_local_datetime(&wall_end)
                    .earliest()
                    .map(|e| e.timestamp_millis())
                    // The end falls in a gap of a daylight-saving change: an hour later.
                    .unwrap_or_else(|| start.timestamp_millis() + self.length.num_milliseconds() + 3_600_000);
                Window {
                    start: Timestamp(start.timestamp_millis()),
                    end: Timestamp(end),
                    reason: reason.to_owned(),
                    zone: Some(self.zone),
                }
            })
            .filter(|w| w.start < to && w.end > from)
            .collect()
    }
}

/// Every freeze of `env` overlapping `[from, to)`, by start.
pub fn windows(env: &Environment, from: Timestamp, to: Timestamp) -> Vec<Window> {
    let mut all: Vec<Window> = env
        .freezes
        .iter()
        .filter(|f| f.start < to && f.end > from)
        .map(|f| Window { start: f.start, end: f.end, reason: f.reason.clone(), zone: None })
        .collect();
    for recurring in &env.recurring_freezes {
        // Validated at load: a rule that does not compile was refused then.
        if let Ok(rule) = recurring.compile() {
            all.extend(rule.windows(from, to, &recurring.reason));
        }
    }
    all.sort_by_key(|w| (w.start, w.end));
    all
}

/// The freeze holding `env` at `now`, its end pushed to the end of every window that
/// overlaps or touches it.
pub fn holding(env: &Environment, now: Timestamp) -> Option<Window> {
    let ahead = now.plus_secs(HORIZON_SECS);
    let all = windows(env, now, ahead);
    let mut held = all.iter().find(|w| w.start <= now && now < w.end)?.clone();
    loop {
        let later = all.iter().filter(|w| w.start <= held.end && w.end > held.end).max_by_key(|w| w.end);
        match later {
            Some(w) => {
                held.end = w.end;
                held.zone = w.zone.or(held.zone);
            }
            None => return Some(held),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FreezeWindow, Source, load};

    fn weekend() -> RecurringFreeze {
        RecurringFreeze {
            rrule: "FREQ=WEEKLY;BYDAY=FR".into(),
            starts: "2026-01-02T16:00".into(),
            ends: "2026-01-05T08:00".into(),
            time_zone: "Europe/Berlin".into(),
            reason: "weekend freeze".into(),
        }
    }

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    fn env_with(recurring: Vec<RecurringFreeze>, once: Vec<FreezeWindow>) -> Environment {
        let config = load(&Source::SandboxDefault).unwrap();
        let mut env = config.environment("staging").unwrap().clone();
        env.recurring_freezes = recurring;
        env.freezes = once;
        env
    }

    /// Every Friday 16:00 to Monday 08:00 in Berlin, in winter (CET, UTC+1) and summer
    /// (CEST, UTC+2), and across the night the clocks go forward.
    #[test]
    fn a_weekend_freeze_in_berlin() {
        let env = env_with(vec![weekend()], vec![]);
        let held = holding(&env, at("2026-12-05T12:00:00Z")).expect("a Saturday is frozen");
        assert_eq!((held.start, held.end), (at("2026-12-04T15:00:00Z"), at("2026-12-07T07:00:00Z")));
        assert_eq!(held.end_in_words(), "Mon 07 Dec 08:00 CET");
        assert_eq!(held.reason, "weekend freeze");
        assert!(holding(&env, at("2026-12-07T07:00:00Z")).is_none(), "Monday 08:00 is open");
        assert!(holding(&env, at("2026-12-04T14:59:59Z")).is_none(), "Friday before 16:00 is open");
        let summer = holding(&env, at("2026-07-04T12:00:00Z")).unwrap();
        assert_eq!((summer.start, summer.end), (at("2026-07-03T14:00:00Z"), at("2026-07-06T06:00:00Z")));
        assert_eq!(summer.end_in_words(), "Mon 06 Jul 08:00 CEST");
        // 2026-03-29: the clocks go forward on Sunday; the freeze still ends Monday 08:00.
        let spring = holding(&env, at("2026-03-28T12:00:00Z")).unwrap();
        assert_eq!((spring.start, spring.end), (at("2026-03-27T15:00:00Z"), at("2026-03-30T06:00:00Z")));
        let month = windows(&env, at("2026-12-01T00:00:00Z"), at("2026-12-31T00:00:00Z"));
        assert_eq!(month.len(), 4, "{month:?}");
    }

    /// Windows that touch or overlap hold as one: "frozen until" is the last one's end.
    #[test]
    fn touching_windows_hold_as_one() {
        let holidays = FreezeWindow {
            start: at("2026-12-07T07:00:00Z"),
            end: at("2026-12-09T00:00:00Z"),
            reason: "release train".into(),
        };
        let env = env_with(vec![weekend()], vec![holidays]);
        let held = holding(&env, at("2026-12-05T12:00:00Z")).unwrap();
        assert_eq!(held.end, at("2026-12-09T00:00:00Z"));
        assert_eq!(held.reason, "weekend freeze");
    }

    #[test]
    fn rules_that_cannot_be_meant_are_refused_in_words() {
        let bad = |change: &dyn Fn(&mut RecurringFreeze)| {
            let mut r = weekend();
            change(&mut r);
            r.compile().unwrap_err()
        };
        assert!(bad(&|r| r.time_zone = "Mars/Olympus".into()).contains("not an IANA time zone"));
        assert!(bad(&|r| r.starts = "Friday 4pm".into()).contains("not a local time"));
        assert!(bad(&|r| r.ends = r.starts.clone()).contains("ends must be after starts"));
        assert!(bad(&|r| r.ends = "2026-03-02T08:00".into()).contains("at most 31 days"));
        assert!(bad(&|r| r.rrule = "FREQ=SOMETIMES".into()).starts_with("rrule \"FREQ=SOMETIMES\""));
        assert!(bad(&|r| r.rrule = "FREQ=DAILY\nDTSTART:20200101T000000".into()).contains("one RRULE line"));
        assert!(weekend().compile().is_ok());
    }
}
