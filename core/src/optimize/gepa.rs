//! GEPA, reflective prompt evolution (after Agrawal et al. 2025 and DSPy's `dspy.GEPA`),
//! for a prompt's instruction:
//! - a pool of candidates, each scored on every validation row, starting with the prompt
//!   as it is;
//! - each iteration picks a parent from the Pareto frontier (the candidates that are
//!   best on at least one validation row, none dominated by another; drawn in proportion
//!   to the rows they lead), runs it on a minibatch of training rows, and, unless it got
//!   them all right, shows the teacher its answers with feedback (what was expected, what
//!   the metric and the output checks said) and asks for a better instruction;
//! - the child runs on the same minibatch; if it scores higher there, it is scored on the
//!   validation rows and joins the pool;
//! - the run ends after `iterations` or when the budget (`--max-calls`) is spent; the
//!   candidate with the best validation score wins.
//!
//! Demos are kept as the parent has them: GEPA evolves the instruction.

use super::mipro::clean_instruction;
use super::session::{Session, Stop};
use crate::data::split::SplitMix64;
use crate::eval::run::Report;
use crate::program::Program;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub iterations: usize,
    pub minibatch: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            iterations: 12,
            minibatch: 3,
        }
    }
}

const REFLECT: &str = "You improve the instruction of a language model prompt. You see the current instruction and examples of inputs it was given, the model's answers, the correct answers and feedback. Find what the failures have in common and propose a new instruction that fixes them while keeping what works. Reply with the new instruction text only.";

