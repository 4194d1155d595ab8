//! The mesh's [`Membership`] answered from this node's roster: a peer may
//! connect when it shows a certificate from the configured root that is in
//! force and not revoked. Statements learnt from peers are verified, added
//! to the shared roster (which the store's verifier reads too) and kept.

use kampung_core::{DocId, HolderRule, ReadScope, RoleKind, SharedClock};
use kampung_mesh::{Membership, Peer, Shares};
use kampung_store::trust::SharedRoster;
use kampung_trust::{NodeKey, Signed, Statement};
use tracing::{debug, info, warn};

use crate::store::StoreHandle;

/// Told how many documents the store dropped because a new policy
/// named other holders of villages' details (the node counts them as expired).
pub type OnDropped = std::sync::Arc<dyn Fn(usize) + Send + Sync>;

/// Membership by certificate from the regency root.
#[derive(Clone)]
pub struct RosterMembership {
    roster: SharedRoster,
    own: NodeKey,
    store: StoreHandle,
    clock: SharedClock,
    on_dropped: Option<OnDropped>,
}

impl std::fmt::Debug for RosterMembership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RosterMembership")
            .field("own", &self.own)
            .finish_non_exhaustive()
    }
}

impl RosterMembership {
    pub fn new(roster: SharedRoster, own: NodeKey, store: StoreHandle, clock: SharedClock) -> Self {
        RosterMembership {
            roster,
            own,
            store,
            clock,
            on_dropped: None,
        }
    }

    /// Call `f` with the number of documents dropped each time a policy
    /// from a peer makes the store drop what it no longer keeps.
    pub fn on_dropped(mut self, f: OnDropped) -> Self {
        self.on_dropped = Some(f);
        self
    }

    /// Verify and add one statement; keep it if new.
    fn add(&self, signed: Signed) -> Result<bool, String> {
        let bytes = signed.encode();
        let id = signed.id();
        let kind = signed.statement.kind();
        let (new, rule_changed) = {
            let mut roster = self
                .roster
                .write()
                .map_err(|_| "roster lock poisoned".to_string())?;
            let before = roster.holders();
            let new = roster.add(signed).map_err(|e| e.to_string())?;
            (new, roster.holders() != before)
        };
        if new {
            debug!(kind, "statement added to the roster");
            self.store.keep_statement(id, bytes);
        }
        if rule_changed {
            self.follow_holder_rule();
        }
        Ok(new)
    }

    /// A newer policy names other holders of villages' details: the store
    /// holds what this node may read under it from now on, and drops what
    /// it no longer may at once.
    fn follow_holder_rule(&self) {
        let scope = {
            let Ok(roster) = self.roster.read() else {
                return;
            };
            let Ok(own) = roster.admit(&self.own, self.clock.now_ms()) else {
                return;
            };
            ReadScope::of_node(own.role, own.village, &roster.holders())
        };
        info!("a new policy names other holders of villages' details: this node holds what it keeps under it from now on");
        let store = self.store.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                let on_dropped = self.on_dropped.clone();
                rt.spawn(async move {
                    match store.set_scope(scope).await {
                        Ok(Ok(dropped)) => {
                            if let Some(f) = on_dropped {
                                f(dropped);
                            }
                        }
                        Ok(Err(e)) => {
                            warn!(error = %e, "could not drop what this node no longer keeps; tried again at the next sweep");
                        }
                        Err(_) => {}
                    }
                });
            }
            Err(_) => {
                warn!("no runtime to tell the store of its new scope: it follows at the next sweep")
            }
        }
    }
}

/// How long an auditor keeps one window of villages connected
/// ([`visiting`]): long enough for a first comparison with each (the
/// whole details of a village of 8,000 take a few seconds; a node compares
/// with a kin at once when it connects, then every
/// [`kampung_mesh::Shares::compare_every`]).
pub const AUDITOR_VISIT_MS: i64 = 60_000;

