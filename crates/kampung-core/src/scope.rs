//! Read scopes: which documents a node may hold, be offered and be served.
//!
//! A verdict needs a village's verdict cards and the open isolation cases,
//! so every member reads those. A village's details (family cards,
//! addresses, full birth dates) are read by the village itself, the
//! villages that keep a copy for it (the policy's [`HolderRule`]) and
//! auditors: a checkpoint's replica never holds them. A checkpoint's crossings (every traveller's
//! NIK, verdict and the officer's decision) are read by the checkpoints
//! (each keeps the others' as a backup of its own) and by auditors: a
//! village office never needs them, so the 217 village nodes never hold
//! them (UU 27/2022: data minimisation).
//!
//! The rule is one pure function of the reader's certified role, the
//! document's name and the holder rule of the root-signed policy in force,
//! so both ends of an exchange compute the same answer:
//! the replication protocol offers, serves and takes only what both sides
//! may read, and gossip carries only what every member may read
//! ([`ReadScope::for_everyone`]).
//!
//! ```
//! use kampung_core::{DocId, ReadScope, RoleKind};
//! let log: DocId = DocId::parse("x/12D3KooWKetapang/2026-12").unwrap();
//! let village = ReadScope::of(RoleKind::Village);
//! assert!(!village.may_read(&log));
//! assert!(ReadScope::of(RoleKind::Auditor).may_read(&log));
//! assert!(!ReadScope::for_everyone(&log));
//! ```

use crate::banyuwangi::VillageCode;
use crate::doc_id::{DocId, DocKind};
use crate::holders::HolderRule;
use crate::role::RoleKind;

/// What one node may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadScope {
    /// A mesh without a root key (development mode, loopback only):
    /// nobody is certified, so there is no scope to hold anyone to.
    Everything,
    /// A node certified as this kind; a village node with its village,
    /// under the policy's rule of who keeps which village's details.
    Certified(RoleKind, Option<VillageCode>, HolderRule),
    /// A peer not (or no longer) certified: nothing.
    Nothing,
}

impl ReadScope {
    /// The scope of a node certified as `kind`, of no village: what every
    /// node of that kind reads.
    pub fn of(kind: RoleKind) -> ReadScope {
        ReadScope::Certified(kind, None, HolderRule::default())
    }

    /// The scope of a node certified as `kind`, for `village` if it is a
    /// village node (as its certificate says), under `holders` (the rule
    /// of the policy in force).
    pub fn of_node(
        kind: RoleKind,
        village: Option<VillageCode>,
        holders: &HolderRule,
    ) -> ReadScope {
        ReadScope::Certified(kind, village, holders.clone())
    }

    /// May a node of this scope hold `doc`, be offered it and be served it?
    pub fn may_read(&self, doc: &DocId) -> bool {
        let (kind, own, holders) = match self {
            ReadScope::Everything => return true,
            ReadScope::Nothing => return false,
            ReadScope::Certified(kind, village, holders) => (*kind, *village, holders),
        };
        match doc.kind() {
            Some(DocKind::Card(_)) | Some(DocKind::Case(_)) => true,
            Some(DocKind::Village(v)) => match (kind, own) {
                (RoleKind::Auditor, _) => true,
                (RoleKind::Village, Some(own)) => own == v || holders.keeps(own, v),
                _ => false,
            },
            Some(DocKind::CrossingLog(..)) => {
                matches!(kind, RoleKind::Checkpoint | RoleKind::Auditor)
            }
            None => false,
        }
    }

    /// May every member read `doc`? Only such documents travel by gossip,
    /// which reaches every member; the others replicate by anti-entropy,
    /// between two nodes that may both read them.
    pub fn for_everyone(doc: &DocId) -> bool {
        RoleKind::ALL
            .iter()
            .all(|k| ReadScope::of(*k).may_read(doc))
    }

