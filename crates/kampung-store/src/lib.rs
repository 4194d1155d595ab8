//! Village documents in sled, and the derived index that answers lookups.
//!
//! - [`doc::VillageDoc`]: one village's residents as an Automerge document,
//!   one change per record edit.
//! - [`storage::Storage`]: snapshot + incremental chunks per document, with a
//!   sled implementation ([`storage::sled_storage::SledStorage`]) and an
//!   in-memory one ([`storage::MemoryStorage`]).
//! - [`index::Index`]: NIK -> (village, status, name, ...), kept in step with
//!   every write and rebuildable from the documents.
//! - [`Registry`]: the single owner of all three.
//!
//! ```
//! use kampung_store::{Registry, storage::MemoryStorage};
//! use kampung_core::VillageCode;
//!
//! let mut reg = Registry::open(MemoryStorage::new(), automerge::ActorId::from(vec![1u8; 32]), 2026).unwrap();
//! let village = VillageCode::parse("35.10.15.2012").unwrap();
//! let people = kampung_gen::village_residents(village, 10, 7);
//! let report = reg.write(village, &people, 0, &mut |_| {}).unwrap();
//! assert_eq!(report.added, 10);
//! assert_eq!(reg.lookup(&people[0].nik.to_string()).kind(),
//!            if people[0].status == kampung_core::Status::Active { "resident" } else { people[0].status.kind().as_str() });
//! ```

pub mod audit;
pub mod case;
pub mod crossing;
pub mod doc;
mod fields;
pub mod index;
pub mod local;
pub mod lookups;
pub mod registry;
pub mod storage;
pub mod trust;

pub use registry::{
    document_changes, prepare_document, AcceptAll, CaseUpdate, ChangeVerifier, ChangesPage,
    CheckedChange, Expired, Keep, Mismatch, PreparedDocument, RecordError, Refusal, Registry,
    RemoteApplied, RemoteRefusal, ReplayProblem, ReplayQuery, ReplayReport, SignatureDenied,
    WriteReport,
};
pub use storage::{DocId, DocKind, Storage};

/// Errors of the store. Each names where (the data directory and document)
/// and, where there is one, what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot open the data store at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("data store {location}: {reason}")]
    Io { location: String, reason: String },
    #[error("data store {location}, document {doc} is damaged: {reason}. Restore the data directory from a backup, or let the mesh re-send this document")]
    CorruptDoc {
        location: String,
        doc: DocId,
        reason: String,
    },
    #[error("data store {location}, index of {doc} is damaged: {reason}. Run `kampung index rebuild` to rebuild it from the documents")]
    CorruptIndex {
        location: String,
        doc: DocId,
        reason: String,
    },
    #[error("data store {location}: the database did not close after a failed write (a full disk?), so it cannot be opened again in this process; the node restarts itself once the disk has space")]
    Stuck { location: String },
    #[error("data store {location}: the disk has space again, but the database that failed is still held by this process: restart the process to open it")]
    RestartNeeded { location: String },
    #[error("the data store at {path} was written by an earlier kampung (store layout 1, {documents} document(s)) and is not opened as it is: stop the node and run `kampung migrate` (it writes a backup of the data directory first, then moves the store and counts every village's residents before and after)")]
    EarlierLayout { path: String, documents: usize },
    #[error("{0} is not one of Banyuwangi's villages")]
    UnknownVillage(String),
    #[error("refused: {0}")]
    Refused(Refusal),
}
