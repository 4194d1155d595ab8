//! The node library: one home for every workflow of a kampung node.
//!
//! [`start`] assembles a node (the store task, the trust roster and its
//! verifier, the mesh) and returns a [`Running`] node; [`Node`] is a cheap,
//! cloneable handle with one method per workflow:
//!
//! | workflow | method |
//! |---|---|
//! | the verdict on a KTP (one answer for every front door) | [`Node::verdict`] |
//! | register or correct residents, import a file | [`Node::write_residents`], [`Node::check_residents`] |
//! | register one, correct one, move out, mark deceased | [`Node::register`], [`Node::correct`], [`Node::move_out`], [`Node::mark_deceased`] |
//! | read residents (index-backed search and paging) | [`Node::resident`], [`Node::residents_page`] |
//! | log a check at a border post, with the case it opens | [`Node::log_crossing`], [`Node::crossings_page`] |
//! | isolation cases: open, place, pick-up, follow-up, note, release | [`Node::open_case`], [`Node::update_case`], [`Node::case`], [`Node::cases`], [`Node::follow_ups_due`] |
//! | root-signed statements | [`Node::add_statement`] |
//! | the node and the mesh | [`Node::status`], [`Node::peers`], [`Node::refresh_metrics`] |
//! | a document out as its raw Automerge file, and such a file checked | [`Node::document_bytes`], [`Node::check_document_file`] |
//!
//! Each method does the whole workflow in one place: checks, the write,
//! durability, the announcement to the mesh and the metrics. Every method
//! takes the [`Actor`] doing it. The CLI (on the store directly with
//! [`open_offline`], or through a running node's API), the HTTP API, the
//! pages, the tests and the benchmarks all call these methods; they only
//! translate between their own form of input and these calls.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use kampung_core::{Role, VillageCode};
//! use kampung_node::{Actor, Parts};
//!
//! let village = VillageCode::parse("35.10.15.2012").unwrap();
//! let running = kampung_node::start(Parts::in_memory(Role::Village { village }).offline())
//!     .await
//!     .unwrap();
//! let node = running.node().clone();
//! let people = kampung_gen::village_residents(village, 3, 7);
//! let written = node.write_residents(&Actor::local(), people.clone(), &Default::default(), None).await.unwrap();
//! assert_eq!(written.report.added, 3);
//! let answer = node.verdict(&Actor::local(), &people[0].nik.to_string()).unwrap();
//! assert_eq!(answer.freshness.as_ref().map(|f| f.own_document), Some(true));
//! running.stop().await.unwrap();
//! # });
//! ```

mod access;
mod actor;
mod audit;
pub mod backup;
mod cases;
mod checkpoint;
mod clock;
mod documents;
mod error;
mod health;
mod heard;
mod history;
pub mod metrics;
pub mod people;
pub mod process;
mod replay;
mod residents;
pub mod retention;
mod start;
mod status;
mod trust;
mod verdict;

use std::sync::Arc;

use kampung_core::{Policy, Role, SharedClock};
use kampung_mesh::Client as MeshClient;
use kampung_runtime::StoreHandle;
use kampung_store::trust::SharedRoster;

pub use access::{Access, AccessEntry, AccessLimits, AccessLog, AccessQuery};
pub use actor::{Actor, Author, Permission, PersonRole};
pub use audit::{
    CertificateView, Checkpoint, CrossingSearch, FoundCrossing, PersonHistory, MAX_CROSSINGS_PAGE,
};
pub use cases::{CaseChange, NewCase};
pub use checkpoint::{crossing_explanation, CrossingInput, CrossingsPage, LoggedCrossing};
pub use clock::{ClockCheck, ClockProblem, MAX_SIGNING_OFFSET_MS};
pub use documents::{document_file_name, parse_document_id};
pub use error::{ErrorCode, NodeError, RefusalCode};
pub use health::{HealthConfig, HealthProblem};
pub use history::{
    CaseEvent, RecordEvent, RecordEventKind, RecordTimeline, TimelineCrossing, VillageAsOf,
    VillageChanges,
};

