//! Domain types and rules of the Banyuwangi village mesh.
//!
//! This crate does no IO: it parses and validates NIKs, knows the real
//! administrative codes of Indonesia and of Banyuwangi (embedded at build time
//! from `data/`, see `data/SOURCE.md`), describes a resident record and the
//! verdict a node gives about a NIK. It also holds the few types every other
//! crate shares: a node's [`Role`], a document's [`DocId`] and the [`Clock`]
//! a node is handed (the rules here never read a clock themselves).
//!
//! ```
//! use kampung_core::nik::Nik;
//!
//! // A woman (day 12 + 40) born 1985-03-12, issued in Banyuwangi, district Glagah (35.10.15).
//! let parsed = Nik::parse("3510155203850001", 2026).unwrap();
//! assert_eq!(parsed.sex(), kampung_core::Sex::Female);
//! assert_eq!(parsed.birth_date().to_string(), "1985-03-12");
//! assert_eq!(parsed.issued_in().regency_name, "Kabupaten Banyuwangi");
//! assert!(parsed.warnings().is_empty());
//!
//! let err = Nik::parse("3510150203850000", 2026).unwrap_err();
//! assert_eq!(err.to_string(), "serial number 0000 is not issued (the last 4 digits start at 0001)");
//! ```

pub mod banyuwangi;
pub mod checkpoint;
pub mod clock;
pub mod doc_id;
pub mod holders;
pub mod month;
pub mod nik;
pub mod policy;
pub mod region;
pub mod resident;
pub mod role;
pub mod scope;
pub mod verdict;

pub use banyuwangi::{District, Village, VillageCode, VillageKind};
pub use checkpoint::{CheckVerdict, OpenCase, Place, Pledge};
pub use clock::{Clock, ManualClock, SharedClock, SkewedClock, SystemClock};
pub use doc_id::{DocId, DocKind};
pub use holders::{HolderError, HolderRule};
pub use month::LogMonth;
pub use nik::{Nik, NikError, NikWarning, ParsedNik};
pub use policy::{Policy, Region, Retention};
pub use resident::{Address, Resident, Sex, Status};
pub use role::{Author, Role, RoleKind};
pub use scope::ReadScope;
pub use verdict::Verdict;
