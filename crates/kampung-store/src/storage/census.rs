//! What a store holds, document by document: taken before and after a
//! store is moved to a new layout (`kampung migrate`), to show that the
//! move lost nothing and to tell the operator each village's residents.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{DocId, DocKind, StoredDoc};

/// One document as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocCensus {
    pub doc: String,
    /// SHA-256 (hex) of everything stored for it: snapshot, chunks in
    /// order, heads, and signatures by change.
    pub digest: String,
    /// Bytes of snapshot and chunks.
    pub bytes: u64,
    pub chunks: usize,
    pub signatures: usize,
    /// A village's residents (every record, whatever its status); `None`
    /// for other documents, or for a village whose document does not load.
    pub residents: Option<usize>,
}

impl DocCensus {
    pub fn of(doc: &DocId, stored: &StoredDoc) -> DocCensus {
        let mut h = Sha256::new();
        let mut part = |tag: &[u8], bytes: &[u8]| {
            h.update(tag);
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        };
        if let Some(s) = &stored.snapshot {
            part(b"s", s);
        }
        for (seq, c) in &stored.chunks {
            part(b"c", &seq.to_be_bytes());
            part(b"c", c);
        }
        part(b"h", &stored.heads);
        let mut sigs: Vec<_> = stored.signatures.iter().collect();
        sigs.sort();
        for (hash, sig) in sigs {
            part(b"g", hash);
            part(b"g", sig);
        }
        let digest = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let bytes = stored.snapshot.as_ref().map_or(0, Vec::len)
            + stored.chunks.iter().map(|(_, c)| c.len()).sum::<usize>();
        let residents = match doc.kind() {
            Some(DocKind::Village(village)) | Some(DocKind::Card(village)) => {
                crate::doc::VillageDoc::load_part(
                    match doc.kind() {
                        Some(DocKind::Card(_)) => crate::doc::Part::Card,
                        _ => crate::doc::Part::Details,
                    },
                    village,
                    stored.snapshot.as_deref(),
                    stored.chunks.iter().map(|(_, c)| c.as_slice()),
                )
                .ok()
                .map(|d| d.residents().count())
            }
            _ => None,
        };
        DocCensus {
            doc: doc.as_str().to_string(),
            digest,
            bytes: bytes as u64,
            chunks: stored.chunks.len(),
            signatures: stored.signatures.len(),
            residents,
        }
    }
}

/// A store moved to the current layout: what it held before and after,
/// each sorted by document.
#[derive(Debug, Clone, Serialize)]
pub struct Migration {
    /// Documents moved by this run (an interrupted earlier run may have
    /// moved others).
    pub moved: usize,
    pub before: Vec<DocCensus>,
    pub after: Vec<DocCensus>,
}

impl Migration {
    /// Every difference between before and after, one line each; empty
    /// when nothing was lost or changed.
    pub fn differences(&self) -> Vec<String> {
        let mut out = Vec::new();
        let after: std::collections::BTreeMap<&str, &DocCensus> =
            self.after.iter().map(|c| (c.doc.as_str(), c)).collect();
        for b in &self.before {
            match after.get(b.doc.as_str()) {
                None => out.push(format!("{}: missing after the move", b.doc)),
                Some(a) if a.residents != b.residents => out.push(format!(
                    "{}: {} residents before, {} after",
                    b.doc,
                    residents_text(b.residents),
                    residents_text(a.residents)
                )),
                Some(a) if *a != b => out.push(format!(
                    "{}: stored differently after the move ({} chunks, {} signatures before; {} and {} after)",
                    b.doc, b.chunks, b.signatures, a.chunks, a.signatures
                )),
                Some(_) => {}
            }
        }
        let before: std::collections::BTreeSet<&str> =
            self.before.iter().map(|c| c.doc.as_str()).collect();
        for a in &self.after {
            if !before.contains(a.doc.as_str()) {
                out.push(format!("{}: appeared in the move", a.doc));
            }
        }
        out
    }
}

/// A census's residents as a person reads them (`unreadable` for a
/// village whose document does not load).
pub fn residents_text(n: Option<usize>) -> String {
    n.map_or_else(|| "unreadable".to_string(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::tests::resident;
    use crate::doc::VillageDoc;
    use kampung_core::VillageCode;

    fn village_with(niks: &[&str]) -> (DocId, StoredDoc) {
        let code = VillageCode::parse("35.10.15.2012").unwrap();
        let mut doc = VillageDoc::genesis(code);
        let actor = automerge::ActorId::from(b"clerk".to_vec());
        for nik in niks {
            doc.upsert(&actor, &resident(nik, "Siti Aminah"), 1_000)
                .unwrap();
        }
        let stored = StoredDoc {
            snapshot: Some(doc.save()),
            heads: b"heads".to_vec(),
            ..StoredDoc::default()
        };
        (DocId::village(code), stored)
    }

    #[test]
    fn a_census_counts_residents_and_tells_any_difference() {
        let (doc, stored) = village_with(&["3510155203850001", "3510155203850002"]);
        let census = DocCensus::of(&doc, &stored);
        assert_eq!(census.residents, Some(2));
        assert_eq!(census, DocCensus::of(&doc, &stored), "the same twice");

        let same = Migration {
            moved: 1,
            before: vec![census.clone()],
            after: vec![census.clone()],
        };
        assert!(same.differences().is_empty());

        // One resident fewer after: said with both counts.
        let (_, fewer) = village_with(&["3510155203850001"]);
        let lost = Migration {
            after: vec![DocCensus::of(&doc, &fewer)],
            ..same.clone()
        };
        assert_eq!(
            lost.differences(),
            ["v/35.10.15.2012: 2 residents before, 1 after"]
        );

        // The same residents, stored otherwise (a signature lost).
        let mut unsigned = stored.clone();
        unsigned.signatures.push(([7; 32], vec![1; 64]));
        let other = Migration {
            before: vec![DocCensus::of(&doc, &unsigned)],
            ..same.clone()
        };
        assert!(other.differences()[0].contains("stored differently"));

        // Missing, and appeared.
        let gone = Migration {
            after: vec![],
            ..same.clone()
        };
        assert_eq!(
            gone.differences(),
            ["v/35.10.15.2012: missing after the move"]
        );
        let new = Migration {
            before: vec![],
            ..same
        };
        assert_eq!(new.differences(), ["v/35.10.15.2012: appeared in the move"]);
    }
}
