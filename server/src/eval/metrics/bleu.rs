//! BLEU as sacrebleu 2.x computes it: the `13a` tokenizer (mteval-v13a), n-grams up to 4,
//! clipped counts against the most generous reference, the closest reference length,
//! `exp` smoothing; effective order for sentence BLEU (`sentence_bleu` defaults), not for
//! corpus BLEU (`corpus_bleu` defaults). Scores are 0-100 as sacrebleu reports them.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::text::{py_rstrip, py_split};

const MAX_ORDER: usize = 4;

/// The `13a` tokenization of one segment (after sacrebleu's `rstrip`).
pub fn tokenize_13a(segment: &str) -> String {
    static RULES: LazyLock<[(Regex, &str); 4]> = LazyLock::new(|| {
        [
            // Punctuation and symbols become tokens of their own.
            (Regex::new(r"([{-~\[-` -&(-+:-@/])").unwrap(), " $1 "),
            // Periods and commas split off unless they sit between digits.
            (Regex::new(r"([^0-9])([.,])").unwrap(), "$1 $2 "),
            (Regex::new(r"([.,])([^0-9])").unwrap(), " $1 $2"),
            // A dash after a digit.
            (Regex::new(r"([0-9])(-)").unwrap(), "$1 $2 "),
        ]
    });
    let mut line = py_rstrip(segment)
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut line = format!(" {line} ");
    for (rule, replacement) in RULES.iter() {
        line = rule.replace_all(&line, *replacement).into_owned();
    }
    py_split(&line).collect::<Vec<_>>().join(" ")
}

/// Sufficient statistics of one segment: hypothesis length, closest reference length,
/// clipped matches and totals per order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub hyp_len: u64,
    pub ref_len: u64,
    pub correct: [u64; MAX_ORDER],
    pub total: [u64; MAX_ORDER],
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, other: Stats) {
        self.hyp_len += other.hyp_len;
        self.ref_len += other.ref_len;
        for n in 0..MAX_ORDER {
            self.correct[n] += other.correct[n];
            self.total[n] += other.total[n];
        }
    }
}

fn ngrams<'a>(tokens: &'a [&'a str]) -> HashMap<&'a [&'a str], u64> {
    let mut counts = HashMap::new();
    for n in 1..=MAX_ORDER {
        for gram in tokens.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

pub fn segment_stats(hypothesis: &str, references: &[&str]) -> Stats {
    let hyp = tokenize_13a(hypothesis);
    let hyp_tokens: Vec<&str> = py_split(&hyp).collect();
    let refs: Vec<String> = references.iter().map(|r| tokenize_13a(r)).collect();
    let ref_tokens: Vec<Vec<&str>> = refs.iter().map(|r| py_split(r).collect()).collect();
    // The most times each n-gram appears in any one reference.
    let mut ref_counts: HashMap<&[&str], u64> = HashMap::new();
    for tokens in &ref_tokens {
        for (gram, count) in ngrams(tokens) {
            let best = ref_counts.entry(gram).or_insert(0);
            *best = (*best).max(count);
        }
    }
    // The reference length closest to the hypothesis length (the shorter on a tie).
    let hyp_len = hyp_tokens.len() as u64;
    let mut closest: Option<(u64, u64)> = None;
    for tokens in &ref_tokens {
        let len = tokens.len() as u64;
        let diff = hyp_len.abs_diff(len);
        closest = match closest {
            Some((d, l)) if d < diff || (d == diff && l <= len) => Some((d, l)),
            _ => Some((diff, len)),
        };
    }
    let mut stats = Stats {
        hyp_len,
        ref_len: closest.map_or(0, |(_, l)| l),
        ..Stats::default()
    };
    for (gram, count) in ngrams(&hyp_tokens) {
        let n = gram.len() - 1;
        stats.total[n] += count;
        if let Some(available) = ref_counts.get(gram) {
            stats.correct[n] += count.min(*available);
        }
    }
    stats
}

/// sacrebleu's `my_log`: log with log(0) floored to a very low number.
fn floored_log(x: f64) -> f64 {
    if x == 0.0 {
        -9999999999.0
    } else {
        x.ln()
    }
}

/// BLEU (0-100) from statistics, with `exp` smoothing.
pub fn score(stats: &Stats, effective_order: bool) -> f64 {
    let bp = if stats.hyp_len < stats.ref_len {
        if stats.hyp_len > 0 {
            (1.0 - stats.ref_len as f64 / stats.hyp_len as f64).exp()
        } else {
            0.0
        }
    } else {
        1.0
    };
    if stats.correct.iter().all(|c| *c == 0) {
        return 0.0;
    }
    let mut precisions = [0.0f64; MAX_ORDER];
    let mut smooth = 1.0f64;
    let mut order = MAX_ORDER;
    for (n, precision) in precisions.iter_mut().enumerate() {
        let (correct, total) = (stats.correct[n], stats.total[n]);
        if total == 0 {
            break;
        }
        if effective_order {
            order = n + 1;
        }
        if correct == 0 {
            smooth *= 2.0;
            *precision = 100.0 / (smooth * total as f64);
        } else {
            *precision = 100.0 * correct as f64 / total as f64;
        }
    }
    // Summed left to right, as Python's sum() does.
    let mut sum = 0.0f64;
    for p in &precisions[..order] {
        sum += floored_log(*p);
    }
    bp * (sum / order as f64).exp()
}

/// `sacrebleu.sentence_bleu(hypothesis, references)`.
pub fn sentence_bleu(hypothesis: &str, references: &[&str]) -> f64 {
    score(&segment_stats(hypothesis, references), true)
}

/// `sacrebleu.corpus_bleu` over (hypothesis, references) rows.
pub fn corpus_bleu<'a>(rows: impl IntoIterator<Item = (&'a str, Vec<&'a str>)>) -> f64 {
    let mut total = Stats::default();
    for (hypothesis, references) in rows {
        total += segment_stats(hypothesis, &references);
    }
    score(&total, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_like_13a() {
        assert_eq!(
            tokenize_13a("Hello, world! It costs $3.14 (or 1,000)."),
            "Hello , world ! It costs $ 3.14 ( or 1,000 ) ."
        );
        assert_eq!(tokenize_13a("a&amp;b 5-3 e-mail"), "a & b 5 - 3 e-mail");
        assert_eq!(tokenize_13a("line-\nbreak <skipped>x"), "linebreak x");
    }

    #[test]
    fn perfect_and_empty() {
        assert!(
            (sentence_bleu("the cat sat on the mat", &["the cat sat on the mat"]) - 100.0).abs()
                < 1e-9
        );
        assert_eq!(sentence_bleu("", &["a b"]), 0.0);
        assert_eq!(sentence_bleu("x y", &["a b"]), 0.0);
    }
}
