//! The node and the mesh as an operator sees them: documents with their
//! heads and freshness, peers, and the metrics read at scrape time.

use kampung_core::{DocId, Role, VillageCode};
use kampung_mesh::{MeshStatus, PeerInfo, RefusedPeer};

use crate::actor::Permission;
use crate::error::NodeError;
use crate::{Actor, Node};

/// One document this node holds.
#[derive(Debug, Clone)]
pub struct DocumentStatus {
    pub doc: DocId,
    /// The document's heads (hex change hashes).
    pub heads: Vec<String>,
    /// This node writes the document.
    pub own_document: bool,
    /// Seconds since we last heard from the document's owner; 0 for our own; `None` if never.
    pub owner_last_heard_secs: Option<f64>,
}

/// The node's status.
#[derive(Debug, Clone)]
pub struct NodeStatus {
    pub peer_id: String,
    /// [`kampung_core::Role::tag`].
    pub role: String,
    /// Distinct NIKs in the index.
    pub niks: usize,
    pub documents: Vec<DocumentStatus>,
    /// The mesh, unless the node runs offline.
    pub mesh: Option<MeshStatus>,
    /// No root key: the node accepts any change from any peer (loopback only).
    pub development: bool,
    /// This node's clock against its peers' (it signs nothing while off).
    pub clock: crate::ClockCheck,
    /// NIKs active in more than one village, in the whole registry (which
    /// ones: the village offices' pages, `Node::double_registrations`).
    pub double_registrations: usize,
    /// A village node's: the villages keeping a copy of its details under
    /// the policy in force (empty for other roles, and without a root).
    pub details_kept_by: Vec<VillageCode>,
    /// A village node's: the villages whose details it keeps a copy of.
    pub keeps_details_of: Vec<VillageCode>,
}

/// The node's peers.
#[derive(Debug, Clone)]
pub struct Peers {
    pub peer_id: String,
    /// Addresses the mesh listens on (multiaddrs).
    pub listen: Vec<String>,
    pub peers: Vec<PeerInfo>,
    /// Peers refused lately, newest first, with the reason.
    pub refused: Vec<RefusedPeer>,
}

impl Node {
    async fn mesh_status(&self) -> Result<Option<MeshStatus>, NodeError> {
        match self.mesh() {
            Some(m) => Ok(Some(m.status().await.map_err(|_| NodeError::stopped())?)),
            None => Ok(None),
        }
    }

    /// Documents with their heads and freshness, the index size and the mesh.
    pub async fn status(&self, by: &Actor) -> Result<NodeStatus, NodeError> {
        by.require(Permission::ReadNode, "read the node's status")?;
        let mesh = self.mesh_status().await?;
        let heads = self.store().doc_heads().await?;
        let niks = self.store().niks().await?;
        let documents = heads
            .into_iter()
            .map(|(doc, h)| {
                let f = self.freshness(doc);
                DocumentStatus {
                    heads: h.iter().map(ToString::to_string).collect(),
                    own_document: f.own_document,
                    owner_last_heard_secs: f.owner_last_heard_secs,
                    doc: f.doc,
                }
            })
            .collect();
        let (details_kept_by, keeps_details_of) = self.detail_copies();
        Ok(NodeStatus {
            peer_id: self.peer_id().to_string(),
            role: self.role().tag(),
            niks,
            documents,
            mesh,
            development: self.roster().is_none(),
            clock: self.clock_check(),
            double_registrations: self.store().lookups().read().double_registration_count(),
            details_kept_by,
            keeps_details_of,
        })
    }

    /// For a village node under a root: the villages keeping a copy of its
    /// details, and those whose details it keeps (the holder rule of the
    /// policy in force, [`kampung_core::HolderRule`]).
    pub fn detail_copies(&self) -> (Vec<VillageCode>, Vec<VillageCode>) {
        match (self.role(), self.roster()) {
            (Role::Village { village }, Some(roster)) => {
                let rule = roster
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .holders();
                (rule.holders_of(*village), rule.kept_by(*village))
            }
            _ => (Vec::new(), Vec::new()),
        }
    }

    /// Connected peers (none when offline).
    pub async fn peers(&self, by: &Actor) -> Result<Peers, NodeError> {
        by.require(Permission::ReadNode, "read the node's peers")?;
        Ok(match self.mesh_status().await? {
            Some(m) => Peers {
                peer_id: m.peer_id,
                listen: m.listen,
                peers: m.peers,
                refused: m.refused,
            },
            None => Peers {
                peer_id: self.peer_id().to_string(),
                listen: Vec::new(),
                peers: Vec::new(),
                refused: Vec::new(),
            },
        })
    }

    /// Read the mesh and the store into the metrics' state values (before a
    /// scrape). A stopped mesh or store leaves its values as last read.
    pub async fn refresh_metrics(&self) {
        let m = self.metrics();
        if let Ok(Some(mesh)) = self.mesh_status().await {
            m.refresh_mesh(mesh.peers.len(), mesh.counters.changes_rejected);
            m.refresh_trust(&mesh.counters);
        }
        m.refresh_clock(&self.clock_check());
        if let Some(until) = self.certified_until() {
            m.certificate_left
                .set((until - self.now_ms()) as f64 / 1000.0);
        }
        let ages = self.copy_ages();
        m.refresh_sync_lag(ages.iter().map(|(d, a)| (d, *a)));
        m.refresh_process(self.health_config().data_dir.as_deref());
        m.peer_certificates_expiring
            .set(i64::try_from(self.peer_certificates_expiring().len()).unwrap_or(i64::MAX));
        if let (Ok(heads), Ok(niks)) = (self.store().doc_heads().await, self.store().niks().await) {
            m.refresh_store(heads.len(), niks);
        }
    }
}
