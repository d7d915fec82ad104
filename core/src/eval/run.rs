//! An evaluation run: each dataset row is rendered into the prompt, sent to the model
//! (through the shared client: pacing, retries, cache), its answer read per
//! `output.format` and checked (tier 1), then scored by the metric (tier 2) or by a judge
//! model (tier 3). The report has every row and the aggregate with a 95% interval, calls,
//! cache hits, tokens, latency and cost.
//!
//! `plan` reads everything the run needs from the prompt and the workspace and fails
//! early with a clear message; `run` does the calls.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use super::interval;
use super::judge::{self, Judge};
use super::metrics::{self, bleu, chrf, Metric, Options};
use super::output;
use crate::analysis::Analysis;
use crate::catalog::Price;
use crate::config::Config;
use crate::data::dataset::{Dataset, DatasetError, Row};
use crate::data::split::{self, Split};
use crate::llm::cache;
use crate::llm::client::{Answer, Client, Reserve, Unlimited};
use crate::llm::provider::{self, Provider};
use crate::llm::wire::ChatRequest;
use crate::render::{CompiledPrompt, DataArgument, Renderer};

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
    price: Option<Price>,
    judge_price: Option<Price>,
    compiled: CompiledPrompt,
    json_output: bool,
    schema: Option<Arc<jsonschema::Validator>>,
    config: Map<String, Value>,
    /// The rows come from another file than `promptls.dataset` (`--dataset`), as
    /// `preflight` needs to know.
    other_dataset: bool,
}

/// Builds the plan for the prompt of `analysis` (read from its file).
pub fn plan(analysis: &Analysis, config: &Config, overrides: &Overrides) -> Result<Plan, String> {
    let file = analysis
        .path()
        .ok_or("an evaluation needs the prompt's file (its dataset is next to it)")?;
    // Problems that would blank or break every row stop the run before any call.
    preflight(analysis, overrides.dataset.is_some())?;
    let compiled = analysis
        .compile(&Renderer::for_file(file))
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let metadata = compiled
        .render_metadata(None)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let settings = analysis.settings();
    let needs = |what: &str| format!("{}: {what}", file.display());

    let written_model = overrides
        .model
        .clone()
        .or_else(|| {
            metadata
                .get("model")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .ok_or_else(|| needs("no `model` to evaluate with (set `model:` or pass --model)"))?;
    let model = config.resolve_model(&written_model).to_string();
    let provider = model_provider(config, &model).map_err(|e| needs(&e))?;
    if !overrides.offline {
        missing_key(config, &provider).map_err(|e| needs(&e))?;
    }

    // A wrong setting stops the run with the message `check` shows for it.
    let metric_name = match &settings.metric {
        None => "exact_match",
        Some(Ok(name)) => name.value.as_str(),
        Some(Err(wrong)) => return Err(needs(&wrong.value)),
    };
    let scoring = if crate::settings::canonical_metric(metric_name) == Some("judge") {
        let judge =
            match &settings.judge {
                Some(Ok(judge)) => judge.value.clone(),
                Some(Err(wrong)) => return Err(needs(&wrong.value)),
                None => return Err(needs(
                    "`promptls.metric: judge` needs `promptls.judge`: a rubric, or {rubric, model}",
                )),
            };
        let written = judge
            .model
            .clone()
            .or_else(|| config.file.eval.judge.clone())
            .or_else(|| crate::settings::value(&settings.teacher).cloned())
            .unwrap_or_else(|| model.clone());
        let judge_model = config.resolve_model(&written).to_string();
        let judge_provider = model_provider(config, &judge_model).map_err(|e| needs(&e))?;
        if !overrides.offline {
            missing_key(config, &judge_provider).map_err(|e| needs(&format!("the judge: {e}")))?;
        }
        Scoring::Judge {
            judge,
            model: judge_model,
            provider: judge_provider,
        }
    } else {
        Scoring::Metric(Metric::from_name(metric_name).ok_or_else(|| {
            needs(&format!(
                "unknown metric `{metric_name}` (known: {})",
                crate::settings::METRICS.join(", ")
            ))
        })?)
    };

    let target = match &settings.target {
        Some(Ok(t)) if !t.value.is_empty() => t.value.clone(),
        Some(Ok(_)) => return Err(needs("`promptls.target` must name a column")),
        Some(Err(wrong)) => return Err(needs(&wrong.value)),
        None => {
            return Err(needs(
                "no `promptls.target`: name the dataset column that holds the expected output",
            ))
        }
    };
    let folder = file.parent().unwrap_or(Path::new("."));
    // Paths the prompt names stay inside the workspace (`--dataset` is the user's own).
    let confined = |key: &str, written: &str| -> Result<PathBuf, String> {
        crate::confine::confine_named(&config.root, folder, written)
            .map(|_| folder.join(written))
            .map_err(|e| needs(&format!("{key} {e}")))
    };
    let split = match &settings.split {
        None => Split::All,
        Some(Ok(split)) => split.value.clone(),
        Some(Err(wrong)) => return Err(needs(&wrong.value)),
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
                Some(Err(wrong)) => return Err(needs(&wrong.value)),
                None => {
                    return Err(needs(
                        "no `promptls.dataset` (a CSV or JSONL file next to the prompt), and no --dataset",
                    ))
                }
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
                .map_err(|e| needs(&format!("`output.schema` is not a valid JSON Schema: {e}")))?,
        )),
        _ => None,
    };
    let threshold = match &settings.threshold {
        None => scoring.default_threshold(),
        Some(Ok(t)) => t.value,
        Some(Err(wrong)) => return Err(needs(&wrong.value)),
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
pub fn preflight(analysis: &Analysis, other_dataset: bool) -> Result<(), String> {
    use crate::check::{CheckInput, Disk, Severity};
    let (source, file) = (analysis.source(), analysis.path().unwrap_or(Path::new("")));
    let (diagnostics, syntax_codes) =
        crate::check::check_parsed_with_syntax(&CheckInput::new(analysis, &Disk));
    let index = crate::syntax::line_index::LineIndex::new(source);
    let problems: Vec<String> = diagnostics
        .iter()
        .filter(|d| {
            let syntax = d.severity == Severity::Error && syntax_codes.contains(&d.code);
            (syntax || BREAKS_EVERY_ROW.contains(&d.code))
                && !(other_dataset && d.code == "variable-not-in-dataset")
        })
        .map(|d| {
            let at = index.line_col_chars(source, d.span.start.min(source.len()));
            format!(
                "{}:{}:{}: {} [{}]",
                file.display(),
                at.line + 1,
                at.col + 1,
                d.message,
                d.code
            )
        })
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}
{} every row's prompt; nothing was sent (`promptls check {}` shows the same)",
        problems.join("\n"),
        if problems.len() == 1 {
            "this would break"
        } else {
            "these would break"
        },
        file.display()
    ))
}

