//! Why an evaluation cannot be planned, or a row's request made: the file, the span or
//! the line where there is one, and the underlying error as `source()`. Each message is
//! the text the command line and the editor show.

use std::path::PathBuf;

use crate::confine::OutsideWorkspace;
use crate::data::dataset::DatasetError;
use crate::render::RenderError;
use crate::syntax::Span;

/// Why `plan`, `Plan::with_source` or `Plan::with_model` gave no plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("an evaluation needs the prompt's file (its dataset is next to it)")]
    NoFile,
    /// Tier-1 problems that would break every row (`preflight`).
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    /// Something the prompt at `file` says (its model, settings, template, schema).
    /// Boxed: some problems carry large errors.
    #[error("{}: {problem}", .file.display())]
    Prompt {
        file: PathBuf,
        #[source]
        problem: Box<PromptProblem>,
    },
    /// A dataset file that cannot be read.
    #[error("{}: {source}", .path.display())]
    Dataset {
        path: PathBuf,
        #[source]
        source: DatasetError,
    },
    /// Another model (a teacher) that cannot be used.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// For the callers that still pass errors on as text.
impl From<PlanError> for String {
    fn from(e: PlanError) -> String {
        e.to_string()
    }
}

/// What is wrong with the prompt itself, for `PlanError::Prompt`.
#[derive(Debug, thiserror::Error)]
pub enum PromptProblem {
    /// The template or its metadata does not compile.
    #[error(transparent)]
    Compile(RenderError),
    #[error("no `model` to evaluate with (set `model:` or pass --model)")]
    NoModel,
    #[error(transparent)]
    Model(ModelError),
    #[error(transparent)]
    MissingKey(MissingKey),
    #[error("the judge: {0}")]
    JudgeMissingKey(#[source] MissingKey),
    /// A wrong `promptls.*` value: the message `check` shows for it, at `span`.
    #[error("{message}")]
    Setting { message: String, span: Span },
    #[error("`promptls.metric: judge` needs `promptls.judge`: a rubric, or {{rubric, model}}")]
    NoJudge,
    #[error("unknown metric `{name}` (known: {})", crate::settings::METRICS.join(", "))]
    UnknownMetric { name: String },
    #[error("`promptls.target` must name a column")]
    EmptyTarget,
    #[error("no `promptls.target`: name the dataset column that holds the expected output")]
    NoTarget,
    #[error("no `promptls.dataset` (a CSV or JSONL file next to the prompt), and no --dataset")]
    NoDataset,
    /// A path the setting `key` names that leads outside the workspace.
    #[error("{key} {source}")]
    Outside {
        key: &'static str,
        #[source]
        source: OutsideWorkspace,
    },
    /// Boxed: the validator's error is large.
    #[error("`output.schema` is not a valid JSON Schema: {0}")]
    Schema(#[source] Box<jsonschema::ValidationError<'static>>),
}

/// Why a model cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "model `{model}` has no provider: model names are `provider/model`, e.g. `openai/{model}`"
    )]
    NoProvider { model: String },
    #[error(transparent)]
    Provider(#[from] crate::config::Error),
}

/// A provider that needs a key when none was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("provider `{provider}` needs a key and ${variable} is not set (in the environment or the workspace .env); nothing was sent")]
pub struct MissingKey {
    pub provider: String,
    /// The environment variable the key is read from (or a phrase when none is known).
    pub variable: String,
}

/// The tier-1 problems that would make every row's call worthless, each at its place in
/// `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightError {
    pub file: PathBuf,
    pub blockers: Vec<Blocker>,
}

/// One problem of a `PreflightError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
    pub code: &'static str,
}

impl std::fmt::Display for PreflightError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let file = self.file.display();
        for b in &self.blockers {
            writeln!(
                f,
                "{file}:{}:{}: {} [{}]",
                b.line, b.column, b.message, b.code
            )?;
        }
        let these = if self.blockers.len() == 1 {
            "this would break"
        } else {
            "these would break"
        };
        write!(
            f,
            "{these} every row's prompt; nothing was sent (`promptls check {file}` shows the same)"
        )
    }
}

impl std::error::Error for PreflightError {}

/// Why one row gives no request, demo or expected output.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    #[error("cannot render: {0}")]
    Render(#[source] RenderError),
    #[error("the prompt renders no user turn")]
    NoUserTurn,
    /// The row has no value in the target column.
    #[error("no `{target}` value (the target column)")]
    NoExpected { target: String },
}