/// Feedback for one row of a rollout, as text for the reflection.
fn feedback(report: &Report) -> String {
    report
        .per_row
        .iter()
        .map(|r| {
            let input = r
                .input
                .values()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(" | ");
            let mut text = format!(
                "Input: {input}\nModel answer: {}\nCorrect answer: {}\n",
                r.output.as_deref().unwrap_or("(none)").trim(),
                r.expected.trim()
            );
            let verdict = match (r.passed, r.score) {
                (true, _) => "Feedback: correct.".to_string(),
                (false, Some(s)) => format!("Feedback: wrong ({} {s:.2}).", report.metric),
                (false, None) => format!("Feedback: failed: {}.", r.error.as_deref().unwrap_or("")),
            };
            text.push_str(&verdict);
            for p in &r.problems {
                text.push_str(&format!(" {p}."));
            }
            text
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Candidates on the Pareto frontier with their weights (validation rows they lead).
pub fn frontier(scores: &[Vec<f64>]) -> Vec<(usize, usize)> {
    let rows = scores.first().map_or(0, Vec::len);
    let mut leads = vec![0usize; scores.len()];
    for row in 0..rows {
        let best = scores
            .iter()
            .map(|s| s[row])
            .fold(f64::NEG_INFINITY, f64::max);
        for (c, s) in scores.iter().enumerate() {
            if s[row] >= best - 1e-12 {
                leads[c] += 1;
            }
        }
    }
    let dominated = |c: usize| {
        scores.iter().enumerate().any(|(d, other)| {
            d != c
                && other.iter().zip(&scores[c]).all(|(o, s)| o >= s)
                && other.iter().zip(&scores[c]).any(|(o, s)| o > s)
        })
    };
    let mut out: Vec<(usize, usize)> = (0..scores.len())
        .filter(|&c| leads[c] > 0 && !dominated(c))
        .map(|c| (c, leads[c]))
        .collect();
    if out.is_empty() && !scores.is_empty() {
        out.push((0, 1));
    }
    out
}

fn pick(frontier: &[(usize, usize)], rng: &mut SplitMix64) -> usize {
    let total: usize = frontier.iter().map(|(_, w)| w).sum();
    let mut at = rng.below(total.max(1) as u64) as usize;
    for &(c, w) in frontier {
        if at < w {
            return c;
        }
        at -= w;
    }
    frontier[0].0
}

fn row_scores(report: &Report) -> Vec<f64> {
    report
        .per_row
        .iter()
        .map(|r| r.score.unwrap_or(0.0))
        .collect()
}

fn mean(scores: &[f64]) -> f64 {
    if scores.is_empty() {
        0.0
    } else {
        scores.iter().sum::<f64>() / scores.len() as f64
    }
}

/// GEPA.
pub async fn optimize(
    session: &Session<'_>,
    start: &Program,
    settings: Settings,
) -> Result<Program, Stop> {
    let mut rng = SplitMix64(session.seed ^ 0x6E9A);
    let mut pool: Vec<Program> = vec![start.clone()];
    let mut scores: Vec<Vec<f64>> = vec![row_scores(&session.evaluate(start, None, "seed").await?)];
    let train_rows = session.train.rows.len();
    for iteration in 1..=settings.iterations {
        let parent = pick(&frontier(&scores), &mut rng);
        let batch = sample(&mut rng, train_rows, settings.minibatch);
        let step = async {
            let before = session.rollout(&pool[parent], &batch).await?;
            if before.per_row.iter().all(|r| r.passed) {
                return Ok(None);
            }
            let user = format!(
                "CURRENT INSTRUCTION:\n{}\n\nEXAMPLES WITH FEEDBACK:\n{}\n\n(iteration {iteration})",
                pool[parent].instruction.trim(),
                feedback(&before)
            );
            let instruction = clean_instruction(&session.ask_teacher(REFLECT, &user).await?);
            if instruction.is_empty() || pool.iter().any(|p| p.instruction == instruction) {
                return Ok(None);
            }
            let child = Program {
                instruction,
                demos: pool[parent].demos.clone(),
            };
            if let Err(why) = session.admits(&child) {
                // Never scored: it would break every row.
                tracing::info!("iteration {iteration}: the child is refused: {why}");
                return Ok(None);
            }
            let after = session.rollout(&child, &batch).await?;
            let gained = mean(&row_scores(&after)) > mean(&row_scores(&before));
            if !gained {
                return Ok(None);
            }
            let full = session
                .evaluate(
                    &child,
                    None,
                    &format!("iteration {iteration}: child of {parent}"),
                )
                .await?;
            Ok::<_, Stop>(Some((child, row_scores(&full))))
        };
        match step.await {
            Ok(Some((child, child_scores))) => {
                pool.push(child);
                scores.push(child_scores);
            }
            Ok(None) => {}
            Err(Stop::Budget(_)) => break,
            Err(e) => return Err(e),
        }
    }
    let best = (0..pool.len())
        .max_by(|&a, &b| {
            mean(&scores[a])
                .total_cmp(&mean(&scores[b]))
                .then(b.cmp(&a))
        })
        .unwrap_or(0);
    Ok(pool.swap_remove(best))
}

/// `count` distinct indices out of `rows`.
fn sample(rng: &mut SplitMix64, rows: usize, count: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..rows).collect();
    let n = count.min(rows);
    for i in 0..n {
        let j = i + rng.below((rows - i) as u64) as usize;
        all.swap(i, j);
    }
    all.truncate(n);
    all.sort_unstable();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frontier_keeps_row_leaders_and_drops_the_dominated() {
        let scores = vec![
            vec![1.0, 0.0, 0.0, 1.0],
            vec![0.0, 1.0, 0.0, 1.0],
            vec![0.0, 0.0, 0.0, 1.0], // dominated by both
            vec![1.0, 1.0, 0.0, 0.0],
        ];
        let f = frontier(&scores);
        assert_eq!(f, vec![(0, 3), (1, 3), (3, 3)]);
        let mut rng = SplitMix64(3);
        let picks: Vec<usize> = (0..300).map(|_| pick(&f, &mut rng)).collect();
        for c in [0, 1, 3] {
            let n = picks.iter().filter(|&&p| p == c).count();
            assert!((70..=130).contains(&n), "{c}: {n}");
        }
        assert_eq!(frontier(&[vec![0.0, 0.0]]), vec![(0, 2)]);
    }
}