/// An error when `provider` needs a key and none was found.
fn missing_key(config: &Config, provider: &Provider) -> Result<(), String> {
    // A refused provider (an untrusted workspace) has its key withheld: the refusal
    // says why, not this.
    if provider.refused.is_some() || provider.key.is_some() || !config.needs_key(&provider.name) {
        return Ok(());
    }
    let var = provider.key_env.as_deref().unwrap_or("its key variable");
    Err(format!(
        "provider `{}` needs a key and ${var} is not set (in the environment or the workspace .env); nothing was sent",
        provider.name
    ))
}

fn load(path: &Path) -> Result<Dataset, String> {
    Dataset::load(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn model_provider(config: &Config, model: &str) -> Result<Provider, String> {
    let (name, _) = provider::split_model(model).ok_or_else(|| {
        format!("model `{model}` has no provider: model names are `provider/model`, e.g. `openai/{model}`")
    })?;
    config.provider(name).map_err(|e| e.to_string())
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
    pub fn with_source(&self, source: &str) -> Result<Plan, String> {
        let analysis = Analysis::new(source, Some(&self.file));
        preflight(&analysis, self.other_dataset)?;
        let compiled = analysis
            .compile(&Renderer::for_file(&self.file))
            .map_err(|e| format!("{}: {e}", self.file.display()))?;
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
    pub fn with_model(&self, config: &Config, model: &str) -> Result<Plan, String> {
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
    pub fn user_turn(&self, row: &Row) -> Result<String, String> {
        let request = self.request(row)?;
        let last_user = request
            .messages
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            .ok_or("the prompt renders no user turn")?;
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
    pub fn request(&self, row: &Row) -> Result<ChatRequest, String> {
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
            .map_err(|e| format!("cannot render: {e}"))?;
        let (_, model) = provider::split_model(&self.model).unwrap_or(("", &self.model));
        Ok(ChatRequest {
            model: model.to_string(),
            messages: rendered.messages.iter().map(|m| m.to_json()).collect(),
            config: self.config.clone(),
            json_output: self.json_output,
        })
    }

    /// The cache key of `row`'s request: the same key means the same call.
    pub fn request_key(&self, row: &Row) -> Result<String, String> {
        Ok(cache::key(&self.provider.name, &self.request(row)?))
    }

    /// The expected outputs of `row`: the target's text, or each string of a list.
    pub fn expected(&self, row: &Row) -> Result<Vec<String>, String> {
        match row.values.get(&self.target) {
            None | Some(Value::Null) => {
                Err(format!("no `{}` value (the target column)", self.target))
            }
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

    fn cost(price: Option<Price>, prompt: u64, completion: u64) -> f64 {
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
            Err(e) => (None, Some(e)),
        };
        ScoredAnswer {
            text: out.text,
            problems: out.problems,
            score,
            error,
        }
    }
}

/// An answer after tier 1 and tier 2.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredAnswer {
    /// What the metric compared (for JSON, the JSON text).
    pub text: String,
    pub problems: Vec<String>,
    pub score: Option<f64>,
    pub error: Option<String>,
}

/// One row's result.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RowResult {
    /// The row's number in the dataset file (1-based, data rows only).
    pub row: usize,
    /// The row's line in the dataset file.
    pub line: usize,
    pub input: Map<String, Value>,
    /// The model's answer as it came.
    pub output: Option<String>,
    /// The expected output (the first, when there are several).
    pub expected: String,
    pub score: Option<f64>,
    pub passed: bool,
    /// Tier-1 output problems (the row scores 0).
    pub problems: Vec<String>,
    /// Why the row has no score: the call failed, the row could not be rendered, ...
    pub error: Option<String>,
    /// The judge's reason, for `judge`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub cached: bool,
    /// HTTP requests made for this row (retries and the judge included).
    pub calls: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub latency_ms: f64,
    /// The row could not be rendered (or has no target value): it was never sent.
    pub bad_row: bool,
    /// The row's call ran out of attempts on transient faults (429, 5xx, timeouts) and
    /// was tried again in the run's final round.
    pub retried: bool,
    /// The error is a transient fault that ran out of attempts (the final round tries it
    /// again).
    #[serde(skip)]
    pub transient: bool,
    /// The cache key of the row's request.
    #[serde(skip)]
    pub key: String,
}

/// A dataset line that could not be read (it has no row in `per_row`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Unreadable {
    pub line: Option<usize>,
    pub error: String,
}

/// A whole run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub file: String,
    pub dataset: String,
    pub model: String,
    pub metric: String,
    /// The aggregate: corpus BLEU or chrF, else the mean of row scores.
    pub score: f64,
    /// 95% confidence interval of the score.
    pub interval: [f64; 2],
    pub threshold: f64,
    pub rows: usize,
    pub scored: usize,
    pub passed_rows: usize,
    pub failed_rows: usize,
    /// Rows without a score (call or render errors).
    pub error_rows: usize,
    /// Rows that could not be read or rendered: the dataset's unreadable lines
    /// (`unreadable`) and the rows of `per_row` marked `bad_row`. The score is over the
    /// other rows (`scored`).
    pub bad_rows: usize,
    pub unreadable: Vec<Unreadable>,
    /// Rows whose calls ran out of attempts and were tried again in the final round.
    pub retried_rows: usize,
    /// HTTP requests made (retries included; cache hits are not calls).
    pub calls: u64,
    pub cache_hits: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub wall_ms: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub per_row: Vec<RowResult>,
}

impl Report {
    /// The run's score as the history records it.
    pub fn score(&self) -> crate::store::Score {
        crate::store::Score::new(
            std::path::Path::new(&self.dataset),
            &self.metric,
            &self.model,
            self.score,
            self.rows,
        )
    }
}

/// A cost with the digits that matter: `$0.0412`, `$0.000011`, `$0`.
pub fn dollars(usd: f64) -> String {
    if usd == 0.0 {
        "$0".to_string()
    } else if usd < 0.0001 {
        format!("${usd:.6}")
    } else {
        format!("${usd:.4}")
    }
}

/// The run was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

/// Runs the plan. Every row is rendered and looked up in the cache first (in one
/// transaction), so a re-run, or an edit that changed a few rows, sends only the rows
/// without an answer; those run at most `concurrency` at once. `on_row` sees each row as
/// it finishes with (done, total). Cancelling stops the calls in flight and returns
/// `Cancelled`.
pub async fn run(
    plan: &Plan,
    client: &Client,
    concurrency: usize,
    cancel: &CancellationToken,
    on_row: &(dyn Fn(&RowResult, usize, usize) + Send + Sync),
) -> Result<Report, Cancelled> {
    run_within(plan, client, &Unlimited, concurrency, cancel, on_row).await
}

/// As `run`, with every HTTP attempt asked of `budget` first: the first attempt of each
/// call (task and judge) in the main round counts as reserved with the run, retries and
/// the final round's attempts are reserved one by one. A row whose attempt the budget
/// refuses ends without an answer (its error says why; the budget knows it refused).
pub async fn run_within(
    plan: &Plan,
    client: &Client,
    budget: &dyn Reserve,
    concurrency: usize,
    cancel: &CancellationToken,
    on_row: &(dyn Fn(&RowResult, usize, usize) + Send + Sync),
) -> Result<Report, Cancelled> {
    use rayon::prelude::*;
    let started = Instant::now();
    let total = plan.rows.len();
    let prepared: Vec<Prepared> = plan
        .rows
        .par_iter()
        .enumerate()
        .map(|(i, row)| prepare(plan, i, row))
        .collect();
    let keys: Vec<&str> = prepared.iter().map(|p| p.result.key.as_str()).collect();
    let hits = client.cached_many(&keys);
    let judged = matches!(plan.scoring, Scoring::Judge { .. });
    let (from_cache, to_call): (Vec<_>, Vec<_>) = prepared
        .into_iter()
        .zip(hits)
        .enumerate()
        .partition(|(_, (p, hit))| hit.is_some() && !judged && p.request.is_some());

    let mut results: Vec<(usize, RowResult)> = from_cache
        .into_par_iter()
        .map(|(i, (p, hit))| {
            let answer = Answer {
                response: hit.expect("partitioned on hits"),
                attempts: 0,
                cached: true,
            };
            (i, finish(plan, p, answer, 0.0))
        })
        .collect();
    for (done, (_, row)) in results.iter().enumerate() {
        on_row(row, done + 1, total);
    }

    // The row futures are made up front (they do nothing until polled): a lazily mapped
    // iterator of borrowed rows makes the run's future not provably `Send` (rustc's
    // higher-ranked lifetime limitation), and the editor spawns runs on other threads.
    let to_call: Vec<(usize, Prepared)> = to_call.into_iter().map(|(i, (p, _))| (i, p)).collect();
    let calls: Vec<_> = to_call
        .iter()
        .enumerate()
        .map(|(at, (i, p))| async move { (at, *i, evaluate_row(plan, client, p, budget, 1).await) })
        .collect();
    // Rows whose calls ran out of attempts on transient faults wait for the final round
    // (they are not shown as done yet).
    let mut again: Vec<(usize, RowResult)> = Vec::new();
    let mut stream = futures_util::stream::iter(calls).buffer_unordered(concurrency.max(1));
    loop {
        let next = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Cancelled),
            next = stream.next() => next,
        };
        let Some((at, i, result)) = next else { break };
        if result.transient {
            again.push((at, result));
            continue;
        }
        results.push((i, result));
        if let Some((_, last)) = results.last() {
            on_row(last, results.len(), total);
        }
    }
    drop(stream);
    if !again.is_empty() {
        // The final round: after the rest of the run, each such row once more with fresh
        // backoff (and `Retry-After` honoured by the client), a few at a time, so a
        // provider that was briefly overloaded answers every row. A row that fails again
        // fails for good.
        let pause = client.policy().delay(1, crate::llm::retry::jitter(), None);
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Cancelled),
            _ = tokio::time::sleep(pause) => {}
        }
        tracing::info!(
            "{} row(s) ran out of attempts; trying them again in a final round",
            again.len()
        );
        let round: Vec<_> = again
            .into_iter()
            .map(|(at, first)| {
                let (i, p) = &to_call[at];
                async move {
                    // Nothing of this round was reserved with the run.
                    let mut result = evaluate_row(plan, client, p, budget, 0).await;
                    result.calls += first.calls;
                    result.retried = true;
                    (*i, result)
                }
            })
            .collect();
        let mut stream = futures_util::stream::iter(round)
            .buffer_unordered(final_round_concurrency(concurrency));
        loop {
            let next = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(Cancelled),
                next = stream.next() => next,
            };
            let Some(result) = next else { break };
            results.push(result);
            if let Some((_, last)) = results.last() {
                on_row(last, results.len(), total);
            }
        }
    }
    results.sort_by_key(|(i, _)| *i);
    let per_row = results.into_iter().map(|(_, r)| r).collect();
    Ok(summarise(
        plan,
        per_row,
        started.elapsed().as_secs_f64() * 1000.0,
    ))
}

