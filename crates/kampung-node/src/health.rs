//! Whether the node can do its job, as `/healthz`, `status` and the
//! operator see it: a store that answers, disk space to write, a
//! certificate in force. A node with a problem says which, and what to do.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use crate::Node;

/// What the health checks need beyond the node itself.
#[derive(Debug, Clone)]
pub struct HealthConfig {
    /// The data directory, whose file system must keep `min_free_bytes`
    /// free (`None`: a node in memory).
    pub data_dir: Option<PathBuf>,
    pub min_free_bytes: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            data_dir: None,
            // A village's document, its index and a day of writes fit many
            // times in this; below it writes may start failing.
            min_free_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Something that keeps the node from doing its job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HealthProblem {
    /// Stable: `store_unresponsive`, `store_stopped`, `store_failing`, `disk_low`,
    /// `disk_unreadable`, `no_certificate`, `clock_before_certificate`,
    /// `certificate_not_in_force`, `clock_off`.
    pub code: &'static str,
    /// For the operator: what is wrong and what to do.
    pub detail: String,
}

/// How long before its certificate ends a node warns its operator.
pub const CERTIFICATE_WARNING_DAYS: i64 = 30;

/// How long a checkpoint or auditor may be cut off from another (its kin,
/// see `kampung_mesh::Membership::kin`) before its operator is warned.
pub const KIN_AWAY_WARNING_MS: i64 = 10 * 60_000;

/// How long the store thread may take to answer a health check.
const STORE_ANSWER: Duration = Duration::from_secs(3);

impl Node {
    /// The node's problems, none when it is healthy.
    pub async fn health(&self) -> Vec<HealthProblem> {
        let mut problems = Vec::new();
        let problem = |code, detail: String| HealthProblem { code, detail };
        match tokio::time::timeout(STORE_ANSWER, self.store().niks()).await {
            Err(_) => problems.push(problem(
                "store_unresponsive",
                format!(
                    "the store did not answer within {} s: writes and look-ups wait; \
                     see the node's log, and restart it if this lasts",
                    STORE_ANSWER.as_secs()
                ),
            )),
            Ok(Err(_)) => problems.push(problem(
                "store_stopped",
                "the store has stopped (see the node's log for why): restart the node".into(),
            )),
            Ok(Ok(_)) => {}
        }
        if self.store().storage_failing() {
            problems.push(problem(
                "store_failing",
                "the store cannot write (the disk is full, or failing): nothing is saved; \
                 verdicts still answer from the index. Free some space: writing resumes \
                 by itself at the next request"
                    .into(),
            ));
        }
        let health = self.health_config();
        if let Some(dir) = &health.data_dir {
            match fs2::available_space(dir) {
                Ok(free) if free < health.min_free_bytes => problems.push(problem(
                    "disk_low",
                    format!(
                        "{} MB free on the disk of {} (at least {} MB are needed): \
                         free some space, writes may fail",
                        free / 1024 / 1024,
                        dir.display(),
                        health.min_free_bytes / 1024 / 1024
                    ),
                )),
                Ok(_) => {}
                Err(e) => problems.push(problem(
                    "disk_unreadable",
                    format!("the free space of {} cannot be read: {e}", dir.display()),
                )),
            }
        }
        let now = self.now_ms();
        match self.with_own_key(|r, me| r.certificate_at(me, now).map(|_| ())) {
            None | Some(Ok(())) => {}
            Some(Err(kampung_trust::Denial::NoCertificate { .. })) => problems.push(problem(
                "no_certificate",
                "this node holds no certificate of its own from the mesh's root: \
                     peers will not admit it; ask the regency administrator for one \
                     and add it with `kampung trust add FILE`"
                    .into(),
            )),
            Some(Err(kampung_trust::Denial::NotInForce { at_ms, from_ms, .. }))
                if at_ms < from_ms =>
            {
                problems.push(problem(
                    "clock_before_certificate",
                    format!(
                        "this computer's clock says {}, before this node's certificate \
                         starts ({}): check the date, time and time zone; until then \
                         other nodes refuse what this node writes",
                        kampung_i18n::date_time(kampung_i18n::Lang::En, at_ms),
                        kampung_i18n::date_time(kampung_i18n::Lang::En, from_ms)
                    ),
                ))
            }
            Some(Err(e)) => problems.push(problem("certificate_not_in_force", e.to_string())),
        }
        match self.clock_check().problem {
            Some(p @ (crate::ClockProblem::Fast { .. } | crate::ClockProblem::Slow { .. })) => {
                problems.push(problem("clock_off", p.message()))
            }
            // Said above as `clock_before_certificate`.
            Some(crate::ClockProblem::BeforeCertificate { .. }) | None => {}
        }
        problems
    }

