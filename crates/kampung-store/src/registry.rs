//! The registry: village documents in a [`Storage`], and the index derived
//! from their verdict cards (`registry/details.rs` for a village's two
//! documents).
//!
//! One owner (`&mut self`) does every write; a write returns only after its
//! changes are durable ([`Storage::flush`]). Loaded documents are cached up to
//! a bound, so a node holding all 217 villages keeps only the index in memory.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use automerge::{ActorId, ChangeHash};
use kampung_core::banyuwangi::{self, village_by_ordinal};
use kampung_core::resident::StatusKind;
use kampung_core::{Nik, Resident, Verdict, VillageCode};
use kampung_trust::{WriteSignature, WriteSigner};
use tracing::{debug, info, warn};

use crate::doc::{Part, VillageDoc};
use crate::index::{self, Entry, Index};
use crate::lookups::SharedLookups;
use crate::storage::{DocId, Storage};
use crate::StoreError;

/// Compact a document once it has this many chunks...
const COMPACT_AFTER_CHUNKS: usize = 4096;
/// ...or this many bytes of chunks (about 1,000 records' worth of changes).
/// Each compaction rewrites the whole snapshot (about 230 KB for 8,000
/// residents) and the village's index: after every 64 chunks, as before,
/// that alone cost 4–5 KB of disk per single-record edit.
const COMPACT_AFTER_BYTES: usize = 256 << 10;
/// A large write is signed every this many changes (and at its end).
const SIGN_EVERY: usize = 1000;
/// Documents kept loaded in memory at most.
const DEFAULT_DOC_CACHE: usize = 16;

/// What a write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
    /// The document heads after the write.
    pub heads: Vec<ChangeHash>,
}

/// A record that may not be written, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error("record {nik} is for village {record}, but this write is for village {target}")]
    WrongVillage {
        nik: Nik,
        record: VillageCode,
        target: VillageCode,
    },
    #[error("{nik} is already an active resident of {village} ({name}); that village must record the move out first")]
    RegisteredElsewhere {
        nik: Nik,
        village: VillageCode,
        name: &'static str,
    },
    #[error("{nik}: {reason}")]
    Invalid {
        nik: Nik,
        reason: kampung_core::resident::RecordError,
    },
}

struct Loaded {
    doc: VillageDoc,
    /// Which of its changes are signed, and the newest signatures.
    signed: signed::Signed,
    chunks: usize,
    chunk_bytes: usize,
    last_seq: u64,
    last_used: u64,
}

/// Village documents plus the derived index.
pub struct Registry<S: Storage> {
    /// Shared with the compactor thread, which reads and stages.
    storage: Arc<S>,
    actor: ActorId,
    /// Signs this node's writes; without one (tests, benchmarks) writes go unsigned.
    signer: Option<Arc<dyn WriteSigner>>,
    /// Draws the next session of our actor ([`Registry::new_session`]);
    /// seeded by the first, so a simulation replays.
    sessions: rand::rngs::StdRng,
    this_year: i32,
    docs: HashMap<VillageCode, Loaded>,
    doc_cache: usize,
    clock: u64,
    /// The index, the heads it reflects and the open isolation cases,
    /// shared with readers that answer lookups without this owner.
    lookups: SharedLookups,
    /// Heads of each village's persisted index.
    persisted: HashMap<VillageCode, Vec<ChangeHash>>,
    /// Villages answered from the index of their details until their
    /// cards arrive (a store from before cards: `registry/details.rs`).
    legacy: HashSet<VillageCode>,
    /// Isolation cases, held whole, and the crossing logs in use.
    others: HashMap<DocId, others::Other>,
    /// Crossing logs not in memory: their heads, and chunks appended
    /// since this node opened them ([`others::Cold`]).
    cold: HashMap<DocId, others::Cold>,
    /// How many crossing logs may be held in memory at once.
    logs_held: usize,
    /// Crossing logs loaded from disk since open ([`Registry::log_loads`]).
    log_loads: u64,
    /// The last registry state of each crossing log this node writes.
    crossing_states: HashMap<DocId, crate::crossing::StateCache>,
    /// The person named in the changes of this node's resident writes.
    author: Option<kampung_core::Author>,
    /// Local writes waiting for one flush together ([`Registry::begin_group`]).
    group: Option<Group>,
    /// Cases and logs this node dropped at the end of their period.
    dropped: HashSet<DocId>,
    /// The retention cut-offs of the last sweep ([`Registry::expire`]).
    cutoffs: retention::Cutoffs,
    /// What this node may read ([`Registry::set_scope`]): documents outside
    /// it are neither taken, offered nor kept.
    scope: kampung_core::ReadScope,
    /// Compaction on its own thread ([`Registry::compact_in_background`]);
    /// `None`: on the calling thread, after the write that made it due.
    compactor: Option<compactor::Compactor>,
    /// A document is compacted once its chunks reach this many bytes
    /// ([`COMPACT_AFTER_BYTES`]; a test lowers it).
    compact_after_bytes: usize,
}

/// Local writes made durable by one flush (group commit): what each
/// publishes (index entries, open cases) and compacts waits for that flush.
#[derive(Debug, Default)]
struct Group {
    index: Vec<IndexUpdate>,
    villages: Vec<VillageCode>,
    others: Vec<DocId>,
}

impl Group {
    /// `nik`'s index entries `indexed`, with this group's writes applied.
    fn entries_of(&self, nik: Nik, indexed: &[Entry]) -> Vec<Entry> {
        let mut entries = indexed.to_vec();
        for u in &self.index {
            let ordinal = banyuwangi::village(u.village).map_or(0, |v| v.ordinal);
            for (_, entry) in u.entries.iter().filter(|(n, _)| *n == nik) {
                entries.retain(|e| e.village != ordinal);
                entries.extend(entry.clone());
            }
        }
        entries
    }
}

/// What a durable write of a village changes in the index.
#[derive(Debug)]
struct IndexUpdate {
    village: VillageCode,
    entries: Vec<(Nik, Option<Entry>)>,
    heads: Vec<ChangeHash>,
}

impl<S: Storage> std::fmt::Debug for Registry<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("location", &self.storage.location())
            .field("niks", &self.lookups.read().index.len())
            .field("loaded_docs", &self.docs.len())
            .finish()
    }
}

pub(crate) fn heads_to_bytes(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

pub(crate) fn heads_from_bytes(bytes: &[u8]) -> Option<Vec<ChangeHash>> {
    if bytes.len() % 32 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                ChangeHash(h)
            })
            .collect(),
    )
}