/// A run as far as the cache answers it, with no call.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedRun {
    /// The rows with a cached answer, scored as `run` scores them.
    pub report: Report,
    /// Rows with no cached answer for their request as it renders now (or that cannot be
    /// rendered): an edit made them stale.
    pub stale: usize,
}

/// Every row of `plan` whose answer is in the cache, prepared, scored and summarised by
/// the same code as `run` (the editor's live scores are this); no call is made.
pub fn from_cache(plan: &Plan, client: &Client) -> CachedRun {
    let prepared: Vec<Prepared> = plan
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| prepare(plan, i, row))
        .collect();
    let keys: Vec<&str> = prepared.iter().map(|p| p.result.key.as_str()).collect();
    let hits = client.cached_many(&keys);
    let mut rows = Vec::new();
    let mut stale = 0;
    for (p, hit) in prepared.into_iter().zip(hits) {
        match (&p.request, hit) {
            (Some(_), Some(response)) => {
                let answer = Answer {
                    response,
                    attempts: 0,
                    cached: true,
                };
                rows.push(finish(plan, p, answer, 0.0));
            }
            // A row whose expected output cannot be read is not scored, and not stale.
            (None, _) if p.references.is_empty() => {}
            _ => stale += 1,
        }
    }
    CachedRun {
        report: summarise(plan, rows, 0.0),
        stale,
    }
}

