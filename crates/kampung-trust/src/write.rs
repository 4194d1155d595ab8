//! Signatures on writes, and which changes a set of signatures covers.
//!
//! After each write a node signs the hash of the newest Automerge change it
//! made in that document. An Automerge change hash commits to the change's
//! dependencies, and a writer's changes form one chain (each of its changes
//! depends, directly or not, on its previous one), so that one signature
//! covers every change of that writer below it: the whole write, and
//! everything it wrote before. A change is accepted only when a valid
//! signature of its own actor covers it ([`uncovered`]).

use std::collections::{HashMap, HashSet};

use libp2p_identity::Keypair;
use serde::{Deserialize, Serialize};

use crate::key::{NodeKey, Signature};
use crate::TrustError;

/// An Automerge change hash.
pub type Hash = [u8; 32];

const WRITE_CONTEXT: &[u8] = b"kampung/write/1\0";

/// Most bytes one encoded write signature may take.
pub const MAX_WRITE_SIGNATURE_BYTES: usize = 256;

/// "I, `signer`, wrote `doc` up to and including change `change`, at `signed_ms`."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteSignature {
    pub doc: String,
    pub change: Hash,
    pub signed_ms: i64,
    pub signer: NodeKey,
    pub signature: Signature,
}

fn signing_bytes(doc: &str, change: &Hash, signed_ms: i64) -> Vec<u8> {
    let mut msg = WRITE_CONTEXT.to_vec();
    msg.extend_from_slice(&(doc.len() as u32).to_be_bytes());
    msg.extend_from_slice(doc.as_bytes());
    msg.extend_from_slice(change);
    msg.extend_from_slice(&signed_ms.to_be_bytes());
    msg
}

/// What signs this node's writes: its key pair.
pub trait WriteSigner: Send + Sync {
    fn key(&self) -> NodeKey;
    fn sign(&self, message: &[u8]) -> Result<Signature, TrustError>;
}

impl WriteSigner for Keypair {
    fn key(&self) -> NodeKey {
        NodeKey::from_public(&self.public()).unwrap_or(NodeKey([0; 32]))
    }
    fn sign(&self, message: &[u8]) -> Result<Signature, TrustError> {
        Keypair::sign(self, message)
            .map(Signature)
            .map_err(|e| TrustError::BadKey(e.to_string()))
    }
}

impl WriteSignature {
    pub fn create(
        signer: &dyn WriteSigner,
        doc: &str,
        change: Hash,
        signed_ms: i64,
    ) -> Result<WriteSignature, TrustError> {
        let signature = signer.sign(&signing_bytes(doc, &change, signed_ms))?;
        Ok(WriteSignature {
            doc: doc.to_string(),
            change,
            signed_ms,
            signer: signer.key(),
            signature,
        })
    }

    /// Is the signature itself valid (by `signer`, over these fields)?
    pub fn verify_signature(&self) -> Result<(), TrustError> {
        if self.signer.verify(
            &signing_bytes(&self.doc, &self.change, self.signed_ms),
            &self.signature,
        ) {
            Ok(())
        } else {
            Err(TrustError::BadWriteSignature {
                doc: self.doc.clone(),
                signer: self.signer.to_string(),
            })
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Read the wire form, within [`MAX_WRITE_SIGNATURE_BYTES`]. Does not verify.
    pub fn decode(bytes: &[u8]) -> Result<WriteSignature, TrustError> {
        if bytes.len() > MAX_WRITE_SIGNATURE_BYTES {
            return Err(TrustError::Malformed(format!(
                "write signature of {} bytes, at most {MAX_WRITE_SIGNATURE_BYTES}",
                bytes.len()
            )));
        }
        postcard::from_bytes(bytes).map_err(|e| TrustError::Malformed(e.to_string()))
    }
}

/// What coverage needs to know of one change.
#[derive(Debug, Clone, Copy)]
pub struct ChangeRef<'a> {
    pub hash: Hash,
    pub actor: &'a [u8],
    pub deps: &'a [Hash],
}

/// The changes among `changes` that no signature in `signed` covers.
///
/// `signed` holds `(change hash, signer)` of signatures already checked to be
/// valid and allowed. A signature by `K` on change `h` covers every change by
/// actor `K` reachable from `h` through dependencies inside `changes` (a
/// change of `changes` outside that set, also of actor `K`, is not covered:
/// it is not the change `K` vouched for). Actor `K` is the key's raw bytes
/// or a session actor of it ([`NodeKey::session_actor`]). Changes whose hash `exempt` accepts
/// (already held, or a document's fixed genesis) need no signature.
pub fn uncovered(
    changes: &[ChangeRef<'_>],
    signed: &[(Hash, NodeKey)],
    exempt: impl Fn(&Hash, &[u8]) -> bool,
) -> Vec<Hash> {
    let by_hash: HashMap<Hash, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.hash, i))
        .collect();
    let mut covered = vec![false; changes.len()];
    let mut by_signer: HashMap<NodeKey, Vec<usize>> = HashMap::new();
    for (hash, signer) in signed {
        if let Some(&i) = by_hash.get(hash) {
            by_signer.entry(*signer).or_default().push(i);
        }
    }
    for (signer, starts) in by_signer {
        let mut seen: HashSet<usize> = HashSet::new();
        let mut stack = starts;
        while let Some(i) = stack.pop() {
            if !seen.insert(i) {
                continue;
            }
            let c = &changes[i];
            if signer.is_actor_of(c.actor) {
                covered[i] = true;
            }
            stack.extend(c.deps.iter().filter_map(|d| by_hash.get(d).copied()));
        }
    }
    changes
        .iter()
        .zip(covered)
        .filter(|(c, covered)| !covered && !exempt(&c.hash, c.actor))
        .map(|(c, _)| c.hash)
        .collect()
}
