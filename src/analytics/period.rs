//! Report periods: presets (today, 7/30/90 days, a year), custom ranges given as RFC 3339
//! instants or dates in the shop's time zone, the previous period to compare with, and the
//! buckets (hours, days, weeks from Monday, calendar months) of the shop's local time.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::Millis;

pub const HOUR: Millis = 3_600_000;
pub const DAY: Millis = 24 * HOUR;
/// The longest period a report covers (two years and a day).
pub const MAX_DAYS: i64 = 731;

/// `[from, to)` in Unix milliseconds, compared with `[from - shift, to - shift)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Millis,
    pub to: Millis,
    /// How far back the previous period lies: the period's length, or a whole day for "today"
    /// (today so far against yesterday until the same time).
    pub shift: Millis,
    /// The shop's offset from UTC, minutes.
    pub offset_min: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Hour,
    Day,
    Week,
    Month,
}

impl Bucket {
    pub fn parse(s: &str) -> Option<Bucket> {
        match s {
            "hour" => Some(Bucket::Hour),
            "day" => Some(Bucket::Day),
            "week" => Some(Bucket::Week),
            "month" => Some(Bucket::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Hour => "hour",
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }
}

impl Period {
    pub fn previous(&self) -> Period {
        Period { from: self.from - self.shift, to: self.to - self.shift, ..*self }
    }

    pub fn offset_ms(&self) -> Millis {
        i64::from(self.offset_min) * 60_000
    }

    /// The bucket that keeps a chart readable: hours up to two days, days up to two months,
    /// weeks up to half a year, then months.
    pub fn auto_bucket(&self) -> Bucket {
        let days = (self.to - self.from) / DAY;
        if self.to - self.from <= 2 * DAY {
            Bucket::Hour
        } else if days <= 62 {
            Bucket::Day
        } else if days <= 183 {
            Bucket::Week
        } else {
            Bucket::Month
        }
    }

    /// The start of the bucket holding `t`, in the shop's local time.
    pub fn bucket_start(&self, t: Millis, bucket: Bucket) -> Millis {
        let off = self.offset_ms();
        let local = t + off;
        match bucket {
            Bucket::Hour => local.div_euclid(HOUR) * HOUR - off,
            Bucket::Day => local.div_euclid(DAY) * DAY - off,
            Bucket::Week => {
                // 1970-01-01 was a Thursday: days since the epoch + 3 is days since a Monday.
                let day = local.div_euclid(DAY);
                (day - (day + 3).rem_euclid(7)) * DAY - off
            }
            Bucket::Month => {
                let (y, m, _) = civil(local.div_euclid(DAY));
                days_from_civil(y, m, 1) * DAY - off
            }
        }
    }

    /// The start of the bucket after the one starting at `start`.
    pub fn bucket_next(&self, start: Millis, bucket: Bucket) -> Millis {
        match bucket {
            Bucket::Hour => start + HOUR,
            Bucket::Day => start + DAY,
            Bucket::Week => start + 7 * DAY,
            Bucket::Month => {
                let off = self.offset_ms();
                let (y, m, _) = civil((start + off).div_euclid(DAY));
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                days_from_civil(ny, nm, 1) * DAY - off
            }
        }
    }

    /// The buckets covering the period, each as its start (the first may start before `from`).
    pub fn buckets(&self, bucket: Bucket) -> Vec<Millis> {
        let mut out = Vec::new();
        let mut t = self.bucket_start(self.from, bucket);
        while t < self.to && out.len() < 20_000 {
            out.push(t);
            t = self.bucket_next(t, bucket);
        }
        out
    }

    /// The index in [`Period::buckets`] of the bucket holding `t`.
    pub fn bucket_index(&self, starts: &[Millis], t: Millis) -> Option<usize> {
        match starts.binary_search(&t) {
            Ok(i) => Some(i),
            Err(0) => None,
            Err(i) => Some(i - 1),
        }
    }

    /// (weekday 0 = Monday, hour) of `t` in the shop's time zone.
    pub fn weekday_hour(&self, t: Millis) -> (usize, usize) {
        let local = t + self.offset_ms();
        let day = local.div_euclid(DAY);
        let weekday = (day + 3).rem_euclid(7) as usize;
        let hour = (local.rem_euclid(DAY) / HOUR) as usize;
        (weekday, hour)
    }
}

/// The local midnight starting the day that holds `now`.
pub fn local_midnight(now: Millis, offset_min: i32) -> Millis {
    let off = i64::from(offset_min) * 60_000;
    (now + off).div_euclid(DAY) * DAY - off
}

/// One bound of a custom range: an RFC 3339 instant, or a date (`YYYY-MM-DD`) meaning its local
/// midnight; as the end of a range a date includes that whole day.
fn bound(s: &str, offset_min: i32, end: bool) -> Result<Millis, String> {
    let s = s.trim();
    if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') {
        let bad = || format!("{s:?} is not a date like 2026-11-30");
        let num = |r: std::ops::Range<usize>| s.get(r).and_then(|p| p.parse::<i64>().ok()).ok_or_else(bad);
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let month = time::Month::try_from(u8::try_from(m).map_err(|_| bad())?).map_err(|_| bad())?;
        time::Date::from_calendar_date(y as i32, month, u8::try_from(d).map_err(|_| bad())?).map_err(|_| bad())?;
        let days = days_from_civil(y, m, d);
        let start = days * DAY - i64::from(offset_min) * 60_000;
        return Ok(if end { start + DAY } else { start });
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(|_| {
        format!("{s:?} is neither a date (2026-11-30) nor an RFC 3339 time (2026-11-30T09:00:00+03:00)")
    })?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as Millis)
}

/// The period a request asks for: `period` (a preset) or `from` / `to` (a custom range; `to`
/// defaults to now), else the last 7 days. Errors name the parameter.
pub fn resolve(
    period: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    now: Millis,
    offset_min: i32,
) -> Result<Period, String> {
    let midnight = local_midnight(now, offset_min);
    let preset = |days: i64| Period { from: midnight - (days - 1) * DAY, to: now, shift: days * DAY, offset_min };
    let from = from.filter(|s| !s.trim().is_empty());
    let to = to.filter(|s| !s.trim().is_empty());
    if let Some(p) = period.filter(|s| !s.trim().is_empty()) {
        if from.is_some() || to.is_some() {
            return Err("period: give either a period or from/to, not both".into());
        }
        return match p {
            "today" => Ok(Period { from: midnight, to: now.max(midnight + 1), shift: DAY, offset_min }),
            "yesterday" => Ok(Period { from: midnight - DAY, to: midnight, shift: DAY, offset_min }),
            "7d" => Ok(preset(7)),
            "30d" => Ok(preset(30)),
            "90d" => Ok(preset(90)),
            "365d" => Ok(preset(365)),
            other => Err(format!("period: {other:?} is not one of today, yesterday, 7d, 30d, 90d, 365d")),
        };
    }
    let (start, end) = match (from, to) {
        (None, None) => return Ok(preset(7)),
        (None, Some(_)) => return Err("from: required when to is given".into()),
        (Some(f), t) => {
            let start = bound(f, offset_min, false).map_err(|e| format!("from: {e}"))?;
            let end = match t {
                Some(t) => bound(t, offset_min, true).map_err(|e| format!("to: {e}"))?,
                None => now,
            };
            (start, end)
        }
    };
    if end <= start {
        return Err("to: must be after from".into());
    }
    if end - start > MAX_DAYS * DAY {
        return Err(format!("to: a report covers at most {MAX_DAYS} days"));
    }
    if start < 946_684_800_000 {
        return Err("from: must be in this century".into());
    }
    Ok(Period { from: start, to: end, shift: end - start, offset_min })
}

/// (year, month, day) of days since 1970-01-01 (proleptic Gregorian).
pub fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a calendar date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// "YYYY-MM-DD" of `t` in the shop's time zone.
pub fn local_date(t: Millis, offset_min: i32) -> String {
    let (y, m, d) = civil((t + i64::from(offset_min) * 60_000).div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 of `t` with the shop's offset ("2026-11-30T12:00:00+03:00").
pub fn local_rfc3339(t: Millis, offset_min: i32) -> String {
    let local = t + i64::from(offset_min) * 60_000;
    let (y, m, d) = civil(local.div_euclid(DAY));
    let secs = local.rem_euclid(DAY) / 1000;
    let sign = if offset_min < 0 { '-' } else { '+' };
    let off = offset_min.unsigned_abs();
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        off / 60,
        off % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-30T10:00:00Z, a Monday; 13:00 in Moscow.
    const NOW: Millis = 1_796_032_800_000;
    const MSK: i32 = 180;

    #[test]
    fn presets_end_now_and_start_at_local_midnight() {
        let today = resolve(Some("today"), None, None, NOW, MSK).expect("today");
        assert_eq!(local_rfc3339(today.from, MSK), "2026-11-30T00:00:00+03:00");
        assert_eq!(today.to, NOW);
        let y = today.previous();
        assert_eq!(local_rfc3339(y.from, MSK), "2026-11-29T00:00:00+03:00");
        assert_eq!(local_rfc3339(y.to, MSK), "2026-11-29T13:00:00+03:00", "yesterday until the same time");
        let week = resolve(Some("7d"), None, None, NOW, MSK).expect("7d");
        assert_eq!(local_date(week.from, MSK), "2026-11-24");
        assert_eq!(week.previous().to, week.to - 7 * DAY);
        assert_eq!(resolve(None, None, None, NOW, MSK).expect("default"), week);
        assert!(resolve(Some("2w"), None, None, NOW, MSK).expect_err("bad").starts_with("period:"));
    }

    #[test]
    fn custom_ranges_take_dates_or_instants() {
        let p = resolve(None, Some("2026-11-01"), Some("2026-11-30"), NOW, MSK).expect("dates");
        assert_eq!(local_rfc3339(p.from, MSK), "2026-11-01T00:00:00+03:00");
        assert_eq!(local_rfc3339(p.to, MSK), "2026-12-01T00:00:00+03:00", "the last date is included");
        assert_eq!(p.previous().to, p.from);
        let p = resolve(None, Some("2026-11-30T09:00:00+03:00"), Some("2026-11-30T07:00:00Z"), NOW, MSK).expect("rfc");
        assert_eq!(p.to - p.from, HOUR);
        for (from, to, field) in [
            ("2026-11-31", "2026-12-01", "from:"),
            ("2026-12-02", "2026-12-01", "to:"),
            ("2020-01-01", "2026-12-01", "to:"),
            ("yesterday", "2026-12-01", "from:"),
        ] {
            let e = resolve(None, Some(from), Some(to), NOW, MSK).expect_err(from);
            assert!(e.starts_with(field), "{from}..{to}: {e}");
        }
        assert!(resolve(None, None, Some("2026-11-01"), NOW, MSK).is_err());
        assert!(resolve(Some("7d"), Some("2026-11-01"), None, NOW, MSK).is_err());
    }

    #[test]
    fn buckets_follow_the_local_calendar() {
        let p = resolve(None, Some("2026-10-28"), Some("2026-12-02"), NOW, MSK).expect("range");
        let weeks = p.buckets(Bucket::Week);
        assert_eq!(local_date(weeks[0], MSK), "2026-10-26", "weeks start on Monday");
        assert!(weeks.windows(2).all(|w| w[1] - w[0] == 7 * DAY));
        let months = p.buckets(Bucket::Month);
        let names: Vec<String> = months.iter().map(|t| local_date(*t, MSK)).collect();
        assert_eq!(names, ["2026-10-01", "2026-11-01", "2026-12-01"]);
        assert_eq!(p.buckets(Bucket::Day).len(), 36);
        assert_eq!(p.bucket_index(&months, p.from + 10 * DAY), Some(1));
        assert_eq!(p.weekday_hour(NOW), (0, 13), "Monday, 13:00 in Moscow");
        assert_eq!(p.auto_bucket(), Bucket::Day);
        for d in [-1_000_000, 0, 59, 60, 365, 20_000, 30_000] {
            let (y, m, dd) = civil(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }
}