impl<S: Storage> Registry<S> {
    /// Open the registry: load the persisted index and catch up any village
    /// whose document moved on since it was persisted.
    ///
    /// `actor` is the Automerge actor of this node's writes (its public key).
    pub fn open(storage: S, actor: ActorId, this_year: i32) -> Result<Self, StoreError> {
        let mut reg = Registry {
            storage: Arc::new(storage),
            actor,
            signer: None,
            sessions: rand::SeedableRng::seed_from_u64(0),
            this_year,
            docs: HashMap::new(),
            doc_cache: DEFAULT_DOC_CACHE,
            clock: 0,
            lookups: SharedLookups::new(this_year),
            persisted: HashMap::new(),
            legacy: HashSet::new(),
            others: HashMap::new(),
            cold: HashMap::new(),
            logs_held: others::DEFAULT_LOGS_HELD,
            log_loads: 0,
            crossing_states: HashMap::new(),
            author: None,
            group: None,
            dropped: HashSet::new(),
            cutoffs: retention::Cutoffs::default(),
            scope: kampung_core::ReadScope::Everything,
            compactor: None,
            compact_after_bytes: COMPACT_AFTER_BYTES,
        };
        let mut behind = Vec::new();
        for id in reg.storage.doc_ids()? {
            let Some(village) = id.as_card() else {
                continue;
            };
            let stored = reg.stored_heads(&id)?;
            let indexed = match reg.storage.index(&id)? {
                Some(bytes) => {
                    let (heads, entries) =
                        index::decode(&bytes).map_err(|e| StoreError::CorruptIndex {
                            location: reg.storage.location(),
                            doc: id.clone(),
                            reason: e.to_string(),
                        })?;
                    let mut lookups = reg.lookups.write();
                    for (nik, entry) in entries {
                        let nik = Nik::from_u64(nik).ok_or_else(|| StoreError::CorruptIndex {
                            location: reg.storage.location(),
                            doc: id.clone(),
                            reason: format!("it holds {nik}, which is not a NIK"),
                        })?;
                        let ordinal = entry.village;
                        lookups.index.set(nik, ordinal, Some(entry));
                    }
                    reg.persisted.insert(village, heads.clone());
                    heads
                }
                None => Vec::new(),
            };
            reg.lookups.write().set_indexed(village, indexed.clone());
            if sorted(&indexed) != sorted(&stored) {
                behind.push(village);
            }
        }
        for village in behind {
            reg.catch_up_index(village)?;
        }
        reg.load_dropped()?;
        reg.load_others()?;
        reg.load_legacy_index()?;
        info!(niks = reg.lookups.read().index.len(), location = %reg.storage.location(), "registry open");
        Ok(reg)
    }

    fn stored_heads(&self, id: &DocId) -> Result<Vec<ChangeHash>, StoreError> {
        let bytes = self.storage.heads(id)?.unwrap_or_default();
        heads_from_bytes(&bytes).ok_or_else(|| StoreError::CorruptDoc {
            location: self.storage.location(),
            doc: id.clone(),
            reason: format!(
                "its recorded heads are {} bytes, not a multiple of 32",
                bytes.len()
            ),
        })
    }

    /// Sign every write with this key; our changes' actor becomes a new
    /// session actor of it ([`NodeKey::session_actor`]): each run of a node
    /// numbers its changes afresh, so a change lost here (a failed flush,
    /// then a restart) but held by a peer never collides with a later one.
    pub fn set_signer(&mut self, signer: Arc<dyn WriteSigner>) {
        self.set_signer_in_session(signer, rand::random());
    }

    /// [`Registry::set_signer`] with a chosen session (deterministic simulations).
    pub fn set_signer_in_session(
        &mut self,
        signer: Arc<dyn WriteSigner>,
        session: [u8; kampung_trust::SESSION_BYTES],
    ) {
        self.actor = ActorId::from(signer.key().session_actor(session));
        self.sessions = rand::SeedableRng::seed_from_u64(u64::from_le_bytes(session));
        self.signer = Some(signer);
    }

    /// Write as a new session actor from now on. Called whenever memory
    /// drops changes of ours that storage may not hold (a failed write, the
    /// storage reopened after a failure): a change that left before it was
    /// lost (served to a peer from a failing store, say) keeps its sequence
    /// number to itself, and the next change cannot reuse it. Reusing it
    /// would fork our document for good: every replica refuses every later
    /// change of ours ("duplicate seq").
    fn new_session(&mut self) {
        let Some(signer) = &self.signer else {
            return;
        };
        let session = rand::Rng::random(&mut self.sessions);
        self.actor = ActorId::from(signer.key().session_actor(session));
        debug!(actor = %self.actor, "writing as a new session");
    }

    /// Documents are not read from a storage that failed until it is
    /// reopened: sled then still serves writes it never made durable, and
    /// memory must not take them back (a peer could fetch a change that the
    /// reopened store has lost).
    fn readable(&self) -> Result<(), StoreError> {
        if self.storage.needs_recovery() {
            return Err(StoreError::Io {
                location: self.storage.location(),
                reason: "the store failed to write (a full disk?) and is not read \
                         until it reopens, which it tries at each request"
                    .into(),
            });
        }
        Ok(())
    }

    /// Signatures on the given changes of ours in `doc`, if we sign writes.
    fn sign(
        &self,
        doc: &DocId,
        points: &[ChangeHash],
        now_ms: i64,
    ) -> Result<Vec<crate::storage::Sig>, StoreError> {
        let Some(signer) = &self.signer else {
            return Ok(Vec::new());
        };
        points
            .iter()
            .map(|h| {
                WriteSignature::create(signer.as_ref(), doc.as_str(), h.0, now_ms)
                    .map(|sig| (h.0, sig.encode()))
                    .map_err(|e| StoreError::Io {
                        location: self.storage.location(),
                        reason: format!("cannot sign a write: {e}"),
                    })
            })
            .collect()
    }

    /// Set how many documents stay loaded (at least 1).
    /// Name `author` in the changes of this node's resident writes from
    /// now on (`None`: the node itself).
    pub fn set_author(&mut self, author: Option<kampung_core::Author>) {
        self.author = author;
    }