    /// What will keep the node from its job soon, while it still works:
    /// its certificate ends within [`CERTIFICATE_WARNING_DAYS`] (renewals
    /// that start before it ends count), or other nodes' certificates do.
    /// Shown by `status`, `/healthz` (still 200), the operator's page and
    /// the log at start.
    pub fn warnings(&self) -> Vec<HealthProblem> {
        let mut warnings = Vec::new();
        let peers = self.peer_certificates_expiring();
        if !peers.is_empty() {
            let names: Vec<String> = peers
                .iter()
                .map(|(label, until)| {
                    format!(
                        "{label} ({})",
                        kampung_i18n::date_time(kampung_i18n::Lang::En, *until)
                    )
                })
                .collect();
            warnings.push(HealthProblem {
                code: "peer_certificates_expiring",
                detail: format!(
                    "{} other node(s) have a certificate that ends within {CERTIFICATE_WARNING_DAYS} \
                     days and no renewal yet: {}. Their operators need a renewal from the regency \
                     administrator, or this node and the others will cut them off",
                    peers.len(),
                    names.join(", ")
                ),
            });
        }
        if let Some(w) = self.kin_away_warning() {
            warnings.push(w);
        }
        let Some(until) = self.certified_until() else {
            return warnings;
        };
        let now = self.now_ms();
        let left_ms = until - now;
        if left_ms < CERTIFICATE_WARNING_DAYS * 86_400_000 {
            let days = left_ms / 86_400_000;
            warnings.push(HealthProblem {
                code: "certificate_expiring",
                detail: format!(
                    "this node's certificate ends on {} (in {days} day{}): ask the regency \
                     administrator for a renewal (`kampung admin certify`) and add it with \
                     `kampung trust add FILE` before then, or peers will cut this node off",
                    kampung_i18n::date_time(kampung_i18n::Lang::En, until),
                    if days == 1 { "" } else { "s" }
                ),
            });
        }
        warnings
    }

    /// Other nodes certified now whose certificates (with their renewals)
    /// end within [`CERTIFICATE_WARNING_DAYS`]: (label, end, unix ms),
    /// soonest first. Revoked nodes are left out.
    pub fn peer_certificates_expiring(&self) -> Vec<(String, i64)> {
        let now = self.now_ms();
        let soon = now + CERTIFICATE_WARNING_DAYS * 86_400_000;
        let mut out: Vec<(String, i64)> = self
            .with_own_key(|roster, me| {
                let mut seen = std::collections::HashSet::new();
                roster
                    .statements()
                    .filter_map(|s| match &s.statement {
                        kampung_trust::Statement::Certificate(c) => Some(c),
                        _ => None,
                    })
                    .filter(|c| c.node != *me && seen.insert(c.node))
                    .filter_map(|c| {
                        let until = roster.certified_until(&c.node, now)?;
                        (until < soon && roster.admit(&c.node, now).is_ok())
                            .then(|| (c.label.clone(), until))
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by_key(|(_, until)| *until);
        out
    }

    /// No checkpoint or auditor (this node's kin, see
    /// `kampung_mesh::Membership::kin`) connected for
    /// [`KIN_AWAY_WARNING_MS`]: crossing logs are copied only between them
    /// (no village holds or forwards one), and each checkpoint keeps the
    /// others' as backups, so with one of them connected they still flow;
    /// with none, a checkpoint's crossings are copied nowhere and an
    /// auditor sees no new ones.
    fn kin_away_warning(&self) -> Option<HealthProblem> {
        let now = self.now_ms();
        let roster = self.roster()?.read().ok()?;
        // Of the kin, the checkpoints and auditors (a village's kin are the
        // villages keeping its details, an auditor's the villages it visits).
        let role = |peer: &kampung_mesh::Peer| {
            kampung_trust::NodeKey::from_peer_id(peer)
                .and_then(|k| roster.certificate_at(&k, now).ok())
                .map(|c| c.role)
        };
        let away: Vec<(kampung_mesh::Peer, i64)> = self
            .mesh()?
            .kin()
            .iter()
            .filter(|(p, _)| {
                matches!(
                    role(p),
                    Some(kampung_core::RoleKind::Checkpoint | kampung_core::RoleKind::Auditor)
                )
            })
            .map(|(p, since)| Some((*p, (*since)?)))
            .collect::<Option<_>>()?;
        if away.is_empty()
            || away
                .iter()
                .any(|(_, since)| now - since < KIN_AWAY_WARNING_MS)
        {
            return None;
        }
        let names: Vec<String> = away
            .iter()
            .map(|(peer, since)| {
                let who = kampung_trust::NodeKey::from_peer_id(peer)
                    .and_then(|k| roster.certificate_at(&k, now).ok())
                    .map_or_else(|| peer.to_string(), |c| format!("{} ({})", c.label, c.role));
                format!(
                    "{who}, since {}",
                    kampung_i18n::date_time(kampung_i18n::Lang::En, *since)
                )
            })
            .collect();
        Some(HealthProblem {
            code: "kin_unreachable",
            detail: format!(
                "connected to no checkpoint or auditor for {} minutes or more: {}. Crossing \
                 logs are copied only between checkpoints and auditors: check the network \
                 path to them (firewall, router, their node running)",
                KIN_AWAY_WARNING_MS / 60_000,
                names.join("; ")
            ),
        })
    }

    /// Until when this node stays certified without a gap (with a root).
    pub fn certified_until(&self) -> Option<i64> {
        let now = self.now_ms();
        self.with_own_key(|roster, me| roster.certified_until(me, now))?
    }
}
