//! The one time source every crate is handed. The rules in this crate never
//! read a clock: they take times as parameters. A running node passes a
//! [`SystemClock`]; tests pass a [`ManualClock`] to reach the 15th day of an
//! isolation case without waiting two weeks.

use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds, from wherever the node takes it.
pub trait Clock: Send + Sync + Debug + 'static {
    fn now_ms(&self) -> i64;
}

/// A clock shared by every part of a node.
pub type SharedClock = Arc<dyn Clock>;

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

impl SystemClock {
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

/// A clock that shows a set time until it is set or advanced.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(unix_ms: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock(AtomicI64::new(unix_ms)))
    }
    pub fn set(&self, unix_ms: i64) {
        self.0.store(unix_ms, Ordering::Relaxed);
    }
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The machine's clock set off by an amount that can be changed: a village
/// PC whose clock is fast or slow, for the tests of what a node does then.
#[derive(Debug, Default)]
pub struct SkewedClock(AtomicI64);

impl SkewedClock {
    pub fn new(offset_ms: i64) -> Arc<SkewedClock> {
        Arc::new(SkewedClock(AtomicI64::new(offset_ms)))
    }
    /// From now on the clock is `offset_ms` ahead of the machine's (behind if negative).
    pub fn set_offset(&self, offset_ms: i64) {
        self.0.store(offset_ms, Ordering::Relaxed);
    }
}

impl Clock for SkewedClock {
    fn now_ms(&self) -> i64 {
        SystemClock
            .now_ms()
            .saturating_add(self.0.load(Ordering::Relaxed))
    }
}

/// The current year in Banyuwangi (WIB) by `clock`: the century pivot of a
/// NIK's two-digit birth year.
pub fn this_year(clock: &dyn Clock) -> i32 {
    crate::checkpoint::local_date(clock.now_ms()).map_or(2026, |d| d.year())
}

/// A moment an auditor names, as unix seconds: `2026-06-01T08:00+07:00`,
/// `2026-06-01T08:00:30Z`, `2026-06-01T08:00` (WIB, Banyuwangi's time) or
/// `2026-06-01` (the start of that day in WIB).
pub fn parse_instant(s: &str) -> Result<i64, String> {
    use time::macros::{format_description, offset};
    use time::{Date, PrimitiveDateTime, UtcOffset};
    let s = s.trim();
    let bad = || {
        format!(
            "'{s}' is not a time: write 2026-06-01T08:00+07:00, 2026-06-01T08:00 (WIB) or 2026-06-01"
        )
    };
    if let Ok(d) = Date::parse(s, format_description!("[year]-[month]-[day]")) {
        return Ok(d.midnight().assume_offset(offset!(+7)).unix_timestamp());
    }
    let (local, zone) = match s.find(['Z', 'z', '+']).or_else(|| {
        // A '-' after the date's own two is an offset's sign.
        s.char_indices()
            .filter(|(_, c)| *c == '-')
            .nth(2)
            .map(|(i, _)| i)
    }) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let local = PrimitiveDateTime::parse(
        local,
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
    )
    .or_else(|_| {
        PrimitiveDateTime::parse(
            local,
            format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        )
    })
    .map_err(|_| bad())?;
    let offset = match zone {
        "" => offset!(+7),
        "Z" | "z" => UtcOffset::UTC,
        z => UtcOffset::parse(
            z,
            format_description!("[offset_hour sign:mandatory]:[offset_minute]"),
        )
        .map_err(|_| bad())?,
    };
    Ok(local.assume_offset(offset).unix_timestamp())
}

#[cfg(test)]
mod instant_tests {
    use super::parse_instant;

    #[test]
    fn an_auditors_times_read_in_wib_unless_they_say_otherwise() {
        let eight_wib = 1_780_275_600; // 2026-06-01 01:00 UTC
        assert_eq!(parse_instant("2026-06-01T08:00+07:00"), Ok(eight_wib));
        assert_eq!(parse_instant("2026-06-01T08:00"), Ok(eight_wib));
        assert_eq!(parse_instant("2026-06-01T01:00Z"), Ok(eight_wib));
        assert_eq!(parse_instant("2026-06-01T01:00:30Z"), Ok(eight_wib + 30));
        assert_eq!(parse_instant("2026-06-01T00:00-01:00"), Ok(eight_wib));
        assert_eq!(parse_instant("2026-06-01"), Ok(eight_wib - 8 * 3600));
        for bad in [
            "",
            "kemarin",
            "2026-02-30",
            "2026-06-01T25:00",
            "2026-06-01T08:00+7",
        ] {
            let e = parse_instant(bad).unwrap_err();
            assert!(e.contains("is not a time"), "{bad}: {e}");
        }
    }
}