/// Rows at once in the final round: a quarter of the run's, at least one.
fn final_round_concurrency(concurrency: usize) -> usize {
    (concurrency / 4).max(1)
}

/// A row ready to send: its request and expected outputs, or the error that stops it.
#[derive(Clone)]
struct Prepared {
    result: RowResult,
    request: Option<ChatRequest>,
    references: Vec<String>,
}

fn prepare(plan: &Plan, index: usize, row: &Row) -> Prepared {
    let mut input = row.values.clone();
    input.shift_remove(&plan.target);
    let expected = plan.expected(row);
    let mut result = RowResult {
        row: plan.row_numbers.get(index).copied().unwrap_or(index + 1),
        line: row.line,
        input,
        output: None,
        expected: expected
            .as_ref()
            .ok()
            .and_then(|e| e.first().cloned())
            .unwrap_or_default(),
        score: None,
        passed: false,
        problems: Vec::new(),
        error: None,
        reason: None,
        cached: false,
        calls: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        cost_usd: 0.0,
        latency_ms: 0.0,
        bad_row: false,
        retried: false,
        transient: false,
        key: String::new(),
    };
    let references = match expected {
        Ok(r) => r,
        Err(e) => {
            result.error = Some(e);
            result.bad_row = true;
            return Prepared {
                result,
                request: None,
                references: Vec::new(),
            };
        }
    };
    let request = match plan.request(row) {
        Ok(r) => r,
        Err(e) => {
            result.error = Some(e);
            result.bad_row = true;
            return Prepared {
                result,
                request: None,
                references,
            };
        }
    };
    result.key = cache::key(&plan.provider.name, &request);
    Prepared {
        result,
        request: Some(request),
        references,
    }
}

