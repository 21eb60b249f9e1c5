//! The shop's working hours: whether a person answers now, and if not, when.

use crate::config::{ShopConfig, parse_hhmm};
use crate::texts::bot;

const DAY_MIN: i64 = 1440;

#[derive(Debug, Clone)]
pub struct Hours {
    offset_min: i32,
    days: Vec<u8>,
    from: i64,
    to: i64,
}

impl Hours {
    pub fn new(shop: &ShopConfig) -> Self {
        Self {
            offset_min: shop.utc_offset_minutes,
            days: shop.work_days.clone(),
            from: i64::from(parse_hhmm(&shop.work_from).unwrap_or(9 * 60)),
            to: i64::from(parse_hhmm(&shop.work_to).unwrap_or(21 * 60)),
        }
    }

    /// (local day number since the epoch, weekday 1–7, minute of the day).
    fn local(&self, now_ms: i64) -> (i64, u8, i64) {
        let minutes = now_ms.div_euclid(60_000) + i64::from(self.offset_min);
        let day = minutes.div_euclid(DAY_MIN);
        // 1970-01-01 was a Thursday (4).
        let weekday = ((day + 3).rem_euclid(7) + 1) as u8;
        (day, weekday, minutes.rem_euclid(DAY_MIN))
    }

    fn works(&self, weekday: u8) -> bool {
        self.days.contains(&weekday)
    }

    pub fn is_open(&self, now_ms: i64) -> bool {
        let (_, wd, m) = self.local(now_ms);
        if self.from < self.to {
            self.works(wd) && (self.from..self.to).contains(&m)
        } else {
            let prev = if wd == 1 { 7 } else { wd - 1 };
            (self.works(wd) && m >= self.from) || (self.works(prev) && m < self.to)
        }
    }

    /// Days from today and the weekday of the next opening (none if no working days).
    fn next_open(&self, now_ms: i64) -> Option<(i64, u8)> {
        let (_, wd, m) = self.local(now_ms);
        (0..8).find_map(|ahead: i64| {
            let d = ((i64::from(wd) - 1 + ahead).rem_euclid(7) + 1) as u8;
            (self.works(d) && (ahead > 0 || m < self.from)).then_some((ahead, d))
        })
    }

    fn zone(&self) -> String {
        match self.offset_min {
            180 => crate::texts::hours::MOSCOW.into(),
            o if o % 60 == 0 => format!("UTC{:+}", o / 60),
            o => format!("UTC{:+}:{:02}", o / 60, (o % 60).abs()),
        }
    }

    /// What a buyer handed to a person is told about when the reply comes.
    pub fn promise(&self, now_ms: i64) -> String {
        if self.is_open(now_ms) {
            return bot::OPERATOR_SOON.into();
        }
        let Some((ahead, wd)) = self.next_open(now_ms) else { return bot::OPERATOR_SOON.into() };
        let day = match ahead {
            0 => crate::texts::hours::TODAY.to_owned(),
            1 => crate::texts::hours::TOMORROW.to_owned(),
            _ => bot::WEEKDAYS_ACC[usize::from(wd - 1)].to_owned(),
        };
        let time = format!("{:02}:{:02}", self.from / 60, self.from % 60);
        bot::operator_at(&day, &time, &self.zone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(days: Vec<u8>, from: &str, to: &str) -> Hours {
        Hours::new(&ShopConfig { work_days: days, work_from: from.into(), work_to: to.into(), ..Default::default() })
    }

    /// 2026-11-27 is a Friday; `h:m` Moscow time as UTC ms.
    fn msk(day_of_nov: i64, h: i64, m: i64) -> i64 {
        let base = 1_795_132_800_000; // 2026-11-20 00:00 UTC, a Friday
        base + (day_of_nov - 20) * 86_400_000 + ((h - 3) * 60 + m) * 60_000
    }

    #[test]
    fn open_and_closed_hours() {
        let h = hours(vec![1, 2, 3, 4, 5], "09:00", "18:00");
        assert!(h.is_open(msk(27, 10, 0)));
        assert!(!h.is_open(msk(27, 18, 0)));
        assert_eq!(h.promise(msk(27, 10, 0)), bot::OPERATOR_SOON);
        assert!(h.promise(msk(27, 7, 30)).contains("сегодня с 09:00 (МСК)"));
        // Friday evening → Monday.
        assert!(h.promise(msk(27, 19, 0)).contains("в понедельник с 09:00"), "{}", h.promise(msk(27, 19, 0)));
        // Thursday evening → tomorrow.
        assert!(h.promise(msk(26, 23, 0)).contains("завтра с 09:00"));
    }

    #[test]
    fn overnight_shift() {
        let h = hours(vec![1, 2, 3, 4, 5, 6, 7], "20:00", "02:00");
        assert!(h.is_open(msk(27, 21, 0)));
        assert!(h.is_open(msk(28, 1, 0)));
        assert!(!h.is_open(msk(28, 3, 0)));
    }
}
