//! Node keys and signatures as values: binary on the wire, readable in files.

use std::fmt;

use libp2p_identity::{ed25519, PeerId, PublicKey};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::TrustError;

/// Bytes after the key in a session actor ([`NodeKey::session_actor`]).
pub const SESSION_BYTES: usize = 8;

/// The writer an Automerge actor id stands for: a session actor's key
/// bytes ([`NodeKey::session_actor`]), any other actor as it is. Whatever
/// is kept per writer (follow-ups, audit totals) is kept under this.
pub fn writer_of_actor(actor: &[u8]) -> &[u8] {
    if actor.len() == 32 + SESSION_BYTES {
        &actor[..32]
    } else {
        actor
    }
}

/// A node's ed25519 public key: its libp2p identity, and (as raw bytes) the
/// Automerge actor id of every change it writes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeKey(pub [u8; 32]);

impl NodeKey {
    pub fn from_public(key: &PublicKey) -> Result<NodeKey, TrustError> {
        let ed = key
            .clone()
            .try_into_ed25519()
            .map_err(|_| TrustError::NotEd25519)?;
        NodeKey::from_bytes(&ed.to_bytes())
            .ok_or_else(|| TrustError::BadKey("a weak (small-order) ed25519 key".into()))
    }

    /// A key from its 32 raw bytes, if they are one. Weak (small-order)
    /// keys are refused: ed25519 signatures "by" such a key can be made
    /// without any secret (fuzzing found one).
    pub fn from_bytes(bytes: &[u8]) -> Option<NodeKey> {
        let bytes: [u8; 32] = bytes.try_into().ok()?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok()?;
        (!key.is_weak()).then_some(NodeKey(bytes))
    }

    /// The key behind an Automerge actor id, if it is a node's: the key's
    /// 32 raw bytes, followed (since session actors) by
    /// [`SESSION_BYTES`] that tell one run of the node from another.
    pub fn from_actor(actor: &[u8]) -> Option<NodeKey> {
        match actor.len() {
            32 => NodeKey::from_bytes(actor),
            n if n == 32 + SESSION_BYTES => NodeKey::from_bytes(&actor[..32]),
            _ => None,
        }
    }

    /// Is `actor` this key, or a session actor of it? (Cheap: no curve
    /// arithmetic, for checks over every change of a page.)
    pub fn is_actor_of(&self, actor: &[u8]) -> bool {
        (actor.len() == 32 || actor.len() == 32 + SESSION_BYTES) && actor[..32] == self.0
    }

    /// The actor id of this key's changes in one run (`session`) of its node.
    ///
    /// Automerge numbers each actor's changes 1, 2, 3...; a node that lost a
    /// change a peer already holds (a write whose flush failed on a full
    /// disk, then a restart) would number its next change as the lost one,
    /// and no replica could ever take both (a duplicate sequence number).
    /// A new actor per run keeps numbers unique; the key in front keeps
    /// every change attributable to, and covered by signatures of, its node.
    pub fn session_actor(&self, session: [u8; SESSION_BYTES]) -> Vec<u8> {
        let mut actor = self.0.to_vec();
        actor.extend_from_slice(&session);
        actor
    }

    /// The key of a peer id (ed25519 peer ids embed their key).
    pub fn from_peer_id(peer: &PeerId) -> Option<NodeKey> {
        let mh = peer.as_ref();
        if mh.code() != 0 {
            return None;
        }
        let public = PublicKey::try_decode_protobuf(mh.digest()).ok()?;
        NodeKey::from_public(&public).ok()
    }

    pub fn public_key(&self) -> Result<PublicKey, TrustError> {
        ed25519::PublicKey::try_from_bytes(&self.0)
            .map(PublicKey::from)
            .map_err(|_| TrustError::NotEd25519)
    }

    pub fn peer_id(&self) -> Option<PeerId> {
        self.public_key().ok().map(|k| k.to_peer_id())
    }

    /// Check `signature` over `message` by this key, strictly: weak keys and
    /// non-canonical signatures fail (libp2p's own check accepts them).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(&signature.0) else {
            return false;
        };
        key.verify_strict(message, &sig).is_ok()
    }
}

impl fmt::Display for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.peer_id() {
            Some(p) => write!(f, "{p}"),
            None => write!(f, "{}", hex(&self.0)),
        }
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeKey({self})")
    }
}

impl std::str::FromStr for NodeKey {
    type Err = TrustError;
    /// A peer id (`12D3Koo...`) or 64 hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(bytes) = unhex(s).and_then(|b| NodeKey::from_bytes(&b)) {
            return Ok(bytes);
        }
        let peer: PeerId = s
            .parse()
            .map_err(|_| TrustError::BadKey(format!("'{s}' is not a peer id")))?;
        NodeKey::from_peer_id(&peer)
            .ok_or_else(|| TrustError::BadKey(format!("peer id '{s}' has no ed25519 key")))
    }
}

impl Serialize for NodeKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for NodeKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            s.parse().map_err(de::Error::custom)
        } else {
            let bytes = <[u8; 32]>::deserialize(d)?;
            NodeKey::from_bytes(&bytes)
                .ok_or_else(|| de::Error::custom("not an ed25519 public key"))
        }
    }
}

/// An ed25519 signature (64 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct Signature(pub Vec<u8>);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex(&self.0))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(&hex(&self.0))
        } else {
            serde::Serialize::serialize(&self.0[..], s)
        }
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = if d.is_human_readable() {
            let s = String::deserialize(d)?;
            unhex(&s).ok_or_else(|| de::Error::custom("signature is not hex"))?
        } else {
            <Vec<u8>>::deserialize(d)?
        };
        if bytes.len() != 64 {
            return Err(de::Error::custom(format!(
                "signature of {} bytes, expected 64",
                bytes.len()
            )));
        }
        Ok(Signature(bytes))
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}