    /// Do nodes of these two scopes both read documents that not every
    /// member reads? Such documents travel only between nodes that may read
    /// them (never by gossip, never through a village), so two such nodes
    /// must reach each other directly: the mesh keeps them connected.
    pub fn shares_restricted(&self, other: &ReadScope) -> bool {
        // One name of each kind of document: the rule is by kind, and for
        // details by village (each side's own).
        let village_of = |s: &ReadScope| match s {
            ReadScope::Certified(_, v, _) => *v,
            _ => None,
        };
        let samples = [
            // 35.10.15.2012 (Glagah district); any village would do.
            Some(DocId::card(crate::VillageCode {
                district: 15,
                village: 2012,
            })),
            Some(DocId::case("0000000000000000")),
            Some(DocId::crossing_log("12D3KooW")),
            village_of(self).map(DocId::village),
            village_of(other).map(DocId::village),
        ];
        samples.iter().flatten().any(|d| {
            debug_assert!(d.kind().is_some(), "{d:?} is a document name");
            !ReadScope::for_everyone(d) && self.may_read(d) && other.may_read(d)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_and_auditors_share_what_others_do_not_read() {
        use RoleKind::*;
        let of = |k| ReadScope::of(k);
        for (a, b, shared) in [
            (Checkpoint, Auditor, true),
            (Checkpoint, Checkpoint, true),
            (Auditor, Auditor, true),
            (Village, Village, false),
            (Village, Checkpoint, false),
            (Facility, Auditor, false),
            (Facility, Facility, false),
        ] {
            assert_eq!(of(a).shares_restricted(&of(b)), shared, "{a:?} {b:?}");
            assert_eq!(of(b).shares_restricted(&of(a)), shared, "{b:?} {a:?}");
        }
        assert!(!ReadScope::Everything.shares_restricted(&ReadScope::Nothing));
    }
    use crate::VillageCode;

    fn village() -> DocId {
        DocId::village("35.10.15.2012".parse::<VillageCode>().unwrap())
    }
    fn log() -> DocId {
        DocId::parse("x/12D3KooWKetapang/2026-12").unwrap()
    }
    fn card() -> DocId {
        DocId::card("35.10.15.2012".parse::<VillageCode>().unwrap())
    }
    fn old_log() -> DocId {
        DocId::parse("x/12D3KooWKetapang").unwrap()
    }
    fn case() -> DocId {
        DocId::case("0123456789abcdef")
    }

    #[test]
    fn crossings_are_read_by_checkpoints_and_auditors_only() {
        for doc in [log(), old_log()] {
            assert!(ReadScope::of(RoleKind::Checkpoint).may_read(&doc));
            assert!(ReadScope::of(RoleKind::Auditor).may_read(&doc));
            assert!(!ReadScope::of(RoleKind::Village).may_read(&doc));
            assert!(!ReadScope::of(RoleKind::Facility).may_read(&doc));
            assert!(!ReadScope::for_everyone(&doc));
        }
    }

    #[test]
    fn details_are_read_by_their_village_its_holders_and_auditors() {
        use crate::banyuwangi::detail_holders;
        let own: VillageCode = "35.10.15.2012".parse().unwrap();
        let holders = detail_holders(own);
        assert_eq!(holders.len(), 2);
        let details = village();
        let node = |v| ReadScope::of_node(RoleKind::Village, Some(v), &HolderRule::default());
        assert!(node(own).may_read(&details));
        for h in &holders {
            assert!(node(*h).may_read(&details), "{h} keeps a copy");
            assert!(node(own).shares_restricted(&node(*h)));
            assert!(node(*h).shares_restricted(&node(own)));
        }
        // A village of another district, and one of the same district
        // that is not a holder.
        let elsewhere: VillageCode = "35.10.01.2001".parse().unwrap();
        assert!(!node(elsewhere).may_read(&details));
        assert!(!node(elsewhere).shares_restricted(&node(own)));
        let same_district = crate::banyuwangi::villages()
            .iter()
            .map(|v| v.code)
            .find(|c| c.district == 15 && *c != own && !holders.contains(c))
            .unwrap();
        assert!(!node(same_district).may_read(&details));
        assert!(ReadScope::of(RoleKind::Auditor).may_read(&details));
        assert!(ReadScope::of(RoleKind::Auditor).shares_restricted(&node(own)));
        for kind in [RoleKind::Checkpoint, RoleKind::Facility] {
            assert!(!ReadScope::of(kind).may_read(&details), "{kind}");
            assert!(!ReadScope::of(kind).shares_restricted(&node(own)), "{kind}");
        }
        assert!(!ReadScope::of(RoleKind::Village).may_read(&details));
        assert!(!ReadScope::for_everyone(&details));
    }

    #[test]
    fn the_policy_in_force_names_who_keeps_a_villages_details() {
        let own: VillageCode = "35.10.15.2012".parse().unwrap();
        let licin: VillageCode = "35.10.04.2001".parse().unwrap();
        let neighbour = crate::banyuwangi::detail_holders(own)[0];
        let named = HolderRule::new(2, [(own, vec![licin])]).unwrap();
        let under = |v, rule: &HolderRule| ReadScope::of_node(RoleKind::Village, Some(v), rule);
        let details = village();
        assert!(!under(licin, &HolderRule::default()).may_read(&details));
        assert!(under(licin, &named).may_read(&details));
        assert!(under(licin, &named).shares_restricted(&under(own, &named)));
        assert!(under(neighbour, &HolderRule::default()).may_read(&details));
        assert!(!under(neighbour, &named).may_read(&details));
        assert!(under(own, &named).may_read(&details));
    }

    #[test]
    fn cards_and_cases_are_read_by_every_member() {
        for doc in [card(), case()] {
            for kind in RoleKind::ALL {
                assert!(ReadScope::of(kind).may_read(&doc), "{kind} reads {doc}");
            }
            assert!(ReadScope::for_everyone(&doc));
        }
    }

    #[test]
    fn an_uncertified_peer_reads_nothing_and_an_open_mesh_everything() {
        for doc in [village(), card(), case(), log()] {
            assert!(!ReadScope::Nothing.may_read(&doc));
            assert!(ReadScope::Everything.may_read(&doc));
        }
        let unknown = DocId::from_stored("z/whatever".into());
        assert!(!ReadScope::of(RoleKind::Auditor).may_read(&unknown));
    }
}