/// A row with its answer: usage, cost, tier 1 and tier 2.
fn finish(plan: &Plan, prepared: Prepared, answer: Answer, latency_ms: f64) -> RowResult {
    let mut result = prepared.result;
    result.latency_ms = latency_ms;
    result.cached = answer.cached;
    result.calls = answer.attempts;
    if !answer.cached {
        result.prompt_tokens = answer.response.prompt_tokens;
        result.completion_tokens = answer.response.completion_tokens;
        result.cost_usd = Plan::cost(
            plan.price,
            answer.response.prompt_tokens,
            answer.response.completion_tokens,
        );
    }
    let scored = plan.score_answer(&answer.response.text, &prepared.references);
    result.output = Some(answer.response.text);
    result.problems = scored.problems;
    result.score = scored.score;
    result.error = scored.error;
    result.passed = result.score.is_some_and(|s| s >= plan.threshold - 1e-12);
    result
}

/// `reserved`: attempts of each call (the task's, the judge's) already reserved.
async fn evaluate_row(
    plan: &Plan,
    client: &Client,
    prepared: &Prepared,
    budget: &dyn Reserve,
    reserved: u32,
) -> RowResult {
    let Some(request) = &prepared.request else {
        return prepared.result.clone();
    };
    let began = Instant::now();
    let answer = match client
        .chat_within(&plan.provider, request, budget, reserved)
        .await
    {
        Ok(a) => a,
        Err(e) => {
            let mut result = prepared.result.clone();
            result.calls = e.attempts;
            result.error = Some(e.message);
            result.transient = e.transient;
            return result;
        }
    };
    let prepared = prepared.clone();
    let latency = if answer.cached {
        0.0
    } else {
        began.elapsed().as_secs_f64() * 1000.0
    };
    let mut result = finish(plan, prepared, answer, latency);
    if let Scoring::Judge {
        judge,
        model,
        provider,
    } = &plan.scoring
    {
        if result.problems.is_empty() && result.error.is_none() {
            let judge = JudgeCall {
                judge,
                model,
                provider,
            };
            judge_row(plan, client, &judge, budget, reserved, &mut result).await;
        }
    }
    result.passed = result.score.is_some_and(|s| s >= plan.threshold - 1e-12);
    result
}

