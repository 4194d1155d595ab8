//! Whether this node's clock can be trusted to sign writes.
//!
//! Village PCs have wrong clocks. Every write carries the time its writer
//! signed it, and peers accept a signature only if that time is no more
//! than [`MAX_CLOCK_SKEW_MS`] ahead of theirs and inside the signer's
//! certificate. So a node refuses to sign (and nothing is written) while
//!
//! - its clock says a time before its own certificate starts (known
//!   without any peer), or
//! - more than half of the peers whose clocks it measured (at least two:
//!   one peer alone may be the wrong one) put it off by more than
//!   [`MAX_SIGNING_OFFSET_MS`] in the same direction.
//!
//! The mesh measures each admitted peer's clock at every roster exchange
//! (every few seconds). A node with no peers (a village cut off) keeps
//! writing: it cannot tell, and a signature it makes too far ahead waits at
//! the receivers until a later one covers it (see
//! `kampung_trust::Denial::is_about_time`).

use serde::Serialize;
use utoipa::ToSchema;

use kampung_trust::{Denial, NodeKey, Roster, MAX_CLOCK_SKEW_MS};

use crate::error::{ErrorCode, NodeError};
use crate::Node;

/// How far this node's clock may be from its peers' while it signs writes:
/// half of what receivers tolerate, so a write it signs is accepted by every
/// peer whose own clock is within the same bound.
pub const MAX_SIGNING_OFFSET_MS: i64 = MAX_CLOCK_SKEW_MS / 2;

/// This node's clock as its peers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ClockCheck {
    /// The median of the measured peers' offsets (their clock minus ours,
    /// ms): positive when this node's clock is behind, negative when ahead.
    pub peer_offset_ms: Option<i64>,
    /// Peers whose clocks were measured.
    pub peers_measured: usize,
    /// [`MAX_SIGNING_OFFSET_MS`].
    pub max_offset_ms: i64,
    /// Why this node does not sign writes now; `None`: it does.
    pub problem: Option<ClockProblem>,
}

/// Why a node's clock cannot sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClockProblem {
    /// Ahead of most of its peers by about `by_ms`.
    Fast { by_ms: i64, peers: usize },
    /// Behind most of its peers by about `by_ms`.
    Slow { by_ms: i64, peers: usize },
    /// The clock says `now_ms`, before this node's certificate starts at `from_ms`.
    BeforeCertificate { now_ms: i64, from_ms: i64 },
}

impl ClockProblem {
    /// For people: what is wrong and what to do (English; the pages show
    /// `error-clock_off` in the reader's language above it).
    pub fn message(&self) -> String {
        let minutes = |ms: &i64| (ms.unsigned_abs() + 30_000) / 60_000;
        let fix = "set this computer's date, time and time zone (WIB) right, then try again";
        match self {
            ClockProblem::Fast { by_ms, peers } | ClockProblem::Slow { by_ms, peers } => format!(
                "this computer's clock is about {} minutes {} {peers} other nodes of the \
                 mesh (more than {} allowed): nothing was written; {fix}",
                minutes(by_ms),
                if matches!(self, ClockProblem::Fast { .. }) {
                    "ahead of"
                } else {
                    "behind"
                },
                MAX_SIGNING_OFFSET_MS / 60_000
            ),
            ClockProblem::BeforeCertificate { now_ms, from_ms } => format!(
                "this computer's clock says {}, before this node's certificate starts ({}): \
                 nothing was written; {fix}",
                kampung_i18n::date_time(kampung_i18n::Lang::En, *now_ms),
                kampung_i18n::date_time(kampung_i18n::Lang::En, *from_ms)
            ),
        }
    }
}

