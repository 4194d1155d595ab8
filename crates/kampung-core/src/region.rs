//! All 38 provinces and 514 regencies/cities of Indonesia, for decoding where a
//! NIK was issued. The table is `data/indonesia_regions.csv`, embedded at build time.

use std::collections::HashMap;
use std::sync::LazyLock;

const REGIONS_CSV: &str = include_str!("../data/indonesia_regions.csv");

/// Province code (`PP`) and regency code (`PPKK` as one number, e.g. 3510).
#[derive(Debug)]
pub struct Regions {
    provinces: HashMap<u8, &'static str>,
    regencies: HashMap<u16, &'static str>,
}

static REGIONS: LazyLock<Regions> = LazyLock::new(|| Regions::parse(REGIONS_CSV));

/// The embedded table.
pub fn regions() -> &'static Regions {
    &REGIONS
}

impl Regions {
    fn parse(csv: &'static str) -> Self {
        let mut provinces = HashMap::new();
        let mut regencies = HashMap::new();
        for line in csv.lines().skip(1) {
            let Some((code, name)) = line.split_once(',') else {
                continue;
            };
            match code.split_once('.') {
                None => {
                    if let Ok(p) = code.parse::<u8>() {
                        provinces.insert(p, name);
                    }
                }
                Some((p, k)) => {
                    if let (Ok(p), Ok(k)) = (p.parse::<u16>(), k.parse::<u16>()) {
                        regencies.insert(p * 100 + k, name);
                    }
                }
            }
        }
        Regions {
            provinces,
            regencies,
        }
    }

    /// Name of a province (`51` -> "Bali").
    pub fn province(&self, code: u8) -> Option<&'static str> {
        self.provinces.get(&code).copied()
    }

    /// Name of a regency or city by its four-digit code (`3510` -> "Kabupaten Banyuwangi").
    pub fn regency(&self, code: u16) -> Option<&'static str> {
        self.regencies.get(&code).copied()
    }

    pub fn province_count(&self) -> usize {
        self.provinces.len()
    }

    pub fn regency_count(&self) -> usize {
        self.regencies.len()
    }

    /// All regency codes (`PPKK`), for generators and tests.
    pub fn regency_codes(&self) -> impl Iterator<Item = u16> + '_ {
        self.regencies.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_is_complete() {
        let r = regions();
        assert_eq!(r.province_count(), 38);
        assert_eq!(r.regency_count(), 514);
        assert_eq!(r.province(35), Some("Jawa Timur"));
        assert_eq!(r.province(51), Some("Bali"));
        assert_eq!(r.regency(3510), Some("Kabupaten Banyuwangi"));
        assert_eq!(r.regency(5101), Some("Kabupaten Jembrana"));
        assert_eq!(r.province(99), None);
    }
}
