//! What one exchange between two nodes covers: the documents both may read
//! ([`kampung_core::ReadScope`], from each side's certificate).
//!
//! Both ends compute the same set, so two replicas in step over what they
//! share have equal digests, although each holds documents the other may
//! not. The answering side offers and serves only what the asker may read;
//! a request beyond that is refused and is the asker's fault. The asking
//! side takes only what it may read, whatever it is offered.

use kampung_core::{DocId, ReadScope};

use crate::message::Request;

/// The scopes of the two ends of an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// This node's own.
    pub ours: ReadScope,
    /// The peer's, from the certificate it showed.
    pub theirs: ReadScope,
}

impl Scope {
    /// An open mesh (no root key): every document, both ways.
    pub const ALL: Scope = Scope {
        ours: ReadScope::Everything,
        theirs: ReadScope::Everything,
    };

    pub fn new(ours: ReadScope, theirs: ReadScope) -> Scope {
        Scope { ours, theirs }
    }

    /// Does this exchange cover `doc` (both ends may read it)?
    pub fn covers(&self, doc: &str) -> bool {
        if *self == Scope::ALL {
            return true;
        }
        DocId::parse(doc).is_some_and(|d| self.ours.may_read(&d) && self.theirs.may_read(&d))
    }

    /// May we take `doc` from the peer (may we read it)?
    pub fn ours_may_read(&self, doc: &str) -> bool {
        if self.ours == ReadScope::Everything {
            return true;
        }
        DocId::parse(doc).is_some_and(|d| self.ours.may_read(&d))
    }

    /// Why `req` asks for a document the peer may not read, if it does:
    /// the peer's fault (an honest node never asks, since it is never
    /// offered one). A document we may not read ourselves we do not hold,
    /// and say so as for any document we do not hold.
    pub fn beyond(&self, req: &Request) -> Option<String> {
        let doc = match req {
            Request::Changes { doc, .. } | Request::Document { doc, .. } => doc,
            _ => return None,
        };
        let id = DocId::parse(doc)?;
        (!self.theirs.may_read(&id))
            .then(|| format!("{doc} is outside what this peer's certificate lets it read"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kampung_core::RoleKind;

    const LOG: &str = "x/12D3KooWKetapang/2026-12";
    const VILLAGE: &str = "k/35.10.15.2012";
    const DETAILS: &str = "v/35.10.15.2012";

    fn village(code: &str) -> ReadScope {
        ReadScope::of_node(
            RoleKind::Village,
            Some(code.parse().unwrap()),
            &kampung_core::HolderRule::default(),
        )
    }

    /// A village's details: between the village and the villages that keep
    /// a copy (and auditors), never to a checkpoint, whatever it asks.
    #[test]
    fn details_travel_only_between_the_village_its_holders_and_auditors() {
        let own = "35.10.15.2012";
        let holder = kampung_core::banyuwangi::detail_holders(own.parse().unwrap())[0].to_string();
        let elsewhere = "35.10.01.2001";
        assert!(Scope::new(village(own), village(&holder)).covers(DETAILS));
        assert!(Scope::new(village(&holder), village(own)).covers(DETAILS));
        assert!(Scope::new(village(own), ReadScope::of(RoleKind::Auditor)).covers(DETAILS));
        assert!(!Scope::new(village(own), village(elsewhere)).covers(DETAILS));
        assert!(Scope::new(village(own), village(elsewhere)).covers(VILLAGE));
        let with_checkpoint = Scope::new(village(own), ReadScope::of(RoleKind::Checkpoint));
        assert!(with_checkpoint.covers(VILLAGE) && !with_checkpoint.covers(DETAILS));
        for req in [
            Request::Changes {
                doc: DETAILS.into(),
                have: vec![],
            },
            Request::Document {
                doc: DETAILS.into(),
                offset: 0,
            },
        ] {
            let why = with_checkpoint.beyond(&req).expect("refused");
            assert!(why.contains(DETAILS), "{why}");
            assert!(Scope::new(village(own), village(elsewhere))
                .beyond(&req)
                .is_some());
            assert_eq!(
                Scope::new(village(own), village(&holder)).beyond(&req),
                None
            );
        }
    }

    #[test]
    fn an_exchange_covers_what_both_ends_may_read() {
        let checkpoints = Scope::new(
            ReadScope::of(RoleKind::Checkpoint),
            ReadScope::of(RoleKind::Auditor),
        );
        assert!(checkpoints.covers(LOG) && checkpoints.covers(VILLAGE));
        let with_village = Scope::new(
            ReadScope::of(RoleKind::Checkpoint),
            ReadScope::of(RoleKind::Village),
        );
        assert!(!with_village.covers(LOG));
        assert!(with_village.covers(VILLAGE));
        assert!(!with_village.covers("not a document"));
    }

    #[test]
    fn a_request_beyond_the_askers_scope_is_named() {
        let with_village = Scope::new(
            ReadScope::of(RoleKind::Checkpoint),
            ReadScope::of(RoleKind::Village),
        );
        for req in [
            Request::Changes {
                doc: LOG.into(),
                have: vec![],
            },
            Request::Document {
                doc: LOG.into(),
                offset: 0,
            },
        ] {
            let why = with_village.beyond(&req).expect("refused");
            assert!(why.contains(LOG), "{why}");
        }
        let fine = Request::Changes {
            doc: VILLAGE.into(),
            have: vec![],
        };
        assert_eq!(with_village.beyond(&fine), None);
        assert_eq!(with_village.beyond(&Request::Digest), None);
        assert_eq!(
            Scope::ALL.beyond(&Request::Document {
                doc: LOG.into(),
                offset: 0
            }),
            None
        );
    }
}
