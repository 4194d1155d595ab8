//! Who keeps a copy of each village's details besides the village itself:
//! the rule the root's signed policy sets ([`crate::Policy::holders`]).
//!
//! A village office whose server died is restored from these copies (or
//! from an auditor's). The rule is part of every read-scope decision
//! ([`crate::ReadScope`]), so both ends of an exchange must apply the same
//! one: it travels only inside a root-signed policy, and a node applies the
//! newest policy it has verified, like the rest of the policy.
//!
//! By default each village's holders are the next [`DEFAULT_BACKUPS`]
//! villages of its district in code order
//! ([`crate::banyuwangi::detail_holders`]); the policy may set another
//! number, and name a village's holders outright (a village whose
//! neighbours have no reliable link, say), which replaces the rule for
//! that village.
//!
//! ```
//! use kampung_core::{HolderRule, VillageCode};
//! let kampunganyar: VillageCode = "35.10.15.2012".parse().unwrap();
//! let licin: VillageCode = "35.10.04.2001".parse().unwrap();
//! let rule = HolderRule::new(2, [(kampunganyar, vec![licin])]).unwrap();
//! assert_eq!(rule.holders_of(kampunganyar), vec![licin]);
//! assert!(rule.keeps(licin, kampunganyar));
//! assert!(!HolderRule::default().keeps(licin, kampunganyar));
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::banyuwangi::{self, VillageCode};

/// Villages of the same district that keep a village's details when the
/// policy sets nothing else.
pub const DEFAULT_BACKUPS: u8 = banyuwangi::DETAIL_BACKUPS as u8;

/// Most holders a policy may give one village (each holder stores the
/// village's details in full and takes every change to them).
pub const MAX_HOLDERS: usize = 4;

/// The rule: a number of district neighbours, and villages whose holders
/// are named outright. Cheap to clone (the named table is shared).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RuleForm", into = "RuleForm")]
pub struct HolderRule {
    backups: u8,
    named: Arc<BTreeMap<VillageCode, Vec<VillageCode>>>,
}

/// How a rule is written (JSON in the administrator's file, postcard on
/// the wire): `{"backups":2,"named":{"35.10.15.2012":["35.10.04.2001"]}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleForm {
    backups: u8,
    #[serde(default)]
    named: BTreeMap<VillageCode, Vec<VillageCode>>,
}

impl TryFrom<RuleForm> for HolderRule {
    type Error = HolderError;
    fn try_from(f: RuleForm) -> Result<Self, Self::Error> {
        HolderRule::new(f.backups, f.named)
    }
}

impl From<HolderRule> for RuleForm {
    fn from(r: HolderRule) -> RuleForm {
        RuleForm {
            backups: r.backups,
            named: (*r.named).clone(),
        }
    }
}

/// Why a rule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HolderError {
    #[error("{0} backup holders per village: give 1 to {MAX_HOLDERS} (a village with none could not be restored)")]
    Backups(u8),
    #[error("{0} is not a village of Banyuwangi: name holders by the codes in the village table")]
    Unknown(VillageCode),
    #[error("{village} is named as its own holder: name other villages")]
    Itself { village: VillageCode },
    #[error("{village} has {count} holders named: give 1 to {MAX_HOLDERS}, each once")]
    Count { village: VillageCode, count: usize },
}

impl Default for HolderRule {
    /// [`DEFAULT_BACKUPS`] district neighbours, nobody named.
    fn default() -> Self {
        static DEFAULT: std::sync::OnceLock<HolderRule> = std::sync::OnceLock::new();
        DEFAULT
            .get_or_init(|| HolderRule {
                backups: DEFAULT_BACKUPS,
                named: Arc::default(),
            })
            .clone()
    }
}

impl HolderRule {
    /// `backups` district neighbours for every village, except those
    /// `named` (village → its holders).
    pub fn new(
        backups: u8,
        named: impl IntoIterator<Item = (VillageCode, Vec<VillageCode>)>,
    ) -> Result<HolderRule, HolderError> {
        if backups == 0 || usize::from(backups) > MAX_HOLDERS {
            return Err(HolderError::Backups(backups));
        }
        let mut table = BTreeMap::new();
        for (village, mut holders) in named {
            for code in std::iter::once(&village).chain(&holders) {
                if banyuwangi::village(*code).is_none() {
                    return Err(HolderError::Unknown(*code));
                }
            }
            if holders.contains(&village) {
                return Err(HolderError::Itself { village });
            }
            let count = holders.len();
            holders.sort_unstable();
            holders.dedup();
            if count == 0 || count > MAX_HOLDERS || holders.len() != count {
                return Err(HolderError::Count { village, count });
            }
            table.insert(village, holders);
        }
        Ok(HolderRule {
            backups,
            named: Arc::new(table),
        })
    }

