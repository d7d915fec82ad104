//! Tier-2 metrics: a score in 0..=1 per row, and an aggregate over rows. BLEU, chrF and
//! ROUGE agree with sacrebleu 2.x and rouge-score 0.1.2 (tests/metrics.rs compares them
//! with a fixture those packages wrote); their 0-100 scores are divided by 100 here.

pub mod bleu;
pub mod chrf;
pub mod porter;
pub mod rouge;
pub mod simple;
pub mod text;

use serde::Serialize;

pub use simple::Normalize;

/// Why a row cannot be scored.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("no reference to compare with")]
    NoReference,
    /// A reference the metric cannot read (an invalid regex, text that is not JSON).
    #[error(transparent)]
    Reference(#[from] simple::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Metric {
    ExactMatch,
    F1,
    Bleu,
    Chrf,
    ChrfPlusPlus,
    Rouge1,
    Rouge2,
    RougeL,
    RougeLsum,
    Contains,
    Regex,
    JsonMatch,
}

impl Metric {
    /// A metric by the name `promptls.metric` uses (aliases such as `rouge_l` accepted).
    /// `judge` is a tier-3 metric and not here.
    pub fn from_name(name: &str) -> Option<Metric> {
        Some(match crate::settings::canonical_metric(name)? {
            "exact_match" => Metric::ExactMatch,
            "f1" => Metric::F1,
            "bleu" => Metric::Bleu,
            "chrf" => Metric::Chrf,
            "chrf++" => Metric::ChrfPlusPlus,
            "rouge1" => Metric::Rouge1,
            "rouge2" => Metric::Rouge2,
            "rougeL" => Metric::RougeL,
            "rougeLsum" => Metric::RougeLsum,
            "contains" => Metric::Contains,
            "regex" => Metric::Regex,
            "json_match" => Metric::JsonMatch,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::ExactMatch => "exact_match",
            Metric::F1 => "f1",
            Metric::Bleu => "bleu",
            Metric::Chrf => "chrf",
            Metric::ChrfPlusPlus => "chrf++",
            Metric::Rouge1 => "rouge1",
            Metric::Rouge2 => "rouge2",
            Metric::RougeL => "rougeL",
            Metric::RougeLsum => "rougeLsum",
            Metric::Contains => "contains",
            Metric::Regex => "regex",
            Metric::JsonMatch => "json_match",
        }
    }
}

/// Settings that change how some metrics compare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// For `exact_match` and `contains`.
    pub normalize: Normalize,
    /// ROUGE with NLTK's Porter stemmer (rouge-score's `use_stemmer=True`); off by default,
    /// as in rouge-score.
    pub rouge_stemmer: bool,
}

/// One row's score in 0..=1. With several references the best one counts (BLEU and chrF
/// use all references together, as sacrebleu does).
pub fn score_row(
    metric: Metric,
    prediction: &str,
    references: &[&str],
    options: &Options,
) -> Result<f64, ScoreError> {
    if references.is_empty() {
        return Err(ScoreError::NoReference);
    }
    let best = |f: &dyn Fn(&str) -> Result<f64, ScoreError>| -> Result<f64, ScoreError> {
        let mut best = f64::NEG_INFINITY;
        for r in references {
            best = best.max(f(r)?);
        }
        Ok(best)
    };
    let n = options.normalize;
    match metric {
        Metric::ExactMatch => best(&|r| Ok(simple::exact_match(prediction, r, n))),
        Metric::Contains => best(&|r| Ok(simple::contains(prediction, r, n))),
        Metric::F1 => best(&|r| Ok(simple::f1(prediction, r))),
        Metric::Regex => best(&|r| Ok(simple::regex(prediction, r)?)),
        Metric::JsonMatch => best(&|r| Ok(simple::json_match(prediction, r)?)),
        Metric::Bleu => Ok(bleu::sentence_bleu(prediction, references) / 100.0),
        Metric::Chrf => Ok(chrf::sentence_chrf(prediction, references, 0) / 100.0),
        Metric::ChrfPlusPlus => Ok(chrf::sentence_chrf(prediction, references, 2) / 100.0),
        Metric::Rouge1 => Ok(rouge::rouge_multi(
            rouge::Kind::Rouge1,
            references,
            prediction,
        )),
        Metric::Rouge2 => Ok(rouge::rouge_multi(
            rouge::Kind::Rouge2,
            references,
            prediction,
        )),
        Metric::RougeL => Ok(rouge::rouge_multi(
            rouge::Kind::RougeL,
            references,
            prediction,
        )),
        Metric::RougeLsum => Ok(rouge::rouge_multi(
            rouge::Kind::RougeLsum,
            references,
            prediction,
        )),
    }
}

/// The aggregate over rows: corpus BLEU and corpus chrF from the summed statistics (as
/// sacrebleu's `corpus_*`), the mean of the row scores otherwise.
pub fn aggregate<'a>(
    metric: Metric,
    rows: impl IntoIterator<Item = (&'a str, Vec<&'a str>)>,
    row_scores: &[f64],
) -> f64 {
    match metric {
        Metric::Bleu => bleu::corpus_bleu(rows) / 100.0,
        Metric::Chrf => chrf::corpus_chrf(rows, 0) / 100.0,
        Metric::ChrfPlusPlus => chrf::corpus_chrf(rows, 2) / 100.0,
        _ if row_scores.is_empty() => 0.0,
        _ => row_scores.iter().sum::<f64>() / row_scores.len() as f64,
    }
}

/// Scores of many rows and their aggregate, computed on every core. Rows are
/// (prediction, references); a row that cannot be scored (say, an invalid regex) gets its
/// error. BLEU's corpus score sums the rows' statistics computed once.
pub fn score_rows(
    metric: Metric,
    rows: &[(&str, Vec<&str>)],
    options: &Options,
) -> (Vec<Result<f64, ScoreError>>, f64) {
    use rayon::prelude::*;
    if metric == Metric::Bleu {
        let stats: Vec<Option<bleu::Stats>> = rows
            .par_iter()
            .map(|(p, r)| (!r.is_empty()).then(|| bleu::segment_stats(p, r)))
            .collect();
        let mut corpus = bleu::Stats::default();
        let scores = stats
            .into_iter()
            .map(|s| match s {
                Some(s) => {
                    corpus += s;
                    Ok(bleu::score(&s, true) / 100.0)
                }
                None => Err(ScoreError::NoReference),
            })
            .collect();
        return (scores, bleu::score(&corpus, false) / 100.0);
    }
    let scores: Vec<Result<f64, ScoreError>> = rows
        .par_iter()
        .map(|(p, r)| score_row(metric, p, r, options))
        .collect();
    let ok: Vec<f64> = scores
        .iter()
        .filter_map(|s| s.as_ref().ok().copied())
        .collect();
    let scored = rows
        .iter()
        .zip(&scores)
        .filter(|(_, s)| s.is_ok())
        .map(|((p, r), _)| (*p, r.clone()));
    let aggregate = aggregate(metric, scored, &ok);
    (scores, aggregate)
}