/// The judgement on measured offsets (their clock minus ours, ms).
pub fn judge(offsets: &[i64]) -> (Option<i64>, Option<ClockProblem>) {
    let mut sorted = offsets.to_vec();
    sorted.sort_unstable();
    let median = (!sorted.is_empty()).then(|| sorted[sorted.len() / 2]);
    let n = sorted.len();
    if n < 2 {
        return (median, None);
    }
    let behind = sorted
        .iter()
        .filter(|o| **o > MAX_SIGNING_OFFSET_MS)
        .count();
    let ahead = sorted
        .iter()
        .filter(|o| **o < -MAX_SIGNING_OFFSET_MS)
        .count();
    let by_ms = median.unwrap_or_default().abs();
    let problem = if ahead * 2 > n {
        Some(ClockProblem::Fast { by_ms, peers: n })
    } else if behind * 2 > n {
        Some(ClockProblem::Slow { by_ms, peers: n })
    } else {
        None
    };
    (median, problem)
}

impl Node {
    /// This node's clock against its peers' and its own certificate.
    pub fn clock_check(&self) -> ClockCheck {
        let offsets = self
            .mesh()
            .map(|m| m.peer_clock_offsets())
            .unwrap_or_default();
        let (median, mut problem) = judge(&offsets);
        if let Some(before) = self.before_own_certificate() {
            problem = Some(before);
        }
        ClockCheck {
            peer_offset_ms: median,
            peers_measured: offsets.len(),
            max_offset_ms: MAX_SIGNING_OFFSET_MS,
            problem,
        }
    }

    /// The clock says a time before this node's own certificate starts.
    fn before_own_certificate(&self) -> Option<ClockProblem> {
        let now_ms = self.now_ms();
        self.with_own_key(|roster, me| match roster.certificate_at(me, now_ms) {
            Err(Denial::NotInForce { at_ms, from_ms, .. }) if at_ms < from_ms => {
                Some(ClockProblem::BeforeCertificate { now_ms, from_ms })
            }
            _ => None,
        })?
    }

    /// `f` of the roster and this node's own key (with a root configured).
    pub(crate) fn with_own_key<T>(&self, f: impl FnOnce(&Roster, &NodeKey) -> T) -> Option<T> {
        let me: NodeKey = self.peer_id().parse().ok()?;
        let roster = self.roster()?.read().ok()?;
        Some(f(&roster, &me))
    }

    /// The time to sign a write with: now, unless this node's clock is
    /// known to be wrong (`clock_off`: nothing is written).
    pub(crate) fn signing_now(&self) -> Result<i64, NodeError> {
        match self.clock_check().problem {
            None => Ok(self.now_ms()),
            Some(p) => Err(NodeError::new(ErrorCode::ClockOff, p.message())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn one_peer_alone_never_decides() {
        assert_eq!(judge(&[]), (None, None));
        assert_eq!(judge(&[-60 * MIN]), (Some(-60 * MIN), None));
    }

    #[test]
    fn most_peers_decide_and_the_median_says_by_how_much() {
        let (median, problem) = judge(&[-20 * MIN, -21 * MIN, 10]);
        assert_eq!(median, Some(-20 * MIN));
        assert_eq!(
            problem,
            Some(ClockProblem::Fast {
                by_ms: 20 * MIN,
                peers: 3
            })
        );
        assert!(matches!(
            judge(&[30 * MIN, 31 * MIN]).1,
            Some(ClockProblem::Slow { peers: 2, .. })
        ));
        // A wrong peer among right ones; offsets inside the bound.
        assert_eq!(judge(&[-20 * MIN, 0, 5]).1, None);
        assert_eq!(judge(&[4 * MIN, -4 * MIN, 4 * MIN]).1, None);
        // Half is not more than half.
        assert_eq!(judge(&[-20 * MIN, 0]).1, None);
    }

    #[test]
    fn the_message_says_how_far_and_what_to_do() {
        let m = ClockProblem::Fast {
            by_ms: 20 * MIN + 1_000,
            peers: 3,
        }
        .message();
        assert!(m.contains("about 20 minutes ahead of 3 other nodes"), "{m}");
        assert!(m.contains("nothing was written"), "{m}");
        assert!(m.contains("time zone"), "{m}");
    }
}
