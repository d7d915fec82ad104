//! chrF and chrF++ as sacrebleu 2.x computes them: character n-grams up to 6 with
//! whitespace removed, plus word n-grams up to 2 for chrF++ (punctuation split off word
//! edges first), beta 2, F-score of the averaged precision and recall over the orders
//! with both sides present; the best-scoring reference per segment. Scores are 0-100.

use std::collections::HashMap;
use std::hash::Hash;

use super::text::py_split;

const CHAR_ORDER: usize = 6;
const BETA: f64 = 2.0;

/// (hypothesis n-grams, reference n-grams, matches) per order.
pub type Stats = Vec<[u64; 3]>;

fn counts<T: Eq + Hash>(items: impl IntoIterator<Item = T>) -> HashMap<T, u64> {
    let mut map = HashMap::new();
    for item in items {
        *map.entry(item).or_insert(0) += 1;
    }
    map
}

/// sacrebleu's punctuation, split off the start or end of a word for word n-grams.
fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation()
}

fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in py_split(text) {
        let chars: Vec<char> = w.chars().collect();
        if chars.len() == 1 {
            out.push(w.to_string());
        } else if is_punct(chars[chars.len() - 1]) {
            out.push(chars[..chars.len() - 1].iter().collect());
            out.push(chars[chars.len() - 1].to_string());
        } else if is_punct(chars[0]) {
            out.push(chars[0].to_string());
            out.push(chars[1..].iter().collect());
        } else {
            out.push(w.to_string());
        }
    }
    out
}

/// N-gram counts per order: characters 1..=6, then words 1..=word_order.
fn all_ngrams(text: &str, word_order: usize) -> Vec<HashMap<String, u64>> {
    let chars: Vec<char> = py_split(text).flat_map(str::chars).collect();
    let mut out: Vec<HashMap<String, u64>> = (1..=CHAR_ORDER)
        .map(|n| counts(chars.windows(n).map(|w| w.iter().collect::<String>())))
        .collect();
    if word_order > 0 {
        let words = words(text);
        for n in 1..=word_order {
            out.push(counts(words.windows(n).map(|w| w.join(" "))));
        }
    }
    out
}

fn match_stats(hyp: &HashMap<String, u64>, reference: &HashMap<String, u64>) -> [u64; 3] {
    let mut matches = 0;
    let mut hyp_count = 0;
    for (gram, count) in hyp {
        hyp_count += count;
        if let Some(r) = reference.get(gram) {
            matches += (*count).min(*r);
        }
    }
    let ref_count = reference.values().sum();
    [
        if reference.is_empty() { 0 } else { hyp_count },
        ref_count,
        matches,
    ]
}

/// chrF (0-100) from statistics.
pub fn score(stats: &[[u64; 3]]) -> f64 {
    let eps = 1e-16;
    let factor = BETA * BETA;
    let (mut avg_prec, mut avg_rec) = (0.0f64, 0.0f64);
    let mut effective = 0u32;
    for &[n_hyp, n_ref, n_match] in stats {
        let prec = if n_hyp > 0 {
            n_match as f64 / n_hyp as f64
        } else {
            eps
        };
        let rec = if n_ref > 0 {
            n_match as f64 / n_ref as f64
        } else {
            eps
        };
        if n_hyp > 0 && n_ref > 0 {
            avg_prec += prec;
            avg_rec += rec;
            effective += 1;
        }
    }
    if effective == 0 {
        avg_prec = 0.0;
        avg_rec = 0.0;
    } else {
        avg_prec /= effective as f64;
        avg_rec /= effective as f64;
    }
    if avg_prec + avg_rec != 0.0 {
        let mut s = (1.0 + factor) * avg_prec * avg_rec;
        s /= (factor * avg_prec) + avg_rec;
        100.0 * s
    } else {
        0.0
    }
}

/// The statistics of the best-scoring reference.
pub fn segment_stats(hypothesis: &str, references: &[&str], word_order: usize) -> Stats {
    let hyp = all_ngrams(hypothesis, word_order);
    let mut best: Stats = Vec::new();
    let mut best_score = -1.0;
    for reference in references {
        let r = all_ngrams(reference, word_order);
        let stats: Stats = hyp.iter().zip(&r).map(|(h, r)| match_stats(h, r)).collect();
        let s = score(&stats);
        if s > best_score {
            best_score = s;
            best = stats;
        }
    }
    best
}

/// `sacrebleu.sentence_chrf(h, refs, word_order=…)`: 0 for chrF, 2 for chrF++.
pub fn sentence_chrf(hypothesis: &str, references: &[&str], word_order: usize) -> f64 {
    score(&segment_stats(hypothesis, references, word_order))
}

/// `sacrebleu.corpus_chrf` over (hypothesis, references) rows.
pub fn corpus_chrf<'a>(
    rows: impl IntoIterator<Item = (&'a str, Vec<&'a str>)>,
    word_order: usize,
) -> f64 {
    let mut total: Stats = vec![[0; 3]; CHAR_ORDER + word_order];
    for (hypothesis, references) in rows {
        let stats = segment_stats(hypothesis, &references, word_order);
        for (t, s) in total.iter_mut().zip(stats) {
            for k in 0..3 {
                t[k] += s[k];
            }
        }
    }
    score(&total)
}
