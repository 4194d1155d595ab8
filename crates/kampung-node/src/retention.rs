//! The policy's retention on a running node: at start and then every hour,
//! crossing months and closed isolation cases past their period leave the
//! replica (see `kampung_store::Registry::expire`).

use std::time::Duration;

use kampung_core::Role;
use kampung_store::{Expired, Keep};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::error::NodeError;
use crate::Node;

/// How often a running node looks for what its period ended.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);

impl Node {
    /// Drop what the policy in force no longer keeps, as of this node's
    /// clock: the shared retention, or longer on an auditor's node.
    pub async fn expire(&self) -> Result<Expired, NodeError> {
        // The time and the policy as the sweep starts, before any wait.
        let now_ms = self.clock().now_ms();
        let retention = self.policy().retention;
        let auditor = matches!(self.role(), Role::Auditor);
        let expired = self
            .store()
            .expire(
                now_ms,
                Keep::shared(&retention),
                Keep::for_node(&retention, auditor),
            )
            .await??;
        self.metrics()
            .documents_expired
            .inc_by((expired.crossing_logs + expired.cases + expired.details) as u64);
        // The policy may have named other holders of villages' details
        // since the store was last told (the mesh tells it at once too).
        self.follow_scope().await?;
        Ok(expired)
    }

    /// Hold only what this node may read under the policy in force (a new
    /// policy may name other holders of villages' details): what it no
    /// longer may leaves memory and disk now, counted as expired.
    pub(crate) async fn follow_scope(&self) -> Result<(), NodeError> {
        let dropped = self.store().set_scope(self.read_scope()).await??;
        self.metrics().documents_expired.inc_by(dropped as u64);
        Ok(())
    }

    /// Sweep at start and every `every` until `stop`.
    pub(crate) async fn run_retention(self, every: Duration, stop: CancellationToken) {
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.expire().await {
                warn!(error = %e, "could not drop what the retention period ended");
            }
        }
    }
}