    pub fn set_doc_cache(&mut self, docs: usize) {
        self.doc_cache = docs.max(1);
        while self.docs.len() > self.doc_cache {
            let Some(oldest) = self
                .docs
                .iter()
                .min_by_key(|(_, l)| l.last_used)
                .map(|(v, _)| *v)
            else {
                break;
            };
            self.docs.remove(&oldest);
        }
    }

    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The index, the heads it reflects and the open isolation cases; a
    /// clone answers lookups from other threads while this registry writes.
    pub fn lookups(&self) -> &SharedLookups {
        &self.lookups
    }

    /// Distinct NIKs in the index.
    pub fn niks(&self) -> usize {
        self.lookups.read().index.len()
    }

    /// The verdict for a typed or scanned NIK, from the index alone.
    pub fn lookup(&self, input: &str) -> Verdict {
        self.lookups.read().lookup(input)
    }

    /// Villages that have a document here.
    pub fn villages(&self) -> Vec<VillageCode> {
        let mut v: Vec<_> = self.lookups.read().indexed.keys().copied().collect();
        v.sort_unstable();
        v
    }

    fn doc(&mut self, village: VillageCode) -> Result<&mut Loaded, StoreError> {
        self.clock += 1;
        let now = self.clock;
        if !self.docs.contains_key(&village) {
            if self.docs.len() >= self.doc_cache {
                if let Some(oldest) = self
                    .docs
                    .iter()
                    .min_by_key(|(_, l)| l.last_used)
                    .map(|(v, _)| *v)
                {
                    self.docs.remove(&oldest);
                }
            }
            let loaded = self.load_doc(village)?;
            self.docs.insert(village, loaded);
        }
        let loaded = self.docs.get_mut(&village).ok_or_else(|| StoreError::Io {
            location: String::new(),
            reason: "document cache lost an entry".into(),
        })?;
        loaded.last_used = now;
        Ok(loaded)
    }

    fn load_doc(&self, village: VillageCode) -> Result<Loaded, StoreError> {
        self.readable()?;
        let id = DocId::card(village);
        let Some(mut stored) = self.storage.load(&id)? else {
            return Ok(Loaded {
                doc: VillageDoc::card_genesis(village),
                signed: signed::Signed::default(),
                chunks: 0,
                chunk_bytes: 0,
                last_seq: 0,
                last_used: 0,
            });
        };
        let doc = VillageDoc::load_part(
            crate::doc::Part::Card,
            village,
            stored.snapshot.as_deref(),
            stored.chunks.iter().map(|(_, c)| c.as_slice()),
        )
        .map_err(|e| StoreError::CorruptDoc {
            location: self.storage.location(),
            doc: id.clone(),
            reason: e.to_string(),
        })?;
        let recorded = self.stored_heads(&id)?;
        if sorted(&doc.heads()) != sorted(&recorded) {
            return Err(StoreError::CorruptDoc {
                location: self.storage.location(),
                doc: id,
                reason: "the loaded changes do not reach the recorded heads: chunks are missing"
                    .into(),
            });
        }
        Ok(Loaded {
            signed: signed::Signed::from_stored(std::mem::take(&mut stored.signatures)),
            chunks: stored.chunks.len(),
            chunk_bytes: stored.chunks.iter().map(|(_, c)| c.len()).sum(),
            last_seq: stored.chunks.last().map_or(0, |c| c.0),
            doc,
            last_used: 0,
        })
    }

    /// The full record of a resident from the documents (slow path: not for lookups).
    pub fn get(&mut self, nik: Nik) -> Result<Option<Resident>, StoreError> {
        let villages: Vec<u16> = self
            .lookups
            .read()
            .index
            .all(nik)
            .iter()
            .map(|e| e.village)
            .collect();
        let mut found = None;
        for ordinal in villages {
            let Some(code) = village_by_ordinal(ordinal).map(|v| v.code) else {
                continue;
            };
            let r = self.read(code, nik)?;
            if r.as_ref()
                .is_some_and(|r| r.status.kind() == StatusKind::Active)
                || found.is_none()
            {
                found = r.or(found);
            }
        }
        Ok(found)
    }

    /// The record of `nik` in one village: in full from its details when
    /// this node holds them, else its card.
    pub fn read(&mut self, village: VillageCode, nik: Nik) -> Result<Option<Resident>, StoreError> {
        let location = self.storage.location();
        if let Some(Some(found)) = self
            .with_details(village, |d| d.get(nik))?
            .transpose()
            .map_err(|e| doc_err(&location, village, e))?
        {
            return Ok(Some(found));
        }
        let loaded = self.doc(village)?;
        loaded
            .doc
            .get(nik)
            .map_err(|e| doc_err(&location, village, e))
    }

    /// The records of these NIKs in one village (those it holds), in their
    /// order: in full from its details when this node holds them (read
    /// once for all of them), else their cards.
    pub fn read_many(
        &mut self,
        village: VillageCode,
        niks: &[Nik],
    ) -> Result<Vec<Resident>, StoreError> {
        let location = self.storage.location();
        let whole = self
            .with_details(village, |d| {
                niks.iter()
                    .map(|n| d.get(*n))
                    .collect::<Result<Vec<_>, _>>()
            })?
            .transpose()
            .map_err(|e| doc_err(&location, village, e))?
            .unwrap_or_else(|| vec![None; niks.len()]);
        let mut out = Vec::with_capacity(niks.len());
        for (nik, found) in niks.iter().zip(whole) {
            let record = match found {
                Some(r) => Some(r),
                None => self
                    .doc(village)?
                    .doc
                    .get(*nik)
                    .map_err(|e| doc_err(&location, village, e))?,
            };
            out.extend(record);
        }
        Ok(out)
    }

    /// Every record of one village, in NIK order: in full from its
    /// details when this node holds them, else its cards.
    pub fn residents(&mut self, village: VillageCode) -> Result<Vec<Resident>, StoreError> {
        let location = self.storage.location();
        let Some(whole) =
            self.with_details(village, |d| d.residents().collect::<Result<Vec<_>, _>>())?
        else {
            return self.cards(village);
        };
        let whole = whole.map_err(|e| doc_err(&location, village, e))?;
        // Cards whose details have not arrived (a village node restored
        // from the mesh gets its cards and its details from different
        // peers) are listed as cards, so nobody seems missing meanwhile.
        // The index lists the cards' NIKs: the cards are decoded only then.
        let ordinal = banyuwangi::village(village).map(|v| v.ordinal);
        let all_detailed = ordinal.is_some_and(|o| {
            self.lookups
                .read()
                .index
                .village(o)
                .all(|(nik, _)| whole.binary_search_by_key(&nik, |r| r.nik).is_ok())
        });
        if all_detailed {
            return Ok(whole);
        }
        let cards = self.cards(village)?;
        let mut merged: std::collections::BTreeMap<Nik, Resident> =
            cards.into_iter().map(|c| (c.nik, c)).collect();
        merged.extend(whole.into_iter().map(|r| (r.nik, r)));
        Ok(merged.into_values().collect())
    }

