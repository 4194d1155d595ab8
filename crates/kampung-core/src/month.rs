//! A calendar month in Banyuwangi (WIB): the period of one crossing log
//! document, and the unit of the policy's retention of crossings.

use std::fmt;

use time::{Date, Month, OffsetDateTime, Time};

use crate::checkpoint::{local_date, WIB};

/// A month in Banyuwangi's calendar, written `2026-12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogMonth {
    year: i32,
    /// 1..=12.
    month: u8,
}

impl LogMonth {
    /// `year`-`month`, if `month` is 1..=12 and the year has four digits.
    pub fn new(year: i32, month: u8) -> Option<LogMonth> {
        ((1000..=9999).contains(&year) && (1..=12).contains(&month))
            .then_some(LogMonth { year, month })
    }

    /// The month in Banyuwangi of a unix time in milliseconds.
    pub fn of_ms(unix_ms: i64) -> Option<LogMonth> {
        let d = local_date(unix_ms)?;
        LogMonth::new(d.year(), u8::from(d.month()))
    }

    /// `2026-12` (exactly this form: it is part of a document's name).
    pub fn parse(s: &str) -> Option<LogMonth> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 || !(y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        LogMonth::new(y.parse().ok()?, m.parse().ok()?)
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    /// `n` months later (earlier when negative).
    pub fn plus(self, n: i32) -> LogMonth {
        let index = self.year * 12 + i32::from(self.month) - 1 + n;
        LogMonth {
            year: index.div_euclid(12),
            month: (index.rem_euclid(12) + 1) as u8,
        }
    }

    /// Whole months from `self` to `later` (negative if `later` is earlier).
    pub fn months_until(self, later: LogMonth) -> i32 {
        (later.year - self.year) * 12 + i32::from(later.month) - i32::from(self.month)
    }

    /// The first millisecond of this month in Banyuwangi, as unix time.
    pub fn start_ms(self) -> i64 {
        let month = Month::try_from(self.month).unwrap_or(Month::January);
        let Ok(date) = Date::from_calendar_date(self.year, month, 1) else {
            return 0;
        };
        let start = date.with_time(Time::MIDNIGHT).assume_offset(WIB);
        (OffsetDateTime::unix_timestamp_nanos(start) / 1_000_000) as i64
    }
}

impl fmt::Display for LogMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_in_wib() {
        // 2026-11-30 17:00 UTC is 1 December 00.00 WIB.
        let ms = 1_796_058_000_000;
        assert_eq!(LogMonth::of_ms(ms).unwrap().to_string(), "2026-12");
        assert_eq!(LogMonth::of_ms(ms - 1).unwrap().to_string(), "2026-11");
        assert_eq!(LogMonth::parse("2026-12").unwrap().start_ms(), ms);
    }

    #[test]
    fn arithmetic_and_parsing() {
        let m = LogMonth::parse("2026-12").unwrap();
        assert_eq!(m.plus(1).to_string(), "2027-01");
        assert_eq!(m.plus(-12).to_string(), "2025-12");
        assert_eq!(m.plus(-13).to_string(), "2025-11");
        assert_eq!(m.months_until(m.plus(7)), 7);
        assert_eq!(m.plus(3).months_until(m), -3);
        for bad in [
            "2026-13", "2026-00", "2026-1", "26-12", "2026/12", "2026-1x", "", "+026-12",
        ] {
            assert_eq!(LogMonth::parse(bad), None, "{bad}");
        }
    }
}
