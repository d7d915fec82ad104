//! Planning an evaluation: everything a run needs, read from the prompt's analysis and the
//! workspace and checked before any call (the model and its key, the metric or judge, the
//! dataset and split, the output schema), and the pre-call checks that stop a run whose
//! every row would be wasted.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::judge::Judge;
use super::metrics::{self, Metric, Options};
use super::output;
use crate::analysis::Analysis;
use crate::catalog::Price;
use crate::config::Config;
use crate::data::dataset::{Dataset, DatasetError, Row};
use crate::data::split::{self, Split};
use crate::llm::cache;
use crate::llm::provider::{self, Provider};
use crate::llm::wire::ChatRequest;
use crate::render::{CompiledPrompt, DataArgument, Renderer};

use super::report::ScoredAnswer;

mod error;
pub use error::{
    Blocker, MissingKey, ModelError, PlanError, PreflightError, PromptProblem, RequestError,
};

/// How rows are scored.
#[derive(Debug, Clone)]
pub enum Scoring {
    Metric(Metric),
    /// Tier 3: a judge model grades each answer against the rubric.
    Judge {
        judge: Judge,
        model: String,
        provider: Provider,
    },
}

impl Scoring {
    pub fn name(&self) -> &'static str {
        match self {
            Scoring::Metric(m) => m.name(),
            Scoring::Judge { .. } => "judge",
        }
    }

    /// The score a row needs to pass when the prompt sets no `promptls.threshold`: all of
    /// it for yes/no metrics, half for graded ones.
    fn default_threshold(&self) -> f64 {
        match self {
            Scoring::Metric(
                Metric::ExactMatch | Metric::Contains | Metric::Regex | Metric::JsonMatch,
            ) => 1.0,
            _ => 0.5,
        }
    }
}

/// Which dataset rows to evaluate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Rows {
    /// The validation rows of `promptls.split` (every row without a split).
    #[default]
    Dev,
    Train,
    All,
}

/// What the command line or the editor changes about a run.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Another dataset file (all its rows are evaluated).
    pub dataset: Option<PathBuf>,
    /// At most this many rows (the first ones).
    pub limit: Option<usize>,
    /// Another model (`provider/model` or an alias).
    pub model: Option<String>,
    pub options: Options,
    pub rows: Rows,
    /// The run reads only the cache (the editor's live scores): no key is needed.
    pub offline: bool,
    /// Another target column than `promptls.target` (the server's uploaded datasets name
    /// their output field).
    pub target: Option<String>,
    /// Another metric than `promptls.metric`.
    pub metric: Option<String>,
}

/// Everything a run needs, read and checked before any call.
#[derive(Clone)]
pub struct Plan {
    pub file: PathBuf,
    /// `provider/model`, aliases resolved.
    pub model: String,
    pub provider: Provider,
    pub scoring: Scoring,
    pub options: Options,
    /// The dataset column with the expected output.
    pub target: String,
    pub dataset: PathBuf,
    pub rows: Vec<Row>,
    /// Each row's number in its file (1-based), for messages and reports.
    pub row_numbers: Vec<usize>,
    /// Rows of the dataset that could not be read (they are not evaluated).
    pub dataset_errors: Vec<DatasetError>,
    /// The score a row needs to pass.
    pub threshold: f64,
    pub(super) price: Option<Price>,
    pub(super) judge_price: Option<Price>,
    pub(super) compiled: CompiledPrompt,
    pub(super) json_output: bool,
    pub(super) schema: Option<Arc<jsonschema::Validator>>,
    pub(super) config: Map<String, Value>,
    /// The rows come from another file than `promptls.dataset` (`--dataset`), as
    /// `preflight` needs to know.
    pub(super) other_dataset: bool,
}