    /// The current heads of a village's cards.
    pub fn heads(&mut self, village: VillageCode) -> Result<Vec<ChangeHash>, StoreError> {
        Ok(self.doc(village)?.doc.heads())
    }

    /// Check records before writing them to `village`: returns, for each
    /// refused record, its position and the reason. Writes nothing.
    pub fn check(&self, village: VillageCode, records: &[Resident]) -> Vec<(usize, Refusal)> {
        let lookups = self.lookups.read();
        let mut refused = Vec::new();
        for (i, r) in records.iter().enumerate() {
            if r.village != village {
                refused.push((
                    i,
                    Refusal::WrongVillage {
                        nik: r.nik,
                        record: r.village,
                        target: village,
                    },
                ));
                continue;
            }
            if let Err(e) = r.validate(self.this_year) {
                refused.push((
                    i,
                    Refusal::Invalid {
                        nik: r.nik,
                        reason: e,
                    },
                ));
                continue;
            }
            let pending;
            let records = match &self.group {
                // Writes of the group commit under way count, though
                // readers do not see them yet: two registrations of one
                // person in one group are refused as in two groups.
                Some(g) if !g.index.is_empty() => {
                    pending = g.entries_of(r.nik, lookups.index.all(r.nik));
                    pending.as_slice()
                }
                _ => lookups.index.all(r.nik),
            };
            let active_in = |here: bool| {
                records.iter().find(move |e| {
                    e.status == StatusKind::Active && (e.village_code() == Some(village)) == here
                })
            };
            // Registered while another village still had the person (across
            // a cut network): that office may go on editing its record until
            // the two offices resolve it; a new double registration is refused.
            let elsewhere = active_in(false).filter(|_| active_in(true).is_none());
            if let (Some(e), StatusKind::Active) = (elsewhere, r.status.kind()) {
                if let Some(v) = village_by_ordinal(e.village) {
                    refused.push((
                        i,
                        Refusal::RegisteredElsewhere {
                            nik: r.nik,
                            village: v.code,
                            name: v.name,
                        },
                    ));
                }
            }
        }
        refused
    }

    /// Write records to one village: to its details whole, to its cards
    /// what a verdict needs ([`Resident::card`]); one Automerge change per
    /// record that differs in each, all made durable by one flush before
    /// this returns. If any record is refused, nothing is written. The
    /// report counts the records (as the details saw them) and gives the
    /// cards' heads.
    pub fn write(
        &mut self,
        village: VillageCode,
        records: &[Resident],
        now_ms: i64,
        progress: &mut dyn FnMut(usize),
    ) -> Result<WriteReport, StoreError> {
        if banyuwangi::village(village).is_none() {
            return Err(StoreError::UnknownVillage(village.to_string()));
        }
        if let Some((_, refusal)) = self.check(village, records).into_iter().next() {
            return Err(StoreError::Refused(refusal));
        }
        self.cards_before_writing(village, now_ms)?;
        let this_year = self.this_year;
        self.in_group(|reg| {
            let report = reg.write_details(village, records, now_ms, progress)?;
            let cards: Vec<Resident> = records.iter().map(|r| r.card(this_year)).collect();
            let card = reg.write_card(village, &cards, now_ms, &mut |_| {})?;
            Ok(WriteReport {
                heads: card.heads,
                ..report
            })
        })
    }

