//! MIPROv2 (after DSPy's `teleprompt/mipro_optimizer_v2.py`), for a prompt with one
//! instruction and one demos block:
//! 1. demo-set candidates, as random search makes them (zero-shot, labelled only,
//!    bootstrap, shuffled bootstraps);
//! 2. instruction candidates: the current instruction, and proposals by the teacher,
//!    each grounded in a summary of the data, the prompt's template, example demos from
//!    one of the candidate sets and a random tip;
//! 3. a Bayesian search (TPE) over (instruction, demo set): each trial scores on a
//!    minibatch of the validation rows; every `full_eval_every` trials the combination
//!    with the best mean minibatch score so far is scored on all of them. The best full
//!    score wins.
//!
//! `auto` budgets follow DSPy's: light 6 candidates, medium 12, heavy 18, and
//! max(2 · 2 · log2(candidates), 1.5 · candidates) trials. The seed fixes every random
//! choice, so a run is reproducible given the same model answers. A combination tried
//! again on the same rows costs nothing (the cache answers).

use std::collections::HashMap;

use super::bootstrap::Settings as DemoSettings;
use super::random;
use super::session::{Session, Stop};
use super::tpe::Tpe;
use crate::data::split::SplitMix64;
use crate::program::{Demo, Program};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auto {
    Light,
    Medium,
    Heavy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Instruction candidates and demo-set candidates (each).
    pub candidates: usize,
    pub trials: usize,
    pub minibatch: usize,
    pub full_eval_every: usize,
    pub demos: DemoSettings,
}

impl Settings {
    pub fn auto(auto: Auto, demos: DemoSettings) -> Settings {
        let candidates = match auto {
            Auto::Light => 6,
            Auto::Medium => 12,
            Auto::Heavy => 18,
        };
        Settings {
            candidates,
            trials: trials_for(candidates),
            minibatch: 35,
            full_eval_every: 5,
            demos,
        }
    }
}

/// DSPy's trial count for one instruction and one demo set per candidate.
pub fn trials_for(candidates: usize) -> usize {
    let n = candidates.max(2) as f64;
    (2.0 * 2.0 * n.log2()).max(1.5 * n) as usize
}

const TIPS: &[&str] = &[
    "Keep the instruction short and direct.",
    "Say exactly what form the answer must take.",
    "Mention the cases that are easy to get wrong.",
    "Describe the task as an expert would explain it to a colleague.",
    "Be creative: find a new angle on the task.",
    "Write it as a numbered list of rules.",
];

const PROPOSER: &str = "You propose instructions for a language model prompt. Given a summary of the data, the prompt's template, its current instruction and examples of inputs with correct outputs, propose one improved instruction that makes the model answer these inputs correctly. Reply with the instruction text only.";

const SUMMARISER: &str = "Summarize the dataset below in two or three sentences: what the inputs are, what the outputs are, and what makes some of them hard.";

