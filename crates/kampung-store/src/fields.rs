//! Reading the small map records of Automerge documents (crossings,
//! placements, follow-ups): every field of one record in one pass.

use std::collections::BTreeMap;

use automerge::{Automerge, AutomergeError, ObjId, ReadDoc, ScalarValueRef, ValueRef};

/// Why one record object could not be read: a field, or Automerge itself.
#[derive(Debug)]
pub(crate) enum ReadError {
    Field(&'static str),
    Automerge(AutomergeError),
}

impl From<AutomergeError> for ReadError {
    fn from(e: AutomergeError) -> Self {
        ReadError::Automerge(e)
    }
}

/// A scalar read out of a document, owned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Str(String),
    Int(i64),
    Uint(u64),
    Timestamp(i64),
    Other,
}

/// The fields of one map object, read in one pass over it: records are small
/// maps, and one `map_range` is cheaper than a `get` per field.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    scalars: BTreeMap<String, Scalar>,
    objects: BTreeMap<String, ObjId>,
}

impl Fields {
    pub(crate) fn read(doc: &Automerge, obj: &ObjId) -> Fields {
        let mut f = Fields::default();
        for item in doc.map_range(obj, ..) {
            let key = item.key.to_string();
            match item.value {
                ValueRef::Object(_) => {
                    f.objects.insert(key, item.id());
                }
                ValueRef::Scalar(v) => {
                    let v = match v {
                        ScalarValueRef::Str(s) => Scalar::Str(s.into_owned()),
                        ScalarValueRef::Int(n) => Scalar::Int(n),
                        ScalarValueRef::Uint(n) => Scalar::Uint(n),
                        ScalarValueRef::Timestamp(t) => Scalar::Timestamp(t),
                        _ => Scalar::Other,
                    };
                    f.scalars.insert(key, v);
                }
            }
        }
        f
    }

    pub(crate) fn str(&self, key: &str) -> Option<&str> {
        match self.scalars.get(key) {
            Some(Scalar::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn ts(&self, key: &str) -> Option<i64> {
        match self.scalars.get(key) {
            Some(Scalar::Timestamp(t)) => Some(*t),
            _ => None,
        }
    }

    pub(crate) fn int(&self, key: &str) -> Option<i64> {
        match self.scalars.get(key) {
            Some(Scalar::Int(n)) => Some(*n),
            _ => None,
        }
    }

    pub(crate) fn uint(&self, key: &str) -> Option<u64> {
        match self.scalars.get(key) {
            Some(Scalar::Uint(n)) => Some(*n),
            _ => None,
        }
    }

    pub(crate) fn obj(&self, key: &str) -> Option<&ObjId> {
        self.objects.get(key)
    }
}

/// What is wrong with a text field a person typed into a crossing or a case,
/// if anything: empty when `required`, longer than `max` characters, or
/// (when `typed` says how: `Some(multiline)`) holding control characters
/// (line breaks aside in multi-line text), text-reordering characters, or
/// nothing visible.
pub(crate) fn text_refusal(
    s: &str,
    max: usize,
    required: bool,
    typed: Option<bool>,
) -> Option<String> {
    if required && s.trim().is_empty() {
        return Some("is empty".into());
    }
    if s.chars().count() > max {
        return Some(format!("is longer than {max} characters"));
    }
    typed
        .and_then(|multiline| kampung_core::resident::text_problem(s, multiline))
        .map(|p| p.to_string())
}