    /// District neighbours that keep a village's details when it is not named.
    pub fn backups(&self) -> u8 {
        self.backups
    }

    /// Villages whose holders are named outright.
    pub fn named(&self) -> &BTreeMap<VillageCode, Vec<VillageCode>> {
        &self.named
    }

    /// The villages that keep a copy of `village`'s details besides itself.
    pub fn holders_of(&self, village: VillageCode) -> Vec<VillageCode> {
        match self.named.get(&village) {
            Some(named) => named.clone(),
            None => banyuwangi::district_after(village, usize::from(self.backups)),
        }
    }

    /// Does `keeper` keep a copy of `village`'s details?
    pub fn keeps(&self, keeper: VillageCode, village: VillageCode) -> bool {
        keeper != village && self.holders_of(village).contains(&keeper)
    }

    /// The villages whose details `keeper` keeps a copy of.
    pub fn kept_by(&self, keeper: VillageCode) -> Vec<VillageCode> {
        banyuwangi::villages()
            .iter()
            .map(|v| v.code)
            .filter(|v| self.keeps(keeper, *v))
            .collect()
    }

    /// The rule every node applied before policies named one.
    pub fn is_default(&self) -> bool {
        *self == HolderRule::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> VillageCode {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_is_two_district_neighbours() {
        let rule = HolderRule::default();
        for v in banyuwangi::villages() {
            assert_eq!(rule.holders_of(v.code), banyuwangi::detail_holders(v.code));
            for h in rule.holders_of(v.code) {
                assert_eq!(h.district, v.code.district);
                assert!(rule.kept_by(h).contains(&v.code));
            }
        }
    }

    #[test]
    fn a_named_village_replaces_the_rule_for_that_village_only() {
        let own = code("35.10.15.2012");
        let licin = code("35.10.04.2001");
        let rule = HolderRule::new(3, [(own, vec![licin])]).unwrap();
        assert_eq!(rule.holders_of(own), vec![licin]);
        for h in banyuwangi::detail_holders(own) {
            assert!(!rule.keeps(h, own), "{h} no longer keeps {own}");
        }
        let other = code("35.10.01.2001");
        assert_eq!(rule.holders_of(other).len(), 3);
        assert!(rule.kept_by(licin).contains(&own));
    }

    #[test]
    fn bad_rules_are_refused_with_the_village_named() {
        let own = code("35.10.15.2012");
        let other = code("35.10.04.2001");
        assert_eq!(HolderRule::new(0, []), Err(HolderError::Backups(0)));
        assert_eq!(HolderRule::new(5, []), Err(HolderError::Backups(5)));
        assert_eq!(
            HolderRule::new(2, [(own, vec![own])]),
            Err(HolderError::Itself { village: own })
        );
        assert_eq!(
            HolderRule::new(2, [(own, vec![other, other])]),
            Err(HolderError::Count {
                village: own,
                count: 2
            })
        );
        assert_eq!(
            HolderRule::new(2, [(own, vec![])]),
            Err(HolderError::Count {
                village: own,
                count: 0
            })
        );
        let jember = VillageCode {
            district: 15,
            village: 9999,
        };
        assert_eq!(
            HolderRule::new(2, [(own, vec![jember])]),
            Err(HolderError::Unknown(jember))
        );
        let json = r#"{"backups":2,"named":{"35.10.15.2012":["35.10.15.2012"]}}"#;
        let err = serde_json::from_str::<HolderRule>(json).unwrap_err();
        assert!(err.to_string().contains("own holder"), "{err}");
    }

    #[test]
    fn a_rule_reads_back_as_written() {
        let rule =
            HolderRule::new(1, [(code("35.10.15.2012"), vec![code("35.10.04.2001")])]).unwrap();
        let json = serde_json::to_string(&rule).unwrap();
        assert_eq!(
            json,
            r#"{"backups":1,"named":{"35.10.15.2012":["35.10.04.2001"]}}"#
        );
        assert_eq!(serde_json::from_str::<HolderRule>(&json).unwrap(), rule);
        let wire = postcard::to_stdvec(&rule).unwrap();
        assert_eq!(postcard::from_bytes::<HolderRule>(&wire).unwrap(), rule);
    }
}