/// The judge of a run and where it is called.
struct JudgeCall<'a> {
    judge: &'a Judge,
    model: &'a str,
    provider: &'a Provider,
}

/// Tier 3: asks the judge model to grade the row's output.
async fn judge_row(
    plan: &Plan,
    client: &Client,
    call: &JudgeCall<'_>,
    budget: &dyn Reserve,
    reserved: u32,
    result: &mut RowResult,
) {
    let JudgeCall {
        judge,
        model,
        provider,
    } = *call;
    let (_, judge_model) = provider::split_model(model).unwrap_or(("", model));
    let mut config = Map::new();
    config.insert("temperature".into(), Value::from(0));
    let request = ChatRequest {
        model: judge_model.to_string(),
        messages: judge.messages(
            &result.input,
            result.output.as_deref().unwrap_or(""),
            (!result.expected.is_empty()).then_some(result.expected.as_str()),
        ),
        config,
        json_output: true,
    };
    match client
        .chat_within(provider, &request, budget, reserved)
        .await
    {
        Ok(answer) => {
            result.calls += answer.attempts;
            if !answer.cached {
                result.prompt_tokens += answer.response.prompt_tokens;
                result.completion_tokens += answer.response.completion_tokens;
                result.cost_usd += Plan::cost(
                    plan.judge_price,
                    answer.response.prompt_tokens,
                    answer.response.completion_tokens,
                );
            }
            match judge::parse_score(&answer.response.text) {
                Ok((score, reason)) => {
                    result.score = Some(score);
                    result.reason = reason;
                }
                Err(e) => {
                    result.score = None;
                    result.error = Some(e.to_string());
                }
            }
        }
        Err(e) => {
            result.calls += e.attempts;
            result.score = None;
            result.error = Some(format!("judge: {}", e.message));
            result.transient = e.transient;
        }
    }
}

