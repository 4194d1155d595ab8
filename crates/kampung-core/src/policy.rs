//! The regency's checkpoint policy: which regions' non-residents are turned
//! back, and how long a non-resident must isolate.
//!
//! The policy is set by the regency administrator, signed with the offline
//! root key (see the trust crate) and spread through the mesh; a node applies
//! the newest policy it has verified. This type is only the content.

use serde::{Deserialize, Serialize};

use crate::region::regions;

/// A region a policy names: a province (`51`, Bali) or a regency (`35.09`, Jember).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Region {
    Province(u8),
    /// Four digits `PPKK` as one number, e.g. 3509.
    Regency(u16),
}

/// Why a region code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    #[error("'{0}' is not a region code: write a province as two digits (51) or a regency as PP.KK (35.09)")]
    Syntax(String),
    #[error("'{0}' is not a province or regency in the region table")]
    Unknown(String),
}

impl Region {
    /// Parse `51`, `35.09` or `3509`, checked against the region table.
    pub fn parse(input: &str) -> Result<Region, RegionError> {
        let s = input.trim();
        let digits: String = s.chars().filter(|c| *c != '.').collect();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RegionError::Syntax(input.to_string()));
        }
        let region = match digits.len() {
            2 => Region::Province(digits.parse().map_err(|_| RegionError::Syntax(s.into()))?),
            4 => Region::Regency(digits.parse().map_err(|_| RegionError::Syntax(s.into()))?),
            _ => return Err(RegionError::Syntax(input.to_string())),
        };
        if region.name().is_none() {
            return Err(RegionError::Unknown(input.to_string()));
        }
        Ok(region)
    }

    /// The region's name from the table (`Bali`, `Kabupaten Jember`).
    pub fn name(self) -> Option<&'static str> {
        match self {
            Region::Province(p) => regions().province(p),
            Region::Regency(r) => regions().regency(r),
        }
    }

    /// Does a NIK issued in `province`/`regency` (four digits) fall in this region?
    pub fn contains(self, province: u8, regency: u16) -> bool {
        match self {
            Region::Province(p) => p == province,
            Region::Regency(r) => r == regency,
        }
    }
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Region::Province(p) => write!(f, "{p:02}"),
            Region::Regency(r) => write!(f, "{:02}.{:02}", r / 100, r % 100),
        }
    }
}

impl TryFrom<String> for Region {
    type Error = RegionError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Region::parse(&s)
    }
}

impl From<Region> for String {
    fn from(r: Region) -> String {
        r.to_string()
    }
}

/// What the regency requires at its borders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Grows with every policy the administrator issues: a node applies the
    /// highest version it has verified.
    pub version: u64,
    /// Non-residents whose NIK was issued here are turned back.
    #[serde(default)]
    pub barred: Vec<Region>,
    /// Days a non-resident must isolate (0: none required).
    pub isolation_days: u32,
    /// How long crossings and closed cases stay in the nodes' replicas.
    /// Not part of the policy's own encoding: the root signs a policy with
    /// a retention as a statement of its own kind (the trust crate's
    /// `RetainedPolicy`), so that every policy signed before keeps its bytes.
    #[serde(skip)]
    pub retention: Retention,
    /// Who keeps a copy of each village's details besides the village.
    /// Signed as a statement of its own kind too (the trust crate's
    /// `HeldPolicy`), which nodes before it refuse: issue a rule other than
    /// the default only when every node runs a version that knows it.
    #[serde(skip)]
    pub holders: crate::HolderRule,
}

/// How long the mesh keeps what it no longer needs, set in the signed
/// policy (UU 27/2022: personal data is kept no longer than its purpose
/// needs). Zero keeps for ever. A node drops what is past its period from
/// memory and disk, and no longer offers it to peers or takes it from them.
///
/// A policy that sets one is signed as a statement of its own kind, which
/// nodes before retention refuse: issue one only when every node runs a
/// version that knows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Whole months a checkpoint's crossings of a month are kept after
    /// that month ends (WIB): 3 keeps December's until the end of March.
    #[serde(default)]
    pub crossing_months: u32,
    /// Days an isolation case is kept after its release.
    #[serde(default)]
    pub closed_case_days: u32,
    /// Auditors' nodes keep crossings and closed cases this many months
    /// longer than the others (0: as long as the others).
    #[serde(default)]
    pub auditor_extra_months: u32,
}

impl Retention {
    /// Nothing is ever dropped.
    pub fn keeps_everything(&self) -> bool {
        self.crossing_months == 0 && self.closed_case_days == 0
    }
}

impl Default for Policy {
    /// Before any policy is verified: nobody barred, 14 days of isolation.
    fn default() -> Self {
        Policy {
            version: 0,
            barred: Vec::new(),
            isolation_days: 14,
            retention: Retention::default(),
            holders: crate::HolderRule::default(),
        }
    }
}

impl Policy {
    /// The barred region a NIK issued in `province`/`regency` falls in, if any.
    pub fn barring(&self, province: u8, regency: u16) -> Option<Region> {
        self.barred
            .iter()
            .copied()
            .find(|r| r.contains(province, regency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_parse_and_name() {
        assert_eq!(Region::parse("51"), Ok(Region::Province(51)));
        assert_eq!(Region::parse("35.09"), Ok(Region::Regency(3509)));
        assert_eq!(Region::parse("3509"), Ok(Region::Regency(3509)));
        assert_eq!(Region::Province(51).name(), Some("Bali"));
        assert_eq!(Region::Regency(3509).to_string(), "35.09");
        assert!(matches!(Region::parse("99"), Err(RegionError::Unknown(_))));
        assert!(matches!(Region::parse("5x"), Err(RegionError::Syntax(_))));
        assert!(matches!(Region::parse("351"), Err(RegionError::Syntax(_))));
    }

    #[test]
    fn barring_matches_province_or_regency() {
        let p = Policy {
            version: 1,
            barred: vec![Region::Province(51), Region::Regency(3509)],
            isolation_days: 14,
            ..Policy::default()
        };
        assert_eq!(p.barring(51, 5171), Some(Region::Province(51)));
        assert_eq!(p.barring(35, 3509), Some(Region::Regency(3509)));
        assert_eq!(p.barring(35, 3510), None);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(
            json,
            r#"{"version":1,"barred":["51","35.09"],"isolation_days":14}"#
        );
        let back: Policy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        assert!(serde_json::from_str::<Policy>(
            r#"{"version":1,"barred":["77"],"isolation_days":1}"#
        )
        .is_err());
    }

    #[test]
    fn retention_reads_with_defaults_and_refuses_unknown_fields() {
        let r: Retention = serde_json::from_str(r#"{"crossing_months":6}"#).unwrap();
        assert_eq!((r.crossing_months, r.closed_case_days), (6, 0));
        assert!(!r.keeps_everything());
        assert!(Retention::default().keeps_everything());
        assert!(serde_json::from_str::<Retention>(r#"{"crossing_days":6}"#).is_err());
    }
}