    /// `f` as one group commit: in the group under way, or in one of its
    /// own, committed (one flush) if `f` succeeds and given up if not.
    fn in_group<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.group.is_some() {
            return f(self);
        }
        self.begin_group();
        match f(self) {
            Ok(out) => self.commit_group().map(|()| out),
            Err(e) => {
                self.abandon_group();
                Err(e)
            }
        }
    }

    /// Give up the group commit under way after a write failed: memory
    /// goes back to what storage holds, and nothing of it is shown.
    fn abandon_group(&mut self) {
        if let Some(group) = self.group.take() {
            self.forget_group(group);
        }
    }

    /// Memory back to what storage holds for every document of `group`.
    fn forget_group(&mut self, group: Group) {
        for v in &group.villages {
            self.docs.remove(v);
        }
        self.new_session();
        let mut others = group.others;
        others.sort();
        others.dedup();
        for id in &others {
            self.restore_other(id);
        }
    }

    /// Write cards to one village's card document (checked by the caller).
    fn write_card(
        &mut self,
        village: VillageCode,
        records: &[Resident],
        now_ms: i64,
        progress: &mut dyn FnMut(usize),
    ) -> Result<WriteReport, StoreError> {
        let location = self.storage.location();
        let actor = self.actor.clone();
        let author = self.author.clone();
        let loaded = self.doc(village)?;
        let applied = match apply_records(
            &mut loaded.doc,
            &actor,
            author.as_ref(),
            records,
            now_ms,
            progress,
            true,
        ) {
            Ok(a) => a,
            Err(e) => {
                // The in-memory document may hold changes that were never stored: drop it.
                self.docs.remove(&village);
                return Err(doc_err(&location, village, e));
            }
        };
        let report = applied.report.clone();
        if applied.chunk.is_some() {
            let touched: Vec<&Resident> = applied.touched.iter().map(|&i| &records[i]).collect();
            let sigs = self.sign(&DocId::card(village), &applied.signed_points, now_ms)?;
            // Stored, made durable, and only then visible to readers: a
            // verdict never rests on a write that a crash would lose.
            let stored = self
                .store_applied(village, &applied, &touched, &sigs)
                .and_then(|()| self.make_durable());
            if let Err(e) = stored {
                self.docs.remove(&village);
                self.new_session();
                return Err(e);
            }
            self.index_applied(village, &applied, &touched);
            self.written(village);
        }
        Ok(report)
    }

    /// Start a group commit: the local writes that follow (resident writes,
    /// withdrawals, crossings, cases) are stored but neither flushed nor
    /// shown to readers until [`Registry::commit_group`], which makes them
    /// all durable with one flush. Ten clerks saving at once then wait for
    /// one disk flush, not for ten in a row. Writes from peers are not
    /// grouped (they flush as they come).
    pub fn begin_group(&mut self) {
        if self.group.is_none() {
            self.group = Some(Group::default());
        }
    }

    /// Make the writes since [`Registry::begin_group`] durable with one
    /// flush, then show them to readers. If the flush fails, none of them
    /// is shown, memory goes back to what storage holds, and every write of
    /// the group must be answered with the error.
    pub fn commit_group(&mut self) -> Result<(), StoreError> {
        let Some(group) = self.group.take() else {
            return Ok(());
        };
        if let Err(e) = self.storage.flush() {
            self.forget_group(group);
            return Err(e);
        }
        for update in group.index {
            self.publish(update);
        }
        let mut others = group.others;
        others.sort();
        others.dedup();
        for id in &others {
            self.derive_case(id);
        }
        let mut villages = group.villages;
        villages.sort();
        villages.dedup();
        for v in villages {
            self.maybe_compact(v);
        }
        Ok(())
    }

    /// Flush a local write, or leave it to the group commit under way.
    fn make_durable(&mut self) -> Result<(), StoreError> {
        match self.group {
            Some(_) => Ok(()),
            None => self.storage.flush(),
        }
    }

    /// After a local write of `village` is stored (durable, or in the group
    /// commit under way): compact now, or once the group is durable.
    fn written(&mut self, village: VillageCode) {
        match &mut self.group {
            Some(g) => g.villages.push(village),
            None => self.maybe_compact(village),
        }
    }

    /// Show a durable write to readers, or queue it for the group's flush.
    fn index_durable(&mut self, update: IndexUpdate) {
        match &mut self.group {
            Some(g) => g.index.push(update),
            None => self.publish(update),
        }
    }

    fn publish(&mut self, update: IndexUpdate) {
        let village = update.village;
        let ordinal = banyuwangi::village(village).map_or(0, |v| v.ordinal);
        let mut lookups = self.lookups.write();
        for (nik, entry) in update.entries {
            lookups.index.set(nik, ordinal, entry);
        }
        lookups.set_indexed(village, update.heads);
        drop(lookups);
        self.card_arrived(village);
    }

    /// Withdraw a registration of `village` made in error (see
    /// [`VillageDoc::withdraw`]): one signed change in its details and one
    /// in its cards, durable, then the NIK leaves the index for this
    /// village. Nothing changes (and the report says so) if the village
    /// has no record of `nik`.
    pub fn withdraw(
        &mut self,
        village: VillageCode,
        nik: Nik,
        reason: &str,
        now_ms: i64,
    ) -> Result<WriteReport, StoreError> {
        if banyuwangi::village(village).is_none() {
            return Err(StoreError::UnknownVillage(village.to_string()));
        }
        self.cards_before_writing(village, now_ms)?;
        self.in_group(|reg| {
            let details = reg.withdraw_details(village, nik, reason, now_ms)?;
            let mut report = reg.withdraw_card(village, nik, reason, now_ms)?;
            if details && report.changed == 0 {
                report.changed = 1;
                report.unchanged = 0;
            }
            Ok(report)
        })
    }

    /// Withdraw `nik`'s card from `village`'s cards.
    fn withdraw_card(
        &mut self,
        village: VillageCode,
        nik: Nik,
        reason: &str,
        now_ms: i64,
    ) -> Result<WriteReport, StoreError> {
        let location = self.storage.location();
        let actor = self.actor.clone();
        let author = self.author.clone();
        let loaded = self.doc(village)?;
        let before = loaded.doc.heads();
        let hash = match loaded
            .doc
            .withdraw(&actor, nik, reason, now_ms, author.as_ref())
        {
            Ok(Some(h)) => h,
            Ok(None) => {
                return Ok(WriteReport {
                    unchanged: 1,
                    heads: before,
                    ..WriteReport::default()
                })
            }
            Err(e) => {
                self.docs.remove(&village);
                return Err(doc_err(&location, village, e));
            }
        };
        let applied = Applied {
            report: WriteReport {
                changed: 1,
                heads: loaded.doc.heads(),
                ..WriteReport::default()
            },
            touched: Vec::new(),
            signed_points: vec![hash],
            before: before.clone(),
            chunk: Some(loaded.doc.save_after(&before)),
            snapshot: None,
        };
        let stored = self
            .sign(&DocId::card(village), &applied.signed_points, now_ms)
            .and_then(|sigs| self.store_applied(village, &applied, &[], &sigs))
            .and_then(|()| self.make_durable());
        if let Err(e) = stored {
            self.docs.remove(&village);
            self.new_session();
            return Err(e);
        }
        self.index_durable(IndexUpdate {
            village,
            entries: vec![(nik, None)],
            heads: applied.report.heads.clone(),
        });
        debug!(%village, %nik, "registration withdrawn");
        self.written(village);
        Ok(applied.report)
    }

    /// Bring the index along a village's applied changes (once they are
    /// durable: see [`Registry::write`]).
    fn index_applied(&mut self, village: VillageCode, applied: &Applied, touched: &[&Resident]) {
        self.index_durable(IndexUpdate {
            village,
            entries: touched
                .iter()
                .map(|r| (r.nik, Entry::from_resident(r)))
                .collect(),
            heads: applied.report.heads.clone(),
        });
    }

    /// Append a village's applied changes. Not flushed, not indexed.
    fn store_applied(
        &mut self,
        village: VillageCode,
        applied: &Applied,
        touched: &[&Resident],
        sigs: &[crate::storage::Sig],
    ) -> Result<(), StoreError> {
        let Some(chunk) = &applied.chunk else {
            return Ok(());
        };
        let id = DocId::card(village);
        let heads = heads_to_bytes(&applied.report.heads);
        let (seq, chunk_bytes) = match &applied.snapshot {
            Some(snapshot) => {
                self.storage.replace(&id, snapshot, &heads, sigs)?;
                self.rewritten(&id);
                debug!(%village, bytes = snapshot.len(), records = touched.len(), "write stored as a snapshot");
                (None, 0)
            }
            None => {
                let seq = self.storage.append(&id, chunk, &heads, sigs)?;
                debug!(%village, bytes = chunk.len(), records = touched.len(), "write stored");
                (Some(seq), chunk.len())
            }
        };
        if let Some(l) = self.docs.get_mut(&village) {
            l.signed.add(sigs);
            match seq {
                Some(seq) => {
                    l.chunks += 1;
                    l.chunk_bytes += chunk_bytes;
                    l.last_seq = seq;
                }
                None => {
                    l.chunks = 0;
                    l.chunk_bytes = 0;
                }
            }
        }
        Ok(())
    }

    /// Compact after many chunks, or after a write so large (an import) that
    /// its change-by-change chunk is far bigger than the compressed document.
    /// Called after a write is durable: a compaction that fails (atomic: the
    /// chunks stay) does not make that write's answer an error; it is tried
    /// again after the next write. With a compactor thread, the document is
    /// handed to it and this returns at once.
    fn maybe_compact(&mut self, village: VillageCode) {
        self.finish_compactions(std::time::Duration::ZERO);
        let Some(through) = self.docs.get(&village).and_then(|l| {
            (l.chunks >= COMPACT_AFTER_CHUNKS || l.chunk_bytes >= self.compact_after_bytes)
                .then_some(l.last_seq)
        }) else {
            return;
        };
        if let Some(c) = self.compactor.as_mut().filter(|c| c.running()) {
            c.submit(&DocId::card(village), through);
            return;
        }
        if let Err(e) = self.compact(village) {
            warn!(%village, error = %e, "compaction failed; the write is stored, compaction is tried again later");
        }
    }

    /// Compact documents on a thread of their own from now on: a write
    /// that makes a document due no longer waits for it to be saved whole,
    /// nor do the writes queued behind it (see `registry/compactor.rs`).
    /// That thread calls `wake` when a result is ready; the registry's
    /// owner then applies it ([`Registry::finish_compactions`]).
    pub fn compact_in_background(
        &mut self,
        wake: impl Fn() + Send + 'static,
    ) -> Result<(), StoreError> {
        if self.compactor.is_none() {
            self.compactor = Some(compactor::Compactor::start(
                Arc::clone(&self.storage),
                Box::new(wake),
            )?);
        }
        Ok(())
    }

    /// Compact a document once its chunks reach `bytes` (a test makes
    /// compactions happen after a few writes).
    #[doc(hidden)]
    pub fn compact_after_bytes(&mut self, bytes: usize) {
        self.compact_after_bytes = bytes;
    }

    /// Is a background compaction under way (its result not applied yet)?
    pub fn compacting(&self) -> bool {
        self.compactor
            .as_ref()
            .is_some_and(compactor::Compactor::any)
    }

    /// Apply the background compactions that finished, waiting at most
    /// `wait` for one: each replaces its document's snapshot and drops the
    /// chunks it covers. The number applied.
    pub fn finish_compactions(&mut self, wait: std::time::Duration) -> usize {
        let done = match &mut self.compactor {
            Some(c) => c.finished(wait),
            None => return 0,
        };
        let mut applied = 0;
        for d in done {
            let staged = match d.snapshot {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(e) => {
                    warn!(doc = %d.doc, error = %e, "background compaction failed; the chunks stay and it is tried again later");
                    continue;
                }
            };
            if d.stale {
                self.storage.discard_staged(staged);
                continue;
            }
            let len = staged.len;
            if let Err(e) = self.storage.compact_staged(&d.doc, staged, d.through) {
                warn!(doc = %d.doc, error = %e, "cannot store a compacted snapshot; the chunks stay");
                continue;
            }
            self.rewritten(&d.doc);
            applied += 1;
            debug!(doc = %d.doc, bytes = len, chunks = d.chunks, "compacted in the background");
            if let Some(v) = d.doc.as_card() {
                if let Some(l) = self.docs.get_mut(&v) {
                    l.chunks = l.chunks.saturating_sub(d.chunks);
                    l.chunk_bytes = l.chunk_bytes.saturating_sub(d.chunk_bytes);
                }
                if let Err(e) = self.persist_index(&[v]) {
                    warn!(village = %v, error = %e, "cannot persist the index after a compaction; it is caught up at the next open");
                }
            } else {
                self.compacted_other(&d.doc, d.chunks, d.chunk_bytes, len);
            }
        }
        applied
    }

    /// `doc`'s snapshot was rewritten or removed on this thread: a
    /// background compaction of it under way must not be applied.
    fn rewritten(&mut self, doc: &DocId) {
        if let Some(c) = &mut self.compactor {
            c.rewritten(doc);
        }
    }

    /// Write many villages at once (a regency-wide import), building their
    /// Automerge changes on `threads` threads. Each village is checked and
    /// written as [`Registry::write`] would; everything is durable when this
    /// returns. A refused village stops the run; villages written before it stay.
    pub fn write_many(
        &mut self,
        batches: impl Iterator<Item = (VillageCode, Vec<Resident>)>,
        threads: usize,
        now_ms: i64,
        progress: &mut dyn FnMut(VillageCode, &WriteReport),
    ) -> Result<(), StoreError> {
        use std::sync::mpsc::sync_channel;
        use std::sync::Mutex;
        let threads = threads.max(1);
        let actor = self.actor.clone();
        let location = self.storage.location();
        let mut batches = batches.peekable();
        // Each village is two jobs: its details (whole records, saved by
        // the details' own store path) and its cards.
        type Job = (Part, VillageDoc, Vec<Resident>);
        let (work_tx, work_rx) = sync_channel::<Job>(threads * 2);
        let (done_tx, done_rx) = sync_channel::<(
            Part,
            VillageDoc,
            Vec<Resident>,
            Result<Applied, crate::doc::DocError>,
        )>(threads * 2);
        let this_year = self.this_year;
        let work_rx = Mutex::new(work_rx);
        std::thread::scope(|s| -> Result<(), StoreError> {
            for _ in 0..threads {
                let done_tx = done_tx.clone();
                let work_rx = &work_rx;
                let actor = &actor;
                s.spawn(move || loop {
                    let job = work_rx
                        .lock()
                        .map_err(|_| ())
                        .and_then(|rx| rx.recv().map_err(|_| ()));
                    let Ok((part, mut doc, records)) = job else {
                        return;
                    };
                    let save = part == Part::Card;
                    let applied =
                        apply_records(&mut doc, actor, None, &records, now_ms, &mut |_| {}, save);
                    if done_tx.send((part, doc, records, applied)).is_err() {
                        return;
                    }
                });
            }
            drop(done_tx);
            let mut claimed: hashbrown::HashMap<u64, VillageCode> = hashbrown::HashMap::new();
            // Details out with a worker, their bookkeeping kept here.
            let mut taken: HashMap<VillageCode, others::Other> = HashMap::new();
            let mut in_flight = 0usize;
            let result = (|| loop {
                while in_flight < threads * 2 {
                    let Some((village, records)) = batches.next() else {
                        break;
                    };
                    if banyuwangi::village(village).is_none() {
                        return Err(StoreError::UnknownVillage(village.to_string()));
                    }
                    if let Some((_, refusal)) = self.check(village, &records).into_iter().next() {
                        return Err(StoreError::Refused(refusal));
                    }
                    for r in records
                        .iter()
                        .filter(|r| r.status.kind() == StatusKind::Active)
                    {
                        if let Some(other) = claimed
                            .insert(r.nik.as_u64(), village)
                            .filter(|o| *o != village)
                        {
                            let name = banyuwangi::village(other).map_or("", |v| v.name);
                            return Err(StoreError::Refused(Refusal::RegisteredElsewhere {
                                nik: r.nik,
                                village: other,
                                name,
                            }));
                        }
                    }
                    let doc = match self.docs.remove(&village) {
                        Some(l) => l.doc,
                        None => self.load_doc(village)?.doc,
                    };
                    self.cards_before_writing(village, now_ms)?;
                    let (details, kept) = self.take_details(village)?;
                    taken.insert(village, kept);
                    let cards = records.iter().map(|r| r.card(this_year)).collect();
                    if work_tx.send((Part::Details, details, records)).is_err()
                        || work_tx.send((Part::Card, doc, cards)).is_err()
                    {
                        break;
                    }
                    in_flight += 2;
                }
                if in_flight == 0 {
                    break Ok(());
                }
                let Ok((part, doc, records, applied)) = done_rx.recv() else {
                    break Ok(());
                };
                in_flight -= 1;
                let village = doc.village();
                if part == Part::Details {
                    let kept = taken.remove(&village).unwrap_or_default();
                    let report = self.put_details(village, doc, kept, applied, now_ms)?;
                    progress(village, &report);
                    continue;
                }
                let applied = applied.map_err(|e| doc_err(&location, village, e))?;
                let touched: Vec<&Resident> =
                    applied.touched.iter().map(|&i| &records[i]).collect();
                let sigs = self.sign(&DocId::card(village), &applied.signed_points, now_ms)?;
                self.store_applied(village, &applied, &touched, &sigs)?;
                // A regency import is one operation, flushed at its end
                // (by the checkpoint below) and read by nobody before.
                self.index_applied(village, &applied, &touched);
            })();
            drop(work_tx);
            // Drain so the workers can finish.
            while done_rx.recv().is_ok() {}
            result
        })?;
        self.checkpoint()
    }

    /// Replace a village's chunks by one snapshot, and persist its index.
    pub fn compact(&mut self, village: VillageCode) -> Result<(), StoreError> {
        let loaded = self.doc(village)?;
        let snapshot = loaded.doc.save();
        let through = loaded.last_seq;
        let id = DocId::card(village);
        self.storage.compact(&id, &snapshot, through)?;
        self.rewritten(&id);
        if let Some(l) = self.docs.get_mut(&village) {
            l.chunks = 0;
            l.chunk_bytes = 0;
        }
        debug!(%village, bytes = snapshot.len(), "compacted");
        self.persist_index(&[village])?;
        self.storage.flush()
    }

    /// Whether the storage failed and must be recovered before it is
    /// trusted again (see [`Storage::needs_recovery`]).
    pub fn storage_needs_recovery(&self) -> bool {
        self.storage.needs_recovery()
    }

    /// After a storage failure (a full disk): reopen the storage from what
    /// is durable and read documents again from it, so that a write that
    /// failed is not served, and writing works again once it can. The
    /// index is untouched: it only ever follows durable writes.
    pub fn recover_storage(&mut self) -> Result<(), StoreError> {
        if let Some(c) = &mut self.compactor {
            c.invalidate_all();
        }
        self.storage.recover()?;
        self.new_session();
        self.docs.clear();
        self.others.clear();
        self.cold.clear();
        self.crossing_states.clear();
        self.load_others()?;
        info!(location = %self.storage.location(), "storage reopened after a failure");
        Ok(())
    }

    /// Bring the index of `village` up to its document, from the document's own diff.
    fn catch_up_index(&mut self, village: VillageCode) -> Result<(), StoreError> {
        let location = self.storage.location();
        let since = self
            .lookups
            .read()
            .indexed
            .get(&village)
            .cloned()
            .unwrap_or_default();
        let loaded = self.doc(village)?;
        let doc = loaded.doc.automerge();
        if since
            .iter()
            .any(|h| doc.get_change_meta_by_hash(h).is_none())
        {
            return Err(StoreError::CorruptIndex {
                location,
                doc: DocId::card(village),
                reason: "it reflects changes the document does not have".into(),
            });
        }
        let heads = loaded.doc.heads();
        let ordinal = banyuwangi::village(village).map_or(0, |v| v.ordinal);
        let genesis = VillageDoc::card_genesis(village).heads();
        let mut updates = Vec::new();
        let from_nothing = since.is_empty() || since == genesis;
        if from_nothing {
            // From nothing: reading every record is faster than a full diff.
            for r in loaded.doc.residents() {
                let r = r.map_err(|e| doc_err(&location, village, e))?;
                updates.push((r.nik, Entry::from_resident(&r)));
            }
        } else {
            let touched = loaded
                .doc
                .touched_since(&since)
                .map_err(|e| doc_err(&location, village, e))?;
            for nik in touched {
                let r = loaded
                    .doc
                    .get(nik)
                    .map_err(|e| doc_err(&location, village, e))?;
                updates.push((nik, r.as_ref().and_then(Entry::from_resident)));
            }
        }
        debug!(%village, records = updates.len(), "index caught up");
        let mut lookups = self.lookups.write();
        if from_nothing {
            lookups.index.clear_village(ordinal);
        }
        for (nik, entry) in updates {
            lookups.index.set(nik, ordinal, entry);
        }
        lookups.set_indexed(village, heads);
        Ok(())
    }

    /// Persist the index of the given villages (those that changed since last time).
    fn persist_index(&mut self, villages: &[VillageCode]) -> Result<(), StoreError> {
        let lookups = self.lookups.read();
        let dirty: Vec<VillageCode> = villages
            .iter()
            .copied()
            .filter(|v| lookups.indexed.get(v) != self.persisted.get(v))
            .collect();
        if dirty.is_empty() {
            return Ok(());
        }
        let ordinals: Vec<u16> = dirty
            .iter()
            .filter_map(|v| banyuwangi::village(*v))
            .map(|v| v.ordinal)
            .collect();
        let mut grouped = lookups.index.by_village(&ordinals);
        let heads: Vec<_> = dirty
            .iter()
            .map(|v| lookups.indexed.get(v).cloned().unwrap_or_default())
            .collect();
        drop(lookups);
        for (village, heads) in dirty.into_iter().zip(heads) {
            let ordinal = banyuwangi::village(village).map_or(0, |v| v.ordinal);
            let entries = grouped.remove(&ordinal).unwrap_or_default();
            self.storage
                .put_index(&DocId::card(village), &index::encode(&heads, entries))?;
            self.persisted.insert(village, heads);
        }
        Ok(())
    }

    /// Persist the whole index and flush: call before a clean shutdown, and
    /// after a large import, so the next open needs no catch-up.
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        let all = self.villages();
        self.persist_index(&all)?;
        self.storage.flush()
    }

    /// Rebuild the whole index from the documents (slow: reads every record).
    pub fn rebuild_index(&mut self) -> Result<(), StoreError> {
        let villages = self.villages();
        {
            let mut lookups = self.lookups.write();
            lookups.index = Index::new();
            for v in &villages {
                lookups.set_indexed(*v, Vec::new());
            }
        }
        for v in villages {
            self.catch_up_index(v)?;
        }
        self.persisted.clear();
        self.checkpoint()
    }

    /// Compare the index with a full scan of the documents; returns the
    /// differences as human-readable lines (empty when they agree).
    pub fn verify_index(&mut self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let villages = self.villages();
        let mut seen: BTreeSet<(u64, u16)> = BTreeSet::new();
        for v in villages {
            let ordinal = banyuwangi::village(v).map_or(0, |x| x.ordinal);
            for r in self.cards(v)? {
                seen.insert((r.nik.as_u64(), ordinal));
                let expected = Entry::from_resident(&r);
                let actual = self
                    .lookups
                    .read()
                    .index
                    .all(r.nik)
                    .iter()
                    .find(|e| e.village == ordinal)
                    .cloned();
                if actual != expected {
                    problems.push(format!(
                        "{} in {v}: index has {actual:?}, document has {expected:?}",
                        r.nik
                    ));
                }
            }
        }
        // Villages answered from their details until their cards arrive
        // are not compared: their index is what was persisted for them.
        let ordinals: Vec<u16> = banyuwangi::villages()
            .iter()
            .filter(|v| !self.legacy.contains(&v.code))
            .map(|v| v.ordinal)
            .collect();
        let grouped = self.lookups.read().index.by_village(&ordinals);
        for (ordinal, entries) in grouped {
            for (nik, _) in entries {
                if !seen.contains(&(nik, ordinal)) {
                    problems.push(format!(
                        "{nik:016}: in the index for village #{ordinal}, but in no document"
                    ));
                }
            }
        }
        Ok(problems)
    }
}

