//! The calendar of the generated registry: fixed dates, so the population
//! does not change with the day it is generated, and day arithmetic on
//! Julian day numbers.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use time::macros::date;
use time::Date;

/// Century pivot used to check generated NIKs.
pub const THIS_YEAR: i32 = 2026;
/// Earliest birth date generated (a two-digit year 27 still reads as 1927 in 2026).
pub const FIRST_BIRTH: Date = date!(1927 - 01 - 01);
/// Latest date of any event (birth, death, family card).
pub const LAST_DAY: Date = date!(2025 - 12 - 31);
/// Year Blimbingsari (35.10.25) was split from Rogojampi and Kabat: people born
/// before it carry the old district code in their NIK.
pub const SPLIT_YEAR: i32 = 2011;
/// Ages are counted in this year.
pub const AGE_YEAR: i32 = 2025;
/// Family cards in the generated registry were issued from this date on.
pub const FIRST_CARD: Date = date!(2008 - 01 - 01);
/// Deaths still on record happened from this date on.
pub const FIRST_DEATH: Date = date!(2012 - 01 - 01);

pub fn julian(d: Date) -> i32 {
    d.to_julian_day()
}

pub fn from_julian(jd: i32) -> Date {
    Date::from_julian_day(jd).unwrap_or(FIRST_BIRTH)
}

pub fn jan_first(year: i32) -> i32 {
    Date::from_ordinal_date(year, 1)
        .map(julian)
        .unwrap_or_else(|_| julian(FIRST_BIRTH))
}

/// A uniformly random day of `year`.
pub fn day_in_year(rng: &mut ChaCha8Rng, year: i32) -> Date {
    let year = year.clamp(FIRST_BIRTH.year(), LAST_DAY.year());
    let start = jan_first(year);
    let days = i32::from(time::util::days_in_year(year));
    from_julian(start + rng.random_range(0..days))
}

/// A uniformly random day in `from..=to` (or `from` if the range is empty).
pub fn day_between(rng: &mut ChaCha8Rng, from: Date, to: Date) -> Date {
    let (a, b) = (julian(from), julian(to));
    if b <= a {
        return from;
    }
    from_julian(rng.random_range(a..=b))
}
