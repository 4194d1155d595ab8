//! Serial numbers that are unique across the regency without coordination.
//!
//! A NIK is `PPKKCC DDMMYY SSSS`: two people can only clash if they share the
//! 12-digit prefix (place of issue, birth date and sex) *and* the serial.
//! Villages are generated independently, so each one draws serials from its
//! own residue class: among the `m` villages that can issue under a prefix,
//! the village in slot `s` uses serials `k * m + s + 1`, and never repeats a
//! `k` within one prefix. Under a Banyuwangi district the `m` villages are the
//! district's own plus, for Rogojampi (13) and Kabat (14), the Blimbingsari
//! villages that issued under their codes before the 2011 split (at most 18);
//! under any other regency every one of the 217 villages may issue, so
//! `m = 217` and `s` is the village ordinal. Serials therefore stay small, as
//! real ones do (mostly below 0200), differ from person to person, are never
//! 0000, and cannot coincide between villages. Family cards (`3510DD` + issue
//! date + serial) use the same classes with the issue date as the prefix.

use kampung_core::banyuwangi::{self, villages, Village};

/// Largest serial (four digits).
const MAX_SERIAL: u32 = 9_999;
/// Villages that may issue NIKs under any regency other than Banyuwangi.
const ALL_VILLAGES: u16 = 217;

/// The residue class a village draws serials from under one prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    /// Position of the village among those that can issue under the prefix.
    pub slot: u16,
    /// How many villages can issue under the prefix.
    pub modulus: u16,
}

impl Band {
    /// The band of `village` for numbers issued under `regency` (`PPKK`) and
    /// `district`: see the module docs.
    pub fn of(village: &Village, regency: u16, district: u8) -> Band {
        if regency != banyuwangi::REGENCY_CODE {
            return Band {
                slot: village.ordinal,
                modulus: ALL_VILLAGES.max(village.ordinal + 1),
            };
        }
        let issuers = || {
            villages()
                .iter()
                .filter(move |v| v.code.district == district || v.old_district == Some(district))
        };
        let slot = issuers().position(|v| v.code == village.code).unwrap_or(0);
        Band {
            slot: slot as u16,
            modulus: (issuers().count() as u16).max(1),
        }
    }

    /// How many serials the band has (at most 64, one bit each in a mask).
    pub fn capacity(self) -> u32 {
        let per_band = (MAX_SERIAL - u32::from(self.slot) - 1) / u32::from(self.modulus) + 1;
        per_band.min(64)
    }

    /// The `k`-th serial of the band.
    pub fn serial(self, k: u32) -> u16 {
        (k * u32::from(self.modulus) + u32::from(self.slot) + 1) as u16
    }

    /// Take a free `k` from `used` (bit `k` set when taken), trying `start`
    /// first and then upwards, wrapping around. `None` when all are taken.
    pub fn take(self, used: &mut u64, start: u32) -> Option<u16> {
        let cap = self.capacity();
        (0..cap)
            .map(|i| (start + i) % cap)
            .find(|&k| *used & (1u64 << k) == 0)
            .map(|k| {
                *used |= 1u64 << k;
                self.serial(k)
            })
    }
}

// Tests may unwrap: a panic is how they fail.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use kampung_core::VillageCode;

    fn village(s: &str) -> &'static Village {
        banyuwangi::village(VillageCode::parse(s).unwrap()).unwrap()
    }

    #[test]
    fn villages_issuing_under_one_district_have_disjoint_bands() {
        for district in 1..=25u8 {
            let issuers: Vec<&Village> = villages()
                .iter()
                .filter(|v| v.code.district == district || v.old_district == Some(district))
                .collect();
            let mut seen = std::collections::BTreeSet::new();
            for v in &issuers {
                let band = Band::of(v, 3510, district);
                assert_eq!(usize::from(band.modulus), issuers.len());
                for k in 0..band.capacity() {
                    let s = band.serial(k);
                    assert!((1..=9_999).contains(&s));
                    assert!(seen.insert(s), "serial {s} twice under district {district}");
                }
            }
        }
        // Rogojampi's codes are shared with eight Blimbingsari villages.
        assert_eq!(Band::of(village("35.10.25.2005"), 3510, 13).modulus, 18);
        assert_eq!(Band::of(village("35.10.25.2005"), 3510, 25).modulus, 10);
    }

    #[test]
    fn outside_banyuwangi_every_village_has_its_own_class() {
        let mut seen = std::collections::BTreeSet::new();
        for v in villages() {
            let band = Band::of(v, 5171, 3);
            assert!(band.capacity() >= 46);
            for k in 0..band.capacity() {
                let s = band.serial(k);
                assert!((1..=9_999).contains(&s));
                assert!(seen.insert(s));
            }
        }
    }

    #[test]
    fn take_never_hands_out_a_serial_twice() {
        let band = Band::of(village("35.10.15.2012"), 3510, 15);
        let mut used = 0u64;
        let mut got: Vec<u16> = (0..band.capacity())
            .filter_map(|i| band.take(&mut used, i * 7 % 5))
            .collect();
        assert_eq!(got.len(), band.capacity() as usize);
        assert_eq!(band.take(&mut used, 0), None);
        got.sort_unstable();
        got.dedup();
        assert_eq!(got.len(), band.capacity() as usize);
    }
}
