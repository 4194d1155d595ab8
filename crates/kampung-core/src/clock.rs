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
