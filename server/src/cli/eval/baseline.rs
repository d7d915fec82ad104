//! The baseline of `--baseline`: a version from the history, the JSON report of an
//! earlier run, or another prompt evaluated on the same rows.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::super::files;
use super::job::Evaluator;
use super::EvalError;
use promptls_core::eval::run::{Plan, Report};
use promptls_core::store::{self, Store};

/// The baseline's score and a label for it. A name that is no file and has no extension
/// (`production`, `v3`) is a version of `file` (`source`, evaluated as `plan`).
pub(super) async fn score(
    evaluator: &Evaluator<'_>,
    file: &Path,
    source: &str,
    plan: &Plan,
    baseline: &Path,
) -> Result<(String, f64), EvalError> {
    if !baseline.exists() && baseline.extension().is_none() {
        version(
            evaluator,
            file,
            source,
            &baseline.display().to_string(),
            plan,
        )
        .await
    } else {
        other_file(evaluator, baseline).await
    }
}

/// The score of a version from the history (`production`, `v3`, ...): its stored score
/// on this dataset, metric and model, else evaluated now (from the cache where it can).
async fn version(
    evaluator: &Evaluator<'_>,
    file: &Path,
    source: &str,
    selector: &str,
    plan: &Plan,
) -> Result<(String, f64), EvalError> {
    enum Found {
        Score(f64),
        Content(String),
    }
    let dataset = store::dataset_hash(&plan.dataset);
    // The version, and its stored score or else its content; the store is not held
    // while the version is evaluated.
    let (n, found) =
        Store::shared(&evaluator.config.root)?.with(|store| -> Result<_, store::Error> {
            let n = store.resolve(file, source, selector)?;
            let stored = store
                .history(file, source)?
                .into_iter()
                .find(|v| v.number == n)
                .and_then(|v| {
                    v.scores.into_iter().rev().find(|s| {
                        s.dataset == dataset
                            && s.metric == plan.scoring.name()
                            && s.model == plan.model
                    })
                });
            match stored {
                Some(s) => Ok((n, Found::Score(s.score))),
                None => Ok((n, Found::Content(store.content(file, source, n)?))),
            }
        })?;
    let label = format!("{selector} = v{n}");
    let content = match found {
        Found::Score(score) => return Ok((format!("{label}, stored"), score)),
        Found::Content(content) => content,
    };
    let report = evaluated(evaluator, evaluator.plan(&content, file)?, &label).await?;
    Ok((label, report.score))
}

/// The score in a JSON report, or of another prompt evaluated now.
async fn other_file(evaluator: &Evaluator<'_>, path: &Path) -> Result<(String, f64), EvalError> {
    let label = path.display().to_string();
    if path.extension().and_then(|e| e.to_str()) == Some("json") {
        let text =
            std::fs::read_to_string(path).map_err(|source| EvalError::BaselineUnreadable {
                path: path.to_path_buf(),
                source,
            })?;
        let value: Value =
            serde_json::from_str(&text).map_err(|source| EvalError::BaselineNotJson {
                path: path.to_path_buf(),
                source,
            })?;
        let score = value.get("score").and_then(Value::as_f64).ok_or_else(|| {
            EvalError::BaselineWithoutScore {
                path: path.to_path_buf(),
            }
        })?;
        return Ok((label, score));
    }
    let source = files::read_prompt(path)?;
    let report = evaluated(evaluator, evaluator.plan(&source, path)?, &label).await?;
    Ok((label, report.score))
}

/// The baseline's report, every row of it evaluated.
async fn evaluated(
    evaluator: &Evaluator<'_>,
    plan: Plan,
    label: &str,
) -> Result<Report, EvalError> {
    let report = evaluator.run(Arc::new(plan), false).await?;
    if report.error_rows > 0 {
        return Err(EvalError::BaselineRowsFailed {
            label: label.to_string(),
            failed: report.error_rows,
            rows: report.rows,
        });
    }
    Ok(report)
}
