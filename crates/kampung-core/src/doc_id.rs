//! The names of the mesh's documents. One typed id everywhere: the store
//! keys documents by it, the mesh announces it, the API and the audit show
//! it. Peers send it as text; [`DocId::parse`] accepts only known kinds.

use std::fmt;

use crate::banyuwangi::VillageCode;
use crate::month::LogMonth;

/// The name of a document. Four kinds, each with one set of writers:
/// - `k/35.10.15.2012`: a village's verdict cards (that village's nodes):
///   of each resident what a verdict needs (NIK, name, sex, status, moved
///   to, dates), read by every member;
/// - `v/35.10.15.2012`: a village's residents in full, the details (that
///   village's nodes): family card, dusun, RT/RW and the full birth date
///   besides the card's fields, read only by the village, the villages that
///   back it up and auditors ([`crate::ReadScope`]);
/// - `x/<peer id>/2026-12`: a checkpoint's crossings of one month, in WIB
///   (that checkpoint); `x/<peer id>` is the single log of every month that
///   nodes before monthly logs wrote, still read;
/// - `c/<16 hex digits>`: one isolation case (checkpoints, facilities, villages).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId(String);

/// What a [`DocId`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind<'a> {
    /// A village's residents in full (the details).
    Village(VillageCode),
    /// A village's verdict cards.
    Card(VillageCode),
    /// The crossing log of the checkpoint with this peer id (base58), of
    /// one month; `None`: the single log nodes before monthly logs kept.
    CrossingLog(&'a str, Option<LogMonth>),
    /// An isolation case, by its id.
    Case(&'a str),
}

/// Longest peer id text we accept in a document name (an ed25519 peer id is 52).
const MAX_PEER_ID_LEN: usize = 64;
/// Length of an isolation case id, in hex digits.
pub const CASE_ID_LEN: usize = 16;

/// Is `id` a well-formed case id ([`CASE_ID_LEN`] lowercase hex digits)?
pub fn is_case_id(id: &str) -> bool {
    id.len() == CASE_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Is `peer` the text of a peer id as a crossing log's name takes it?
pub fn is_peer_id_text(peer: &str) -> bool {
    !peer.is_empty()
        && peer.len() <= MAX_PEER_ID_LEN
        && peer.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl DocId {
    pub fn village(code: VillageCode) -> DocId {
        use std::fmt::Write;
        let mut id = String::with_capacity(15);
        id.push_str("v/");
        let _ = write!(id, "{code}");
        DocId(id)
    }
    /// A village's verdict cards.
    pub fn card(code: VillageCode) -> DocId {
        use std::fmt::Write;
        let mut id = String::with_capacity(15);
        id.push_str("k/");
        let _ = write!(id, "{code}");
        DocId(id)
    }
    /// The single crossing log of a checkpoint (peer id, base58 text) that
    /// nodes before monthly logs wrote: read, never written.
    pub fn crossing_log(peer: &str) -> DocId {
        DocId(format!("x/{peer}"))
    }
    /// A checkpoint's crossings of one month (WIB).
    pub fn crossings(peer: &str, month: LogMonth) -> DocId {
        DocId(format!("x/{peer}/{month}"))
    }
    /// The log a checkpoint's crossing at `at_ms` (unix ms) is written to:
    /// that of its month in WIB (`None` if the time is not a date).
    pub fn crossings_at(peer: &str, at_ms: i64) -> Option<DocId> {
        LogMonth::of_ms(at_ms).map(|m| DocId::crossings(peer, m))
    }
    /// An isolation case; `id` is [`CASE_ID_LEN`] lowercase hex digits.
    pub fn case(id: &str) -> DocId {
        DocId(format!("c/{id}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The village whose residents this document holds in full, if it is
    /// a village's details document (`v/`).
    pub fn as_village(&self) -> Option<VillageCode> {
        self.0
            .strip_prefix("v/")
            .and_then(|c| VillageCode::parse(c).ok())
    }
    /// The village whose verdict cards this document holds, if it is a
    /// card document (`k/`).
    pub fn as_card(&self) -> Option<VillageCode> {
        self.0
            .strip_prefix("k/")
            .and_then(|c| VillageCode::parse(c).ok())
    }
    /// What this document is, if it is a well-formed name of a known kind.
    pub fn kind(&self) -> Option<DocKind<'_>> {
        if let Some(v) = self.as_village() {
            return Some(DocKind::Village(v));
        }
        if let Some(v) = self.as_card() {
            return Some(DocKind::Card(v));
        }
        if let Some(log) = self.0.strip_prefix("x/") {
            let (peer, month) = match log.split_once('/') {
                Some((peer, month)) => (peer, Some(LogMonth::parse(month)?)),
                None => (log, None),
            };
            return is_peer_id_text(peer).then_some(DocKind::CrossingLog(peer, month));
        }
        if let Some(id) = self.0.strip_prefix("c/") {
            return is_case_id(id).then_some(DocKind::Case(id));
        }
        None
    }
    /// A document id received from a peer or a user: only known kinds.
    pub fn parse(s: &str) -> Option<DocId> {
        let id = DocId(s.to_string());
        let known = id.kind().is_some();
        known.then_some(id)
    }
    /// A name read back from this node's own storage, as it was stored
    /// (possibly of a kind this version does not know).
    #[doc(hidden)]
    pub fn from_stored(s: String) -> DocId {
        DocId(s)
    }
}

/// As its text (`v/35.10.15.2012`).
impl serde::Serialize for DocId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Only a name of a known kind ([`DocId::parse`]).
impl<'de> serde::Deserialize<'de> for DocId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<DocId, D::Error> {
        let s = String::deserialize(d)?;
        DocId::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("'{s}' is not a document of this mesh"))
        })
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_village_has_a_card_document_and_a_details_document() {
        let v = VillageCode::parse("35.10.15.2012").unwrap();
        assert_eq!(DocId::card(v).as_str(), "k/35.10.15.2012");
        assert_eq!(DocId::village(v).as_str(), "v/35.10.15.2012");
        assert_eq!(
            DocId::parse("k/35.10.15.2012").unwrap().kind(),
            Some(DocKind::Card(v))
        );
        assert_eq!(DocId::card(v).as_village(), None);
        assert_eq!(DocId::village(v).as_card(), None);
        assert_eq!(DocId::parse("k/35.10.15.9999"), None);
    }

    const PEER: &str = "12D3KooWKetapang";

    #[test]
    fn crossing_logs_by_month_and_the_single_log_before_them() {
        let month = LogMonth::parse("2026-12").unwrap();
        let id = DocId::crossings(PEER, month);
        assert_eq!(id.as_str(), "x/12D3KooWKetapang/2026-12");
        assert_eq!(id.kind(), Some(DocKind::CrossingLog(PEER, Some(month))));
        assert_eq!(DocId::parse(id.as_str()), Some(id));
        assert_eq!(
            DocId::crossing_log(PEER).kind(),
            Some(DocKind::CrossingLog(PEER, None))
        );
        for bad in [
            "x/12D3KooWKetapang/2026-13",
            "x/12D3KooWKetapang/2026-12/1",
            "x/12D3KooWKetapang/",
            "x//2026-12",
        ] {
            assert_eq!(DocId::parse(bad), None, "{bad}");
        }
    }
}
