//! `kampung audit replay`: every crossing's verdict computed again from the
//! registry state it names (the workflow is `kampung_node::Node::replay`),
//! on a running node through its API, on a stopped one on its store.

use std::path::Path;
use std::process::ExitCode;

use kampung_node::Actor;
use kampung_store::{ReplayProblem, ReplayReport};

use super::admin::fmt_ms;
use super::audit::rfc3339;

pub fn run(
    data: &Path,
    checkpoint: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (_, backend) = super::backend::Backend::open(data)?;
    let ms = |s: Option<i64>| s.map(|s| s.saturating_mul(1000));
    let report: ReplayReport = match backend.local(|n| {
        let checkpoint = checkpoint.clone();
        async move {
            n.replay(&Actor::local(), checkpoint.as_deref(), ms(from), ms(to))
                .await
        }
    }) {
        Some(r) => r?,
        None => {
            let mut query = Vec::new();
            if let Some(c) = &checkpoint {
                query.push(format!("checkpoint={}", super::backend::segment(c)));
            }
            for (name, t) in [("from", from), ("to", to)] {
                if let Some(t) = t {
                    query.push(format!("{name}={}", rfc3339(t)));
                }
            }
            let path = match query.is_empty() {
                true => "/v1/audit/replay".to_string(),
                false => format!("/v1/audit/replay?{}", query.join("&")),
            };
            backend.remote()?.get_json(&path)?
        }
    };
    backend.close()?;
    if json {
        super::print_json(&report)?;
    } else {
        print(&report);
    }
    Ok(match report.ok() {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    })
}

fn print(r: &ReplayReport) {
    println!(
        "{} crossings of {} checkpoint(s) on {} registry states: {} replayed and matched, {} not matched, {} logged before states were kept (not replayed)",
        r.crossings,
        r.checkpoints.len(),
        r.states,
        r.matched,
        r.mismatches.len(),
        r.without_state
    );
    for m in &r.mismatches {
        let why = match &m.problem {
            ReplayProblem::VerdictDiffers { replayed } => {
                format!("the state it names gives '{replayed}'")
            }
            ReplayProblem::VillageDiffers { replayed } => format!(
                "the state it names finds the record in village {replayed}, which its basis does not name"
            ),
            ReplayProblem::StateMissing { state } => {
                format!("registry state {state} is not in the checkpoint's log")
            }
            ReplayProblem::VillageHeadsMissing { village } => format!(
                "this node does not hold the heads of village {village} the state names (sync with the village's node, then replay again)"
            ),
            ReplayProblem::CaseMissing { case_id } => format!(
                "isolation case {case_id} is not held at the heads its basis names"
            ),
            ReplayProblem::PolicyMissing { version } => format!(
                "policy version {version} is not among the policies this node verified"
            ),
            ReplayProblem::PolicyUnknown => "the crossing names no policy version".to_string(),
            _ => "not confirmed".to_string(),
        };
        println!(
            "MISMATCH {} at {}: NIK {} logged '{}': {why}",
            m.checkpoint,
            fmt_ms(m.at_ms),
            m.nik,
            m.recorded
        );
    }
}
