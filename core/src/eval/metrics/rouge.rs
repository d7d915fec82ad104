//! ROUGE as Google's rouge-score 0.1.2 computes it (its default tokenizer, no stemmer):
//! lowercase, everything but `a-z0-9` is a separator; ROUGE-N over n-gram counts,
//! ROUGE-L over the longest common subsequence, ROUGE-Lsum over the union LCS of
//! newline-separated sentences. The F-measure is reported; with several references the
//! best F-measure wins (`score_multi`).

use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

/// rouge-score's tokenizer; with `stemmer`, words longer than 3 letters are stemmed
/// (NLTK's Porter stemmer, as `use_stemmer=True`).
pub fn tokenize_with(text: &str, stemmer: bool) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|t| !t.is_empty())
        .map(|t| {
            if stemmer && t.len() > 3 {
                super::porter::stem(t)
            } else {
                t.to_string()
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub precision: f64,
    pub recall: f64,
    pub fmeasure: f64,
}

fn fmeasure(precision: f64, recall: f64) -> f64 {
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

fn score(precision: f64, recall: f64) -> Score {
    Score {
        precision,
        recall,
        fmeasure: fmeasure(precision, recall),
    }
}

const ZERO: Score = Score {
    precision: 0.0,
    recall: 0.0,
    fmeasure: 0.0,
};

pub fn rouge_n<T: Eq + std::hash::Hash>(target: &[T], prediction: &[T], n: usize) -> Score {
    fn grams<T: Eq + std::hash::Hash>(tokens: &[T], n: usize) -> FxHashMap<&[T], u64> {
        let mut counts: FxHashMap<&[T], u64> = FxHashMap::default();
        if tokens.len() >= n {
            for g in tokens.windows(n) {
                *counts.entry(g).or_insert(0) += 1;
            }
        }
        counts
    }
    let (t, p) = (grams(target, n), grams(prediction, n));
    let overlap: u64 = t
        .iter()
        .map(|(g, c)| (*c).min(*p.get(g).unwrap_or(&0)))
        .sum();
    let t_total: u64 = t.values().sum();
    let p_total: u64 = p.values().sum();
    score(
        overlap as f64 / p_total.max(1) as f64,
        overlap as f64 / t_total.max(1) as f64,
    )
}

/// The length of the longest common subsequence, one table row at a time.
fn lcs_length<T: Eq>(a: &[T], b: &[T]) -> u32 {
    let mut previous = vec![0u32; b.len() + 1];
    let mut current = vec![0u32; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            current[j + 1] = if x == y {
                previous[j] + 1
            } else {
                previous[j + 1].max(current[j])
            };
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The whole LCS table, flat, `(a.len() + 1) x (b.len() + 1)`.
fn lcs_table<T: Eq>(a: &[T], b: &[T]) -> Vec<u32> {
    let width = b.len() + 1;
    let mut t = vec![0u32; (a.len() + 1) * width];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            t[i * width + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * width + j - 1] + 1
            } else {
                t[(i - 1) * width + j].max(t[i * width + j - 1])
            };
        }
    }
    t
}

pub fn rouge_l<T: Eq>(target: &[T], prediction: &[T]) -> Score {
    if target.is_empty() || prediction.is_empty() {
        return ZERO;
    }
    let lcs = lcs_length(target, prediction) as f64;
    score(lcs / prediction.len() as f64, lcs / target.len() as f64)
}

/// Indices into `a` of one LCS with `b`, read back as rouge-score does.
fn lcs_indices(a: &[String], b: &[String]) -> Vec<usize> {
    let t = lcs_table(a, b);
    let width = b.len() + 1;
    let (mut i, mut j) = (a.len(), b.len());
    let mut out = Vec::new();
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            out.push(i - 1);
            i -= 1;
            j -= 1;
        } else if t[i * width + j - 1] > t[(i - 1) * width + j] {
            j -= 1;
        } else {
            i -= 1;
        }
    }
    out.reverse();
    out
}

fn sentences(text: &str, stemmer: bool) -> Vec<Vec<String>> {
    text.split('\n')
        .filter(|s| !s.is_empty())
        .map(|s| tokenize_with(s, stemmer))
        .collect()
}

pub fn rouge_lsum_with(target: &str, prediction: &str, stemmer: bool) -> Score {
    let (reference, candidate) = (sentences(target, stemmer), sentences(prediction, stemmer));
    if reference.is_empty() || candidate.is_empty() {
        return ZERO;
    }
    let m: usize = reference.iter().map(Vec::len).sum();
    let n: usize = candidate.iter().map(Vec::len).sum();
    if m == 0 || n == 0 {
        return ZERO;
    }
    let mut count_r: FxHashMap<&str, i64> = FxHashMap::default();
    let mut count_c: FxHashMap<&str, i64> = FxHashMap::default();
    for t in reference.iter().flatten() {
        *count_r.entry(t).or_insert(0) += 1;
    }
    for t in candidate.iter().flatten() {
        *count_c.entry(t).or_insert(0) += 1;
    }
    let mut hits = 0u64;
    for r in &reference {
        let union: BTreeSet<usize> = candidate.iter().flat_map(|c| lcs_indices(r, c)).collect();
        for i in union {
            let token = r[i].as_str();
            let (c, rr) = (
                count_c.get(token).copied().unwrap_or(0),
                count_r.get(token).copied().unwrap_or(0),
            );
            if c > 0 && rr > 0 {
                hits += 1;
                *count_c.get_mut(token).expect("counted") -= 1;
                *count_r.get_mut(token).expect("counted") -= 1;
            }
        }
    }
    score(hits as f64 / n as f64, hits as f64 / m as f64)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rouge1,
    Rouge2,
    RougeL,
    RougeLsum,
}

/// Tokens as numbers (shared by a prediction and its references), for fast comparison.
fn ids<'t>(tokens: &'t [String], vocabulary: &mut FxHashMap<&'t str, u32>) -> Vec<u32> {
    tokens
        .iter()
        .map(|t| {
            let next = vocabulary.len() as u32;
            *vocabulary.entry(t.as_str()).or_insert(next)
        })
        .collect()
}

/// The best F-measure over the references (the first best, as numpy's argmax).
pub fn rouge_multi(kind: Kind, references: &[&str], prediction: &str) -> f64 {
    rouge_multi_with(kind, references, prediction, false)
}

/// `rouge_multi`, optionally with the stemmer.
pub fn rouge_multi_with(kind: Kind, references: &[&str], prediction: &str, stemmer: bool) -> f64 {
    let fmeasures: Vec<f64> = if kind == Kind::RougeLsum {
        references
            .iter()
            .map(|r| rouge_lsum_with(r, prediction, stemmer).fmeasure)
            .collect()
    } else {
        let prediction_tokens = tokenize_with(prediction, stemmer);
        let ref_tokens: Vec<Vec<String>> = references
            .iter()
            .map(|r| tokenize_with(r, stemmer))
            .collect();
        let mut vocabulary: FxHashMap<&str, u32> = FxHashMap::default();
        let p = ids(&prediction_tokens, &mut vocabulary);
        ref_tokens
            .iter()
            .map(|r| {
                let t = ids(r, &mut vocabulary);
                match kind {
                    Kind::Rouge1 => rouge_n(&t, &p, 1),
                    Kind::Rouge2 => rouge_n(&t, &p, 2),
                    _ => rouge_l(&t, &p),
                }
                .fmeasure
            })
            .collect()
    };
    let mut best: Option<f64> = None;
    for f in fmeasures {
        if best.is_none_or(|b| f > b) {
            best = Some(f);
        }
    }
    best.unwrap_or(0.0)
}