/// Builds the plan for the prompt of `analysis` (read from its file).
pub fn plan(
    analysis: &Analysis,
    config: &Config,
    overrides: &Overrides,
) -> Result<Plan, PlanError> {
    let file = analysis.path().ok_or(PlanError::NoFile)?;
    // Problems that would blank or break every row stop the run before any call.
    preflight(analysis, overrides.dataset.is_some())?;
    let needs = |problem: PromptProblem| PlanError::Prompt {
        file: file.to_path_buf(),
        problem: Box::new(problem),
    };
    let compiled = analysis
        .compile(&Renderer::for_file(file))
        .map_err(|e| needs(PromptProblem::Compile(e)))?;
    let metadata = compiled
        .render_metadata(None)
        .map_err(|e| needs(PromptProblem::Compile(e)))?;
    let settings = analysis.settings();
    let wrong = |w: &crate::settings::Written<String>| {
        needs(PromptProblem::Setting {
            message: w.value.clone(),
            span: w.span,
        })
    };

    let written_model = overrides
        .model
        .clone()
        .or_else(|| {
            metadata
                .get("model")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .ok_or_else(|| needs(PromptProblem::NoModel))?;
    let model = config.resolve_model(&written_model).to_string();
    let provider = model_provider(config, &model).map_err(|e| needs(PromptProblem::Model(e)))?;
    if !overrides.offline {
        missing_key(config, &provider).map_err(|e| needs(PromptProblem::MissingKey(e)))?;
    }

    // A wrong setting stops the run with the message `check` shows for it.
    let metric_name = match (&overrides.metric, &settings.metric) {
        (Some(name), _) => name.as_str(),
        (None, None) => "exact_match",
        (None, Some(Ok(name))) => name.value.as_str(),
        (None, Some(Err(w))) => return Err(wrong(w)),
    };
    let scoring = if crate::settings::canonical_metric(metric_name) == Some("judge") {
        let judge = match &settings.judge {
            Some(Ok(judge)) => judge.value.clone(),
            Some(Err(w)) => return Err(wrong(w)),
            None => return Err(needs(PromptProblem::NoJudge)),
        };
        let written = judge
            .model
            .clone()
            .or_else(|| config.file.eval.judge.clone())
            .or_else(|| crate::settings::value(&settings.teacher).cloned())
            .unwrap_or_else(|| model.clone());
        let judge_model = config.resolve_model(&written).to_string();
        let judge_provider =
            model_provider(config, &judge_model).map_err(|e| needs(PromptProblem::Model(e)))?;
        if !overrides.offline {
            missing_key(config, &judge_provider)
                .map_err(|e| needs(PromptProblem::JudgeMissingKey(e)))?;
        }
        Scoring::Judge {
            judge,
            model: judge_model,
            provider: judge_provider,
        }
    } else {
        Scoring::Metric(Metric::from_name(metric_name).ok_or_else(|| {
            needs(PromptProblem::UnknownMetric {
                name: metric_name.to_string(),
            })
        })?)
    };

    let target = match &settings.target {
        _ if overrides.target.as_ref().is_some_and(|t| !t.is_empty()) => {
            overrides.target.clone().unwrap_or_default()
        }
        Some(Ok(t)) if !t.value.is_empty() => t.value.clone(),
        Some(Ok(_)) => return Err(needs(PromptProblem::EmptyTarget)),
        Some(Err(w)) => return Err(wrong(w)),
        None => return Err(needs(PromptProblem::NoTarget)),
    };
    let folder = file.parent().unwrap_or(Path::new("."));
    // Paths the prompt names stay inside the workspace (`--dataset` is the user's own).
    let confined = |key: &'static str, written: &str| -> Result<PathBuf, PlanError> {
        crate::confine::confine_named(&config.root, folder, written)
            .map(|_| folder.join(written))
            .map_err(|source| needs(PromptProblem::Outside { key, source }))
    };
    let split = match &settings.split {
        None => Split::All,
        Some(Ok(split)) => split.value.clone(),
        Some(Err(w)) => return Err(wrong(w)),
    };
    let numbered = |rows: Vec<Row>| -> Vec<(usize, Row)> {
        rows.into_iter()
            .enumerate()
            .map(|(i, r)| (i + 1, r))
            .collect()
    };
    let (dataset_path, mut rows, dataset_errors) = match &overrides.dataset {
        Some(path) => {
            let d = load(path)?;
            (path.clone(), numbered(d.rows), d.errors)
        }
        None => {
            let named = match &settings.dataset {
                Some(Ok(d)) => d.value.clone(),
                Some(Err(w)) => return Err(wrong(w)),
                None => return Err(needs(PromptProblem::NoDataset)),
            };
            match (&split, overrides.rows) {
                (Split::Files { train, dev }, which) => {
                    let chosen = if which == Rows::Train { train } else { dev };
                    let path = confined("promptls.split", chosen)?;
                    let mut d = load(&path)?;
                    let mut rows = numbered(d.rows);
                    if which == Rows::All {
                        let other = load(&confined("promptls.split", train)?)?;
                        rows.extend(numbered(other.rows));
                        d.errors.extend(other.errors);
                    }
                    (path, rows, d.errors)
                }
                (Split::Ratio { train, seed }, Rows::Dev | Rows::Train) => {
                    let path = confined("promptls.dataset", &named)?;
                    let d = load(&path)?;
                    let (train_rows, dev_rows) = split::split_indices(d.rows.len(), *train, *seed);
                    let keep = if overrides.rows == Rows::Train {
                        train_rows
                    } else {
                        dev_rows
                    };
                    let mut all: Vec<Option<(usize, Row)>> =
                        numbered(d.rows).into_iter().map(Some).collect();
                    let rows = keep.into_iter().filter_map(|i| all[i].take()).collect();
                    (path, rows, d.errors)
                }
                _ => {
                    let path = confined("promptls.dataset", &named)?;
                    let d = load(&path)?;
                    (path, numbered(d.rows), d.errors)
                }
            }
        }
    };
    if let Some(limit) = overrides.limit {
        rows.truncate(limit);
    }
    let (row_numbers, rows): (Vec<usize>, Vec<Row>) = rows.into_iter().unzip();

    let output = metadata.get("output");
    let json_output = output.and_then(|o| o.get("format")).and_then(Value::as_str) == Some("json");
    let schema = match output.and_then(|o| o.get("schema")) {
        Some(schema) if json_output => Some(Arc::new(
            jsonschema::validator_for(schema)
                .map_err(|e| needs(PromptProblem::Schema(Box::new(e))))?,
        )),
        _ => None,
    };
    let threshold = match &settings.threshold {
        None => scoring.default_threshold(),
        Some(Ok(t)) => t.value,
        Some(Err(w)) => return Err(wrong(w)),
    };
    let judge_price = match &scoring {
        Scoring::Judge { model, .. } => config.price(model),
        Scoring::Metric(_) => None,
    };
    Ok(Plan {
        file: file.to_path_buf(),
        price: config.price(&model),
        judge_price,
        model,
        provider,
        scoring,
        options: overrides.options,
        target,
        dataset: dataset_path,
        rows,
        row_numbers,
        dataset_errors,
        threshold,
        config: metadata
            .get("config")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        compiled,
        json_output,
        schema,
        other_dataset: overrides.dataset.is_some(),
    })
}

/// The tier-1 codes that blank or break every row when the prompt is rendered, besides
/// the template's syntax errors: a variable the schema (or the dataset) does not have is
/// always empty, and an unknown partial or helper fails every render.
const BREAKS_EVERY_ROW: &[&str] = &[
    "undeclared-variable",
    "variable-not-in-dataset",
    "missing-partial",
    "unknown-helper",
    "partial-recursion",
];

/// The tier-1 checks of `promptls check` (`crate::check`) that would make every row's
/// call worthless, as one error with each problem at its `file:line:column`; `Ok` when
/// there are none. `other_dataset`: the run reads another dataset than
/// `promptls.dataset` (`--dataset`), so that file's columns say nothing.
pub fn preflight(analysis: &Analysis, other_dataset: bool) -> Result<(), PreflightError> {
    use crate::check::{CheckInput, Disk, Severity};
    let (source, file) = (analysis.source(), analysis.path().unwrap_or(Path::new("")));
    let (diagnostics, syntax_codes) =
        crate::check::check_parsed_with_syntax(&CheckInput::new(analysis, &Disk));
    let index = crate::syntax::line_index::LineIndex::new(source);
    let blockers: Vec<Blocker> = diagnostics
        .iter()
        .filter(|d| {
            let syntax = d.severity == Severity::Error && syntax_codes.contains(&d.code);
            (syntax || BREAKS_EVERY_ROW.contains(&d.code))
                && !(other_dataset && d.code == "variable-not-in-dataset")
        })
        .map(|d| {
            let at = index.line_col_chars(source, d.span.start.min(source.len()));
            Blocker {
                line: at.line + 1,
                column: at.col + 1,
                message: d.message.clone(),
                code: d.code,
            }
        })
        .collect();
    if blockers.is_empty() {
        return Ok(());
    }
    Err(PreflightError {
        file: file.to_path_buf(),
        blockers,
    })
}

/// An error when `provider` needs a key and none was found.
fn missing_key(config: &Config, provider: &Provider) -> Result<(), MissingKey> {
    // A refused provider (an untrusted workspace) has its key withheld: the refusal
    // says why, not this.
    if provider.refused.is_some() || provider.key.is_some() || !config.needs_key(&provider.name) {
        return Ok(());
    }
    let var = provider.key_env.as_deref().unwrap_or("its key variable");
    Err(MissingKey {
        provider: provider.name.clone(),
        variable: var.to_string(),
    })
}

fn load(path: &Path) -> Result<Dataset, PlanError> {
    Dataset::load(path).map_err(|source| PlanError::Dataset {
        path: path.to_path_buf(),
        source,
    })
}

fn model_provider(config: &Config, model: &str) -> Result<Provider, ModelError> {
    let (name, _) = provider::split_model(model).ok_or_else(|| ModelError::NoProvider {
        model: model.to_string(),
    })?;
    Ok(config.provider(name)?)
}

impl Plan {
    /// Why this plan may not call its model or judge from an untrusted workspace, if so
    /// (front-ends stop before any call; the client refuses anyway).
    pub fn refusal(&self) -> Option<&crate::trust::Refusal> {
        let judge = match &self.scoring {
            Scoring::Judge { provider, .. } => provider.refused.as_deref(),
            _ => None,
        };
        self.provider.refused.as_deref().or(judge)
    }

    /// The same plan for another text of the prompt with the same frontmatter (an
    /// optimizer's candidate: another instruction or other demos), after the same
    /// pre-call checks as `plan`: a candidate that would break every row is refused
    /// before any call rather than scored.
    pub fn with_source(&self, source: &str) -> Result<Plan, PlanError> {
        let analysis = Analysis::new(source, Some(&self.file));
        preflight(&analysis, self.other_dataset)?;
        let compiled = analysis
            .compile(&Renderer::for_file(&self.file))
            .map_err(|e| PlanError::Prompt {
                file: self.file.clone(),
                problem: Box::new(PromptProblem::Compile(e)),
            })?;
        Ok(Plan {
            compiled,
            ..self.clone()
        })
    }

    /// The plan over some of its rows (indices into `rows`).
    pub fn with_rows(&self, indices: &[usize]) -> Plan {
        Plan {
            rows: indices
                .iter()
                .filter_map(|&i| self.rows.get(i).cloned())
                .collect(),
            row_numbers: indices
                .iter()
                .filter_map(|&i| self.row_numbers.get(i).copied())
                .collect(),
            ..self.clone()
        }
    }

    /// The plan run by another model (a teacher), aliases resolved.
    pub fn with_model(&self, config: &Config, model: &str) -> Result<Plan, PlanError> {
        let model = config.resolve_model(model).to_string();
        let provider = model_provider(config, &model)?;
        Ok(Plan {
            price: config.price(&model),
            model,
            provider,
            ..self.clone()
        })
    }

    /// The text of the last user turn `row` renders to: what a demo of that row shows.
    pub fn user_turn(&self, row: &Row) -> Result<String, RequestError> {
        let request = self.request(row)?;
        let last_user = request
            .messages
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            .ok_or(RequestError::NoUserTurn)?;
        Ok(last_user
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<String>()
            .trim()
            .to_string())
    }

    /// The request for `row`: the row's values (without the target) rendered into the
    /// prompt.
    pub fn request(&self, row: &Row) -> Result<ChatRequest, RequestError> {
        let mut input = row.values.clone();
        input.shift_remove(&self.target);
        let rendered = self
            .compiled
            .render_owned(
                DataArgument {
                    input,
                    ..DataArgument::default()
                },
                None,
            )
            .map_err(RequestError::Render)?;
        let (_, model) = provider::split_model(&self.model).unwrap_or(("", &self.model));
        Ok(ChatRequest {
            model: model.to_string(),
            messages: rendered.messages.iter().map(|m| m.to_json()).collect(),
            config: self.config.clone(),
            json_output: self.json_output,
        })
    }

    /// The cache key of `row`'s request: the same key means the same call.
    pub fn request_key(&self, row: &Row) -> Result<String, RequestError> {
        Ok(cache::key(&self.provider.name, &self.request(row)?))
    }

    /// The expected outputs of `row`: the target's text, or each string of a list.
    pub fn expected(&self, row: &Row) -> Result<Vec<String>, RequestError> {
        match row.values.get(&self.target) {
            None | Some(Value::Null) => Err(RequestError::NoExpected {
                target: self.target.clone(),
            }),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items))
                if !items.is_empty()
                    && items.iter().all(Value::is_string)
                    && !matches!(self.scoring, Scoring::Metric(Metric::JsonMatch)) =>
            {
                Ok(items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect())
            }
            Some(other) => Ok(vec![other.to_string()]),
        }
    }

    pub(super) fn cost(price: Option<Price>, prompt: u64, completion: u64) -> f64 {
        price.map_or(0.0, |p| {
            (prompt as f64 * p.input + completion as f64 * p.output) / 1_000_000.0
        })
    }

    /// Scores an answer to `row` by the metric (tier 2), after the tier-1 output checks.
    /// The judge is scored in `run`, as it needs a call.
    pub fn score_answer(&self, answer: &str, references: &[String]) -> ScoredAnswer {
        let out = output::read(answer, self.json_output, self.schema.as_deref());
        let refs: Vec<&str> = references.iter().map(String::as_str).collect();
        let score = match &self.scoring {
            Scoring::Metric(metric) => metrics::score_row(*metric, &out.text, &refs, &self.options),
            Scoring::Judge { .. } => Ok(0.0),
        };
        let (score, error) = match score {
            Ok(s) if out.problems.is_empty() => (Some(s), None),
            Ok(_) => (Some(0.0), None),
            Err(e) => (None, Some(e.to_string())),
        };
        ScoredAnswer {
            text: out.text,
            problems: out.problems,
            score,
            error,
        }
    }
}