/// Changes made to a document in memory, ready to store.
#[derive(Debug)]
struct Applied {
    report: WriteReport,
    /// Positions of the records that changed.
    touched: Vec<usize>,
    /// The changes the write's signatures sign: our newest, and one every
    /// [`SIGN_EVERY`] changes before it, so a peer can take a large write in
    /// pages and check each page.
    signed_points: Vec<ChangeHash>,
    /// The document's heads before.
    before: Vec<ChangeHash>,
    /// The new changes, compressed; `None` if nothing changed.
    chunk: Option<Vec<u8>>,
    /// The whole document, when the new changes are large enough that storing
    /// it compressed beats storing them (made where the write was built).
    snapshot: Option<Vec<u8>>,
}

/// One change per record that differs; the caller stores the result.
fn apply_records(
    doc: &mut VillageDoc,
    actor: &ActorId,
    author: Option<&kampung_core::Author>,
    records: &[Resident],
    now_ms: i64,
    progress: &mut dyn FnMut(usize),
    save: bool,
) -> Result<Applied, crate::doc::DocError> {
    use crate::doc::Upsert;
    let before = doc.heads();
    let mut report = WriteReport::default();
    let mut touched = Vec::new();
    let mut last = None;
    let mut signed_points = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let made = match doc.upsert_by(actor, r, now_ms, author)? {
            Upsert::Added(h) => {
                report.added += 1;
                h
            }
            Upsert::Changed(h) => {
                report.changed += 1;
                h
            }
            Upsert::Unchanged => {
                report.unchanged += 1;
                continue;
            }
        };
        touched.push(i);
        if touched.len() % SIGN_EVERY == 0 {
            signed_points.push(made);
        }
        last = Some(made);
        if i % 256 == 255 {
            progress(i + 1);
        }
    }
    progress(records.len());
    report.heads = doc.heads();
    // Without `save`, the caller saves (a details document: see
    // `registry/others.rs`); `chunk` then only says whether anything changed.
    let chunk = (report.heads != before).then(|| match save {
        true => doc.save_after(&before),
        false => Vec::new(),
    });
    let snapshot = chunk
        .as_ref()
        .filter(|c| c.len() >= COMPACT_AFTER_BYTES)
        .map(|_| doc.save());
    if let Some(last) = last.filter(|l| signed_points.last() != Some(l)) {
        signed_points.push(last);
    }
    Ok(Applied {
        report,
        touched,
        signed_points,
        before,
        chunk,
        snapshot,
    })
}

fn sorted(h: &[ChangeHash]) -> Vec<ChangeHash> {
    let mut v = h.to_vec();
    v.sort_unstable();
    v
}

fn doc_err(location: &str, village: VillageCode, e: crate::doc::DocError) -> StoreError {
    StoreError::CorruptDoc {
        location: location.to_string(),
        doc: DocId::card(village),
        reason: e.to_string(),
    }
}

mod compactor;
mod details;
mod history;
mod others;
mod replay;
mod retention;
mod signed;
pub use history::CheckedChange;
pub use others::{CaseUpdate, RecordError};
pub use replay::{Mismatch, ReplayProblem, ReplayQuery, ReplayReport};
pub use retention::{Expired, Keep};
mod replica;
pub(crate) use replica::{as_refs, meta_refs};
pub use replica::{
    document_changes, prepare_document, AcceptAll, ChangeVerifier, ChangesPage, PreparedDocument,
    RemoteApplied, RemoteRefusal, SignatureDenied,
};

#[cfg(test)]
mod cold_tests;
#[cfg(test)]
mod details_tests;
#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod trust_tests;
