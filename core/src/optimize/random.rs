//! Random search over demo sets (after DSPy's BootstrapFewShotWithRandomSearch): the
//! zero-shot program, labelled demos only, bootstrap over the training rows in order, and
//! bootstrap over seeded shuffles with a random number of demos; each candidate is scored
//! on the validation rows and the best is kept (the earliest on a tie, so fewer demos win
//! an equal score).

use super::bootstrap::{self, Settings};
use super::session::{Session, Stop};
use crate::data::split::SplitMix64;
use crate::program::{Demo, Program};

/// The candidate demo sets DSPy's random search tries: index 0 zero-shot, 1 labelled only,
/// 2 bootstrap in order, 3.. bootstrap over shuffles. `count` of them at most.
pub async fn candidates(
    session: &Session<'_>,
    start: &Program,
    settings: Settings,
    count: usize,
) -> Result<Vec<(String, Vec<Demo>)>, Stop> {
    let mut out: Vec<(String, Vec<Demo>)> = Vec::new();
    out.push(("zero-shot".into(), Vec::new()));
    match more_candidates(session, start, settings, count, &mut out).await {
        // Out of budget: the candidates made so far.
        Ok(()) | Err(Stop::Budget(_)) => Ok(out),
        Err(e) => Err(e),
    }
}

async fn more_candidates(
    session: &Session<'_>,
    start: &Program,
    settings: Settings,
    count: usize,
    out: &mut Vec<(String, Vec<Demo>)>,
) -> Result<(), Stop> {
    if count > 1 {
        let order = bootstrap::order(session.train.rows.len(), Some(session.seed));
        let labeled = bootstrap::demos(
            session,
            start,
            &order,
            Settings {
                max_bootstrapped: 0,
                max_labeled: settings.max_labeled,
            },
        )
        .await?;
        out.push(("labelled only".into(), labeled));
    }
    if count > 2 {
        let order = bootstrap::order(session.train.rows.len(), None);
        out.push((
            "bootstrap".into(),
            bootstrap::demos(session, start, &order, settings).await?,
        ));
    }
    let mut rng = SplitMix64(session.seed ^ 0xD1CE);
    for k in 0..count.saturating_sub(3) {
        let seed = session.seed.wrapping_add(k as u64 + 1);
        let order = bootstrap::order(session.train.rows.len(), Some(seed));
        let max_bootstrapped = 1 + rng.below(settings.max_bootstrapped.max(1) as u64) as usize;
        let demos = bootstrap::demos(
            session,
            start,
            &order,
            Settings {
                max_bootstrapped,
                max_labeled: settings.max_labeled,
            },
        )
        .await?;
        out.push((
            format!("bootstrap seed {seed}, {max_bootstrapped} demos"),
            demos,
        ));
    }
    Ok(())
}

/// Random search: every candidate scored on all validation rows; the best kept.
pub async fn optimize(
    session: &Session<'_>,
    start: &Program,
    settings: Settings,
    count: usize,
) -> Result<Program, Stop> {
    let mut best: Option<(f64, Program)> = None;
    let mut seen: Vec<Vec<Demo>> = Vec::new();
    for (label, demos) in candidates(session, start, settings, count).await? {
        if seen.contains(&demos) {
            continue;
        }
        seen.push(demos.clone());
        let program = Program {
            instruction: start.instruction.clone(),
            demos,
        };
        // Candidates race the best so far: one that cannot beat it stops early.
        let beat = best.as_ref().map_or(f64::NEG_INFINITY, |(b, _)| *b);
        let score = match session.race(&program, None, beat, &label).await {
            Ok((s, false)) => s,
            Ok((_, true)) => continue,
            Err(Stop::Budget(_)) if best.is_some() => break,
            Err(e) => return Err(e),
        };
        if best.as_ref().is_none_or(|(b, _)| score > *b) {
            best = Some((score, program));
        }
    }
    best.map(|(_, p)| p)
        .ok_or_else(|| Stop::Failed("no candidate could be scored".into()))
}
