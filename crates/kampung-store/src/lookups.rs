//! What a lookup and a checkpoint verdict read, shared between the
//! registry (the one writer) and any number of readers, such as the HTTP
//! handlers, which answer from it directly instead of queueing behind the
//! store's writes.
//!
//! Architecture invariant: only the [`crate::Registry`] writes here, and it
//! holds the write lock only to update the maps (never across storage IO or
//! an Automerge read), so a reader waits at most for one batch of index
//! updates. The index and the heads it reflects change under the same lock:
//! a verdict never names heads that its answer does not reflect.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use automerge::ChangeHash;
use kampung_core::checkpoint::OpenCase;
use kampung_core::resident::StatusKind;
use kampung_core::{CheckVerdict, Nik, Policy, Verdict, VillageCode};

use crate::crossing::DocHeads;
use crate::index::{Entry, Index};
use crate::storage::DocId;

/// An open isolation case, and the heads (sorted) of the case document it
/// was derived from.
#[derive(Debug, Clone)]
pub(crate) struct OpenCaseAt {
    pub case: OpenCase,
    pub heads: Vec<ChangeHash>,
}

/// The index, the heads each village's part of it reflects, and the open
/// isolation case of each NIK.
#[derive(Debug)]
pub struct Lookups {
    this_year: i32,
    pub(crate) index: Index,
    /// Heads each village's part of the index reflects; a village is here
    /// once this node holds a document of it.
    pub(crate) indexed: RegistryHeads,
    /// Each village of `indexed` as a verdict's basis names it (heads
    /// sorted, in hex): made once per change of the village, not once per
    /// verdict (hex-encoding the heads was 2 % of a checkpoint's CPU under
    /// a load of verdicts).
    basis: HashMap<VillageCode, DocHeads>,
    /// NIK -> its open isolation case, derived from the case documents.
    pub(crate) open_cases: HashMap<u64, OpenCaseAt>,
}

/// Village -> the heads its part of the index reflects: the registry state
/// a verdict is computed on. Shared, so a verdict keeps the state it rests
/// on for the price of a pointer; the registry's next update copies the
/// map once if a verdict still holds it (`Arc::make_mut`).
pub type RegistryHeads = Arc<HashMap<VillageCode, Vec<ChangeHash>>>;

/// A checkpoint verdict and what it rests on (see [`Lookups::check_verdict`]).
#[derive(Debug, Clone)]
pub struct Checked {
    pub verdict: CheckVerdict,
    /// The documents (and heads) the verdict was computed from.
    pub basis: Vec<DocHeads>,
    /// Every village where the NIK is an active resident: more than one is
    /// a double registration.
    pub active_villages: Vec<VillageCode>,
    /// The registry state the verdict was computed on: every village
    /// document held, at the heads the index reflected (what an answer of
    /// absence rests on).
    pub state: RegistryHeads,
}

impl Lookups {
    fn new(this_year: i32) -> Self {
        Lookups {
            this_year,
            index: Index::new(),
            indexed: RegistryHeads::default(),
            basis: HashMap::new(),
            open_cases: HashMap::new(),
        }
    }

    /// Record that `village`'s part of the index reflects `heads`.
    pub(crate) fn set_indexed(&mut self, village: VillageCode, heads: Vec<ChangeHash>) {
        let mut sorted = heads.clone();
        sorted.sort_unstable();
        self.basis.insert(
            village,
            DocHeads::new(DocId::card(village).to_string(), &sorted),
        );
        Arc::make_mut(&mut self.indexed).insert(village, heads);
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The registry state the index reflects now (shared, not copied).
    pub fn state(&self) -> RegistryHeads {
        Arc::clone(&self.indexed)
    }

    /// The verdict for a typed or scanned NIK, from the index alone.
    pub fn lookup(&self, input: &str) -> Verdict {
        let parsed = Nik::parse(input, self.this_year);
        let entry = parsed
            .as_ref()
            .ok()
            .and_then(|p| self.index.lookup(p.nik()));
        Verdict::decide(parsed, entry.and_then(Entry::view))
    }

    /// One page of a village's records matching `query`, in NIK order, and
    /// how many match in all: from the index alone (no Automerge read), so a
    /// search never waits for the store.
    pub fn village_page(&self, query: &ResidentQuery) -> (usize, Vec<Nik>) {
        let Some(village) = kampung_core::banyuwangi::village(query.village) else {
            return (0, Vec::new());
        };
        let needle = query
            .search
            .as_deref()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty());
        let mut total = 0;
        let mut page = Vec::new();
        for (nik, entry) in self.index.village(village.ordinal) {
            if !query.matches(nik, entry, needle.as_deref()) {
                continue;
            }
            if total >= query.offset && page.len() < query.limit {
                page.push(nik);
            }
            total += 1;
        }
        (total, page)
    }

