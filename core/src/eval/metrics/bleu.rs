//! BLEU as sacrebleu 2.x computes it: the `13a` tokenizer (mteval-v13a), n-grams up to 4,
//! clipped counts against the most generous reference, the closest reference length,
//! `exp` smoothing; effective order for sentence BLEU (`sentence_bleu` defaults), not for
//! corpus BLEU (`corpus_bleu` defaults). Scores are 0-100 as sacrebleu reports them.

use rustc_hash::FxHashMap;

use super::text::{py_rstrip, py_split};

const MAX_ORDER: usize = 4;

/// Characters the first `13a` rule pads with spaces: `{-~ [-` space-& (-+ :-@ /`.
fn is_13a_symbol(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

/// Applies a two-character rewrite the way Python's `re.sub` applies `(A)(B)`: scanning
/// left to right, a match replaces both characters and scanning resumes after them.
fn rewrite_pairs<T: Copy>(
    chars: &[T],
    matches: impl Fn(T, T) -> bool,
    out: &mut Vec<T>,
    emit: impl Fn(T, T, &mut Vec<T>),
) {
    out.clear();
    let mut i = 0;
    while i < chars.len() {
        if i + 1 < chars.len() && matches(chars[i], chars[i + 1]) {
            emit(chars[i], chars[i + 1], out);
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
}

/// The four `13a` rules over characters (or, for ASCII text, bytes); `class` maps one to
/// the character it stands for.
fn rules<T: Copy>(line: impl Iterator<Item = T>, class: impl Fn(T) -> char, space: T) -> Vec<T> {
    let mut a: Vec<T> = Vec::with_capacity(64);
    // Rule 1: symbols become tokens of their own (` \1 `), around ` line `.
    a.extend([space, space, space]);
    for c in line {
        if is_13a_symbol(class(c)) {
            a.extend([space, c, space]);
        } else {
            a.push(c);
        }
    }
    a.extend([space, space, space]);
    let mut b = Vec::with_capacity(a.len() + 16);
    let digit = |c: T| class(c).is_ascii_digit();
    let point = |c: T| matches!(class(c), '.' | ',');
    // Rule 2: `([^0-9])([.,])` -> `\1 \2 `.
    rewrite_pairs(
        &a,
        |x, y| !digit(x) && point(y),
        &mut b,
        |x, y, out| out.extend([x, space, y, space]),
    );
    // Rule 3: `([.,])([^0-9])` -> ` \1 \2`.
    rewrite_pairs(
        &b,
        |x, y| point(x) && !digit(y),
        &mut a,
        |x, y, out| out.extend([space, x, space, y]),
    );
    // Rule 4: `([0-9])(-)` -> `\1 \2 `.
    rewrite_pairs(
        &a,
        |x, y| digit(x) && class(y) == '-',
        &mut b,
        |x, y, out| out.extend([x, space, y, space]),
    );
    b
}

/// The `13a` tokenization of one segment (after sacrebleu's `rstrip`): mteval-v13a's
/// rules, each a single-character or two-character regular-expression rewrite in
/// sacrebleu, applied here in the same order with the same left-to-right semantics.
/// Tokens are joined by single spaces.
pub fn tokenize_13a(segment: &str) -> String {
    let mut line = py_rstrip(segment).to_string();
    if line.contains("<skipped>") {
        line = line.replace("<skipped>", "");
    }
    if line.contains('\n') {
        line = line.replace("-\n", "").replace('\n', " ");
    }
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let text = if line.is_ascii() {
        let bytes = rules(line.bytes(), char::from, b' ');
        String::from_utf8(bytes).expect("ASCII in, ASCII out")
    } else {
        rules(line.chars(), |c| c, ' ').into_iter().collect()
    };
    let mut out = String::with_capacity(text.len());
    for token in py_split(&text) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(token);
    }
    out
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

/// Up to four token ids of 15 bits each as one number (a segment with more distinct
/// tokens than that uses the ids themselves as the key).
fn packed(gram: &[u32]) -> u64 {
    gram.iter()
        .enumerate()
        .fold(0u64, |key, (i, id)| key | u64::from(*id) << (15 * i))
}

/// Token ids of a `13a`-tokenized segment (tokens joined by single spaces).
fn intern<'t>(text: &'t str, vocabulary: &mut FxHashMap<&'t str, u32>) -> Vec<u32> {
    text.split(' ')
        .filter(|t| !t.is_empty())
        .map(|token| {
            let next = vocabulary.len() as u32;
            *vocabulary.entry(token).or_insert(next)
        })
        .collect()
}

/// The reference length closest to the hypothesis length (the shorter on a tie).
fn closest_length(hyp_len: u64, refs: &[Vec<u32>]) -> u64 {
    let mut closest: Option<(u64, u64)> = None;
    for r in refs {
        let len = r.len() as u64;
        let diff = hyp_len.abs_diff(len);
        closest = match closest {
            Some((d, l)) if d < diff || (d == diff && l <= len) => Some((d, l)),
            _ => Some((diff, len)),
        };
    }
    closest.map_or(0, |(_, l)| l)
}

/// Clipped matches and totals per order: each hypothesis n-gram counts at most as often
/// as it appears in the reference that has it most. Keys carry their order.
fn clip<K: Eq + std::hash::Hash>(
    hyp: &[u32],
    refs: &[Vec<u32>],
    key: impl Fn(&[u32]) -> K,
    stats: &mut Stats,
) {
    let mut available: FxHashMap<(usize, K), u64> = FxHashMap::default();
    let mut counts: FxHashMap<(usize, K), u64> = FxHashMap::default();
    for r in refs {
        counts.clear();
        for n in 1..=MAX_ORDER {
            for gram in r.windows(n) {
                *counts.entry((n, key(gram))).or_insert(0) += 1;
            }
        }
        for (k, c) in counts.drain() {
            let best = available.entry(k).or_insert(0);
            *best = (*best).max(c);
        }
    }
    for n in 1..=MAX_ORDER {
        for gram in hyp.windows(n) {
            *counts.entry((n, key(gram))).or_insert(0) += 1;
        }
    }
    for (k, c) in counts {
        let n = k.0;
        stats.total[n - 1] += c;
        if let Some(a) = available.get(&k) {
            stats.correct[n - 1] += c.min(*a);
        }
    }
}

/// The n-grams of `ids` (orders 1 to 4) as sorted (key, count) runs; the key holds the
/// order in bits 60-61 and the packed ids below.
fn sorted_grams(ids: &[u32], keys: &mut Vec<u64>) -> Vec<(u64, u64)> {
    keys.clear();
    for n in 1..=MAX_ORDER {
        let order = ((n - 1) as u64) << 60;
        keys.extend(ids.windows(n).map(|gram| order | packed(gram)));
    }
    keys.sort_unstable();
    let mut runs: Vec<(u64, u64)> = Vec::with_capacity(keys.len());
    for &k in keys.iter() {
        match runs.last_mut() {
            Some((last, count)) if *last == k => *count += 1,
            _ => runs.push((k, 1)),
        }
    }
    runs
}

/// `clip` for segments whose tokens fit in 15 bits: sorted runs merged, no hashing.
fn clip_sorted(hyp: &[u32], refs: &[Vec<u32>], stats: &mut Stats) {
    let mut keys = Vec::with_capacity(4 * hyp.len());
    // The most times each n-gram appears in one reference.
    let mut available: Vec<(u64, u64)> = Vec::new();
    for r in refs {
        available.extend(sorted_grams(r, &mut keys));
    }
    available.sort_unstable();
    available.dedup_by(|later, earlier| {
        // Sorted by (key, count): the last of equal keys has the highest count.
        if later.0 == earlier.0 {
            earlier.1 = earlier.1.max(later.1);
            true
        } else {
            false
        }
    });
    let mut j = 0;
    for (k, c) in sorted_grams(hyp, &mut keys) {
        let n = (k >> 60) as usize;
        stats.total[n] += c;
        while j < available.len() && available[j].0 < k {
            j += 1;
        }
        if j < available.len() && available[j].0 == k {
            stats.correct[n] += c.min(available[j].1);
        }
    }
}

pub fn segment_stats(hypothesis: &str, references: &[&str]) -> Stats {
    let hyp = tokenize_13a(hypothesis);
    let refs: Vec<String> = references.iter().map(|r| tokenize_13a(r)).collect();
    // Tokens as small numbers, shared by the hypothesis and its references.
    let mut vocabulary: FxHashMap<&str, u32> = FxHashMap::default();
    let hyp_ids = intern(&hyp, &mut vocabulary);
    let ref_ids: Vec<Vec<u32>> = refs.iter().map(|r| intern(r, &mut vocabulary)).collect();
    let mut stats = Stats {
        hyp_len: hyp_ids.len() as u64,
        ref_len: closest_length(hyp_ids.len() as u64, &ref_ids),
        ..Stats::default()
    };
    if vocabulary.len() < (1 << 15) {
        clip_sorted(&hyp_ids, &ref_ids, &mut stats);
    } else {
        clip(&hyp_ids, &ref_ids, <[u32]>::to_vec, &mut stats);
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
    fn both_clipping_paths_agree() {
        let cases = [
            (
                "the cat the cat sat on the mat",
                vec!["the cat sat on the mat", "a cat the cat"],
            ),
            ("x y z x y z", vec!["x y", "z x y z z"]),
            ("", vec!["a"]),
        ];
        for (hyp, refs) in cases {
            let h = tokenize_13a(hyp);
            let rs: Vec<String> = refs.iter().map(|r| tokenize_13a(r)).collect();
            let mut vocabulary = FxHashMap::default();
            let hi = intern(&h, &mut vocabulary);
            let ri: Vec<Vec<u32>> = rs.iter().map(|r| intern(r, &mut vocabulary)).collect();
            let (mut a, mut b) = (Stats::default(), Stats::default());
            clip_sorted(&hi, &ri, &mut a);
            clip(&hi, &ri, <[u32]>::to_vec, &mut b);
            assert_eq!(a, b, "{hyp:?} {refs:?}");
        }
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
