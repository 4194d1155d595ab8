//! The registry states a checkpoint's verdicts were computed on, kept once
//! in its crossing log and shared by every crossing made on them, so that
//! an auditor can replay a verdict of absence ("not in the registry"): that
//! answer rests on every village document the node held, not on one.
//!
//! ```text
//! ROOT { ..., "states": [ { "n": uint,
//!                           "villages": { "<village code>": bytes } } ] }
//! ```
//!
//! A registry state maps each village whose document the node held to the
//! heads its part of the index reflected (the bytes: 32-byte change hashes,
//! sorted, concatenated; empty: the village is no longer held). State 0
//! lists every village; each later state only the villages whose heads
//! changed since the state before it, so a crossing made while nothing
//! changed costs one small number (`"state": n` in the entry) and a
//! village edit costs one village's heads once. The registry state of a
//! crossing is the fold of every state up to its `n`.
//!
//! States are appended by the checkpoint itself, in the same change as the
//! crossing that first rests on them, so a state is never seen without the
//! crossing that names it nor a crossing without its state.

use std::collections::{BTreeMap, HashMap};

use automerge::transaction::Transactable;
use automerge::{ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, ValueRef, ROOT};
use kampung_core::VillageCode;

use super::CrossingError;

/// Village -> the heads (sorted) its part of the index reflected.
pub type Villages = BTreeMap<VillageCode, Vec<ChangeHash>>;

/// The last registry state of a crossing log, remembered between writes so
/// that appending a crossing compares against it without folding the log.
#[derive(Debug, Clone, Default)]
pub struct StateCache {
    /// Length of the `states` list the cache reflects.
    len: usize,
    n: Option<u64>,
    villages: Villages,
}

/// One entry of the `states` list, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDelta {
    pub n: u64,
    /// Villages whose heads changed; an empty list: no longer held.
    pub villages: Villages,
}

fn bad(field: &'static str) -> CrossingError {
    CrossingError::BadEntry {
        index: usize::MAX,
        field,
    }
}

/// The `states` list of a crossing log, if it has one.
pub(crate) fn states_obj(doc: &impl ReadDoc) -> Result<Option<ObjId>, CrossingError> {
    match doc.get(ROOT, "states")? {
        Some((automerge::Value::Object(ObjType::List), id)) => Ok(Some(id)),
        Some(_) => Err(bad("states")),
        None => Ok(None),
    }
}

/// Every state of the log, in list order (the order they were appended).
pub fn deltas(doc: &impl ReadDoc) -> Result<Vec<StateDelta>, CrossingError> {
    let Some(states) = states_obj(doc)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(doc.length(&states));
    for item in doc.list_range(&states, ..) {
        let ValueRef::Object(ObjType::Map) = item.value else {
            return Err(bad("state"));
        };
        out.push(read_delta(doc, &item.id())?);
    }
    Ok(out)
}

fn read_delta(doc: &impl ReadDoc, obj: &ObjId) -> Result<StateDelta, CrossingError> {
    let n = match doc.get(obj, "n")? {
        Some((automerge::Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Uint(n) => *n,
            _ => return Err(bad("state n")),
        },
        _ => return Err(bad("state n")),
    };
    let villages_obj = match doc.get(obj, "villages")? {
        Some((automerge::Value::Object(ObjType::Map), id)) => id,
        _ => return Err(bad("state villages")),
    };
    let mut villages = Villages::new();
    for item in doc.map_range(&villages_obj, ..) {
        let code = VillageCode::parse(&item.key).map_err(|_| bad("state village code"))?;
        let ValueRef::Scalar(automerge::ScalarValueRef::Bytes(bytes)) = item.value else {
            return Err(bad("state heads"));
        };
        villages.insert(code, decode_heads(&bytes).ok_or(bad("state heads"))?);
    }
    Ok(StateDelta { n, villages })
}

fn decode_heads(bytes: &[u8]) -> Option<Vec<ChangeHash>> {
    if bytes.len() % 32 != 0 {
        return None;
    }
    bytes
        .chunks_exact(32)
        .map(|c| ChangeHash::try_from(c).ok())
        .collect()
}

fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

/// Are `heads` (in any order, no duplicates) the same set as `sorted`?
fn same_heads(heads: &[ChangeHash], sorted: &[ChangeHash]) -> bool {
    heads.len() == sorted.len() && heads.iter().all(|h| sorted.binary_search(h).is_ok())
}

/// Apply one delta to a folded state.
pub fn apply(state: &mut Villages, delta: &StateDelta) {
    for (v, heads) in &delta.villages {
        if heads.is_empty() {
            state.remove(v);
        } else {
            state.insert(*v, heads.clone());
        }
    }
}

impl StateCache {
    /// Bring the cache up to the log's `states` list (a fold of the whole
    /// list when another writer or a reload changed it).
    fn refresh(&mut self, doc: &impl ReadDoc) -> Result<(), CrossingError> {
        let len = states_obj(doc)?.map_or(0, |s| doc.length(&s));
        if len == self.len && (len == 0) == self.n.is_none() {
            return Ok(());
        }
        let mut fresh = StateCache {
            len,
            ..StateCache::default()
        };
        for d in deltas(doc)? {
            apply(&mut fresh.villages, &d);
            fresh.n = Some(fresh.n.map_or(d.n, |n| n.max(d.n)));
        }
        *self = fresh;
        Ok(())
    }

    /// The number of the state `now` is, appending it to the log within
    /// `tx` when it differs from the last one.
    pub(crate) fn state_for<T: Transactable + ReadDoc>(
        &mut self,
        tx: &mut T,
        now: &HashMap<VillageCode, Vec<ChangeHash>>,
    ) -> Result<u64, CrossingError> {
        self.refresh(tx)?;
        let mut changed = Villages::new();
        // Compared without copying: this runs for every crossing recorded.
        for (v, heads) in now {
            if !self
                .villages
                .get(v)
                .is_some_and(|held| same_heads(heads, held))
            {
                let mut heads = heads.clone();
                heads.sort_unstable();
                changed.insert(*v, heads);
            }
        }
        for v in self.villages.keys() {
            if !now.contains_key(v) {
                changed.insert(*v, Vec::new());
            }
        }
        if let (Some(n), true) = (self.n, changed.is_empty()) {
            return Ok(n);
        }
        let n = self.n.map_or(0, |n| n + 1);
        let states = match states_obj(tx)? {
            Some(id) => id,
            None => tx.put_object(ROOT, "states", ObjType::List)?,
        };
        let at = self.len;
        let obj = tx.insert_object(&states, at, ObjType::Map)?;
        tx.put(&obj, "n", ScalarValue::Uint(n))?;
        let villages = tx.put_object(&obj, "villages", ObjType::Map)?;
        for (v, heads) in &changed {
            tx.put(
                &villages,
                v.to_string(),
                ScalarValue::Bytes(encode_heads(heads)),
            )?;
        }
        let delta = StateDelta {
            n,
            villages: changed,
        };
        apply(&mut self.villages, &delta);
        self.n = Some(n);
        self.len += 1;
        Ok(n)
    }

    /// Forget everything (the write that used it failed).
    pub fn clear(&mut self) {
        *self = StateCache::default();
    }
}
