//! An evaluation run: each dataset row is rendered into the prompt, sent to the model
//! (through the shared client: pacing, retries, cache), its answer read per
//! `output.format` and checked (tier 1), then scored by the metric (tier 2) or by a judge
//! model (tier 3). The report has every row and the aggregate with a 95% interval, calls,
//! cache hits, tokens, latency and cost.
//!
//! `plan` reads everything the run needs from the prompt and the workspace and fails
//! early with a clear message; `run` does the calls.

use std::time::Instant;

use futures_util::StreamExt;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use super::judge::{self, Judge};
use crate::data::dataset::Row;
use crate::llm::cache;
use crate::llm::client::{Answer, Client, Reserve, Unlimited};
use crate::llm::provider::{self, Provider};
use crate::llm::wire::{ChatRequest, ChatResponse};

pub use super::plan::{
    plan, preflight, Overrides, Plan, PlanError, PreflightError, RequestError, Rows, Scoring,
};
pub use super::report::{dollars, summarise, Report, RowResult, ScoredAnswer, Unreadable};

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
    let judged = matches!(plan.scoring, Scoring::Judge { .. });
    let (from_cache, to_call): (Vec<_>, Vec<_>) = prepared_with_hits(plan, client)
        .into_iter()
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
    let mut rows = Vec::new();
    let mut stale = 0;
    for (p, hit) in prepared_with_hits(plan, client) {
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

/// Every row of `plan` prepared (on every core), with its cached answer when there is one
/// (read in one transaction).
fn prepared_with_hits(plan: &Plan, client: &Client) -> Vec<(Prepared, Option<ChatResponse>)> {
    use rayon::prelude::*;
    let prepared: Vec<Prepared> = plan
        .rows
        .par_iter()
        .enumerate()
        .map(|(i, row)| prepare(plan, i, row))
        .collect();
    let keys: Vec<&str> = prepared.iter().map(|p| p.result.key.as_str()).collect();
    let hits = client.cached_many(&keys);
    prepared.into_iter().zip(hits).collect()
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
            result.error = Some(e.to_string());
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
            result.error = Some(e.to_string());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Analysis;
    use crate::config::Config;
    use std::path::PathBuf;

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
        // Each problem keeps its place, and the message shows it.
        let first = &e.blockers[0];
        assert_eq!(
            (first.line, first.column, first.code),
            (9, 7, "undeclared-variable")
        );
        let e = e.to_string();
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
                .to_string()
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
        let e = preflight(&Analysis::new(prompt, Some(&file)), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[variable-not-in-dataset]"), "{e}");
        // `--dataset` reads another file, whose columns the check did not see.
        assert_eq!(preflight(&Analysis::new(prompt, Some(&file)), true), Ok(()));
    }

    #[test]
    fn plan_errors_keep_the_file_the_span_and_the_cause() {
        use crate::eval::plan::PromptProblem;
        use std::error::Error as _;
        // A dataset that is not there: its path, and the dataset's error as the source.
        let prompt = HEAD.replace("data.csv", "gone.csv") + "Say {{text}}\n";
        let (dir, file) = workspace(&prompt);
        let config = Config::load(&file).unwrap();
        let analysis = Analysis::new(prompt.as_str(), Some(&file));
        let e = plan(&analysis, &config, &Overrides::default())
            .err()
            .unwrap();
        let PlanError::Dataset { path, source } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(path, &dir.path().join("gone.csv"));
        assert_eq!(e.to_string(), format!("{}: {source}", path.display()));
        assert!(e.source().is_some());
        // A wrong setting: the message `check` shows, at the value's span.
        let prompt =
            HEAD.replace("promptls.target: label", "promptls.target: [1]") + "Say {{text}}\n";
        std::fs::write(&file, &prompt).unwrap();
        let analysis = Analysis::new(prompt.as_str(), Some(&file));
        let e = plan(&analysis, &config, &Overrides::default())
            .err()
            .unwrap();
        let PlanError::Prompt { file: at, problem } = &e else {
            panic!("{e:?}");
        };
        let PromptProblem::Setting { message, span } = problem.as_ref() else {
            panic!("{problem:?}");
        };
        assert_eq!(at, &file);
        assert_eq!(&prompt[span.start..span.end], "[1]");
        assert_eq!(e.to_string(), format!("{}: {message}", file.display()));
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
        let e = plan.with_source(&candidate).err().unwrap().to_string();
        assert!(e.contains("[undeclared-variable]"), "{e}");
        assert!(e.contains("nothing was sent"), "{e}");
        let unclosed = format!("{HEAD}{{{{#if text}}}}Say {{{{text}}}}\n");
        let e = plan.with_source(&unclosed).err().unwrap().to_string();
        assert!(e.contains("[unclosed-block]"), "{e}");
    }

    #[test]
    fn the_final_round_runs_fewer_rows_at_once() {
        assert_eq!(final_round_concurrency(1), 1);
        assert_eq!(final_round_concurrency(8), 2);
        assert_eq!(final_round_concurrency(32), 8);
    }
}