/// Villages an auditor visits at once at least, however many checkpoints
/// it keeps connected.
const MIN_VISITS: usize = 4;

/// The villages (sorted, with their nodes) an auditor keeps connected at
/// `now_ms`: windows of `room` in turn, one every [`AUDITOR_VISIT_MS`], so
/// that it visits every one within `ceil(villages / room)` windows (217
/// villages, 11 at a time: 20 windows, 20 minutes).
fn visiting(villages: &[(kampung_core::VillageCode, Peer)], room: usize, now_ms: i64) -> Vec<Peer> {
    if villages.is_empty() || room == 0 {
        return Vec::new();
    }
    let windows = villages.len().div_ceil(room);
    let turn = usize::try_from(now_ms.max(0) / AUDITOR_VISIT_MS).unwrap_or(0) % windows;
    villages
        .iter()
        .skip(turn * room)
        .take(room)
        .map(|(_, p)| *p)
        .collect()
}

impl Membership for RosterMembership {
    fn enforced(&self) -> bool {
        true
    }

    fn certificate(&self) -> Option<Vec<u8>> {
        let roster = self.roster.read().ok()?;
        roster
            .signed_certificate(&self.own, self.clock.now_ms())
            .map(Signed::encode)
    }

    fn check_peer(&self, peer: &Peer, shown: Option<&[u8]>) -> Result<(), String> {
        let key =
            NodeKey::from_peer_id(peer).ok_or_else(|| format!("peer {peer} has no ed25519 key"))?;
        if let Some(bytes) = shown {
            let signed = Signed::decode(bytes).map_err(|e| e.to_string())?;
            match &signed.statement {
                Statement::Certificate(c) if c.node == key => {}
                _ => {
                    return Err(format!(
                        "{peer} showed something other than its own certificate"
                    ))
                }
            }
            self.add(signed)?;
        }
        let roster = self
            .roster
            .read()
            .map_err(|_| "roster lock poisoned".to_string())?;
        roster
            .admit(&key, self.clock.now_ms())
            .map(|_| ())
            .map_err(|d| d.to_string())
    }

    fn digest(&self) -> [u8; 32] {
        self.roster.read().map_or([0; 32], |r| r.digest())
    }

    fn statements(&self) -> Vec<Vec<u8>> {
        self.roster
            .read()
            .map(|r| r.statements().map(Signed::encode).collect())
            .unwrap_or_default()
    }

    fn is_owner(&self, peer: &Peer, doc: &DocId) -> Option<bool> {
        let key = NodeKey::from_peer_id(peer)?;
        let target = kampung_store::trust::write_target(doc)?;
        let roster = self.roster.read().ok()?;
        // An owner writes the document itself (cases have no single owner).
        let owner = match target {
            kampung_trust::WriteTarget::Case => false,
            _ => roster.may_write(&key, &target, self.clock.now_ms()).is_ok(),
        };
        Some(owner)
    }

    fn read_scope(&self, peer: &Peer) -> ReadScope {
        let Some(key) = NodeKey::from_peer_id(peer) else {
            return ReadScope::Nothing;
        };
        let Ok(roster) = self.roster.read() else {
            return ReadScope::Nothing;
        };
        roster
            .admit(&key, self.clock.now_ms())
            .map_or(ReadScope::Nothing, |cert| {
                ReadScope::of_node(cert.role, cert.village, &roster.holders())
            })
    }

    fn holder_rule(&self) -> HolderRule {
        self.roster.read().map(|r| r.holders()).unwrap_or_default()
    }