/// The aggregate of finished rows (also used for live scores from the cache).
pub fn summarise(plan: &Plan, per_row: Vec<RowResult>, wall_ms: f64) -> Report {
    let scored: Vec<&RowResult> = per_row.iter().filter(|r| r.score.is_some()).collect();
    let scores: Vec<f64> = scored.iter().filter_map(|r| r.score).collect();
    let texts: Vec<(String, Vec<String>)> = scored
        .iter()
        .map(|r| {
            let text = r
                .output
                .as_deref()
                .map(|o| {
                    if plan.json_output {
                        output::json_text(o).to_string()
                    } else {
                        o.to_string()
                    }
                })
                .unwrap_or_default();
            (text, vec![r.expected.clone()])
        })
        .collect();
    let (score, interval) = aggregate_with_interval(plan, &scores, &texts);
    let mut latencies: Vec<f64> = per_row
        .iter()
        .filter(|r| !r.cached && r.output.is_some())
        .map(|r| r.latency_ms)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let percentile = |q: f64| -> f64 {
        if latencies.is_empty() {
            0.0
        } else {
            latencies
                [((q * (latencies.len() - 1) as f64).round() as usize).min(latencies.len() - 1)]
        }
    };
    Report {
        file: plan.file.display().to_string(),
        dataset: plan.dataset.display().to_string(),
        model: plan.model.clone(),
        metric: plan.scoring.name().to_string(),
        score,
        interval,
        threshold: plan.threshold,
        rows: per_row.len(),
        scored: scores.len(),
        passed_rows: per_row.iter().filter(|r| r.passed).count(),
        failed_rows: per_row
            .iter()
            .filter(|r| !r.passed && r.score.is_some())
            .count(),
        error_rows: per_row.iter().filter(|r| r.score.is_none()).count(),
        bad_rows: per_row.iter().filter(|r| r.bad_row).count() + plan.dataset_errors.len(),
        unreadable: plan
            .dataset_errors
            .iter()
            .map(|e| Unreadable {
                line: e.line,
                error: e.message.clone(),
            })
            .collect(),
        retried_rows: per_row.iter().filter(|r| r.retried).count(),
        calls: per_row.iter().map(|r| u64::from(r.calls)).sum(),
        cache_hits: per_row.iter().filter(|r| r.cached).count() as u64,
        prompt_tokens: per_row.iter().map(|r| r.prompt_tokens).sum(),
        completion_tokens: per_row.iter().map(|r| r.completion_tokens).sum(),
        cost_usd: per_row.iter().map(|r| r.cost_usd).sum(),
        wall_ms,
        latency_p50_ms: percentile(0.5),
        latency_p95_ms: percentile(0.95),
        per_row,
    }
}

