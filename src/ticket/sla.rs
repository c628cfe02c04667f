//! Service-level targets: when the first response and the resolution of a ticket are due.
//!
//! A target is a number of hours by priority (`[sla]` and `[sla.resolution]`). Without
//! `business_hours` the hours run around the clock; with them, only inside the opening hours of
//! the configured time zone (IANA name, so daylight-saving changes are the zone's own), and not
//! on `holidays`. A ticket without a priority yet (not analysed) is timed as `medium`.
//!
//! The clocks: first response runs from the customer's first message until our first reply
//! (`tickets.first_response_at`); resolution from the same start until the ticket is resolved.
//! Neither pauses while the ticket waits for the customer, but a waiting ticket is not shown as
//! due (it is the customer's turn); a ticket reopened from resolved, closed or noise starts both
//! clocks again from the reopening message.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;

use rusqlite::Connection;

use crate::config;
use crate::store::{self, tickets};

/// Seconds to a target, by priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    pub urgent: i64,
    pub high: i64,
    pub medium: i64,
    pub low: i64,
}

impl Targets {
    /// The target for a priority name; unknown or missing priorities are timed as medium.
    pub fn for_priority(&self, priority: Option<&str>) -> i64 {
        match priority {
            Some("urgent") => self.urgent,
            Some("high") => self.high,
            Some("low") => self.low,
            _ => self.medium,
        }
    }
}

/// The SLA of this helpdesk: targets and the calendar they count in.
#[derive(Debug, Clone)]
pub struct Policy {
    pub first_response: Targets,
    pub resolution: Targets,
    pub calendar: Calendar,
}

/// Due times of one ticket (unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub first_response: i64,
    pub resolution: i64,
}

impl Policy {
    /// Builds the policy from `[sla]`; an error names the key and what would be valid.
    pub fn from_config(c: &config::Sla) -> Result<Policy, (String, String)> {
        let hours = |h: u32| i64::from(h) * 3600;
        let tz: Tz = c.timezone.parse().map_err(|_| {
            (
                "sla.timezone".to_owned(),
                format!(
                    "{:?} is not an IANA time zone name; use e.g. \"Europe/Berlin\", \"America/New_York\" or \"UTC\"",
                    c.timezone
                ),
            )
        })?;
        let hours_of_week = match &c.business_hours {
            Some(s) => {
                Some(BusinessHours::parse(s).map_err(|m| ("sla.business_hours".to_owned(), m))?)
            }
            None => None,
        };
        let mut holidays = BTreeSet::new();
        for h in &c.holidays {
            let d = NaiveDate::parse_from_str(h, "%Y-%m-%d").map_err(|_| {
                (
                    "sla.holidays".to_owned(),
                    format!("{h:?} is not a date; write holidays as \"YYYY-MM-DD\""),
                )
            })?;
            holidays.insert(d);
        }
        for (key, v) in [
            ("sla.urgent", c.urgent),
            ("sla.high", c.high),
            ("sla.medium", c.medium),
            ("sla.low", c.low),
            ("sla.resolution.urgent", c.resolution.urgent),
            ("sla.resolution.high", c.resolution.high),
            ("sla.resolution.medium", c.resolution.medium),
            ("sla.resolution.low", c.resolution.low),
        ] {
            if v == 0 || v > 24 * 366 {
                return Err((
                    key.to_owned(),
                    format!("{v} hours is out of range; use 1 to 8784"),
                ));
            }
        }
        Ok(Policy {
            first_response: Targets {
                urgent: hours(c.urgent),
                high: hours(c.high),
                medium: hours(c.medium),
                low: hours(c.low),
            },
            resolution: Targets {
                urgent: hours(c.resolution.urgent),
                high: hours(c.resolution.high),
                medium: hours(c.resolution.medium),
                low: hours(c.resolution.low),
            },
            calendar: Calendar {
                tz,
                hours: hours_of_week,
                holidays,
            },
        })
    }

    /// When a ticket of this priority whose clocks started at `start` is due.
    pub fn due(&self, start: i64, priority: Option<&str>) -> Due {
        Due {
            first_response: self
                .calendar
                .add(start, self.first_response.for_priority(priority)),
            resolution: self
                .calendar
                .add(start, self.resolution.for_priority(priority)),
        }
    }
}

impl Default for Policy {
    fn default() -> Policy {
        Policy::from_config(&config::Sla::default()).expect("the default SLA is valid")
    }
}

/// Where the clock runs: a time zone, the opening hours of each weekday and the holidays.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub tz: Tz,
    /// `None`: around the clock.
    pub hours: Option<BusinessHours>,
    pub holidays: BTreeSet<NaiveDate>,
}

