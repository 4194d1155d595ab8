//! The auditor's replay of checkpoint verdicts on a running node: every
//! crossing's verdict computed again from the registry state it names and
//! the policy then in force (see `kampung_store::Registry::replay`).

use kampung_core::Policy;
use kampung_store::{ReplayQuery, ReplayReport};

use crate::actor::Permission;
use crate::error::{ErrorCode, NodeError};
use crate::{Actor, Node};

impl Node {
    /// Replay the verdicts of `checkpoint`'s crossings (every checkpoint's
    /// if `None`) made from `from_ms` until `to_ms` (unix ms). The store
    /// answers nothing else while it runs; verdicts still answer from the
    /// index.
    pub async fn replay(
        &self,
        by: &Actor,
        checkpoint: Option<&str>,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> Result<ReplayReport, NodeError> {
        by.require(Permission::Audit, "replay the checkpoints' verdicts")?;
        let checkpoint = match checkpoint.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => {
                let p = crate::checkpoint::checkpoint_param(p)?;
                let held = self.store().crossing_logs().await?;
                if !held.contains(&p) {
                    return Err(NodeError::field(
                        ErrorCode::NotFound,
                        "checkpoint",
                        format!("this node holds no crossing log of checkpoint {p} (the auditor's page /audit lists the checkpoints it holds)"),
                    ));
                }
                Some(p)
            }
            None => None,
        };
        if let (Some(from), Some(to)) = (from_ms, to_ms) {
            if to <= from {
                return Err(NodeError::field(
                    ErrorCode::InvalidParameter,
                    "to",
                    "the end of the period must come after its start",
                ));
            }
        }
        let query = ReplayQuery {
            checkpoint,
            from_ms,
            to_ms,
        };
        Ok(self.store().replay(query, self.policies()).await??)
    }

    /// Every policy the root signed that this node holds (each version a
    /// crossing may name).
    fn policies(&self) -> Vec<Policy> {
        let Some(roster) = self.roster() else {
            return Vec::new();
        };
        let roster = roster
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        roster
            .statements()
            .filter_map(|s| s.statement.policy().map(|p| p.policy))
            .collect()
    }
}