    fn kin(&self) -> Vec<(Peer, Shares)> {
        let Ok(roster) = self.roster.read() else {
            return Vec::new();
        };
        let now = self.clock.now_ms();
        let Ok(own) = roster.admit(&self.own, now) else {
            return Vec::new();
        };
        // The rule is by role: asked once per kind, not per certificate.
        let ours = ReadScope::of(own.role);
        let kin_roles: Vec<RoleKind> = RoleKind::ALL
            .into_iter()
            .filter(|k| ours.shares_restricted(&ReadScope::of(*k)))
            .collect();
        // A village and the villages that keep a copy of its details, or
        // whose details it keeps, under the policy in force ([`HolderRule`]).
        // (Auditors read every village's details too: they visit the
        // villages in turn, below.)
        let own_village = own.village.filter(|_| own.role == RoleKind::Village);
        let rule = roster.holders();
        let holders: Vec<kampung_core::VillageCode> = own_village
            .map(|v| {
                let mut related = rule.holders_of(v);
                related.extend(rule.kept_by(v));
                related
            })
            .unwrap_or_default();
        let auditor = own.role == RoleKind::Auditor;
        if kin_roles.is_empty() && holders.is_empty() && !auditor {
            return Vec::new();
        }
        // What a certificate's node shares with this one, if anything:
        // crossing logs by role, details by village.
        let related = |c: &kampung_trust::Certificate| {
            if kin_roles.contains(&c.role) {
                Some(Shares::CrossingLogs)
            } else if c.role == RoleKind::Village && c.village.is_some_and(|v| holders.contains(&v))
            {
                Some(Shares::Details)
            } else {
                None
            }
        };
        let mut kin: Vec<(Peer, Shares)> = roster
            .statements()
            .filter_map(|s| match &s.statement {
                Statement::Certificate(c) if c.node != self.own && related(c).is_some() => {
                    Some(c.node)
                }
                _ => None,
            })
            .filter_map(|key| Some((key.peer_id()?, related(roster.admit(&key, now).ok()?)?)))
            .collect();
        // In order, so a node with more kin than it keeps keeps the same ones.
        kin.sort_unstable();
        kin.dedup();
        if auditor {
            // Only a village and its holders hold its details, and an
            // auditor meets few of 217 villages by chance: it keeps a
            // window of them connected too, moving on every
            // [`AUDITOR_VISIT_MS`], so that it compares with each in turn.
            let mut villages: Vec<(kampung_core::VillageCode, Peer)> = roster
                .statements()
                .filter_map(|s| match &s.statement {
                    Statement::Certificate(c) if c.role == RoleKind::Village => {
                        Some((c.village?, c.node))
                    }
                    _ => None,
                })
                .filter(|(_, key)| roster.admit(key, now).is_ok())
                .filter_map(|(v, key)| Some((v, key.peer_id()?)))
                .collect();
            villages.sort_unstable();
            villages.dedup();
            let room = kampung_mesh::MAX_KIN
                .saturating_sub(kin.len())
                .max(MIN_VISITS);
            kin.extend(
                visiting(&villages, room, now)
                    .into_iter()
                    .map(|p| (p, Shares::Details)),
            );
        }
        kin
    }