/// This node's version, the commit it was built from and that commit's
/// date: `0.1.0 (1a2b3c4d5e6f 2026-12-02)`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("KAMPUNG_COMMIT"),
    " ",
    env!("KAMPUNG_COMMIT_DATE"),
    ")"
);
pub use metrics::Metrics;
pub use people::People;
pub use residents::{
    field_changes, field_changes_in, field_changes_of_in, guard, ChangedRecord, Confirmed,
    Correction, FieldChange, ImportPreview, RecordChange, RecordRefusal, RecordWritten,
    ResidentPage, ResidentQuery, Written,
};
pub use start::{
    open_offline, start, start_with_config, Parts, Running, StartError, Trust, SESSION_IDLE_MS,
};
pub use status::{DocumentStatus, NodeStatus, Peers};
pub use trust::StatementAdded;
pub use verdict::{Answer, Freshness};

/// A running node, as every front door sees it. Cheap to clone (one
/// reference count).
#[derive(Debug, Clone)]
pub struct Node(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    store: StoreHandle,
    /// `None` for a node opened offline (the CLI on a stopped node).
    mesh: Option<MeshClient>,
    role: Role,
    peer_id: String,
    /// The century pivot of NIK birth years: the year the node started in.
    this_year: i32,
    roster: Option<SharedRoster>,
    clock: SharedClock,
    metrics: Metrics,
    people: People,
    access: AccessLog,
    health: HealthConfig,
    /// The node-local tables a backup keeps, by name.
    local_tables: Vec<(&'static str, kampung_store::local::LocalTable)>,
}

impl Node {
    /// What this node is.
    pub fn role(&self) -> &Role {
        &self.0.role
    }

    /// This node's libp2p peer id (base58 text): its key, its Automerge
    /// actor, the name of its crossing log.
    pub fn peer_id(&self) -> &str {
        &self.0.peer_id
    }

    /// What the health checks look at.
    pub fn health_config(&self) -> &HealthConfig {
        &self.0.health
    }

    /// The time every workflow uses.
    pub fn clock(&self) -> &SharedClock {
        &self.0.clock
    }

    /// Unix milliseconds now, by the node's clock.
    pub fn now_ms(&self) -> i64 {
        self.0.clock.now_ms()
    }

    /// The century pivot of NIK birth years.
    pub fn this_year(&self) -> i32 {
        self.0.this_year
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// This node's people: accounts, sessions, tokens.
    pub fn people(&self) -> &People {
        &self.0.people
    }

    /// Who looked up whose data (see [`Node::read_access_log`]).
    pub(crate) fn access_log(&self) -> &AccessLog {
        &self.0.access
    }

    /// The store task (for replication and tools; workflows are methods here).
    pub fn store(&self) -> &StoreHandle {
        &self.0.store
    }

    /// The mesh, unless this node was opened offline.
    pub fn mesh(&self) -> Option<&MeshClient> {
        self.0.mesh.as_ref()
    }

    /// The root-signed statements this node verified, if a root is configured.
    pub fn roster(&self) -> Option<&SharedRoster> {
        self.0.roster.as_ref()
    }

    /// The checkpoint policy in force: the newest the root signed, or the
    /// default without a root.
    pub fn policy(&self) -> Policy {
        match &self.0.roster {
            Some(r) => r
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .policy(),
            None => Policy::default(),
        }
    }

    /// What this node may hold: its certificate's scope under the policy
    /// in force; without a root, everything.
    pub fn read_scope(&self) -> kampung_core::ReadScope {
        own_scope(self.role(), self.0.roster.as_ref())
    }

    /// Hand a durable write's announcements to the mesh, so peers get it at
    /// once; offline or with the mesh stopped, anti-entropy and the owner's
    /// announcement at the next start spread it later.
    async fn announce(&self, announcements: impl IntoIterator<Item = kampung_sync::Announce>) {
        let Some(mesh) = &self.0.mesh else {
            return;
        };
        for a in announcements {
            if mesh.announce(a).await.is_err() {
                tracing::warn!("mesh stopped: the write is stored and will spread by anti-entropy");
                return;
            }
        }
    }
}

/// What a node of `role` may hold ([`kampung_core::ReadScope`]): with a
/// root, its certified role's scope under the holder rule of the policy in
/// force; without one, everything.
pub(crate) fn own_scope(role: &Role, roster: Option<&SharedRoster>) -> kampung_core::ReadScope {
    match roster {
        Some(r) => {
            let holders = r
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .holders();
            kampung_core::ReadScope::of_node(role.kind(), role.village(), &holders)
        }
        None => kampung_core::ReadScope::Everything,
    }
}
