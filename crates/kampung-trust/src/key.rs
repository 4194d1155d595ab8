//! Node keys and signatures as values: binary on the wire, readable in files.

use std::fmt;

use libp2p_identity::{ed25519, PeerId, PublicKey};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::TrustError;

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
        NodeKey::from_actor(&ed.to_bytes())
            .ok_or_else(|| TrustError::BadKey("a weak (small-order) ed25519 key".into()))
    }

    /// The key behind an Automerge actor id (32 raw bytes), if it is one.
    /// Weak (small-order) keys are refused: ed25519 signatures "by" such a
    /// key can be made without any secret (fuzzing found one).
    pub fn from_actor(actor: &[u8]) -> Option<NodeKey> {
        let bytes: [u8; 32] = actor.try_into().ok()?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok()?;
        (!key.is_weak()).then_some(NodeKey(bytes))
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
        if let Some(bytes) = unhex(s).and_then(|b| NodeKey::from_actor(&b)) {
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
            NodeKey::from_actor(&bytes)
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