fn examples_text(demos: &[Demo]) -> String {
    demos
        .iter()
        .map(|d| format!("Input: {}\nOutput: {}", d.input.trim(), d.output.trim()))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The instruction in a proposal: without quotes, a leading label or surrounding fences.
pub fn clean_instruction(answer: &str) -> String {
    let mut text = answer.trim();
    if let Some(inner) = text.strip_prefix("```").and_then(|t| t.rsplit_once("```")) {
        text = inner
            .0
            .split_once('\n')
            .map_or(inner.0, |(_, body)| body)
            .trim();
    }
    for label in [
        "Instruction:",
        "New instruction:",
        "Proposed instruction:",
        "INSTRUCTION:",
    ] {
        if let Some(rest) = text.strip_prefix(label) {
            text = rest.trim();
        }
    }
    text.trim_matches(|c| c == '"' || c == '\'' || c == '`')
        .trim()
        .to_string()
}

/// Instruction candidates: the current one first, then the teacher's proposals.
async fn instructions(
    session: &Session<'_>,
    start: &Program,
    demo_sets: &[(String, Vec<Demo>)],
    count: usize,
) -> Result<Vec<String>, Stop> {
    let mut rng = SplitMix64(session.seed ^ 0x1A57);
    let rows: Vec<Demo> = session
        .train
        .rows
        .iter()
        .take(20)
        .filter_map(|row| {
            Some(Demo {
                input: session.train.user_turn(row).ok()?,
                output: session.train.expected(row).ok()?.into_iter().next()?,
            })
        })
        .collect();
    let summary = session
        .ask_teacher(SUMMARISER, &examples_text(&rows))
        .await?;
    let template = session.template();
    let mut out = vec![start.instruction.clone()];
    for i in 1..count {
        let demos = demo_sets
            .iter()
            .map(|(_, d)| d)
            .filter(|d| !d.is_empty())
            .nth(i % demo_sets.len().max(1))
            .or_else(|| demo_sets.iter().map(|(_, d)| d).find(|d| !d.is_empty()));
        let tip = TIPS[rng.below(TIPS.len() as u64) as usize];
        let user = format!(
            "DATA SUMMARY:\n{}\n\nPROMPT TEMPLATE:\n{}\n\nCURRENT INSTRUCTION:\n{}\n\nEXAMPLES:\n{}\n\nTIP: {tip}\n\n(proposal {i})",
            summary.trim(),
            template.trim(),
            start.instruction.trim(),
            demos.map(|d| examples_text(d)).unwrap_or_default(),
        );
        let proposal = clean_instruction(&session.ask_teacher(PROPOSER, &user).await?);
        if proposal.is_empty() || out.contains(&proposal) {
            continue;
        }
        let candidate = Program {
            instruction: proposal.clone(),
            demos: Vec::new(),
        };
        match session.admits(&candidate) {
            Ok(()) => out.push(proposal),
            // Never scored: it would break every row.
            Err(why) => tracing::info!("proposal {i} refused: {why}"),
        }
    }
    Ok(out)
}

/// MIPROv2.
pub async fn optimize(
    session: &Session<'_>,
    start: &Program,
    settings: Settings,
) -> Result<Program, Stop> {
    let demo_sets: Vec<(String, Vec<Demo>)> = {
        let mut sets =
            random::candidates(session, start, settings.demos, settings.candidates).await?;
        let mut seen = Vec::new();
        sets.retain(|(_, d)| {
            let new = !seen.contains(d);
            seen.push(d.clone());
            new
        });
        sets
    };
    let instructions = instructions(session, start, &demo_sets, settings.candidates).await?;
    let program = |p: &[usize]| Program {
        instruction: instructions[p[0]].clone(),
        demos: demo_sets[p[1]].1.clone(),
    };
    let label = |p: &[usize]| {
        format!(
            "instruction {} + demos {} ({})",
            p[0], p[1], demo_sets[p[1]].0
        )
    };

    let rows = session.dev.rows.len();
    let minibatch = settings.minibatch.min(rows);
    let mut rng = SplitMix64(session.seed ^ 0x3B47);
    let mut tpe = Tpe::new(vec![instructions.len(), demo_sets.len()], session.seed);
    // Minibatch scores per combination, and full scores.
    let mut means: HashMap<Vec<usize>, (f64, usize)> = HashMap::new();
    let mut full: HashMap<Vec<usize>, f64> = HashMap::new();
    let mut stopped = None;
    for trial in 1..=settings.trials {
        let params = tpe.propose();
        // Trials race: one that can no longer beat the best minibatch score so far stops
        // (TPE then sees the most it could have scored).
        let beat = means
            .values()
            .map(|(sum, n)| sum / *n as f64)
            .fold(f64::NEG_INFINITY, f64::max);
        let score = if minibatch < rows {
            let indices = sample_rows(&mut rng, rows, minibatch);
            session
                .race(&program(&params), Some(&indices), beat, &label(&params))
                .await
        } else {
            session
                .race(&program(&params), None, beat, &label(&params))
                .await
        };
        let (score, pruned) = match score {
            Ok(s) => s,
            Err(stop @ (Stop::Budget(_) | Stop::Cancelled)) => {
                stopped = Some(stop);
                break;
            }
            Err(e) => return Err(e),
        };
        tpe.observe(params.clone(), score);
        if minibatch >= rows && !pruned {
            full.insert(params.clone(), score);
        }
        // A stopped trial is no candidate for a full evaluation.
        if !pruned {
            let entry = means.entry(params).or_insert((0.0, 0));
            entry.0 += score;
            entry.1 += 1;
        }
        if minibatch < rows && (trial % settings.full_eval_every == 0 || trial == settings.trials) {
            if let Err(stop) = full_eval_best(session, &means, &mut full, &program, &label).await {
                match stop {
                    Stop::Budget(_) | Stop::Cancelled => {
                        stopped = Some(stop);
                        break;
                    }
                    other => return Err(other),
                }
            }
        }
    }
    if matches!(stopped, Some(Stop::Cancelled)) {
        return Err(Stop::Cancelled);
    }
    let best = full
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(p, _)| program(p))
        .or_else(|| {
            means
                .iter()
                .max_by(|a, b| (a.1 .0 / a.1 .1 as f64).total_cmp(&(b.1 .0 / b.1 .1 as f64)))
                .map(|(p, _)| program(p))
        });
    best.ok_or_else(|| stopped.unwrap_or_else(|| Stop::Failed("no trial finished".into())))
}

