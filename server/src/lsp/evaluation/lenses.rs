//! The lenses on the first line of a prompt with a dataset: "▶ Evaluate" (or "■ Cancel"
//! while its job runs), the optimization's, the last score and the live scores.

use tower_lsp_server::ls_types::*;

use super::key;
use crate::lsp::analysis::Snapshot;
use crate::lsp::commands::{Command as LspCommand, EvaluateArgs, UriArgs};
use crate::lsp::state::{lock, Shared};
use promptls_core::eval::run;

/// The lenses on the first line of a prompt that has a dataset.
pub fn lenses(state: &Shared, snapshot: &Snapshot) -> Vec<CodeLens> {
    if snapshot.analysis().settings().dataset.is_none() {
        return Vec::new();
    }
    let Some(path) = snapshot.path.clone() else {
        return Vec::new();
    };
    let uri = || UriArgs::of(&snapshot.uri);
    let at = Range::new(Position::new(0, 0), Position::new(0, 0));
    let lens = |title: String, command: LspCommand| CodeLens {
        range: at,
        command: Some(command.to_lsp(title)),
        data: None,
    };
    let evaluate = || {
        LspCommand::Evaluate(EvaluateArgs {
            uri: snapshot.uri.clone(),
            limit: None,
        })
    };
    let st = lock(state);
    let mut out = Vec::new();
    match st.jobs.status(&key(&path)) {
        Some((_, status)) => out.push(lens(
            format!(
                "■ Cancel evaluation ({}/{} rows)",
                status.done, status.total
            ),
            LspCommand::CancelEvaluation(uri()),
        )),
        None => out.push(lens("▶ Evaluate".into(), evaluate())),
    }
    drop(st);
    out.extend(crate::lsp::optimization::lens(state, snapshot));
    let st = lock(state);
    let eval = st.evals.get(&path);
    if let Some(report) = eval.and_then(|e| e.last.as_ref()) {
        out.push(lens(
            format!(
                "{} {:.3} · {}/{} · {}",
                report.metric,
                report.score,
                report.passed_rows,
                report.rows,
                run::dollars(report.cost_usd)
            ),
            LspCommand::ShowEvaluation(uri()),
        ));
    }
    if let Some(live) = eval.and_then(|e| e.live.as_ref()) {
        let total = live.cached + live.stale;
        let title = if live.stale == 0 {
            format!(
                "live {} {:.3} · {}/{} from cache",
                live.metric, live.score, live.passed, total
            )
        } else {
            format!(
                "live {} {:.3} · {}/{} from cache · {} stale",
                live.metric, live.score, live.passed, live.cached, live.stale
            )
        };
        out.push(lens(title, evaluate()));
    }
    out
}