    /// The open isolation case of a NIK, if any.
    pub fn open_case(&self, nik: Nik) -> Option<&OpenCase> {
        self.open_cases.get(&nik.as_u64()).map(|c| &c.case)
    }

    /// How many NIKs are active in more than one village.
    pub fn double_registration_count(&self) -> usize {
        self.index.doubles().count()
    }

    /// NIKs active in more than one village, in NIK order, with those villages.
    pub fn double_registrations(&self) -> Vec<(Nik, Vec<VillageCode>)> {
        self.index
            .doubles()
            .map(|n| (n, self.index.active_villages(n)))
            .collect()
    }

    /// The checkpoint verdict for a typed or scanned NIK, from the index,
    /// the open cases and `policy`, with the documents (and heads) it was
    /// computed from, for the crossing log. `copy_age` says how old our copy
    /// of a village's document is. No Automerge read on this path.
    pub fn check_verdict(
        &self,
        input: &str,
        policy: &Policy,
        copy_age: impl Fn(VillageCode) -> Option<Duration>,
    ) -> Checked {
        let parsed = Nik::parse(input, self.this_year);
        let nik = parsed.as_ref().ok().map(|p| p.nik());
        let view = nik.and_then(|n| self.index.lookup(n)).and_then(Entry::view);
        let open = nik.and_then(|n| self.open_cases.get(&n.as_u64()));
        let mut basis = Vec::new();
        let age = view.as_ref().and_then(|v| {
            if let Some(b) = self.basis.get(&v.village) {
                basis.push(b.clone());
            }
            copy_age(v.village)
        });
        // A NIK active in two villages: the answer rests on both records.
        let active_villages = nik
            .map(|n| self.index.active_villages(n))
            .unwrap_or_default();
        if let Some(v) = view.as_ref() {
            for &other in &active_villages {
                if other != v.village {
                    if let Some(b) = self.basis.get(&other) {
                        basis.push(b.clone());
                    }
                }
            }
        }
        if let Some(c) = open {
            basis.push(DocHeads::new(
                DocId::case(&c.case.case_id).to_string(),
                &c.heads,
            ));
        }
        let verdict = CheckVerdict::decide(parsed, view, open.map(|c| c.case.clone()), policy, age);
        Checked {
            verdict,
            basis,
            active_villages,
            state: Arc::clone(&self.indexed),
        }
    }
}

/// Which residents of one village to list, and which page of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentQuery {
    pub village: VillageCode,
    /// A case-insensitive part of the name, or the first digits of the NIK.
    pub search: Option<String>,
    pub status: Option<StatusKind>,
    /// Matching records to skip (in NIK order).
    pub offset: usize,
    /// Matching records to return at most.
    pub limit: usize,
}

impl ResidentQuery {
    /// Every record of `village`, first page of `limit`.
    pub fn new(village: VillageCode, limit: usize) -> Self {
        ResidentQuery {
            village,
            search: None,
            status: None,
            offset: 0,
            limit,
        }
    }

    /// Whether one record matches the status filter and the search; `needle`
    /// is the search, trimmed and lower-cased.
    fn matches(&self, nik: Nik, e: &Entry, needle: Option<&str>) -> bool {
        if self.status.is_some_and(|s| s != e.status) {
            return false;
        }
        let Some(needle) = needle else {
            return true;
        };
        nik.to_string().starts_with(needle) || e.full_name.to_lowercase().contains(needle)
    }
}

/// A handle on the [`Lookups`] of one registry; clones share them.
#[derive(Debug, Clone)]
pub struct SharedLookups(Arc<RwLock<Lookups>>);

impl SharedLookups {
    pub(crate) fn new(this_year: i32) -> Self {
        SharedLookups(Arc::new(RwLock::new(Lookups::new(this_year))))
    }

    /// Read them. Hold the guard briefly: the registry's writes wait for it.
    pub fn read(&self) -> RwLockReadGuard<'_, Lookups> {
        // A writer that panicked left the maps as they were between two
        // updates of one record at worst; answering from them beats stopping.
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Lookups> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests;