/// Scores on every validation row the combination with the best mean minibatch score
/// that has not had a full score yet.
async fn full_eval_best(
    session: &Session<'_>,
    means: &HashMap<Vec<usize>, (f64, usize)>,
    full: &mut HashMap<Vec<usize>, f64>,
    program: &(dyn Fn(&[usize]) -> Program + Sync),
    label: &(dyn Fn(&[usize]) -> String + Sync),
) -> Result<(), Stop> {
    let mut ranked: Vec<(&Vec<usize>, f64)> = means
        .iter()
        .map(|(p, (sum, n))| (p, sum / *n as f64))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    if let Some((params, _)) = ranked.into_iter().find(|(p, _)| !full.contains_key(*p)) {
        // Races the best full score so far; a stopped one is recorded below any finished.
        let beat = full.values().copied().fold(f64::NEG_INFINITY, f64::max);
        let (score, pruned) = session
            .race(
                &program(params),
                None,
                beat,
                &format!("full: {}", label(params)),
            )
            .await?;
        // A stopped one counts as evaluated, below every finished score.
        full.insert(params.clone(), if pruned { beat - 1.0 } else { score });
    }
    Ok(())
}

/// `count` distinct row indices out of `rows`, in order.
fn sample_rows(rng: &mut SplitMix64, rows: usize, count: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..rows).collect();
    for i in 0..count.min(rows) {
        let j = i + rng.below((rows - i) as u64) as usize;
        all.swap(i, j);
    }
    let mut chosen = all[..count.min(rows)].to_vec();
    chosen.sort_unstable();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_follow_dspy() {
        assert_eq!(trials_for(6), 10);
        assert_eq!(trials_for(12), 18);
        assert_eq!(trials_for(18), 27);
        let light = Settings::auto(Auto::Light, DemoSettings::default());
        assert_eq!(
            (light.candidates, light.trials, light.minibatch),
            (6, 10, 35)
        );
    }

    #[test]
    fn proposals_are_cleaned() {
        assert_eq!(clean_instruction("Instruction: \"Be brief.\""), "Be brief.");
        assert_eq!(
            clean_instruction("```text\nSay one word.\n```"),
            "Say one word."
        );
        assert_eq!(clean_instruction("  Classify.  "), "Classify.");
    }

    #[test]
    fn minibatches_are_distinct_and_seeded() {
        let mut a = SplitMix64(1);
        let mut b = SplitMix64(1);
        let x = sample_rows(&mut a, 100, 35);
        assert_eq!(x, sample_rows(&mut b, 100, 35));
        let mut sorted = x.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), 35);
        assert!(x.iter().all(|&i| i < 100));
    }
}