/// Opening hours per weekday (Monday first), as minute ranges of the local day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    pub days: [Vec<(u32, u32)>; 7],
}

impl BusinessHours {
    /// Parses `"Mon-Fri 09:00-17:00"`: groups separated by `;` or `,`, each a day or a day
    /// range (`Mon`, `Fri-Mon`) and one or more time ranges (`09:00-12:00 13:00-17:30`,
    /// `00:00-24:00`).
    pub fn parse(s: &str) -> Result<BusinessHours, String> {
        let mut days: [Vec<(u32, u32)>; 7] = Default::default();
        let example = "write it like \"Mon-Fri 09:00-17:00\" or \"Mon-Thu 08:00-12:00 13:00-17:00; Fri 08:00-14:00\"";
        for group in s.split([';', ',']).map(str::trim).filter(|g| !g.is_empty()) {
            let mut words = group.split_whitespace();
            let day_spec = words.next().unwrap_or_default();
            let (first, last) = match day_spec.split_once('-') {
                Some((a, b)) => (weekday(a), weekday(b)),
                None => (weekday(day_spec), weekday(day_spec)),
            };
            let (Some(first), Some(last)) = (first, last) else {
                return Err(format!(
                    "{day_spec:?} is not a day or day range (Mon, Tue, Wed, Thu, Fri, Sat, Sun); {example}"
                ));
            };
            let mut ranges = Vec::new();
            for r in words {
                let parsed = r
                    .split_once('-')
                    .and_then(|(a, b)| Some((minute(a)?, minute(b)?)));
                match parsed {
                    Some((a, b)) if a < b => ranges.push((a, b)),
                    _ => {
                        return Err(format!(
                            "{r:?} is not a time range of one day (HH:MM-HH:MM, start before end); {example}"
                        ));
                    }
                }
            }
            if ranges.is_empty() {
                return Err(format!("{group:?} has no hours; {example}"));
            }
            let mut d = first.num_days_from_monday();
            loop {
                days[d as usize].extend(ranges.iter().copied());
                if d == last.num_days_from_monday() {
                    break;
                }
                d = (d + 1) % 7;
            }
        }
        for d in &mut days {
            d.sort_unstable();
            if d.windows(2).any(|w| w[1].0 < w[0].1) {
                return Err(format!("two time ranges of one day overlap; {example}"));
            }
        }
        if days.iter().all(Vec::is_empty) {
            return Err(format!("no opening hours at all; {example}"));
        }
        Ok(BusinessHours { days })
    }
}

fn weekday(s: &str) -> Option<Weekday> {
    let s = s.to_ascii_lowercase();
    let all = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    let names = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    names
        .iter()
        .position(|n| s.len() >= 3 && n.starts_with(&s))
        .map(|i| all[i])
}

/// `HH:MM` as minutes of the day; `24:00` is the end of the day.
fn minute(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

/// The most days `add` walks before giving up (ten years of holidays would be needed).
const MAX_DAYS: i64 = 3660;

impl Calendar {
    /// The instant `seconds` of working time after `start`.
    pub fn add(&self, start: i64, seconds: i64) -> i64 {
        let Some(hours) = &self.hours else {
            return start + seconds;
        };
        if seconds <= 0 {
            return start;
        }
        let mut remaining = seconds;
        let Some(start_utc) = chrono::DateTime::from_timestamp(start, 0) else {
            return start + seconds;
        };
        let mut date = start_utc.with_timezone(&self.tz).date_naive();
        for _ in 0..MAX_DAYS {
            if !self.holidays.contains(&date) {
                for &(from, to) in &hours.days[date.weekday().num_days_from_monday() as usize] {
                    let open = self.instant(date, from).max(start);
                    let close = self.instant(date, to);
                    if close <= open {
                        continue;
                    }
                    if remaining <= close - open {
                        return open + remaining;
                    }
                    remaining -= close - open;
                }
            }
            match date.succ_opt() {
                Some(d) => date = d,
                None => break,
            }
        }
        start + seconds
    }

    /// The unix time of a local wall-clock minute. In the hour skipped when clocks go forward
    /// the minute does not exist: the first valid minute after it counts. In the hour that
    /// repeats when they go back, the earlier one counts.
    fn instant(&self, date: NaiveDate, minute: u32) -> i64 {
        let mut local: NaiveDateTime =
            date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minute));
        for _ in 0..(4 * 60) {
            match self.tz.from_local_datetime(&local) {
                chrono::LocalResult::Single(t) => return t.timestamp(),
                chrono::LocalResult::Ambiguous(a, _) => return a.timestamp(),
                chrono::LocalResult::None => local += Duration::minutes(1),
            }
        }
        local.and_utc().timestamp()
    }
}