/// The score and its interval. Corpus BLEU and chrF come from summed statistics, so rows
/// whose output failed the tier-1 checks still enter them with their text; the other
/// metrics average row scores, where such rows count 0.
fn aggregate_with_interval(
    plan: &Plan,
    scores: &[f64],
    texts: &[(String, Vec<String>)],
) -> (f64, [f64; 2]) {
    if scores.is_empty() {
        return (0.0, [0.0, 0.0]);
    }
    let pairs = || {
        texts
            .iter()
            .map(|(p, r)| (p.as_str(), r.iter().map(String::as_str).collect::<Vec<_>>()))
    };
    match plan.scoring {
        Scoring::Metric(Metric::Bleu) => {
            let stats: Vec<bleu::Stats> =
                pairs().map(|(p, r)| bleu::segment_stats(p, &r)).collect();
            let corpus = |sample: &mut dyn Iterator<Item = usize>| {
                let mut total = bleu::Stats::default();
                for i in sample {
                    total += stats[i];
                }
                bleu::score(&total, false) / 100.0
            };
            let score = corpus(&mut (0..stats.len()));
            let (lo, hi) = interval::bootstrap(stats.len(), &|s| corpus(&mut s.iter().copied()));
            (score, [lo, hi])
        }
        Scoring::Metric(m @ (Metric::Chrf | Metric::ChrfPlusPlus)) => {
            let order = if m == Metric::Chrf { 0 } else { 2 };
            let stats: Vec<chrf::Stats> = pairs()
                .map(|(p, r)| chrf::segment_stats(p, &r, order))
                .collect();
            let corpus = |sample: &mut dyn Iterator<Item = usize>| {
                let mut total: chrf::Stats = Vec::new();
                for i in sample {
                    if total.len() < stats[i].len() {
                        total.resize(stats[i].len(), [0; 3]);
                    }
                    for (t, s) in total.iter_mut().zip(&stats[i]) {
                        for k in 0..3 {
                            t[k] += s[k];
                        }
                    }
                }
                chrf::score(&total) / 100.0
            };
            let score = corpus(&mut (0..stats.len()));
            let (lo, hi) = interval::bootstrap(stats.len(), &|s| corpus(&mut s.iter().copied()));
            (score, [lo, hi])
        }
        _ => {
            let mean = scores.iter().sum::<f64>() / scores.len() as f64;
            let (lo, hi) = interval::for_mean(scores);
            (mean, [lo, hi])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(prompt: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("promptls.toml"), "").unwrap();
        std::fs::write(dir.path().join("data.csv"), "text,label\nhi,a\n").unwrap();
        let file = dir.path().join("p.prompt");
        std::fs::write(&file, prompt).unwrap();
        (dir, file)
    }

    const HEAD: &str = "---\nmodel: ollama/tiny\ninput:\n  schema:\n    text: string\npromptls.dataset: data.csv\npromptls.target: label\n---\n";

    #[test]
    fn preflight_names_each_problem_at_its_place() {
        let prompt = format!("{HEAD}Say {{{{txet}}}}\n{{{{> footer}}}}\n");
        let (_dir, file) = workspace(&prompt);
        let e = preflight(&Analysis::new(prompt.as_str(), Some(&file)), false).unwrap_err();
        let shown = file.display().to_string();
        assert!(
            e.contains(&format!("{shown}:9:7: `txet` is not declared")),
            "{e}"
        );
        assert!(e.contains("[undeclared-variable]"), "{e}");
        assert!(
            e.contains(&format!("{shown}:10:")) && e.contains("[missing-partial]"),
            "{e}"
        );
        assert!(e.contains("nothing was sent"), "{e}");

        let broken = format!("{HEAD}{{{{#if text}}}}{{{{text}}}}\n");
        assert!(
            preflight(&Analysis::new(broken.as_str(), Some(&file)), false)
                .unwrap_err()
                .contains("[unclosed-block]")
        );
        let fine = format!("{HEAD}Say {{{{text}}}}\n");
        assert_eq!(
            preflight(&Analysis::new(fine.as_str(), Some(&file)), false),
            Ok(())
        );
    }

    #[test]
    fn dataset_columns_count_only_for_the_prompts_own_dataset() {
        let prompt = "---\nmodel: ollama/tiny\npromptls.dataset: data.csv\npromptls.target: label\n---\nSay {{txet}}\n";
        let (_dir, file) = workspace(prompt);
        let e = preflight(&Analysis::new(prompt, Some(&file)), false).unwrap_err();
        assert!(e.contains("[variable-not-in-dataset]"), "{e}");
        // `--dataset` reads another file, whose columns the check did not see.
        assert_eq!(preflight(&Analysis::new(prompt, Some(&file)), true), Ok(()));
    }

    #[test]
    fn a_candidate_that_breaks_every_row_is_refused_before_any_call() {
        let prompt = format!("{HEAD}Say {{{{text}}}}\n");
        let (_dir, file) = workspace(&prompt);
        let config = Config::load(&file).unwrap();
        let plan = plan(
            &Analysis::new(prompt.as_str(), Some(&file)),
            &config,
            &Overrides::default(),
        )
        .unwrap();
        let fine = format!("{HEAD}Answer in one word: {{{{text}}}}\n");
        assert!(plan.with_source(&fine).is_ok());
        // An instruction with a backslash before `{{` (written escaped by the optimizer
        // as `\\{{`) turns into a live expression: a variable no row has.
        let program = crate::program::Program {
            instruction: "Say \\{{txet}}".into(),
            demos: Vec::new(),
        };
        let candidate = program.apply(&prompt).unwrap();
        let e = plan.with_source(&candidate).err().unwrap();
        assert!(e.contains("[undeclared-variable]"), "{e}");
        assert!(e.contains("nothing was sent"), "{e}");
        let unclosed = format!("{HEAD}{{{{#if text}}}}Say {{{{text}}}}\n");
        let e = plan.with_source(&unclosed).err().unwrap();
        assert!(e.contains("[unclosed-block]"), "{e}");
    }

    #[test]
    fn the_final_round_runs_fewer_rows_at_once() {
        assert_eq!(final_round_concurrency(1), 1);
        assert_eq!(final_round_concurrency(8), 2);
        assert_eq!(final_round_concurrency(32), 8);
    }
}
