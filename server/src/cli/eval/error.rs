//! Why `promptls eval` ended without a report, each cause kept (with its file where
//! there is one) until it is printed, and the exit code it means.

use std::path::PathBuf;

use super::super::files::ReadError;
use super::super::job::JobFailed;
use promptls_core::eval::run;
use promptls_core::{config, store, trust};

#[derive(Debug, thiserror::Error)]
pub(super) enum EvalError {
    #[error("--max-drop needs --baseline")]
    MaxDropWithoutBaseline,
    #[error("{flag} must be between 0 and 1")]
    OutOfRange { flag: &'static str },
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Config(#[from] config::Error),
    /// The evaluation's plan (the prompt's settings, its dataset, the provider, the
    /// pre-call checks).
    #[error(transparent)]
    Plan(#[from] run::PlanError),
    #[error(transparent)]
    Refused(trust::Refusal),
    #[error("{}: no rows to evaluate", .dataset.display())]
    NoRows { dataset: PathBuf },
    /// Reading the baseline's version from the history.
    #[error(transparent)]
    History(#[from] store::Error),
    #[error("cannot read the baseline {}: {source}", .path.display())]
    BaselineUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the baseline {} is not JSON: {source}", .path.display())]
    BaselineNotJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the baseline {} has no `score` (write it with `promptls eval --format json`)", .path.display())]
    BaselineWithoutScore { path: PathBuf },
    #[error("the baseline {label}: {failed} of {rows} rows could not be evaluated")]
    BaselineRowsFailed {
        label: String,
        failed: usize,
        rows: usize,
    },
    /// Ctrl-C stopped an evaluation.
    #[error("interrupted")]
    Interrupted,
    /// An evaluation's job ended without a result (it panicked).
    #[error(transparent)]
    Job(#[from] JobFailed),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("cannot write the report: {0}")]
    WriteReport(#[source] std::io::Error),
}

impl EvalError {
    pub(super) fn exit_code(&self) -> i32 {
        match self {
            // The run itself failed.
            EvalError::Job(_) => 1,
            // Usage and setup, found before any call; and an interrupted run.
            EvalError::MaxDropWithoutBaseline
            | EvalError::OutOfRange { .. }
            | EvalError::Read(_)
            | EvalError::Config(_)
            | EvalError::Plan(_)
            | EvalError::Refused(_)
            | EvalError::NoRows { .. }
            | EvalError::History(_)
            | EvalError::BaselineUnreadable { .. }
            | EvalError::BaselineNotJson { .. }
            | EvalError::BaselineWithoutScore { .. }
            | EvalError::BaselineRowsFailed { .. }
            | EvalError::Interrupted
            | EvalError::Json(_)
            | EvalError::WriteReport(_) => 2,
        }
    }
}