    fn add_statements(&self, from: &Peer, statements: Vec<Vec<u8>>) -> usize {
        let mut new = 0;
        for bytes in statements {
            match Signed::decode(&bytes)
                .map_err(|e| e.to_string())
                .and_then(|s| self.add(s))
            {
                Ok(true) => new += 1,
                Ok(false) => {}
                Err(e) => warn!(peer = %from, error = %e, "statement from a peer refused"),
            }
        }
        if new > 0 {
            info!(peer = %from, new, "roster updated from a peer");
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_auditor_visits_every_village_in_turn() {
        let villages: Vec<(kampung_core::VillageCode, Peer)> = kampung_core::banyuwangi::villages()
            .iter()
            .map(|v| (v.code, Peer::random()))
            .collect();
        let room = 11;
        let mut seen = std::collections::HashSet::new();
        let windows = villages.len().div_ceil(room);
        assert_eq!(windows, 20);
        for w in 0..windows as i64 {
            let at = 1_764_547_200_000 + w * AUDITOR_VISIT_MS;
            let now = visiting(&villages, room, at);
            assert!(!now.is_empty() && now.len() <= room, "{}", now.len());
            // The same window for the whole visit.
            assert_eq!(now, visiting(&villages, room, at + AUDITOR_VISIT_MS - 1));
            seen.extend(now);
        }
        assert_eq!(
            seen.len(),
            villages.len(),
            "every village within 20 windows"
        );
        assert!(visiting(&[], room, 0).is_empty());
    }

    /// Who a node keeps as kin, and what each shares with it: a
    /// checkpoint the auditor and the other checkpoints (crossing logs,
    /// compared every 10 s); a village the villages that keep its details
    /// and those whose details it keeps (compared every minute), no
    /// checkpoint and no village of another district; an auditor all of
    /// those, the villages it visits for their details.
    #[test]
    fn kin_share_crossing_logs_by_role_and_details_by_village() {
        use kampung_mesh::identity::Keypair;
        use kampung_trust::{Certificate, Roster};
        use std::sync::{Arc, RwLock};

        const NOW: i64 = 1_764_547_200_000;
        let root = Keypair::generate_ed25519();
        let key = |k: &Keypair| NodeKey::from_public(&k.public()).unwrap();
        let mut roster = Roster::new(key(&root));
        let mut node = |role: RoleKind, village: Option<&str>| {
            let k = Keypair::generate_ed25519();
            let cert = Certificate {
                node: key(&k),
                role,
                village: village.map(|v| v.parse().unwrap()),
                label: "test".into(),
                not_before_ms: NOW - 1_000,
                until_ms: NOW + 86_400_000,
            };
            roster
                .add(Signed::sign(Statement::Certificate(cert), &root).unwrap())
                .unwrap();
            k
        };
        // Glagah (15): Bakungan and Banjarsari, its first two villages,
        // keep Kampunganyar's (its last) details; Kampunganyar keeps those
        // of the two villages before it.
        let kampunganyar = node(RoleKind::Village, Some("35.10.15.2012"));
        let bakungan = node(RoleKind::Village, Some("35.10.15.1002"));
        let banjarsari = node(RoleKind::Village, Some("35.10.15.1003"));
        let ketapang = node(RoleKind::Village, Some("35.10.21.2003"));
        let harbour = node(RoleKind::Checkpoint, None);
        let station = node(RoleKind::Checkpoint, None);
        let auditor = node(RoleKind::Auditor, None);
        let roster = Arc::new(RwLock::new(roster));
        let (store, _thread) = crate::store::spawn_store(
            kampung_store::Registry::open(
                kampung_store::storage::MemoryStorage::new(),
                automerge::ActorId::random(),
                2026,
            )
            .unwrap(),
            crate::store::accept_all(),
        );
        let kin_of = |k: &Keypair| {
            let clock: SharedClock = kampung_core::ManualClock::new(NOW);
            let mut kin = RosterMembership::new(roster.clone(), key(k), store.clone(), clock).kin();
            kin.sort_unstable();
            kin
        };
        let peer = |k: &Keypair| k.public().to_peer_id();
        let sorted = |mut v: Vec<(Peer, Shares)>| {
            v.sort_unstable();
            v
        };

        assert_eq!(
            kin_of(&harbour),
            sorted(vec![
                (peer(&station), Shares::CrossingLogs),
                (peer(&auditor), Shares::CrossingLogs),
            ])
        );
        assert_eq!(
            kin_of(&kampunganyar),
            sorted(vec![
                (peer(&bakungan), Shares::Details),
                (peer(&banjarsari), Shares::Details),
            ])
        );
        let auditors = kin_of(&auditor);
        for (k, shares) in [
            (&harbour, Shares::CrossingLogs),
            (&station, Shares::CrossingLogs),
            (&kampunganyar, Shares::Details),
            (&ketapang, Shares::Details),
        ] {
            assert!(auditors.contains(&(peer(k), shares)), "{auditors:?}");
        }
    }
}
