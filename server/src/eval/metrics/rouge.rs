//! ROUGE as Google's rouge-score 0.1.2 computes it (its default tokenizer, no stemmer):
//! lowercase, everything but `a-z0-9` is a separator; ROUGE-N over n-gram counts,
//! ROUGE-L over the longest common subsequence, ROUGE-Lsum over the union LCS of
//! newline-separated sentences. The F-measure is reported; with several references the
//! best F-measure wins (`score_multi`).

use std::collections::{BTreeSet, HashMap};

/// rouge-score's tokenizer without a stemmer.
pub fn tokenize(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
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

pub fn rouge_n(target: &[String], prediction: &[String], n: usize) -> Score {
    fn grams(tokens: &[String], n: usize) -> HashMap<&[String], u64> {
        let mut counts: HashMap<&[String], u64> = HashMap::new();
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

fn lcs_table(a: &[String], b: &[String]) -> Vec<Vec<u32>> {
    let mut t = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            t[i][j] = if a[i - 1] == b[j - 1] {
                t[i - 1][j - 1] + 1
            } else {
                t[i - 1][j].max(t[i][j - 1])
            };
        }
    }
    t
}

pub fn rouge_l(target: &[String], prediction: &[String]) -> Score {
    if target.is_empty() || prediction.is_empty() {
        return ZERO;
    }
    let lcs = lcs_table(target, prediction)[target.len()][prediction.len()] as f64;
    score(lcs / prediction.len() as f64, lcs / target.len() as f64)
}

/// Indices into `a` of one LCS with `b`, read back as rouge-score does.
fn lcs_indices(a: &[String], b: &[String]) -> Vec<usize> {
    let t = lcs_table(a, b);
    let (mut i, mut j) = (a.len(), b.len());
    let mut out = Vec::new();
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            out.push(i - 1);
            i -= 1;
            j -= 1;
        } else if t[i][j - 1] > t[i - 1][j] {
            j -= 1;
        } else {
            i -= 1;
        }
    }
    out.reverse();
    out
}

fn sentences(text: &str) -> Vec<Vec<String>> {
    text.split('\n')
        .filter(|s| !s.is_empty())
        .map(tokenize)
        .collect()
}

pub fn rouge_lsum(target: &str, prediction: &str) -> Score {
    let (reference, candidate) = (sentences(target), sentences(prediction));
    if reference.is_empty() || candidate.is_empty() {
        return ZERO;
    }
    let m: usize = reference.iter().map(Vec::len).sum();
    let n: usize = candidate.iter().map(Vec::len).sum();
    if m == 0 || n == 0 {
        return ZERO;
    }
    let mut count_r: HashMap<&str, i64> = HashMap::new();
    let mut count_c: HashMap<&str, i64> = HashMap::new();
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

pub fn rouge(kind: Kind, target: &str, prediction: &str) -> Score {
    match kind {
        Kind::RougeLsum => rouge_lsum(target, prediction),
        _ => {
            let (t, p) = (tokenize(target), tokenize(prediction));
            match kind {
                Kind::Rouge1 => rouge_n(&t, &p, 1),
                Kind::Rouge2 => rouge_n(&t, &p, 2),
                _ => rouge_l(&t, &p),
            }
        }
    }
}

/// The best F-measure over the references (the first best, as numpy's argmax).
pub fn rouge_multi(kind: Kind, references: &[&str], prediction: &str) -> f64 {
    let mut best: Option<f64> = None;
    for reference in references {
        let f = rouge(kind, reference, prediction).fmeasure;
        if best.is_none_or(|b| f > b) {
            best = Some(f);
        }
    }
    best.unwrap_or(0.0)
}
