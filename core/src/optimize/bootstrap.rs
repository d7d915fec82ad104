//! BootstrapFewShot (after DSPy's `teleprompt/bootstrap.py`): the teacher runs the prompt
//! on training rows; answers the metric accepts become demos, up to
//! `max_bootstrapped`; labelled rows (input and expected output) top them up to
//! `max_labeled` in all.
//!
//! Where this differs from DSPy, on purpose:
//! - the teacher's rows run concurrently, in batches of as many rows as demos are still
//!   needed (DSPy goes row by row; the calls are the same);
//! - the demos are ordered so that their labels alternate (a model that copies the last
//!   demo's label is not nudged by a run of equal ones);
//! - a row is never both a bootstrapped and a labelled demo, and no demo repeats;
//! - no demo shows a validation row's input (such a demo is dropped);
//! - out of budget, the demos found so far are kept (topped up with labelled rows).

use std::collections::{BTreeMap, HashSet};

use super::session::{Session, Stop};
use crate::data::split::SplitMix64;
use crate::program::{Demo, Program};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub max_bootstrapped: usize,
    pub max_labeled: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_bootstrapped: 4,
            max_labeled: 4,
        }
    }
}

/// Train row indices in order (`None`) or shuffled with a seed.
pub fn order(rows: usize, seed: Option<u64>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows).collect();
    if let Some(seed) = seed {
        let mut rng = SplitMix64(seed);
        for i in (1..rows).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
    }
    order
}

/// Demos for `program`: bootstrapped by the teacher from the train rows in `order`, then
/// labelled rows.
pub async fn demos(
    session: &Session<'_>,
    program: &Program,
    order: &[usize],
    settings: Settings,
) -> Result<Vec<Demo>, Stop> {
    let teacher_source = session.source_of(program)?;
    let teacher = session
        .train
        .with_model(session.config, &session.teacher)
        .and_then(|p| p.with_source(&teacher_source))
        .map_err(|e| Stop::Failed(e.to_string()))?;
    let rows = &session.train.rows;
    // Passing answers by expected label, in row order.
    let mut passing: BTreeMap<String, Vec<(usize, Demo)>> = BTreeMap::new();
    let mut found = 0;
    let mut next = 0;
    while found < settings.max_bootstrapped && next < order.len() {
        // As many rows as demos are still needed: the teacher answers no row DSPy's
        // row-by-row loop would not, and the rows of a batch run concurrently.
        let batch = settings.max_bootstrapped - found;
        let chunk: Vec<usize> = order[next..(next + batch).min(order.len())].to_vec();
        next += chunk.len();
        let report = match session.run(&teacher.with_rows(&chunk), "teacher").await {
            Ok(r) => r,
            // Out of budget: the demos found so far, topped up with labelled rows (they
            // cost nothing).
            Err(Stop::Budget(_)) => break,
            Err(e) => return Err(e),
        };
        for (&i, row) in chunk.iter().zip(&report.per_row) {
            if !row.passed {
                continue;
            }
            let (Some(output), Ok(input)) = (&row.output, session.train.user_turn(&rows[i])) else {
                continue;
            };
            if session.is_dev_input(&input) {
                continue;
            }
            passing.entry(row.expected.clone()).or_default().push((
                i,
                Demo {
                    input,
                    output: output.trim().to_string(),
                },
            ));
            found += 1;
        }
    }
    // Round-robin over labels, in the order each label first passed.
    let mut chosen: Vec<(usize, Demo)> = Vec::new();
    let mut queues: Vec<std::collections::VecDeque<(usize, Demo)>> =
        passing.into_values().map(Into::into).collect();
    queues.sort_by_key(|q| {
        q.front().map_or(usize::MAX, |(i, _)| {
            order.iter().position(|o| o == i).unwrap_or(usize::MAX)
        })
    });
    while chosen.len() < settings.max_bootstrapped && queues.iter().any(|q| !q.is_empty()) {
        for q in queues.iter_mut() {
            if chosen.len() >= settings.max_bootstrapped {
                break;
            }
            if let Some(d) = q.pop_front() {
                chosen.push(d);
            }
        }
    }
    let used: HashSet<usize> = chosen.iter().map(|(i, _)| *i).collect();
    let mut seen: HashSet<Demo> = chosen.iter().map(|(_, d)| d.clone()).collect();
    let mut demos: Vec<Demo> = chosen.into_iter().map(|(_, d)| d).collect();
    for &i in order {
        if demos.len() >= settings.max_labeled {
            break;
        }
        if used.contains(&i) {
            continue;
        }
        let row = &rows[i];
        let (Ok(input), Ok(expected)) = (session.train.user_turn(row), session.train.expected(row))
        else {
            continue;
        };
        let Some(output) = expected.into_iter().next() else {
            continue;
        };
        let demo = Demo { input, output };
        if session.is_dev_input(&demo.input) {
            continue;
        }
        if seen.insert(demo.clone()) {
            demos.push(demo);
        }
    }
    // Validation rows are never training rows: a demo that shows one is dropped.
    demos.retain(|d| !session.is_dev_input(&d.input));
    Ok(demos)
}

/// BootstrapFewShot: the program with bootstrapped demos in place of its own. Like
/// DSPy's, it scores nothing on the validation rows itself (the job scores the result).
pub async fn optimize(
    session: &Session<'_>,
    start: &Program,
    settings: Settings,
) -> Result<Program, Stop> {
    let order = order(session.train.rows.len(), None);
    let demos = demos(session, start, &order, settings).await?;
    Ok(Program {
        instruction: start.instruction.clone(),
        demos,
    })
}