/// Starts a ticket's clocks at `start` for its current priority and stores the due times.
pub fn start(conn: &Connection, policy: &Policy, ticket_id: i64, start: i64) -> store::Result<Due> {
    let (_, priority) = tickets::sla_inputs(conn, ticket_id)?;
    let due = policy.due(start, priority.as_deref());
    tickets::set_sla(conn, ticket_id, start, due.first_response, due.resolution)?;
    Ok(due)
}

/// Recomputes a ticket's due times from its stored start (after its priority changed).
/// A ticket whose clocks never started is left alone.
pub fn refresh(conn: &Connection, policy: &Policy, ticket_id: i64) -> store::Result<Option<Due>> {
    let (start_at, priority) = tickets::sla_inputs(conn, ticket_id)?;
    let Some(start_at) = start_at else {
        return Ok(None);
    };
    let due = policy.due(start_at, priority.as_deref());
    tickets::set_sla(
        conn,
        ticket_id,
        start_at,
        due.first_response,
        due.resolution,
    )?;
    Ok(Some(due))
}

/// `2026-11-23 09:41 UTC`, for event details.
pub fn format_utc(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map_or_else(
        || "?".into(),
        |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// Time left to a deadline as `3h`, `45m`, `2d`, or past it as `-3h` (overdue).
pub fn left(now: i64, due: i64) -> String {
    let s = due - now;
    let a = s.abs();
    let text = match a {
        a if a < 3600 => format!("{}m", a / 60),
        a if a < 2 * 86_400 => format!("{}h", a / 3600),
        a => format!("{}d", a / 86_400),
    };
    if s < 0 { format!("-{text}") } else { text }
}

/// How close a deadline is, for colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    Overdue,
    /// Less than a quarter of the target, or under an hour, is left.
    Soon,
    Later,
}

pub fn urgency(now: i64, start: Option<i64>, due: i64) -> Urgency {
    let left = due - now;
    if left < 0 {
        return Urgency::Overdue;
    }
    let span = start.map_or(0, |s| due - s);
    if left < 3600 || left * 4 < span {
        Urgency::Soon
    } else {
        Urgency::Later
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(tz: Tz, s: &str) -> i64 {
        let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        tz.from_local_datetime(&naive)
            .earliest()
            .unwrap()
            .timestamp()
    }

    fn policy(business_hours: Option<&str>, tz: &str) -> Policy {
        let c = config::Sla {
            business_hours: business_hours.map(Into::into),
            timezone: tz.into(),
            ..config::Sla::default()
        };
        Policy::from_config(&c).unwrap()
    }

    #[test]
    fn around_the_clock_targets_cross_midnight() {
        let p = policy(None, "UTC");
        let start = ts(Tz::UTC, "2026-11-20 23:00");
        let due = p.due(start, Some("urgent"));
        assert_eq!(due.first_response, ts(Tz::UTC, "2026-11-21 01:00"));
        assert_eq!(due.resolution, ts(Tz::UTC, "2026-11-21 07:00"));
        // Unanalysed tickets are timed as medium: 24 h, and 72 h to resolution.
        let due = p.due(start, None);
        assert_eq!(due.first_response, ts(Tz::UTC, "2026-11-21 23:00"));
        assert_eq!(due.resolution, ts(Tz::UTC, "2026-11-23 23:00"));
    }

    #[test]
    fn business_hours_skip_nights_and_weekends() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let p = policy(Some("Mon-Fri 09:00-17:00"), "Europe/Berlin");
        // Friday 16:00 + 4 h (high): 1 h on Friday, 3 h on Monday.
        let fri = ts(tz, "2026-11-20 16:00");
        assert_eq!(
            p.due(fri, Some("high")).first_response,
            ts(tz, "2026-11-23 12:00")
        );
        // Saturday night: the clock starts on Monday at 09:00.
        let sat = ts(tz, "2026-11-21 23:30");
        assert_eq!(
            p.due(sat, Some("urgent")).first_response,
            ts(tz, "2026-11-23 11:00")
        );
        // Before opening on a weekday, across midnight from the evening before.
        let tue_evening = ts(tz, "2026-11-24 22:00");
        assert_eq!(
            p.due(tue_evening, Some("urgent")).first_response,
            ts(tz, "2026-11-25 11:00")
        );
        // 24 business hours from Monday 09:00 are three working days: Wednesday 17:00.
        let mon = ts(tz, "2026-11-23 09:00");
        assert_eq!(p.due(mon, None).first_response, ts(tz, "2026-11-25 17:00"));
    }

    #[test]
    fn split_days_and_holidays() {
        let tz = Tz::UTC;
        let c = config::Sla {
            business_hours: Some("Mon-Thu 08:00-12:00 13:00-17:00; Fri 08:00-12:00".into()),
            holidays: vec!["2026-12-25".into()],
            ..config::Sla::default()
        };
        let p = Policy::from_config(&c).unwrap();
        // Thursday 11:00 + 2 h: one before lunch, one after.
        let thu = ts(tz, "2026-12-24 11:00");
        assert_eq!(p.calendar.add(thu, 2 * 3600), ts(tz, "2026-12-24 14:00"));
        // Thursday 16:00 + 4 h: 1 h Thursday, Friday is a holiday, then 3 h on Monday.
        let late = ts(tz, "2026-12-24 16:00");
        assert_eq!(p.calendar.add(late, 4 * 3600), ts(tz, "2026-12-28 11:00"));
    }

    #[test]
    fn daylight_saving_changes_keep_local_opening_hours() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let p = policy(Some("Mon-Fri 09:00-17:00"), "Europe/Berlin");
        // Clocks go back on Sunday 2026-10-25: Friday 16:00 CEST (UTC+2) + 2 h ends Monday
        // 10:00 CET (UTC+1), which is 67 real hours later, not 66.
        let fri = ts(tz, "2026-10-23 16:00");
        let due = p.calendar.add(fri, 2 * 3600);
        assert_eq!(due, ts(tz, "2026-10-26 10:00"));
        assert_eq!(due - fri, 67 * 3600);
        // And forward on 2026-03-29: Friday 16:00 CET + 2 h is Monday 10:00 CEST, 65 h later.
        let fri = ts(tz, "2026-03-27 16:00");
        let due = p.calendar.add(fri, 2 * 3600);
        assert_eq!(due, ts(tz, "2026-03-30 10:00"));
        assert_eq!(due - fri, 65 * 3600);
    }

    #[test]
    fn around_the_clock_hours_are_real_hours_across_a_dst_night() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let p = policy(Some("Mon-Sun 00:00-24:00"), "America/New_York");
        // The night of 2026-11-01 has 25 hours: 24 h of clock from midnight end at 23:00.
        let start = ts(tz, "2026-11-01 00:00");
        assert_eq!(p.calendar.add(start, 24 * 3600), ts(tz, "2026-11-01 23:00"));
        // Opening hours inside the hour skipped in spring start at the first valid minute.
        let p = policy(Some("Sun 02:30-04:00"), "America/New_York");
        let before = ts(tz, "2026-03-08 00:00");
        assert_eq!(p.calendar.add(before, 1800), ts(tz, "2026-03-08 03:30"));
    }

    #[test]
    fn time_left_and_urgency() {
        assert_eq!(left(0, 90 * 60), "1h");
        assert_eq!(left(0, 59 * 60), "59m");
        assert_eq!(left(3 * 86_400, 0), "-3d");
        assert_eq!(left(7200, 0), "-2h");
        assert_eq!(urgency(100, Some(0), 50), Urgency::Overdue);
        assert_eq!(urgency(0, Some(0), 24 * 3600), Urgency::Later);
        assert_eq!(urgency(20 * 3600, Some(0), 24 * 3600), Urgency::Soon);
        assert_eq!(urgency(0, None, 1800), Urgency::Soon);
    }

    #[test]
    fn bad_calendars_name_the_key() {
        for (hours, tz, key) in [
            (Some("Mon-Fri 9-17"), "UTC", "sla.business_hours"),
            (Some("Mon-Frx 09:00-17:00"), "UTC", "sla.business_hours"),
            (Some("Mon 10:00-09:00"), "UTC", "sla.business_hours"),
            (
                Some("Mon 09:00-12:00 11:00-13:00"),
                "UTC",
                "sla.business_hours",
            ),
            (None, "Europe/Berlinn", "sla.timezone"),
        ] {
            let c = config::Sla {
                business_hours: hours.map(Into::into),
                timezone: tz.into(),
                ..config::Sla::default()
            };
            let (k, m) = Policy::from_config(&c).unwrap_err();
            assert_eq!(k, key, "{m}");
        }
        let hours = BusinessHours::parse("fri-mon 10:00-11:00").unwrap();
        let open: Vec<usize> = (0..7).filter(|d| !hours.days[*d].is_empty()).collect();
        assert_eq!(open, vec![0, 4, 5, 6]);
    }
}
