//! `/audit/putar-ulang`: the auditor replays the checkpoints' verdicts on
//! request (`kampung audit replay` on this running node) and sees every
//! crossing whose verdict does not follow from the state it names.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use kampung_i18n::{Arg, Lang};
use kampung_node::{Checkpoint, ErrorCode, NodeError};
use kampung_store::{Mismatch, ReplayProblem, ReplayReport};
use serde::Deserialize;
use time::Date;

use crate::audit::wib_midnight_ms;
use crate::ctx::{Shell, Viewer};
use crate::pos::kind_colour;
use crate::report::label_or_peer;
use crate::{error_page, render, WebState};

/// Mismatches listed at most (the summary counts them all).
const ROWS: usize = 500;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReplayQuery {
    #[serde(default)]
    pos: String,
    /// First day (YYYY-MM-DD, in WIB).
    #[serde(default)]
    dari: String,
    /// Last day, inclusive.
    #[serde(default)]
    sampai: String,
    /// Run the replay now (it holds the store while it runs).
    #[serde(default)]
    jalankan: String,
}

fn day(field: &str, s: &str) -> Result<Option<Date>, NodeError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    kampung_csv::parse_date("date", s)
        .map(Some)
        .map_err(|e| NodeError::field(ErrorCode::InvalidParameter, field, e.1))
}

/// A crossing whose verdict the replay did not confirm, as the table shows it.
struct MismatchRow {
    at: String,
    checkpoint: String,
    nik: String,
    recorded: String,
    colour: &'static str,
    problem: String,
}

/// What the replay found, in the reader's words.
struct Summary {
    ok: bool,
    line: String,
    without_state: Option<String>,
}

#[derive(Template)]
#[template(path = "putar-ulang.html")]
struct ReplayPage {
    shell: Shell,
    q: ReplayQuery,
    checkpoints: Vec<(String, String)>,
    summary: Option<Summary>,
    rows: Vec<MismatchRow>,
}

/// Why a crossing was not confirmed, in `lang`.
fn problem(lang: Lang, p: &ReplayProblem) -> String {
    let one = |key: &str, name: &str, value: String| {
        kampung_i18n::tr(lang, key, &[(name, Arg::from(value))])
    };
    match p {
        ReplayProblem::VerdictDiffers { replayed } => one(
            "putar-problem-verdict_differs",
            "replayed",
            kampung_i18n::t(lang, &format!("verdict-{replayed}-title")),
        ),
        ReplayProblem::VillageDiffers { replayed } => one(
            "putar-problem-village_differs",
            "village",
            replayed.to_string(),
        ),
        ReplayProblem::StateMissing { state } => {
            one("putar-problem-state_missing", "state", state.to_string())
        }
        ReplayProblem::VillageHeadsMissing { village } => one(
            "putar-problem-village_heads_missing",
            "village",
            village.to_string(),
        ),
        ReplayProblem::CaseMissing { case_id } => {
            one("putar-problem-case_missing", "case", case_id.clone())
        }
        ReplayProblem::PolicyMissing { version } => one(
            "putar-problem-policy_missing",
            "version",
            version.to_string(),
        ),
        _ => kampung_i18n::t(lang, "putar-problem-policy_unknown"),
    }
}

fn row(lang: Lang, names: &[(String, String)], m: &Mismatch) -> MismatchRow {
    MismatchRow {
        at: kampung_i18n::date_time(lang, m.at_ms),
        checkpoint: names
            .iter()
            .find(|(peer, _)| *peer == m.checkpoint)
            .map_or_else(|| label_or_peer(&m.checkpoint, None), |(_, n)| n.clone()),
        nik: m.nik.clone(),
        recorded: kampung_i18n::t(lang, &format!("verdict-{}-title", m.recorded)),
        colour: kind_colour(&m.recorded),
        problem: problem(lang, &m.problem),
    }
}

fn summary(lang: Lang, r: &ReplayReport) -> Summary {
    let n = |v: usize| Arg::from(kampung_i18n::number(v as u64));
    Summary {
        ok: r.ok(),
        line: kampung_i18n::tr(
            lang,
            "putar-summary",
            &[
                ("crossings", n(r.crossings)),
                ("checkpoints", n(r.checkpoints.len())),
                ("states", n(r.states)),
                ("matched", n(r.matched)),
                ("mismatches", n(r.mismatches.len())),
            ],
        ),
        without_state: (r.without_state > 0).then(|| {
            kampung_i18n::tr(
                lang,
                "putar-without-state",
                &[("count", n(r.without_state))],
            )
        }),
    }
}

/// `/audit/putar-ulang`: the form, and on request the replay's result.
pub async fn replay(
    State(state): State<WebState>,
    v: Viewer,
    Query(q): Query<ReplayQuery>,
) -> Response {
    let node = state.node();
    let checkpoints: Vec<(String, String)> = match node.checkpoints(&v.actor).await {
        Ok(c) => c
            .iter()
            .map(|c: &Checkpoint| (c.peer.clone(), label_or_peer(&c.peer, c.label.as_deref())))
            .collect(),
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let shell = Shell::new(&state, &v, "putar-title", "/audit/putar-ulang").await;
    if q.jalankan.is_empty() {
        return render(&ReplayPage {
            shell,
            q,
            checkpoints,
            summary: None,
            rows: Vec::new(),
        });
    }
    let period = day("dari", &q.dari).and_then(|from| {
        let until = day("sampai", &q.sampai)?;
        Ok((
            from.map(wib_midnight_ms),
            until.and_then(|d| d.next_day()).map(wib_midnight_ms),
        ))
    });
    let (from, to) = match period {
        Ok(p) => p,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    let pos = Some(q.pos.trim()).filter(|p| !p.is_empty());
    let report = match node.replay(&v.actor, pos, from, to).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, &v, &e).await,
    };
    render(&ReplayPage {
        summary: Some(summary(v.lang, &report)),
        rows: report
            .mismatches
            .iter()
            .take(ROWS)
            .map(|m| row(v.lang, &checkpoints, m))
            .collect(),
        shell,
        q,
        checkpoints,
    })
}
